"""Shared fixtures: small seeded databases (SQLite, PostgreSQL, MariaDB), an in-process mail
simulator, free ports, real stacks of a stage; HTTP goes through the harness's client (LabClient).

PostgreSQL and MariaDB fixtures talk to the real servers on 127.0.0.1 and FAIL (never skip) when
the server is not there: a test that silently skips is a test that proves nothing.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.client import LabClient
from shared.seed import Scale, seed_sqlite_file

SMALL = Scale(20, 20)
DEMO_EMAIL = "email@example.com"
DEMO_PASSWORD = "12345678"
HOST = "127.0.0.1"

PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
MARIADB_START = "service mariadb start  (or: mysqld_safe --user=mysql &)"


# --- small helpers, handed to tests as fixtures ---------------------------------------------


def _free_port() -> int:
    """Ask the OS for a port nobody uses on 127.0.0.1."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _poll(
    predicate: Callable[[], object], timeout: float, interval: float = 0.05, what: str = "condition"
):
    """Call predicate until it returns something truthy; return that, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """A function returning a free TCP port on 127.0.0.1."""
    return _free_port


@pytest.fixture(scope="session")
def poll():
    """poll(predicate, timeout, interval=0.05, what=...): wait for a truthy value, or fail."""
    return _poll


# --- HTTP client for real stacks ------------------------------------------------------------


@pytest.fixture(scope="session")
def api_client() -> Callable[..., LabClient]:
    """api_client(base_url) -> the harness's LabClient (benchmarks/client.py)."""
    return LabClient


def inbox_messages(inbox_url: str, to: str | None = None) -> list[dict]:
    """The mail simulator's messages, over its HTTP API (GET /api/messages?to=...)."""
    query = "?" + urllib.parse.urlencode({"to": to}) if to else ""
    reply = LabClient(inbox_url, timeout=5).get("/api/messages" + query)
    assert reply.status == 200, (reply.status, reply.body, reply.error)
    return reply.json["messages"]


def configure_inbox(inbox_url: str, **changes) -> dict:
    """Change the simulator's delay_ms/reject at run time (PUT /api/config)."""
    reply = LabClient(inbox_url, timeout=5).request("PUT", "/api/config", changes)
    assert reply.status == 200, (reply.status, reply.body, reply.error)
    return reply.json


class Inbox:
    """Read the mail simulator of a running stack over HTTP."""

    def __init__(self, url: str):
        self.url = url

    def messages(self, to: str | None = None) -> list[dict]:
        return inbox_messages(self.url, to)

    def review_mail(self, review_id: str, to: str | None = None) -> dict | None:
        for m in self.messages(to):
            if m["headers"].get("X-Lab-Review-Id") == review_id:
                return m
        return None

    def wait_review_mail(self, review_id: str, to: str | None = None, timeout: float = 20) -> dict:
        return _poll(
            lambda: self.review_mail(review_id, to),
            timeout,
            what=f"the review mail of {review_id} in the inbox",
        )

    def configure(self, **changes) -> dict:
        return configure_inbox(self.url, **changes)


@pytest.fixture(scope="session")
def inbox() -> Callable[[str], Inbox]:
    """inbox(stack.urls['inbox']) -> Inbox."""
    return Inbox


# --- real stacks ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def launch(tmp_path_factory):
    """launch(stage, **Options fields) -> a started Stack on free ports at the small scale.

    Callers stop it (stack.stop()); anything left running is stopped at the end of the session.
    """
    from benchmarks.stack import Options, Stack

    started = []

    def _launch(stage: str, **options) -> Stack:
        opts = dict(
            port=_free_port(),
            inbox_port=_free_port(),
            smtp_port=_free_port(),
            scale=SMALL,
            mail_delay_ms=0,
            quiet=True,
            state_dir=tmp_path_factory.mktemp(f"stack-{stage}"),
        )
        opts.update(options)
        stack = Stack(stage, Options(**opts))
        started.append(stack)
        return stack.start()

    yield _launch
    for stack in started:
        stack.stop()


# --- databases ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def seed_template_file(tmp_path_factory) -> Path:
    """A seeded SQLite file at the small scale, made once per session."""
    return seed_sqlite_file(tmp_path_factory.mktemp("seed") / "seed-20x20.sqlite3", SMALL)


@pytest.fixture
def sqlite_url(seed_template_file, tmp_path) -> str:
    """A fresh copy of the seeded template, as a database URL."""
    target = tmp_path / "lab.sqlite3"
    shutil.copyfile(seed_template_file, target)
    return f"sqlite:///{target}"


def _throwaway_name() -> str:
    return f"lab_test_{secrets.token_hex(6)}"


