"""The harness's one HTTP client: requests, plus the lab's two ways to log in.

A stage answers `POST /api/login` with a session cookie (legacy, async-mail, load-balanced) or
with `{"token": ...}` (token-auth onwards). `LabClient.login()` takes whichever came and sends it
on every later call. The verification pass, the probe, the fault scenarios and the tests all
talk to stages through this one class; an HTTP error is an answer (a `Reply`), and so is a
refused or reset connection (status 0), because the harness counts failures rather than
stopping at the first one.
"""

from __future__ import annotations

import http.cookiejar
import json
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

DEMO_EMAIL = "email@example.com"
DEMO_PASSWORD = "12345678"


@dataclass
class Reply:
    """One answer: status 0 means no HTTP answer at all (refused, reset, timed out)."""

    status: int
    body: bytes
    headers: CaseInsensitiveDict  # every Set-Cookie line kept, "\n"-joined
    started: float = 0.0  # time.monotonic() when the request went out
    latency: float = 0.0  # seconds until the whole body was read
    error: str = ""
    at: float = field(default_factory=time.time)  # wall clock when the answer (or failure) came
    url: str = ""  # the final URL, after redirects

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json_or_none(self) -> Any:
        try:
            return self.json
        except ValueError:
            return None


class LabClient:
    """A client for one base URL (scheme://host:port), logged in or not.

    Credentials are explicit headers, never a cookie jar: a call with `auth=False` is truly
    anonymous, and a redirect to another host (a presigned object-storage URL) carries neither
    the bearer token nor the cookie (requests drops both when the host changes).

    Each request gets a connection of its own unless `keep_alive=True`: a pooled connection
    that the server closed after an early answer (413 before the body was read, a replica
    killed by a fault scenario) would fail the *next* request, and a retry would hide exactly
    the failures the harness counts.
    """

    def __init__(self, base: str, timeout: float = 15, keep_alive: bool = False):
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.keep_alive = keep_alive
        self.auth_headers: dict[str, str] = {}
        self.login_body: dict | None = None
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies from the environment: everything is local
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

    def clone(self) -> LabClient:
        """The same base and credentials on a connection pool of its own (one per thread)."""
        other = LabClient(self.base, self.timeout, self.keep_alive)
        other.auth_headers, other.login_body = dict(self.auth_headers), self.login_body
        return other

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        timeout: float | None = None,
        allow_redirects: bool = True,
    ) -> Reply:
        """Send one request; never raises for an HTTP status or a network failure."""
        all_headers = dict(self.auth_headers) if auth else {}
        if not self.keep_alive:
            all_headers["Connection"] = "close"
        if payload is not None:
            body = json.dumps(payload).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        started = time.monotonic()
        try:
            resp = self.session.request(
                method,
                self.url(path),
                data=body,
                headers=all_headers,
                timeout=timeout or self.timeout,
                allow_redirects=allow_redirects,
            )
        except requests.RequestException as exc:
            return Reply(
                0,
                b"",
                CaseInsensitiveDict(),
                started,
                time.monotonic() - started,
                f"{type(exc).__name__}: {exc}",
            )
        got = CaseInsensitiveDict(resp.headers)
        cookies = resp.raw.headers.getlist("Set-Cookie") if resp.raw is not None else []
        if cookies:
            got["set-cookie"] = "\n".join(cookies)
        return Reply(
            resp.status_code, resp.content, got, started, time.monotonic() - started, url=resp.url
        )

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, payload: Any = None, **kw) -> Reply:
        return self.request("POST", path, payload, **kw)

    def login(self, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> LabClient:
        """Log in and keep what the stage answered with: a bearer token or the session cookie."""
        reply = self.post("/api/login", {"email": email, "password": password}, auth=False)
        if reply.status != 200:
            raise LoginFailed(
                f"login as {email} failed: {reply.status} {reply.body[:300]!r} "
                f"{reply.error}".rstrip()
            )
        self.login_body = reply.json
        token = self.login_body.get("token")
        if token:
            self.auth_headers = {"Authorization": f"Bearer {token}"}
            return self
        cookies = [
            line.split(";", 1)[0].strip()
            for line in (reply.header("set-cookie") or "").splitlines()
            if line.strip()
        ]
        if not cookies:
            raise LoginFailed(f"login returned neither a token nor a cookie: {self.login_body}")
        self.auth_headers = {"Cookie": "; ".join(cookies)}
        return self

    @property
    def uses_token(self) -> bool:
        return "Authorization" in self.auth_headers


class LoginFailed(RuntimeError):
    """The stage refused the demo login (or answered it with no credentials)."""
