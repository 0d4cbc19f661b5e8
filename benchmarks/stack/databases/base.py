"""The run's database as one object: its URL parsed once, then the same four steps on every
backend (refuse someone else's data, keep the seed current, copy it for the run, say how)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from benchmarks.paths import LAB_DIR
from shared import db as dbmod
from shared.models import ALL_MODELS
from shared.seed import Scale, fingerprint

SEED_DIR = LAB_DIR / "seed"
LAB_TABLES = frozenset(m._meta.table_name for m in ALL_MODELS)
SYSTEM_DATABASES = frozenset(
    {
        "postgres",
        "template0",
        "template1",
        "mysql",
        "sys",
        "information_schema",
        "performance_schema",
    }
)


class BackendError(RuntimeError):
    """A database or Redis given by URL cannot be used safely; the message says what to do."""


@dataclass
class Restored:
    """The database one run uses, and how it got its data."""

    url: str  # what the app connects to
    backend: str  # sqlite | postgresql | mysql
    method: str  # how the run's copy was made
    seed: str  # the seed it was copied from (file or database name)
    restore_s: float  # time to make the run's copy
    seeded_s: float | None = None  # time to make the seed, if this run had to
    server: str | None = None  # the server's version

    def describe(self) -> dict:
        return {
            **asdict(self),
            "url": dbmod.redacted(self.url) if "://" in self.url else self.url,
            "restore_s": round(self.restore_s, 3),
            "seeded_s": None if self.seeded_s is None else round(self.seeded_s, 3),
        }


def template_name(scale: Scale) -> str:
    """The seed database (PostgreSQL template, MySQL schema) of a scale on a server."""
    return f"lab_seed_{scale.label}"


def say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, flush=True)


def timed_seed(quiet: bool, what: str, seed_name: str, make) -> float:
    """Run `make()`, the seeding of `what`, telling the user; return the seconds it took."""
    say(quiet, f"seeding {what} (once; reused by every run) ...")
    started = time.perf_counter()
    make()
    seconds = time.perf_counter() - started
    say(quiet, f"seeded in {seconds:.1f} s -> {seed_name}")
    return seconds


def refuse_foreign(tables: set[str], where: str, fix: str) -> None:
    """Refuse a database holding tables the lab did not make: it is someone else's."""
    foreign = tables - LAB_TABLES
    if foreign:
        raise BackendError(
            f"{where} holds tables the lab did not make ({', '.join(sorted(foreign)[:8])}); the "
            f"lab replaces its run database on every run, so it will not touch this one. {fix}"
        )


class Database(ABC):
    """The database a run uses, parsed once from its URL (or the embedded SQLite file).

    `restore()` gives a run a fresh copy of the seed: in one admin session (a lock held, so two
    runners never seed the same template at once) it refuses someone else's data, remakes the
    seed if its fingerprint is stale, and replaces the run's copy with a new one."""

    backend: ClassVar[str]  # sqlite | postgresql | mysql
    method: ClassVar[str]  # how the run's copy is made, for the run's metadata

    def __init__(self, url: str, scale: Scale, quiet: bool = False):
        self.url, self.scale, self.quiet = url, scale, quiet
        self.fingerprint = fingerprint(scale)

    @staticmethod
    def from_url(
        url: str | None, scale: Scale, sqlite_target: Path, quiet: bool = False
    ) -> Database:
        """The backend object for a URL; no URL: the embedded SQLite file at sqlite_target."""
        # Imported here: the backends' modules import this one.
        from benchmarks.stack.databases.mysql import MysqlDatabase
        from benchmarks.stack.databases.postgresql import PostgresDatabase
        from benchmarks.stack.databases.sqlite import SqliteDatabase

        if url is None:
            return SqliteDatabase(sqlite_target, scale, quiet)
        try:
            backend = dbmod.backend_of(url)
        except ValueError as exc:
            raise BackendError(str(exc)) from None
        if backend == "sqlite":
            return SqliteDatabase(dbmod.sqlite_path(url).resolve(), scale, quiet)
        kind = PostgresDatabase if backend == "postgresql" else MysqlDatabase
        return kind(url, scale, quiet)

    # --- what each backend says how to do ---------------------------------------------------

    @property
    @abstractmethod
    def seed_name(self) -> str:
        """The seed's file or database name."""

    @property
    @abstractmethod
    def seed_what(self) -> str:
        """The seed as the user is told about it while it is made."""

    @abstractmethod
    def admin(self) -> AbstractContextManager[Any]:
        """A context giving an admin cursor (None for SQLite), the seed's lock held."""

    @abstractmethod
    def server_version(self, cur: Any) -> str: ...

    @abstractmethod
    def refuse_foreign(self, cur: Any) -> None:
        """Raise BackendError if the run database holds data the lab did not write."""

    @abstractmethod
    def seed_is_current(self, cur: Any) -> bool:
        """Whether the seed exists and its fingerprint matches the code's."""

    @abstractmethod
    def seed_template(self, cur: Any) -> None:
        """Make the seed afresh; a half-made seed must never count as current."""

    @abstractmethod
    def copy_seed(self, cur: Any) -> None:
        """Replace the run database with a copy of the seed."""

    # --- the same steps on every backend ----------------------------------------------------

    def restore(self) -> Restored:
        """Give a run a fresh copy of the seeded data (the seed made first if missing or stale)."""
        with self.admin() as cur:
            server = self.server_version(cur)
            self.refuse_foreign(cur)  # before any work
            seeded = None
            if not self.seed_is_current(cur):
                seeded = timed_seed(
                    self.quiet, self.seed_what, self.seed_name, lambda: self.seed_template(cur)
                )
            started = time.perf_counter()
            self.copy_seed(cur)
            restore_s = time.perf_counter() - started
        return Restored(
            self.url, self.backend, self.method, self.seed_name, restore_s, seeded, server
        )

    def describe(self) -> dict:
        """What this database is, before any run: for logs and error messages."""
        return {
            "backend": self.backend,
            "url": dbmod.redacted(self.url),
            "seed": self.seed_name,
            "method": self.method,
        }


class ServerDatabase(Database):
    """A database on a server (PostgreSQL, MySQL): the URL split once into name and parameters;
    the seed is a database of its own on the same server, `lab_seed_<scale>`."""

    def __init__(self, url: str, scale: Scale, quiet: bool = False):
        super().__init__(url, scale, quiet)
        self.name, self.params = dbmod.server_params(url)
        if not self.name:
            raise BackendError(
                "the database URL names no database: add one, e.g. postgresql://user@host:5432/lab"
            )
        if self.name in SYSTEM_DATABASES or self.name.startswith("lab_seed_"):
            raise BackendError(
                f"database {self.name!r} is the server's own or the lab's seed "
                f"({self.seed_name}): name another one for the runs, e.g. .../lab"
            )

    @property
    def seed_name(self) -> str:
        return template_name(self.scale)

    def url_of(self, name: str) -> str:
        """The URL of another database on the same server (the seed's, while it is made)."""
        return dbmod.with_database(self.url, name)

    @contextmanager
    def admin(self) -> Iterator[Any]:
        conn = self.connect_admin()
        try:
            with conn.cursor() as cur:
                self.lock(cur)
                yield cur
        finally:
            conn.close()

    @abstractmethod
    def connect_admin(self) -> Any:
        """An autocommit connection to the server, not to the run database."""

    @abstractmethod
    def lock(self, cur: Any) -> None:
        """One runner at a time seeds or restores from this seed (two benches at once would
        otherwise seed it twice, or copy it while it is being made)."""