@pytest.fixture(scope="session")
def postgres_admin():
    """An autocommit connection to the PostgreSQL server; fails loudly if it is not running."""
    import psycopg2

    try:
        admin = psycopg2.connect(
            host=HOST, port=5432, user="postgres", dbname="postgres", connect_timeout=5
        )
    except psycopg2.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable on {HOST}:5432 ({exc}). Start it with: {PG_START}",
            pytrace=False,
        )
    admin.autocommit = True
    yield admin
    admin.close()


def _pg_create(admin, template: str | None = None) -> str:
    name = _throwaway_name()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


def _pg_drop(admin, name: str) -> None:
    _close_app_database()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_url(name: str) -> str:
    return f"postgresql://postgres@{HOST}:5432/{name}"


@pytest.fixture
def postgres_url(postgres_admin):
    """A freshly created, empty PostgreSQL database (lab_test_<random>); dropped afterwards."""
    name = _pg_create(postgres_admin)
    try:
        yield _pg_url(name)
    finally:
        _pg_drop(postgres_admin, name)


@pytest.fixture(scope="session")
def postgres_template(postgres_admin):
    """A PostgreSQL database seeded once with shared.seed.seed_url at the small scale."""
    from shared.seed import seed_url

    name = _pg_create(postgres_admin)
    try:
        seed_url(_pg_url(name), SMALL)
        yield name
    finally:
        _pg_drop(postgres_admin, name)


@pytest.fixture
def seeded_postgres_url(postgres_admin, postgres_template):
    """A throwaway copy (CREATE DATABASE ... TEMPLATE) of the seeded PostgreSQL database."""
    name = _pg_create(postgres_admin, template=postgres_template)
    try:
        yield _pg_url(name)
    finally:
        _pg_drop(postgres_admin, name)


@pytest.fixture(scope="session")
def mysql_admin():
    """An autocommit connection to the MariaDB/MySQL server; fails loudly if it is not running."""
    import pymysql

    try:
        admin = pymysql.connect(
            host=HOST, port=3306, user="root", connect_timeout=5, autocommit=True
        )
    except pymysql.MySQLError as exc:
        pytest.fail(
            f"MariaDB is not reachable on {HOST}:3306 ({exc}). Start it with: {MARIADB_START}",
            pytrace=False,
        )
    yield admin
    admin.close()


def _my_create(admin) -> str:
    name = _throwaway_name()
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return name


def _my_drop(admin, name: str) -> None:
    _close_app_database()
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _my_url(name: str) -> str:
    return f"mysql://root@{HOST}:3306/{name}"


@pytest.fixture
def mysql_url(mysql_admin):
    """A freshly created, empty MariaDB database (lab_test_<random>); dropped afterwards."""
    name = _my_create(mysql_admin)
    try:
        yield _my_url(name)
    finally:
        _my_drop(mysql_admin, name)


@pytest.fixture(scope="session")
def mysql_template(mysql_admin):
    """A MariaDB database seeded once with shared.seed.seed_url at the small scale."""
    from shared.seed import seed_url

    name = _my_create(mysql_admin)
    try:
        seed_url(_my_url(name), SMALL)
        yield name
    finally:
        _my_drop(mysql_admin, name)


@pytest.fixture
def seeded_mysql_url(mysql_admin, mysql_template):
    """A throwaway copy of the seeded MariaDB database: the schema made by the models (foreign
    keys and indexes included), the rows copied from the template (MariaDB has no TEMPLATE)."""
    from shared import db as dbmod
    from shared.models import ALL_MODELS

    name = _my_create(mysql_admin)
    try:
        url = _my_url(name)
        target = dbmod.make_database(url)
        with target.bind_ctx(ALL_MODELS):
            target.create_tables(ALL_MODELS)
        target.close()
        with mysql_admin.cursor() as cur:
            for model in ALL_MODELS:  # parents first: the foreign keys hold while copying
                table = model._meta.table_name
                cur.execute(
                    f"INSERT INTO `{name}`.`{table}` SELECT * FROM `{mysql_template}`.`{table}`"
                )
        yield url
    finally:
        _my_drop(mysql_admin, name)


def _close_app_database() -> None:
    """Close the connection the in-process app opened, so the database can be dropped."""
    from shared.db import database

    if database.obj is not None and not database.obj.is_closed():
        database.obj.close()


# --- mail -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mail_sim():
    """An in-process mail simulator on free ports, with no delivery delay (one per module:
    tests find their own mail by recipient or review id)."""
    from mailsim import MailSimulator

    sim = MailSimulator(HOST, smtp_port=0, http_port=0, delay_ms=0).start()
    try:
        yield sim
    finally:
        sim.stop()
