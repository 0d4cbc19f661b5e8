"""The runner on real servers: PostgreSQL, MariaDB and Redis (tests/lab_servers.py gives them).

- Each run gets a fresh copy of the same seed: PostgreSQL from a template database
  (CREATE DATABASE ... TEMPLATE), MariaDB by INSERT ... SELECT from a seed schema; nothing a run
  writes survives into the next; a stale seed is remade; someone else's database is refused.
- An external Redis is isolated by FLUSHDB of a dedicated db; db 0 and foreign data are refused.
- The whole API contract suite (tests/test_contract.py) passes on PostgreSQL + Redis and on
  MariaDB, every stage started for real by the runner.
- One short bench of every stage on PostgreSQL + Redis measures, and records the backends.

PostgreSQL and Redis are embedded when no LAB_TEST_*_URL names a server; MariaDB's tests run when
a server is there (lab_servers.py).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import redis

# The contract suite's tests and fixtures, run again below with this module's `stack` fixture.
from lab_servers import mysql_connect
from test_contract import (  # noqa: F401
    client,
    mailbox,
    test_bad_requests_get_400_401_404_422,
    test_highest_rated,
    test_login_and_current_user,
    test_one_specialist_and_its_reviews,
    test_posting_a_review_commits_it_and_mails_the_specialist,
    test_public_endpoints,
    test_specialist_crud_over_http,
    test_specialists_list_shape,
    test_wrong_password_and_unknown_email_are_one_401,
)

import stages
from benchmarks.stack.databases import (
    BackendError,
    Database,
    MysqlDatabase,
    PostgresDatabase,
    SqliteDatabase,
    restore_database,
    template_name,
)
from benchmarks.stack.redis_db import REDIS_MARKER, prepare_redis
from shared.seed import Scale

# Dedicated Redis databases: 13 for these tests' stacks, 12 for the isolation tests; the CI
# bench uses 15. The lab flushes the db it is given; these numbers are the lab's on this machine.
STACK_REDIS_DB, SCRATCH_REDIS_DB = 13, 12
TINY = Scale(13, 7)  # a scale of these tests' own: its seed is dropped at the end


def _name() -> str:
    return f"lab_test_run_{secrets.token_hex(5)}"


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_seed_cleanup(postgres_admin):
    yield
    with postgres_admin.cursor() as cur:
        template = template_name(TINY)
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
        if cur.fetchone():
            cur.execute(f'ALTER DATABASE "{template}" IS_TEMPLATE false')
            cur.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')


@pytest.fixture
def pg_run(postgres_server, postgres_admin, pg_seed_cleanup):
    name = _name()
    yield f"{postgres_server}/{name}"
    with postgres_admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg(url: str, sql: str, *params):
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        out = cur.fetchall() if cur.description else None
    conn.close()
    return out


def test_postgres_each_run_gets_a_fresh_copy_of_the_seed(pg_run, tmp_path):
    first = restore_database(pg_run, TINY, tmp_path / "unused.sqlite3", quiet=True)
    assert first.backend == "postgresql" and first.url == pg_run
    assert "TEMPLATE" in first.method and first.seed == "lab_seed_13x7"
    assert _pg(pg_run, "SELECT count(*) FROM reviews") == [(13 * 7,)]
    # A run writes; the next run does not see it.
    _pg(pg_run, "DELETE FROM reviews WHERE specialist_id IN (SELECT id FROM specialists LIMIT 3)")
    second = restore_database(pg_run, TINY, tmp_path / "unused.sqlite3", quiet=True)
    assert second.seeded_s is None  # the template was reused, not seeded again
    assert _pg(pg_run, "SELECT count(*) FROM reviews") == [(13 * 7,)]
    # The copy keeps the schema's rules: keys, the foreign key with its cascade, the index.
    constraints = {
        r[0]
        for r in _pg(
            pg_run, "SELECT contype FROM pg_constraint WHERE conrelid = 'reviews'::regclass"
        )
    }
    assert {"p", "f", "c"} <= constraints
    _pg(pg_run, "DELETE FROM specialists WHERE id = (SELECT id FROM specialists LIMIT 1)")
    assert _pg(pg_run, "SELECT count(*) FROM reviews") == [(12 * 7,)]


def test_postgres_stale_seed_is_remade(pg_run, postgres_admin, tmp_path):
    restore_database(pg_run, TINY, tmp_path / "x", quiet=True)
    with postgres_admin.cursor() as cur:  # as if the schema or the generator had changed
        cur.execute('COMMENT ON DATABASE "lab_seed_13x7" IS %s', ("scaling-lab seed stale",))
    again = restore_database(pg_run, TINY, tmp_path / "x", quiet=True)
    assert again.seeded_s is not None
    assert _pg(pg_run, "SELECT count(*) FROM users") == [(1,)]


def test_postgres_refuses_someone_elses_database(
    postgres_server, postgres_url, pg_seed_cleanup, tmp_path
):
    _pg(postgres_url, "CREATE TABLE invoices (id int)")
    with pytest.raises(BackendError, match="invoices"):
        restore_database(postgres_url, TINY, tmp_path / "x", quiet=True)
    assert _pg(postgres_url, "SELECT count(*) FROM invoices") == [(0,)]  # untouched
    for name in ("postgres", "template1", "lab_seed_13x7"):
        with pytest.raises(BackendError):
            restore_database(f"{postgres_server}/{name}", TINY, tmp_path / "x", quiet=True)


# --- MariaDB ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def my_seed_cleanup(mysql_admin):
    yield
    with mysql_admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{template_name(TINY)}`")


@pytest.fixture
def my_run(mysql_server, mysql_admin, my_seed_cleanup):
    name = _name()
    yield f"{mysql_server}/{name}"
    with mysql_admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _my(url: str, sql: str):
    conn = mysql_connect(url, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def test_mariadb_each_run_gets_a_fresh_copy_of_the_seed(my_run, tmp_path):
    first = restore_database(my_run, TINY, tmp_path / "x", quiet=True)
    assert first.backend == "mysql" and "INSERT" in first.method
    assert _my(my_run, "SELECT count(*) FROM reviews") == ((13 * 7,),)
    _my(my_run, "DELETE FROM reviews")
    second = restore_database(my_run, TINY, tmp_path / "x", quiet=True)
    assert second.seeded_s is None
    assert _my(my_run, "SELECT count(*) FROM reviews") == ((13 * 7,),)
    # The copy has the foreign key (CREATE TABLE ... LIKE would have lost it): cascade works.
    _my(my_run, "DELETE FROM specialists ORDER BY id LIMIT 1")
    assert _my(my_run, "SELECT count(*) FROM reviews") == ((12 * 7,),)
    assert _my(my_run, "SELECT count(*) FROM users") == ((1,),)


def test_mariadb_refuses_someone_elses_database(mysql_url, my_seed_cleanup, tmp_path):
    _my(mysql_url, "CREATE TABLE invoices (id int)")
    with pytest.raises(BackendError, match="invoices"):
        restore_database(mysql_url, TINY, tmp_path / "x", quiet=True)
    assert _my(mysql_url, "SELECT count(*) FROM invoices") == ((0,),)


# --- one backend object per URL ---------------------------------------------------------------


def test_a_url_is_parsed_once_into_its_backend_object(tmp_path):
    embedded = Database.from_url(None, TINY, tmp_path / "run.sqlite3")
    assert isinstance(embedded, SqliteDatabase) and embedded.path == tmp_path / "run.sqlite3"
    by_url = Database.from_url(f"sqlite:///{tmp_path}/x.sqlite3", TINY, tmp_path / "unused")
    assert isinstance(by_url, SqliteDatabase) and by_url.path == tmp_path / "x.sqlite3"
    pg = Database.from_url(
        "postgres://lab:secret@db.example:6543/runs?sslmode=disable", TINY, tmp_path / "unused"
    )
    assert isinstance(pg, PostgresDatabase) and pg.name == "runs"
    assert pg.params["port"] == 6543 and pg.params["sslmode"] == "disable"
    assert pg.describe() == {
        "backend": "postgresql",
        "seed": "lab_seed_13x7",
        "url": "postgres://lab:***@db.example:6543/runs?sslmode=disable",
        "method": PostgresDatabase.method,
    }
    my = Database.from_url("mariadb://root@127.0.0.1/runs", TINY, tmp_path / "unused")
    assert isinstance(my, MysqlDatabase) and my.params["port"] == 3306
    # Refused as it is parsed, before any connection: no database, the server's own, a seed.
    pg, my = "postgresql://postgres@127.0.0.1:5432", "mysql://root@127.0.0.1:3306"  # not used
    for url in (f"{pg}/", f"{pg}/postgres", f"{my}/mysql", f"{my}/lab_seed_13x7"):
        with pytest.raises(BackendError):
            Database.from_url(url, TINY, tmp_path / "unused")
    # An unknown scheme is the same clear BackendError (the runner shows it as a StackError).
    with pytest.raises(BackendError, match="unsupported scheme 'oracle'"):
        Database.from_url("oracle://u@h/db", TINY, tmp_path / "unused")


# --- SQLite by URL, and Redis -----------------------------------------------------------------


def test_a_sqlite_url_is_restored_but_a_foreign_file_is_refused(tmp_path):
    target = tmp_path / "run.sqlite3"
    restored = restore_database(f"sqlite:///{target}", TINY, tmp_path / "unused", quiet=True)
    assert restored.url == f"sqlite:///{target}" and target.exists()
    foreign = tmp_path / "theirs.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    conn.close()
    with pytest.raises(BackendError, match="invoices"):
        restore_database(f"sqlite:///{foreign}", TINY, tmp_path / "unused", quiet=True)


@pytest.fixture
def scratch_redis(redis_server):
    db = redis.Redis.from_url(f"{redis_server}/{SCRATCH_REDIS_DB}")
    db.flushdb()
    yield db
    db.flushdb()
    db.close()


def test_redis_db_0_is_never_used(redis_server, scratch_redis):
    for url in (redis_server, f"{redis_server}/0", f"{redis_server}/?db=0"):
        with pytest.raises(BackendError, match="db 0"):
            prepare_redis(url)


def test_redis_a_dedicated_db_is_flushed_before_each_run(redis_server, scratch_redis):
    url = f"{redis_server}/{SCRATCH_REDIS_DB}"
    first = prepare_redis(url)
    assert first.db == SCRATCH_REDIS_DB and first.describe()["mode"] == "external"
    scratch_redis.set("lab:top_rated:10", "[]")  # what a run leaves behind
    scratch_redis.lpush("huey.redis.lab", "a task")
    second = prepare_redis(url)
    assert second.keys_flushed == 2
    assert scratch_redis.keys("*") == [REDIS_MARKER.encode()]


def test_redis_someone_elses_keys_are_refused(redis_server, scratch_redis):
    scratch_redis.set("session:42", "theirs")
    with pytest.raises(BackendError, match="session:42"):
        prepare_redis(f"{redis_server}/{SCRATCH_REDIS_DB}")
    assert scratch_redis.get("session:42") == b"theirs"


# --- the contract suite on real servers -------------------------------------------------------

BACKENDS = {
    # PostgreSQL + a Redis server (its dedicated db), and MariaDB + the stage's embedded valkey.
    "postgresql+redis": lambda get: dict(
        database_url=f"{get('postgres_server')}/lab_test_contract",
        redis_url=f"{get('redis_server')}/{STACK_REDIS_DB}",
    ),
    "mariadb": lambda get: dict(database_url=f"{get('mysql_server')}/lab_test_contract"),
}
MARKS = {
    "postgresql+redis": [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow],
    "mariadb": [pytest.mark.mysql, pytest.mark.slow],
}


@pytest.fixture(
    scope="module",
    params=[
        pytest.param((b, s), id=f"{b}-{s}", marks=MARKS[b])
        for b in BACKENDS
        for s in stages.names()
    ],
)
def stack(request, launch):
    """One stage on real servers, started by the runner; the contract tests run against it."""
    backend, stage = request.param
    stack = launch(stage, **BACKENDS[backend](request.getfixturevalue))
    described = stack.describe()
    assert described["backends"]["database"]["backend"] == (
        "postgresql" if backend.startswith("postgresql") else "mysql"
    )
    if stack.topology.needs_redis:
        embedded = "valkey" in described["processes"]
        assert embedded == (backend == "mariadb")  # no valkey of its own with a Redis URL
    yield stack
    stack.stop()


# --- one short bench of every stage on PostgreSQL + Redis -------------------------------------


@pytest.mark.slow
@pytest.mark.processes
def test_a_short_bench_of_every_stage_on_postgresql_and_redis(
    postgres_server, redis_server, tmp_path
):
    out = tmp_path / "results"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.measure.bench",
        "--duration",
        "3",
        "--warmup",
        "1",
        "--users",
        "2",
        "--specialists",
        "50",
        "--reviews-per-specialist",
        "50",
        "--db",
        f"{postgres_server}/lab_ci",
        "--redis",
        f"{redis_server}/15",
        "--no-report",
        "--out",
        str(out),
    ]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=900, cwd=Path(__file__).resolve().parent.parent
    )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    (run,) = out.iterdir()
    meta = json.loads((run / "meta.json").read_text())
    assert (meta["database"], meta["redis"], meta["failed"]) == ("postgresql", "external", [])
    for stage in stages.names():
        folder = run / stage / "r1"
        assert (folder / "locust_stats.csv").exists() and not (folder / "FAILED.txt").exists()
        described = json.loads((folder / "stage.json").read_text())
        database = described["backends"]["database"]
        assert (database["backend"], database["seed"]) == ("postgresql", "lab_seed_50x50")
        assert "valkey" not in described["processes"]
        if described["backends"]["redis"]:
            assert described["backends"]["redis"]["db"] == 15
