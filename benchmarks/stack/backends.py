"""Where a run's data lives: the same seeded data restored fresh for every run, on any backend.

Database (the `--db` URL, or the embedded SQLite file):

- SQLite: the seed is a file, `.lab/seed/seed-<scale>.sqlite3`, made once; every run gets a copy.
- PostgreSQL: the seed is a template database `lab_seed_<scale>`, made once with COPY; every run
  gets `DROP DATABASE <name>` + `CREATE DATABASE <name> TEMPLATE lab_seed_<scale>` (a file-level
  copy done by the server: about a second for a million reviews).
- MySQL/MariaDB: the seed is a schema `lab_seed_<scale>`, made once; every run gets its tables
  created from the models (keys, indexes and foreign keys as the app expects them) and filled
  with `INSERT INTO run.t SELECT * FROM lab_seed_<scale>.t`. MySQL has no database templates,
  and `CREATE TABLE ... LIKE` drops foreign keys; this copy is 2-3x faster than reseeding
  (measured at 1,000 x 1,000 on MariaDB 10.11: about 14 s against 39 s).

A seed is remade when its fingerprint (the generator, the scale, the schema: shared.seed.
fingerprint) no longer matches the code. The run database is the one the URL names; the lab
drops and recreates it on every run, so it refuses to touch one that holds anything but the
lab's own tables (someone else's data).

Redis (the `--redis` URL): the lab flushes the Redis database it is given before every run
(FLUSHDB: no queued task, cached ranking or counter of a previous run leaks into the next). So
it needs a database of its own: the URL must name one, 1-15 (redis://host:6379/15). It never
flushes db 0, the default everybody shares; and it refuses a database that holds keys it did
not write (it marks its own with the key `scaling-lab:owner`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from benchmarks.paths import LAB_DIR
from shared import db as dbmod
from shared.models import ALL_MODELS
from shared.seed import Scale, fingerprint, seed_sqlite_file, seed_url

SEED_DIR = LAB_DIR / "seed"
LAB_TABLES = frozenset(m._meta.table_name for m in ALL_MODELS)
SYSTEM_DATABASES = frozenset({"postgres", "template0", "template1", "mysql", "sys",
                              "information_schema", "performance_schema"})
REDIS_MARKER = "scaling-lab:owner"
SEED_INFO_TABLE = "lab_seed_info"


class BackendError(RuntimeError):
    """A database or Redis given by URL cannot be used safely; the message says what to do."""


@dataclass
class Restored:
    """The database one run uses, and how it got its data."""

    url: str                      # what the app connects to
    backend: str                  # sqlite | postgresql | mysql
    method: str                   # how the run's copy was made
    seed: str                     # the seed it was copied from (file or database name)
    restore_s: float              # time to make the run's copy
    seeded_s: float | None = None  # time to make the seed, if this run had to
    server: str | None = None     # the server's version

    def describe(self) -> dict:
        return {**asdict(self), "url": dbmod.redacted(self.url) if "://" in self.url else self.url,
                "restore_s": round(self.restore_s, 3),
                "seeded_s": None if self.seeded_s is None else round(self.seeded_s, 3)}


def template_name(scale: Scale) -> str:
    return f"lab_seed_{scale.label}"


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, flush=True)


# --- SQLite -----------------------------------------------------------------------------------


def _stamp(fingerprint_hex: str) -> int:
    """The fingerprint as SQLite's `PRAGMA user_version` (a 32-bit integer) can keep it."""
    return int(fingerprint_hex[:7], 16)


