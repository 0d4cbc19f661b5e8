"""Where a run's data lives: the same seeded data restored fresh for every run, on any backend.

`Database.from_url(url, scale, sqlite_target)` parses the `--db` URL once (no URL: the embedded
SQLite file) into one object, and `.restore()` gives the run its copy of the seed:

- SQLite (databases/sqlite.py): the seed is a file, `.lab/seed/seed-<scale>.sqlite3`, made
  once; every run gets a copy.
- PostgreSQL (databases/postgresql.py): the seed is a template database `lab_seed_<scale>`;
  every run gets `CREATE DATABASE <name> TEMPLATE lab_seed_<scale>`.
- MySQL/MariaDB (databases/mysql.py): the seed is a schema `lab_seed_<scale>`; every run gets
  the models' tables filled by `INSERT ... SELECT` from it.

A seed is remade when its fingerprint (the generator, the scale, the schema: shared.seed.
fingerprint) no longer matches the code. The run database is the one the URL names; the lab
drops and recreates it on every run, so it refuses to touch one that holds anything but the
lab's own tables (someone else's data), and it never takes the server's own databases or a seed.
The steps every backend follows are in databases/base.py (Database.restore).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.stack.databases.base import (
    LAB_TABLES,
    SEED_DIR,
    BackendError,
    Database,
    Restored,
    template_name,
)
from benchmarks.stack.databases.mysql import MysqlDatabase
from benchmarks.stack.databases.postgresql import PostgresDatabase
from benchmarks.stack.databases.sqlite import SqliteDatabase, sqlite_seed
from shared.seed import Scale

__all__ = [
    "LAB_TABLES",
    "SEED_DIR",
    "BackendError",
    "Database",
    "MysqlDatabase",
    "PostgresDatabase",
    "Restored",
    "SqliteDatabase",
    "restore_database",
    "sqlite_seed",
    "template_name",
]


def restore_database(
    url: str | None, scale: Scale, sqlite_target: Path, quiet: bool = False
) -> Restored:
    """Give a run a fresh copy of the seeded data: the embedded SQLite file (no URL) or the
    database the URL names (created if missing, replaced if it is the lab's)."""
    return Database.from_url(url, scale, sqlite_target, quiet).restore()
