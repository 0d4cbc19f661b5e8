"""The real servers the suite talks to, and throwaway databases on them (fixtures, imported by
conftest.py).

- PostgreSQL: LAB_TEST_POSTGRES_URL (postgresql://user[:password]@host:port, a role that may
  create databases), else an embedded PostgreSQL of the session's own
  (benchmarks/stack/embedded_pg.py).
- Redis: LAB_TEST_REDIS_URL (redis://host:port), else an embedded valkey of the session's own.
  Tests pick their database number (0 with a key prefix of their own, 12, 13, 15).
- MariaDB/MySQL: LAB_TEST_MYSQL_URL (mysql://user[:password]@host:port), else root on
  127.0.0.1:3306 if a server answers there. MariaDB has no embedded form: without a server its
  tests are not run, and the run ends with a loud list of them (lab_markers.py);
  LAB_TEST_REQUIRE_ALL=1 (set by .ci/run) makes them fail instead.

Any other failure to reach a server fails the test (never a skip).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from shared.seed import Scale

SMALL = Scale(20, 20)
HOST = "127.0.0.1"
PG_ENV, MYSQL_ENV, REDIS_ENV = "LAB_TEST_POSTGRES_URL", "LAB_TEST_MYSQL_URL", "LAB_TEST_REDIS_URL"
REQUIRE_ALL = "LAB_TEST_REQUIRE_ALL"
MYSQL_NOT_RUN = "not run: no MariaDB"  # lab_markers.py lists the tests skipped with this reason
starting = False  # True while a fixture here starts its server: lab_markers.py lets it


@contextlib.contextmanager
def _starting_server():
    global starting
    starting = True
    try:
        yield
    finally:
        starting = False


def base_url(url: str) -> str:
    """scheme://user:password@host:port, without a database or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _throwaway_name() -> str:
    return f"lab_test_{secrets.token_hex(6)}"


def _close_app_database() -> None:
    """Close the connection the in-process app opened, so the database can be dropped."""
    from shared.db import database

    if database.obj is not None and not database.obj.is_closed():
        database.obj.close()


# --- PostgreSQL ------------------------------------------------------------------------------


PG_PREFIX = "lab-test-postgres-"


