"""Shared fixtures: small seeded SQLite databases, an in-process mail simulator, free ports,
real stacks of a stage, and a small HTTP client for them.

The real servers (PostgreSQL, MariaDB, Redis: lab_servers.py) and the markers with the fast
selection's guard (lab_markers.py) are imported below. Server fixtures FAIL when a server they
were given is not there (a test that silently skips proves nothing); the one exception, MariaDB
with no server at all, is listed loudly at the end of the run.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

# Every server fixture (postgres_*, mysql_*, redis_server) lives in lab_servers.py, the markers
# and the fast selection's guard in lab_markers.py: imported here so pytest finds them.
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

from shared.seed import Scale, seed_sqlite_file

SMALL = Scale(20, 20)
DEMO_EMAIL = "email@example.com"
DEMO_PASSWORD = "12345678"
HOST = "127.0.0.1"


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


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    received_at: float  # time.time() when the response was complete

    @property
    def json(self):
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class ApiClient:
    """A tiny stdlib client for one base URL (scheme://host:port). Authenticates the way the
    stage answered the login: a bearer token if the login body carried one, else the cookie."""

    def __init__(self, base: str, timeout: float = 15):
        self.base = base.rstrip("/")
        parts = urllib.parse.urlsplit(self.base)
        self.host, self.port = parts.hostname, parts.port
        self.timeout = timeout
        self.auth_headers: dict[str, str] = {}
        self.login_body: dict | None = None

    def request(
        self,
        method: str,
        path: str,
        payload=None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Response:
        all_headers = dict(self.auth_headers) if auth else {}
        if payload is not None:
            body = json.dumps(payload).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            resp = conn.getresponse()
            data = resp.read()
            got = {k.lower(): v for k, v in resp.getheaders()}
            # Keep every Set-Cookie line (getheaders() has one entry per line).
            got["set-cookie"] = "\n".join(
                v for k, v in resp.getheaders() if k.lower() == "set-cookie"
            )
            return Response(resp.status, got, data, time.time())
        finally:
            conn.close()

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, payload=None, **kw) -> Response:
        return self.request("POST", path, payload, **kw)

    def login(self, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> ApiClient:
        resp = self.post("/api/login", {"email": email, "password": password}, auth=False)
        assert resp.status == 200, f"login failed: {resp.status} {resp.body[:300]!r}"
        self.login_body = resp.json
        token = self.login_body.get("token")
        if token:
            self.auth_headers = {"Authorization": f"Bearer {token}"}
        else:
            cookies = [
                line.split(";", 1)[0].strip()
                for line in resp.header("set-cookie").splitlines()
                if line.strip()
            ]
            assert cookies, f"login returned neither a token nor a cookie: {self.login_body}"
            self.auth_headers = {"Cookie": "; ".join(cookies)}
        return self

    @property
    def uses_token(self) -> bool:
        return "Authorization" in self.auth_headers


@pytest.fixture(scope="session")
def api_client() -> Callable[..., ApiClient]:
    """api_client(base_url) -> ApiClient."""
    return ApiClient


def inbox_messages(inbox_url: str, to: str | None = None) -> list[dict]:
    """The mail simulator's messages, over its HTTP API (GET /api/messages?to=...)."""
    url = inbox_url.rstrip("/") + "/api/messages"
    if to:
        url += "?" + urllib.parse.urlencode({"to": to})
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        return json.loads(resp.read())["messages"]
    finally:
        conn.close()


def configure_inbox(inbox_url: str, **changes) -> dict:
    """Change the simulator's delay_ms/reject at run time (PUT /api/config)."""
    parts = urllib.parse.urlsplit(inbox_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request(
            "PUT",
            "/api/config",
            body=json.dumps(changes),
            headers={"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        data = json.loads(resp.read())
        assert resp.status == 200, data
        return data
    finally:
        conn.close()


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