def _sqlite_stamp(path: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def sqlite_seed(scale: Scale, quiet: bool = False,
                seed_dir: Path = SEED_DIR) -> tuple[Path, float | None]:
    """Return the seeded SQLite file for a scale and the seconds spent seeding it (None: reused).

    The file carries the seed's fingerprint in `PRAGMA user_version`; a stale one is remade."""
    path = seed_dir / f"seed-{scale.label}.sqlite3"
    wanted = _stamp(fingerprint(scale))
    if path.exists() and _sqlite_stamp(path) == wanted:
        return path, None
    _say(quiet, f"seeding {scale.label} (once; reused by every run) ...")
    started = time.perf_counter()
    seed_sqlite_file(path, scale)
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA user_version = {wanted}")
        conn.commit()
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    _say(quiet, f"seeded in {seconds:.1f} s -> {path}")
    return path, seconds


def _sqlite_tables(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        names = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    conn.close()
    return names


def restore_sqlite(scale: Scale, target: Path, quiet: bool = False) -> Restored:
    """Copy the seed file to the target, replacing a previous run's copy (never other data)."""
    if target.exists():
        try:
            foreign = _sqlite_tables(target) - LAB_TABLES
        except sqlite3.DatabaseError:
            foreign = {"(not a SQLite database)"}
        if foreign:
            raise BackendError(
                f"{target} holds tables the lab did not make ({', '.join(sorted(foreign))}); the "
                "lab replaces its database file on every run, so it will not overwrite this one. "
                "Point the URL at a new file.")
    seed, seeded = sqlite_seed(scale, quiet)
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(seed, target)
    return Restored(f"sqlite:///{target}", "sqlite", "file copy of the seed", str(seed),
                    time.perf_counter() - started, seeded, f"SQLite {sqlite3.sqlite_version}")


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_admin(url: str):
    import psycopg2

    _, params = dbmod.server_params(url)
    try:
        conn = psycopg2.connect(dbname="postgres", connect_timeout=10, **params)
    except psycopg2.Error as exc:
        raise BackendError(f"cannot connect to PostgreSQL at {dbmod.redacted(url)}: "
                           f"{str(exc).strip()}") from None
    conn.autocommit = True
    return conn


def _pg_tables(url: str) -> set[str]:
    import psycopg2

    name, params = dbmod.server_params(url)
    conn = psycopg2.connect(dbname=name, connect_timeout=10, **params)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN "
                        "('pg_catalog', 'information_schema')")
            return {t if s == "public" else f"{s}.{t}" for s, t in cur.fetchall()}
    finally:
        conn.close()


def _pg_drop(cur, name: str) -> None:
    cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    cur.execute(f'DROP DATABASE IF EXISTS "{name}"')


def restore_postgresql(url: str, scale: Scale, quiet: bool = False) -> Restored:
    """Make sure the template is seeded and current, then recreate the run database from it."""
    name, _ = dbmod.server_params(url)
    template = template_name(scale)
    _check_run_name(name, template)
    marker = f"scaling-lab seed {fingerprint(scale)}"
    conn = _pg_admin(url)
    try:
        with conn.cursor() as cur:
            # One runner at a time seeds or restores from this template (two benches at once
            # would otherwise seed it twice or copy it while it is being made).
            cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"scaling-lab:{template}",))
            cur.execute("SHOW server_version")
            server = f"PostgreSQL {cur.fetchone()[0]}"
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():  # refuse someone else's database before any work
                foreign = _pg_tables(url) - LAB_TABLES
                if foreign:
                    raise BackendError(
                        f"database {name!r} holds tables the lab did not make "
                        f"({', '.join(sorted(foreign)[:8])}); the lab drops and recreates its run "
                        "database on every run, so it will not touch this one. Name a database "
                        "of the lab's own in the URL (it is created if missing), e.g. "
                        f"{dbmod.redacted(dbmod.with_database(url, 'lab'))}")
            cur.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                        "WHERE datname = %s", (template,))
            row = cur.fetchone()
            seeded = None
            if not row or row[0] != marker:
                seeded = _pg_seed_template(cur, url, template, marker, scale, quiet)
            started = time.perf_counter()
            _pg_drop(cur, name)
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            cur.execute(f'COMMENT ON DATABASE "{name}" IS %s',
                        (f"scaling-lab run database: a copy of {template}, remade by every run",))
            restore_s = time.perf_counter() - started
    finally:
        conn.close()
    return Restored(url, "postgresql", "DROP DATABASE + CREATE DATABASE ... TEMPLATE", template,
                    restore_s, seeded, server)


def _pg_seed_template(cur, url: str, template: str, marker: str, scale: Scale,
                      quiet: bool) -> float:
    """Seed a new template beside the old one, then swap: a half-made seed is never used."""
    building = f"{template}_building"
    _say(quiet, f"seeding PostgreSQL template {template} (once; reused by every run) ...")
    started = time.perf_counter()
    _pg_drop(cur, building)
    cur.execute(f'CREATE DATABASE "{building}"')
    seed_url(dbmod.with_database(url, building), scale)
    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
    if cur.fetchone():
        cur.execute(f'ALTER DATABASE "{template}" IS_TEMPLATE false')
        _pg_drop(cur, template)
    cur.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
    cur.execute(f'COMMENT ON DATABASE "{template}" IS %s', (marker,))
    cur.execute(f'ALTER DATABASE "{template}" IS_TEMPLATE true')
    seconds = time.perf_counter() - started
    _say(quiet, f"seeded in {seconds:.1f} s")
    return seconds