def _stop_orphans(server_class) -> None:
    """Stop and remove the embedded servers of test sessions that were killed (no atexit ran)."""
    for top in Path(tempfile.gettempdir()).glob(f"{PG_PREFIX}*"):
        try:
            owner = int((top / "owner.pid").read_text())
            os.kill(owner, 0)
            continue  # its session is still running
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue  # not ours to judge
        try:
            server_class(top / "data").stop()
        except RuntimeError:
            pass  # its server is gone already
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """The PostgreSQL server's base URL (postgresql://user@host:port): LAB_TEST_POSTGRES_URL,
    else an embedded PostgreSQL started for this session and stopped at its end."""
    url = os.environ.get(PG_ENV)
    if url:
        yield base_url(url)
        return
    from benchmarks.stack.embedded_pg import NO_DURABILITY, EmbeddedPostgres, EmbeddedPostgresError

    # Not under pytest's temporary folder: as root the server runs as another user, and every
    # pytest session on the machine resets /tmp/pytest-of-root to 0700, locking it out.
    top = Path(tempfile.mkdtemp(prefix=PG_PREFIX))
    top.chmod(0o755)
    (top / "owner.pid").write_text(str(os.getpid()))
    server = EmbeddedPostgres(top / "data", NO_DURABILITY)
    try:
        try:
            with _starting_server():
                _stop_orphans(EmbeddedPostgres)
                server.start()
        except EmbeddedPostgresError as exc:
            pytest.fail(f"the embedded PostgreSQL did not start: {exc}", pytrace=False)
        yield base_url(server.url())
        server.stop()
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin(postgres_server):
    """An autocommit connection to the PostgreSQL server; fails loudly if it is not reachable."""
    import psycopg2

    try:
        admin = psycopg2.connect(f"{postgres_server}/postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {postgres_server} ({exc}): fix "
            f"{PG_ENV}, or unset it to use an embedded PostgreSQL",
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


@pytest.fixture
def postgres_url(postgres_server, postgres_admin):
    """A freshly created, empty PostgreSQL database (lab_test_<random>); dropped afterwards."""
    name = _pg_create(postgres_admin)
    try:
        yield f"{postgres_server}/{name}"
    finally:
        _pg_drop(postgres_admin, name)


@pytest.fixture(scope="session")
def postgres_template(postgres_server, postgres_admin):
    """A PostgreSQL database seeded once with shared.seed.seed_url at the small scale."""
    from shared.seed import seed_url

    name = _pg_create(postgres_admin)
    try:
        seed_url(f"{postgres_server}/{name}", SMALL)
        yield name
    finally:
        _pg_drop(postgres_admin, name)


@pytest.fixture
def seeded_postgres_url(postgres_server, postgres_admin, postgres_template):
    """A throwaway copy (CREATE DATABASE ... TEMPLATE) of the seeded PostgreSQL database."""
    name = _pg_create(postgres_admin, template=postgres_template)
    try:
        yield f"{postgres_server}/{name}"
    finally:
        _pg_drop(postgres_admin, name)


# --- MariaDB / MySQL -------------------------------------------------------------------------


def mysql_connect(url: str, **kw):
    """A pymysql connection for a mysql://user:password@host:port[/database] URL."""
    import pymysql

    p = urlsplit(url)
    return pymysql.connect(
        host=p.hostname,
        port=p.port or 3306,
        user=unquote(p.username or ""),
        password=unquote(p.password or ""),
        database=p.path.lstrip("/") or None,
        **kw,
    )


@pytest.fixture(scope="session")
def mysql_server():
    """The MariaDB/MySQL server's base URL: LAB_TEST_MYSQL_URL, else root on 127.0.0.1:3306 when
    a server answers there; otherwise its tests are not run (LAB_TEST_REQUIRE_ALL=1: they fail)."""
    url = os.environ.get(MYSQL_ENV)
    if url:
        return base_url(url)
    if _answers(HOST, 3306):
        return f"mysql://root@{HOST}:3306"
    why = (
        f"{MYSQL_NOT_RUN} server on {HOST}:3306 and {MYSQL_ENV} unset "
        "(MariaDB has no embedded form: start one, or set the URL)"
    )
    if os.environ.get(REQUIRE_ALL) == "1":
        pytest.fail(f"{why}; {REQUIRE_ALL}=1 requires every test to run", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def mysql_admin(mysql_server):
    """An autocommit connection to the MariaDB/MySQL server; fails loudly if it refuses."""
    import pymysql

    try:
        admin = mysql_connect(mysql_server, connect_timeout=5, autocommit=True)
    except pymysql.MySQLError as exc:
        pytest.fail(
            f"MariaDB is not usable at {mysql_server} ({exc}): fix {MYSQL_ENV}", pytrace=False
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


@pytest.fixture
def mysql_url(mysql_server, mysql_admin):
    """A freshly created, empty MariaDB database (lab_test_<random>); dropped afterwards."""
    name = _my_create(mysql_admin)
    try:
        yield f"{mysql_server}/{name}"
    finally:
        _my_drop(mysql_admin, name)


@pytest.fixture(scope="session")
def mysql_template(mysql_server, mysql_admin):
    """A MariaDB database seeded once with shared.seed.seed_url at the small scale."""
    from shared.seed import seed_url

    name = _my_create(mysql_admin)
    try:
        seed_url(f"{mysql_server}/{name}", SMALL)
        yield name
    finally:
        _my_drop(mysql_admin, name)


@pytest.fixture
def seeded_mysql_url(mysql_server, mysql_admin, mysql_template):
    """A throwaway copy of the seeded MariaDB database: the schema made by the models (foreign
    keys and indexes included), the rows copied from the template (MariaDB has no TEMPLATE)."""
    from shared import db as dbmod
    from shared.models import ALL_MODELS

    name = _my_create(mysql_admin)
    try:
        url = f"{mysql_server}/{name}"
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


# --- Redis -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A Redis server's base URL (redis://host:port): LAB_TEST_REDIS_URL, else an embedded
    valkey started for this session and stopped at its end."""
    import redis

    url = os.environ.get(REDIS_ENV)
    if url:
        yield base_url(url)
        return
    from benchmarks.stack import free_port, valkey_binary

    port, workdir = free_port(), tmp_path_factory.mktemp("valkey")
    with _starting_server():
        proc = subprocess.Popen(
            [
                valkey_binary(),
                "--port",
                str(port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    client = redis.Redis(host=HOST, port=port, socket_timeout=0.5)
    deadline = time.monotonic() + 15
    try:
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"the embedded valkey did not start on port {port} "
                        f"(exit {proc.returncode})",
                        pytrace=False,
                    )
                time.sleep(0.05)
        yield f"redis://{HOST}:{port}"
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
