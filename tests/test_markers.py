"""The markers tell the truth (tests/lab_markers.py), MariaDB tests not run are listed loudly,
the embedded PostgreSQL the suite and `--db postgres` use (benchmarks/stack/embedded_pg.py), and
the suite's children get Ctrl-C however the suite was launched (tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2
import pytest

from benchmarks.stack import embedded_pg
from benchmarks.stack.embedded_pg import NO_DURABILITY, EmbeddedPostgres

TESTS = Path(__file__).resolve().parent
INNER_CONFTEST = f"""
import sys
sys.path[:0] = [{str(TESTS)!r}, {str(TESTS.parent)!r}]
import lab_servers
lab_servers._answers = lambda *args, **kwargs: False  # as if no MariaDB answered on 3306
from lab_markers import (pytest_collection_modifyitems, pytest_configure, pytest_runtest_call,
                         pytest_runtest_logreport, pytest_runtest_setup, pytest_terminal_summary)
from lab_servers import mysql_server
"""
INNER_TESTS = """
import socket, subprocess, pytest

def test_starts_a_process_unmarked():
    subprocess.run(["true"])

@pytest.mark.processes
def test_starts_a_process_marked():
    subprocess.run(["true"], check=True)

def test_connects_to_postgres_unmarked():
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        pass  # swallowed, as fail-open code does: the guard still fails the test

def test_pure():
    assert 1 + 1 == 2

def test_on_mariadb(mysql_server):
    pass
"""


@pytest.fixture
def inner(pytester, monkeypatch):
    monkeypatch.delenv("LAB_TEST_MYSQL_URL", raising=False)
    monkeypatch.delenv("LAB_TEST_REQUIRE_ALL", raising=False)
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_inner=INNER_TESTS)
    return pytester


@pytest.mark.processes  # the inner session runs in a process of its own
def test_the_guard_fails_a_test_that_uses_what_its_markers_do_not_say(inner):
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=2, failed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*test_starts_a_process_unmarked starts a process but is not marked `processes`*",
            "*markers do not tell the truth: connects to 127.0.0.1:5432 (mark it `postgres`)*",
            "*NOT RUN: 1 MariaDB tests*",
            "*test_inner.py::test_on_mariadb*",
            "*LAB_TEST_REQUIRE_ALL=1 makes these tests fail instead*",
        ]
    )


@pytest.mark.processes
def test_fast_is_every_test_with_no_other_marker(inner):
    result = inner.runpytest_subprocess(
        "-p", "no:cacheprovider", "-m", "fast", "--collect-only", "-q"
    )
    result.stdout.fnmatch_lines(["*3/5 tests collected (2 deselected)*"])
    assert "test_starts_a_process_marked" not in result.stdout.str()
    assert "test_on_mariadb" not in result.stdout.str()


@pytest.mark.processes
def test_require_all_turns_mariadb_not_run_into_a_failure(inner, monkeypatch):
    monkeypatch.setenv("LAB_TEST_REQUIRE_ALL", "1")
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "-k", "mariadb")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*LAB_TEST_REQUIRE_ALL=1 requires every test to run*"])


def test_a_db_url_or_none_passes_through_untouched():
    assert embedded_pg.resolve_db_option(None) is None
    url = "postgresql://someone@db.example:5432/lab"
    assert embedded_pg.resolve_db_option(url) == url


@pytest.mark.postgres
@pytest.mark.processes
def test_the_embedded_postgres_starts_on_127_0_0_1_keeps_its_data_and_stops():
    top = Path(tempfile.mkdtemp(prefix="lab-test-embedded-"))  # not under pytest's 0700 tmp
    top.chmod(0o755)
    try:
        server = EmbeddedPostgres(top / "data", NO_DURABILITY).start()
        with psycopg2.connect(server.url(), connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            assert cur.fetchone()[0].startswith("18")
            cur.execute("SHOW listen_addresses")
            assert cur.fetchone()[0] == "127.0.0.1"
            cur.execute("CREATE TABLE kept (x int)")
        conn.close()
        port = server.port
        server.stop()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        again = EmbeddedPostgres(top / "data").start()  # the same data directory: data kept
        try:
            with psycopg2.connect(again.url(), connect_timeout=5) as conn, conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM kept")
                assert cur.fetchone()[0] == 0
            conn.close()
        finally:
            again.stop()
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.processes
def test_a_suite_launched_with_ctrl_c_ignored_still_gives_its_children_ctrl_c():
    """`pytest ... &` in a script ignores SIGINT; the Ctrl-C tests' commands must still get it."""
    child = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    launcher = (
        "import signal, subprocess, sys\n"
        "assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN\n"
        "import conftest\n"
        f"print(subprocess.run([sys.executable, '-c', {child!r}], capture_output=True, text=True)"
        ".stdout.strip())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", launcher],
        cwd=TESTS,
        env={**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{TESTS.parent}"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "True"
