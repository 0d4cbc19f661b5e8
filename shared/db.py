"""The database, chosen by URL: SQLite by default, PostgreSQL and MySQL/MariaDB supported."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import peewee

# Models bind to this proxy; a process points it at a real database once, at start-up.
database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    # WAL lets readers run while one writer commits; several app processes share the file.
    "journal_mode": "wal",
    "synchronous": "normal",
    "busy_timeout": 10000,
    "foreign_keys": 1,
    "cache_size": -64000,
}


def backend_of(url: str) -> str:
    """Name the database backend of a URL: sqlite, postgresql or mysql."""
    scheme = urlparse(url).scheme.split("+")[0]
    aliases = {"sqlite": "sqlite", "postgres": "postgresql", "postgresql": "postgresql",
               "mysql": "mysql", "mariadb": "mysql"}
    if scheme not in aliases:
        raise ValueError(
            f"database URL {url!r}: unsupported scheme {scheme!r}; "
            "use sqlite:///path.sqlite3, postgresql://user@host:5432/db or mysql://user@host/db"
        )
    return aliases[scheme]


def sqlite_path(url: str) -> Path:
    """Return the file of a sqlite:///relative or sqlite:////absolute URL."""
    return Path(unquote(url[len("sqlite:///"):]))


def make_database(url: str) -> peewee.Database:
    """Build (but do not open) the peewee database a URL names."""
    backend = backend_of(url)
    if backend == "sqlite":
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return peewee.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS)
    parts = urlparse(url)
    options = {k: v[0] for k, v in parse_qs(parts.query).items()}
    kwargs = dict(
        host=parts.hostname or "127.0.0.1",
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        **options,
    )
    name = parts.path.lstrip("/")
    if backend == "postgresql":
        return peewee.PostgresqlDatabase(name, port=parts.port or 5432, **kwargs)
    kwargs["charset"] = kwargs.get("charset", "utf8mb4")
    return peewee.MySQLDatabase(name, port=parts.port or 3306, **kwargs)


def connect(url: str) -> peewee.Database:
    """Point the models at the database a URL names; connections open lazily, one per thread."""
    db = make_database(url)
    database.initialize(db)
    return db