# --- MySQL / MariaDB --------------------------------------------------------------------------


def _my_admin(url: str):
    import pymysql

    _, params = dbmod.server_params(url)
    params = {k: v for k, v in params.items() if v is not None}
    params["port"] = int(params["port"])
    try:
        return pymysql.connect(autocommit=True, connect_timeout=10, **params)
    except pymysql.MySQLError as exc:
        raise BackendError(f"cannot connect to MySQL at {dbmod.redacted(url)}: {exc}") from None


def restore_mysql(url: str, scale: Scale, quiet: bool = False) -> Restored:
    """Make sure the seed schema is current, then rebuild the run database as a copy of it."""
    name, _ = dbmod.server_params(url)
    template = template_name(scale)
    _check_run_name(name, template)
    wanted = fingerprint(scale)
    conn = _my_admin(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 600)", (f"scaling-lab:{template}",))
            cur.execute("SELECT VERSION()")
            server = f"MySQL {cur.fetchone()[0]}"
            cur.execute("SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = %s", (name,))
            foreign = {r[0] for r in cur.fetchall()} - LAB_TABLES
            if foreign:  # refuse someone else's database before any work
                raise BackendError(
                    f"database {name!r} holds tables the lab did not make "
                    f"({', '.join(sorted(foreign)[:8])}); the lab drops and recreates its run "
                    "database on every run, so it will not touch this one. Name a database of "
                    "the lab's own in the URL (it is created if missing).")
            cur.execute("SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = %s", (template,))
            seeded = None
            have = None
            if SEED_INFO_TABLE in {r[0] for r in cur.fetchall()}:
                cur.execute(f"SELECT fingerprint FROM `{template}`.`{SEED_INFO_TABLE}`")
                have = (cur.fetchone() or [None])[0]
            if have != wanted:
                seeded = _my_seed_template(cur, url, template, wanted, scale, quiet)
            started = time.perf_counter()
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            _create_schema(dbmod.with_database(url, name))
            # The rows come from a consistent seed: no need to check each foreign key again.
            cur.execute("SET SESSION foreign_key_checks = 0")
            for model in ALL_MODELS:  # parents first
                table = model._meta.table_name
                columns = ", ".join(f"`{f.column_name}`" for f in model._meta.sorted_fields)
                cur.execute(f"INSERT INTO `{name}`.`{table}` ({columns}) "
                            f"SELECT {columns} FROM `{template}`.`{table}`")
            cur.execute("SET SESSION foreign_key_checks = 1")
            restore_s = time.perf_counter() - started
    finally:
        conn.close()
    return Restored(url, "mysql", "CREATE TABLE (models) + INSERT ... SELECT from the seed",
                    template, restore_s, seeded, server)


def _create_schema(url: str) -> None:
    db = dbmod.make_database(url)
    try:
        with db.bind_ctx(ALL_MODELS):
            db.create_tables(ALL_MODELS)
    finally:
        db.close()


def _my_seed_template(cur, url: str, template: str, wanted: str, scale: Scale,
                      quiet: bool) -> float:
    """Seed the schema; its fingerprint row is written last, so a half-made seed never counts."""
    _say(quiet, f"seeding MySQL schema {template} (once; reused by every run) ...")
    started = time.perf_counter()
    cur.execute(f"DROP DATABASE IF EXISTS `{template}`")
    cur.execute(f"CREATE DATABASE `{template}` CHARACTER SET utf8mb4")
    seed_url(dbmod.with_database(url, template), scale)
    cur.execute(f"CREATE TABLE `{template}`.`{SEED_INFO_TABLE}` "
                "(fingerprint VARCHAR(64) NOT NULL, seeded_at DATETIME NOT NULL)")
    cur.execute(f"INSERT INTO `{template}`.`{SEED_INFO_TABLE}` VALUES (%s, NOW())", (wanted,))
    seconds = time.perf_counter() - started
    _say(quiet, f"seeded in {seconds:.1f} s")
    return seconds


def _check_run_name(name: str, template: str) -> None:
    if not name:
        raise BackendError("the database URL names no database: add one, e.g. "
                           "postgresql://user@host:5432/lab")
    if name in SYSTEM_DATABASES or name.startswith("lab_seed_"):
        raise BackendError(f"database {name!r} is the server's own or the lab's seed "
                           f"({template}): name another one for the runs, e.g. .../lab")


# --- entry points -----------------------------------------------------------------------------


