"""The database, chosen by URL: SQLite by default, PostgreSQL and MySQL/MariaDB supported."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import peewee

from shared.timing import timed

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
    aliases = {
        "sqlite": "sqlite",
        "postgres": "postgresql",
        "postgresql": "postgresql",
        "mysql": "mysql",
        "mariadb": "mysql",
    }
    if scheme not in aliases:
        raise ValueError(
            f"database URL {url!r}: unsupported scheme {scheme!r}; "
            "use sqlite:///path.sqlite3, postgresql://user@host:5432/db or mysql://user@host/db"
        )
    return aliases[scheme]


def sqlite_path(url: str) -> Path:
    """Return the file of a sqlite:///relative or sqlite:////absolute URL."""
    return Path(unquote(url[len("sqlite:///") :]))


DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


def server_params(url: str) -> tuple[str, dict]:
    """Split a PostgreSQL or MySQL URL into (database name, connection keyword arguments)."""
    backend = backend_of(url)
    if backend == "sqlite":
        raise ValueError(f"{url!r} names a SQLite file, not a database server")
    parts = urlparse(url)
    kwargs = dict(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or DEFAULT_PORTS[backend],
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        **{k: v[0] for k, v in parse_qs(parts.query).items()},
    )
    if backend == "mysql":
        kwargs["charset"] = kwargs.get("charset", "utf8mb4")
    return unquote(parts.path.lstrip("/")), kwargs


def with_database(url: str, name: str) -> str:
    """Return the URL of another database on the same server (same user, options)."""
    parts = urlparse(url)
    return parts._replace(path=f"/{name}").geturl()


def redacted(url: str) -> str:
    """Return the URL without its password, for logs and run metadata."""
    parts = urlparse(url)
    if not parts.password:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{unquote(parts.username or '')}:***@{netloc}").geturl()


class _TimedSql:
    """Count the time of every statement (and transaction boundary) as the request's `db` time.

    With SQLite, rows past the first are stepped as the cursor is read, outside this timer; the
    other drivers fetch the whole result inside execute.
    """

    def execute_sql(self, sql, params=None):
        with timed("db"):
            return super().execute_sql(sql, params)

    def begin(self, *args, **kwargs):
        with timed("db"):
            return super().begin(*args, **kwargs)

    def commit(self):
        with timed("db"):
            return super().commit()

    def rollback(self):
        with timed("db"):
            return super().rollback()


class TimedSqliteDatabase(_TimedSql, peewee.SqliteDatabase):
    pass


class TimedPostgresqlDatabase(_TimedSql, peewee.PostgresqlDatabase):
    pass


class TimedMySQLDatabase(_TimedSql, peewee.MySQLDatabase):
    pass


def make_database(url: str) -> peewee.Database:
    """Build (but do not open) the peewee database a URL names."""
    backend = backend_of(url)
    if backend == "sqlite":
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return TimedSqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS)
    name, kwargs = server_params(url)
    if backend == "postgresql":
        return TimedPostgresqlDatabase(name, **kwargs)
    return TimedMySQLDatabase(name, **kwargs)


def connect(url: str) -> peewee.Database:
    """Point the models at the database a URL names; connections open lazily, one per thread."""
    db = make_database(url)
    database.initialize(db)
    return db
