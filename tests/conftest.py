"""Shared fixtures: small seeded SQLite databases, an in-process mail simulator, free ports,
real stacks of a stage; HTTP goes through the harness's client (LabClient).

The real servers (PostgreSQL, MariaDB, Redis: lab_servers.py) and the markers with their guard
(lab_markers.py) are imported below. Server fixtures FAIL when a server they were given is not
there (a test that silently skips proves nothing); the one exception, MariaDB with no server at
all, is listed loudly at the end of the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest

# Every server fixture (postgres_*, mysql_*, redis_server) lives in lab_servers.py, the markers
# and their guard in lab_markers.py: imported here so pytest finds them.
from lab_markers import (  # noqa: F401
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_runtest_call,
    pytest_runtest_logreport,
    pytest_runtest_setup,
    pytest_terminal_summary,
)
from lab_servers import (  # noqa: F401
    mysql_admin,
    mysql_connect,
    mysql_server,
    mysql_template,
    mysql_url,
    postgres_admin,
    postgres_server,
    postgres_template,
    postgres_url,
    redis_server,
    seeded_mysql_url,
    seeded_postgres_url,
)

from benchmarks.client import LabClient
from shared.seed import Scale, seed_sqlite_file

# The Ctrl-C tests (up, play, a budgets owner) send SIGINT to the commands they start. A script's
# `pytest ... &` starts with SIGINT ignored, Python then installs no handler, and every child
# inherits the ignore: those commands would never see Ctrl-C and each test would wait out its
# timeout. A terminal's Ctrl-C is what they test, so the suite restores it for its children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

SMALL = Scale(20, 20)
DEMO_EMAIL = "email@example.com"
DEMO_PASSWORD = "12345678"
HOST = "127.0.0.1"


# --- small helpers, handed to tests as fixtures ---------------------------------------------


def _free_port() -> int:
    """A port nobody uses on 127.0.0.1, outside the ephemeral range (benchmarks.stack.host)."""
    from benchmarks.stack.host import free_port

    return free_port()


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


# --- the fixture run's report ---------------------------------------------------------------

FIXTURE_RUN = Path(__file__).parent / "fixtures" / "runs" / "20260101-120000-abc1234"


@pytest.fixture(scope="session")
def fixture_report(tmp_path_factory) -> Callable[..., Path]:
    """fixture_report(lang, charts=True) -> the index.html of the fixture run's report in that
    language, built once for the whole run and shared by pytest-xdist's workers through a lock
    in their common folder. Tests read it; one that changes a report builds its own.

    charts=False: the page and summary.md only: the charts are made but not rendered (no PNG),
    which is ~80 % of a report's ~10 s; only the tests of the charts themselves need them."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = tmp_path_factory.getbasetemp()
    root = base.parent if worker else base  # xdist: the run's folder above the workers' own

    def _built(lang: str, charts: bool = True) -> Path:
        from matplotlib.figure import Figure

        from benchmarks.results import analysis, i18n, report  # heavy: only when asked

        name = f"fixture-report-{lang}" + ("" if charts else "-page")
        out = root / name
        with (root / f"{name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it right now
            if not (out / "index.html").is_file():  # index.html is written last
                out.mkdir(parents=True, exist_ok=True)
                run = analysis.load_run(FIXTURE_RUN)
                with i18n.use(lang), contextlib.ExitStack() as unrendered:
                    if not charts:
                        for step in ("tight_layout", "savefig"):
                            unrendered.enter_context(mock.patch.object(Figure, step))
                    report.write_page(run, out, report.draw_charts(run, out))
        return out / "index.html"

    return _built


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
