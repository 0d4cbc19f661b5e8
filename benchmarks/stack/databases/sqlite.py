"""SQLite as a run's database: the seed is a file made once (`.lab/seed/seed-<scale>.sqlite3`,
its fingerprint in `PRAGMA user_version`); every run gets a copy of it."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import nullcontext
from pathlib import Path

from benchmarks.stack.databases.base import SEED_DIR, Database, refuse_foreign, timed_seed
from shared.seed import Scale, fingerprint, seed_sqlite_file


def _stamp(fingerprint_hex: str) -> int:
    """The fingerprint as SQLite's `PRAGMA user_version` (a 32-bit integer) can keep it."""
    return int(fingerprint_hex[:7], 16)


def _read_stamp(path: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        names = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
    conn.close()
    return names


class SqliteSeed:
    """The seed file of a scale, stamped with its fingerprint; a stale one is remade."""

    def __init__(self, scale: Scale, seed_dir: Path = SEED_DIR):
        self.scale = scale
        self.path = seed_dir / f"seed-{scale.label}.sqlite3"
        self.stamp = _stamp(fingerprint(scale))

    def is_current(self) -> bool:
        return self.path.exists() and _read_stamp(self.path) == self.stamp

    def make(self) -> None:
        seed_sqlite_file(self.path, self.scale)  # atomic: built beside, renamed when complete
        conn = sqlite3.connect(self.path)
        try:
            conn.execute(f"PRAGMA user_version = {self.stamp}")
            conn.commit()
        finally:
            conn.close()


def sqlite_seed(
    scale: Scale, quiet: bool = False, seed_dir: Path = SEED_DIR
) -> tuple[Path, float | None]:
    """Return the seeded SQLite file for a scale and the seconds spent seeding it (None: reused)."""
    seed = SqliteSeed(scale, seed_dir)
    if seed.is_current():
        return seed.path, None
    return seed.path, timed_seed(quiet, scale.label, str(seed.path), seed.make)


class SqliteDatabase(Database):
    """A run's SQLite file: replaced by a copy of the seed file on every run (never other data)."""

    backend = "sqlite"
    method = "file copy of the seed"

    def __init__(self, path: Path, scale: Scale, quiet: bool = False, seed_dir: Path = SEED_DIR):
        super().__init__(f"sqlite:///{path}", scale, quiet)
        self.path = path
        self.seed = SqliteSeed(scale, seed_dir)

    @property
    def seed_name(self) -> str:
        return str(self.seed.path)

    @property
    def seed_what(self) -> str:
        return self.scale.label

    def admin(self) -> nullcontext:
        return nullcontext(None)  # a file: no server, no lock (the seed is renamed into place)

    def server_version(self, cur: None) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def refuse_foreign(self, cur: None) -> None:
        if not self.path.exists():
            return
        try:
            tables = _tables(self.path)
        except sqlite3.DatabaseError:
            tables = {"(not a SQLite database)"}
        refuse_foreign(tables, str(self.path), "Point the URL at a new file.")

    def seed_is_current(self, cur: None) -> bool:
        return self.seed.is_current()

    def seed_template(self, cur: None) -> None:
        self.seed.make()

    def copy_seed(self, cur: None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.seed.path, self.path)