def restore_database(url: str | None, scale: Scale, sqlite_target: Path,
                     quiet: bool = False) -> Restored:
    """Give a run a fresh copy of the seeded data: the embedded SQLite file (no URL) or the
    database the URL names (created if missing, replaced if it is the lab's)."""
    if url is None:
        return restore_sqlite(scale, sqlite_target, quiet)
    backend = dbmod.backend_of(url)
    if backend == "sqlite":
        return restore_sqlite(scale, dbmod.sqlite_path(url).resolve(), quiet)
    if backend == "postgresql":
        return restore_postgresql(url, scale, quiet)
    return restore_mysql(url, scale, quiet)


@dataclass
class RedisPrepared:
    """How a run uses a Redis it was given."""

    url: str
    db: int
    server: str
    isolation: str = "FLUSHDB of the dedicated database before the run"
    keys_flushed: int = 0
    extra: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {"mode": "external", "url": dbmod.redacted(self.url), "db": self.db,
                "server": self.server, "isolation": self.isolation,
                "keys_flushed": self.keys_flushed}


def redis_db_number(url: str) -> int:
    """The database a redis:// URL names: its path (/3) or ?db=3; 0 when it names none."""
    import redis

    kwargs = redis.connection.parse_url(url)
    return int(kwargs.get("db") or 0)


def prepare_redis(url: str) -> RedisPrepared:
    """Empty the lab's own Redis database before a run; refuse db 0 and other people's data."""
    import redis

    if urlparse(url).scheme not in ("redis", "rediss", "unix", "valkey", "valkeys"):
        raise BackendError(f"Redis URL {dbmod.redacted(url)!r}: use redis://host:6379/<db>")
    number = redis_db_number(url)
    if number == 0:
        raise BackendError(
            f"Redis URL {dbmod.redacted(url)} names db 0. The lab flushes the database it uses "
            "before every run (FLUSHDB) so that no queued task or cached ranking leaks between "
            "runs, and it never does that to db 0, the default everybody shares. Give it a "
            "database of its own: e.g. redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
    try:
        try:
            info = client.info("server")
            size = client.dbsize()
            ours = client.exists(REDIS_MARKER)
        except redis.RedisError as exc:
            raise BackendError(f"cannot use Redis at {dbmod.redacted(url)}: {exc}") from None
        if size and not ours:
            sample = [k.decode(errors="replace") for k in client.scan(count=20)[1][:5]]
            raise BackendError(
                f"Redis db {number} at {dbmod.redacted(url)} holds {size} keys the lab did not "
                f"write (e.g. {', '.join(sample)}). The lab flushes its database before every "
                "run, so it will not use this one: choose an empty db number, or empty this one "
                f"yourself if it is yours to empty (redis-cli -n {number} FLUSHDB).")
        client.flushdb()
        client.set(REDIS_MARKER, "scaling-lab: this database is flushed before every lab run")
        server = (f"valkey {info['valkey_version']}" if "valkey_version" in info
                  else f"Redis {info.get('redis_version', '?')}")
        return RedisPrepared(url, number, server, keys_flushed=max(0, size - 1) if ours else 0)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    """The compose files' one-shot `seed` job: seed LAB_DATABASE_URL, make the S3 bucket."""
    p = argparse.ArgumentParser(description="Prepare a stage's data in containers: seed the "
                                "database LAB_DATABASE_URL names, create LAB_S3_BUCKET if "
                                "LAB_S3_ENDPOINT is set.")
    p.add_argument("command", choices=["prepare"])
    p.add_argument("--specialists", type=int, default=Scale.specialists)
    p.add_argument("--reviews-per-specialist", type=int, default=Scale.reviews_per_specialist)
    args = p.parse_args(argv)
    scale = Scale(args.specialists, args.reviews_per_specialist)
    url = os.environ["LAB_DATABASE_URL"]
    started = time.perf_counter()
    seed_url(url, scale)
    print(f"seeded {dbmod.redacted(url)} with {scale.label} in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    if os.environ.get("LAB_S3_ENDPOINT"):
        from shared.adapters.report_stores import S3ReportStore
        from shared.config import Settings

        store = S3ReportStore.from_settings(Settings.from_env())
        for attempt in range(30):  # the storage container may still be starting
            try:
                store.ensure_bucket()
                break
            except Exception as exc:  # noqa: BLE001 - any failure: wait and retry, then report
                if attempt == 29:
                    raise SystemExit(f"cannot create bucket {store.bucket}: {exc}") from None
                time.sleep(1)
        print(f"bucket {store.bucket} ready at {os.environ['LAB_S3_ENDPOINT']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
