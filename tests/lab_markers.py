"""Markers that tell the truth (hooks, imported by conftest.py).

- `postgres`, `mysql`, `redis`: the test talks to the suite's server of that kind (given by the
  fixtures of lab_servers.py, or marked by hand where a test picks its fixture at run time). A
  stage started for real brings its own valkey: that comes under `processes`.
- `processes`: the test starts real processes (the `launch` fixture, or marked by hand).
- `slow`: long tests, marked by hand.
- `fast`: added here to every test with none of the above: no server, no child process.

A guard keeps the markers honest: while a test is set up and runs, starting a process
(subprocess, fork, multiprocessing) without `processes`, or connecting to PostgreSQL, MariaDB or
Redis (a driver, or a socket to 5432/3306/6379 or a LAB_TEST_*_URL port) without that server's
marker, fails the test, naming the marker it needs. So `-m fast` really runs no server and no
child process. (The server fixtures of lab_servers.py may start the embedded servers.)

MariaDB tests skipped for want of a server (lab_servers.mysql_server) are listed loudly at the
end of the run.
"""

from __future__ import annotations

import multiprocessing.process
import os
import socket
import subprocess
from urllib.parse import urlsplit

import lab_servers
import pytest
from lab_servers import MYSQL_ENV, MYSQL_NOT_RUN, PG_ENV, REDIS_ENV, REQUIRE_ALL

KINDS = ("postgres", "mysql", "redis", "processes", "slow")
BY_FIXTURE = {
    "postgres": {
        "postgres_server",
        "postgres_admin",
        "postgres_url",
        "postgres_template",
        "seeded_postgres_url",
    },
    "mysql": {"mysql_server", "mysql_admin", "mysql_url", "mysql_template", "seeded_mysql_url"},
    "redis": {"redis_server"},
    "processes": {"launch", "s3"},  # s3: test_storage.py's rclone serve s3
}
SERVER_PORTS = {5432, 3306, 6379}


def pytest_configure(config):
    for line in (
        "postgres: talks to a real PostgreSQL (LAB_TEST_POSTGRES_URL, else an embedded one)",
        "mysql: talks to a real MariaDB/MySQL (LAB_TEST_MYSQL_URL, else 127.0.0.1:3306)",
        "redis: talks to the suite's Redis (LAB_TEST_REDIS_URL, else an embedded valkey); "
        "a stage's own valkey comes under `processes`",
        "processes: starts real processes (a stage's stack, a server, a CLI)",
        "slow: runs long",
        "fast: none of the above (added automatically): no server, no child process",
    ):
        config.addinivalue_line("markers", line)


@pytest.hookimpl(tryfirst=True)  # before -m deselects: `-m fast` must see the added markers
def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in BY_FIXTURE.items():
            if names & fixtures and not item.get_closest_marker(marker):
                item.add_marker(marker)
        if not any(item.get_closest_marker(k) for k in KINDS):
            item.add_marker("fast")


# --- the guard: a test may only use what its markers say ------------------------------------


class MarkerMissing(ConnectionRefusedError):
    """A test used a server or started a process that its markers do not name."""


def _server_ports() -> dict[int, str]:
    ports = {5432: "postgres", 3306: "mysql", 6379: "redis"}
    for env, marker in ((PG_ENV, "postgres"), (MYSQL_ENV, "mysql"), (REDIS_ENV, "redis")):
        if os.environ.get(env):
            ports[urlsplit(os.environ[env]).port or 0] = marker
    return ports


class _Guard:
    def __init__(self, item):
        self.item, self.seen = item, []
        self.allowed = {k for k in KINDS if item.get_closest_marker(k)}
        self.ports = {p: m for p, m in _server_ports().items() if m not in self.allowed}

    def refuse(self, what: str, marker: str):
        self.seen.append(f"{what} (mark it `{marker}`)")
        raise MarkerMissing(
            f"{self.item.nodeid} {what} but is not marked `{marker}`: mark it @pytest.mark.{marker}"
        )

    def install(self, mp: pytest.MonkeyPatch) -> None:
        def forbid(real, what, marker):
            def refused(*args, **kwargs):
                if marker == "processes" and lab_servers.starting:
                    return real(*args, **kwargs)  # a server fixture starts its server
                self.refuse(what, marker)

            return refused

        if "processes" not in self.allowed:
            mp.setattr(
                subprocess.Popen,
                "__init__",
                forbid(subprocess.Popen.__init__, "starts a process", "processes"),
            )
            for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
                if hasattr(os, name):
                    mp.setattr(
                        os,
                        name,
                        forbid(getattr(os, name), f"starts a process (os.{name})", "processes"),
                    )
            mp.setattr(
                multiprocessing.process.BaseProcess,
                "start",
                forbid(
                    multiprocessing.process.BaseProcess.start,
                    "starts a process (multiprocessing)",
                    "processes",
                ),
            )
        for module, marker in (("psycopg2", "postgres"), ("pymysql", "mysql")):
            if marker in self.allowed:
                continue
            try:
                mod = __import__(module)
            except ImportError:
                continue
            mp.setattr(mod, "connect", forbid(mod.connect, f"connects with {module}", marker))
        real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

        def check(address):
            if isinstance(address, tuple) and len(address) >= 2 and address[1] in self.ports:
                self.refuse(f"connects to {address[0]}:{address[1]}", self.ports[address[1]])

        def connect(sock, address):
            check(address)
            return real_connect(sock, address)

        def connect_ex(sock, address):
            check(address)
            return real_connect_ex(sock, address)

        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)


def _guarded(item):
    guard = _Guard(item)
    if set(KINDS) <= guard.allowed:
        return (yield)
    with pytest.MonkeyPatch.context() as mp:
        guard.install(mp)
        result = yield
    if guard.seen:  # even if the code under test caught the error (fail-open paths do)
        pytest.fail(f"markers do not tell the truth: {'; '.join(guard.seen)}", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _guarded(item))


# --- MariaDB tests not run: say so, loudly ---------------------------------------------------

_NOT_RUN: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and isinstance(report.longrepr, tuple):
        if MYSQL_NOT_RUN in str(report.longrepr[2]):
            _NOT_RUN.append(report.nodeid)


def pytest_terminal_summary(terminalreporter):
    if not _NOT_RUN:
        return
    tr = terminalreporter
    tr.section(
        f"NOT RUN: {len(_NOT_RUN)} MariaDB tests (no MariaDB server)", sep="!", red=True, bold=True
    )
    for nodeid in _NOT_RUN:
        tr.line(f"  {nodeid}")
    tr.line(
        f"No MariaDB answered on 127.0.0.1:3306 and {MYSQL_ENV} is unset: start one, or set "
        f"{MYSQL_ENV}=mysql://user:password@host:3306 (.ci/run does). "
        f"{REQUIRE_ALL}=1 makes these tests fail instead.",
        red=True,
        bold=True,
    )
