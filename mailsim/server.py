"""The simulator: an aiosmtpd SMTP sink with injectable latency/faults, holding the messages the
HTTP API (mailsim.http_api) serves."""

from __future__ import annotations

import asyncio
import bisect
import copy
import email
import email.policy
import errno
import math
import threading
import time
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from operator import itemgetter
from typing import Any

from aiosmtpd.smtp import SMTP

from mailsim.http_api import MAX_WAIT_S, HTTPHandler

REJECT_REPLY = "451 4.3.0 Mail provider unavailable (simulated)"
CONFIG_KEYS = ("delay_ms", "reject")


class PortInUseError(OSError):
    """A port the simulator must listen on is already taken."""

    def __init__(self, service: str, host: str, port: int):
        super().__init__(f"{service} port {port} on {host} is already in use")
        self.service, self.host, self.port = service, host, port


def _check_config(changes: dict[str, Any]) -> None:
    """Raise ValueError with a human-readable reason if a config change is invalid."""
    unknown = sorted(set(changes) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; allowed: {list(CONFIG_KEYS)}")
    if "delay_ms" in changes:
        delay = changes["delay_ms"]
        # bool is an int subclass, but {"delay_ms": true} is surely a mistake.
        number = isinstance(delay, int | float) and not isinstance(delay, bool)
        if not number or not math.isfinite(delay) or delay < 0:
            raise ValueError(f"delay_ms must be a non-negative number, got {delay!r}")
    if "reject" in changes and not isinstance(changes["reject"], bool):
        raise ValueError(f"reject must be true or false, got {changes['reject']!r}")


def _parse(envelope: Any, received_at: float) -> dict[str, Any]:
    """Turn an aiosmtpd envelope into the JSON-ready record the API serves (without id)."""
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    headers: dict[str, str] = {}
    for name, value in msg.items():
        # Repeated headers (e.g. Received) are kept, one per line, rather than overwritten.
        headers[name] = f"{headers[name]}\n{value}" if name in headers else str(value)
    text = ""
    part = msg.get_body(preferencelist=("plain",))
    if part is not None:
        try:
            text = part.get_content()
        except (LookupError, ValueError):  # unknown charset or broken encoding: be lenient
            text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    return {
        "from": envelope.mail_from,
        "to": list(envelope.rcpt_tos),
        "subject": str(msg.get("Subject", "")),
        "text": text,
        "headers": headers,
        "received_at": received_at,
        "received_at_iso": datetime.fromtimestamp(received_at, UTC).isoformat(
            timespec="milliseconds"
        ),
    }


class _SMTPHandler:
    """aiosmtpd handler: wait the provider latency, then accept or (in reject mode) refuse."""

    def __init__(self, sim: MailSimulator):
        self.sim = sim

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        # asyncio.sleep, not time.sleep: concurrent sessions must be delayed side by side.
        await asyncio.sleep(self.sim.delay_ms / 1000)
        return self.sim._deliver(envelope)


class MailSimulator:
    """SMTP + HTTP mail provider stand-in, running in background threads."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        smtp_port: int = 1025,
        http_port: int = 8025,
        delay_ms: float = 100,
        reject: bool = False,
    ):
        _check_config({"delay_ms": delay_ms, "reject": reject})
        self.host, self.smtp_port, self.http_port = host, smtp_port, http_port
        self.delay_ms, self.reject = delay_ms, reject
        self.accepted = self.rejected = 0
        # One condition guards messages and counters; waiters are woken on each delivery.
        self._cond = threading.Condition()
        self._messages: list[dict[str, Any]] = []
        self._next_id = 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._smtp_server: asyncio.Server | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> MailSimulator:
        """Bind both ports and serve in background threads; raises PortInUseError."""
        if self._loop is not None:
            raise RuntimeError("mailsim already started")
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._loop.run_forever, name="mailsim-smtp", daemon=True
        )
        self._loop_thread.start()
        try:
            self._start_smtp()
            self._start_http()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_smtp(self) -> None:
        handler = _SMTPHandler(self)

        def factory() -> SMTP:
            # An explicit hostname avoids socket.getfqdn(), which can stall on DNS.
            return SMTP(handler, hostname="mailsim", ident="mailsim", loop=self._loop)

        coro = self._loop.create_server(factory, self.host, self.smtp_port)
        try:
            self._smtp_server = asyncio.run_coroutine_threadsafe(coro, self._loop).result()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError("SMTP", self.host, self.smtp_port) from None
            raise
        self.smtp_port = self._smtp_server.sockets[0].getsockname()[1]  # resolves port 0

    def _start_http(self) -> None:
        try:
            httpd = ThreadingHTTPServer((self.host, self.http_port), HTTPHandler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError("HTTP", self.host, self.http_port) from None
            raise
        httpd.daemon_threads = True
        httpd.sim = self  # type: ignore[attr-defined]
        self.http_port = httpd.server_address[1]
        self._http_thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="mailsim-http"
        )
        self._http_thread.start()
        # Only set once serve_forever runs: shutdown() would hang on a server never served.
        self._httpd = httpd

    def stop(self) -> None:
        """Stop both servers, dropping in-flight SMTP sessions; safe to call twice."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._http_thread.join()
            self._httpd = None
        if self._loop is not None:
            if self._smtp_server is not None:
                future = asyncio.run_coroutine_threadsafe(self._close_smtp(), self._loop)
                future.result(timeout=10)
                self._smtp_server = None
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop_thread.join()
            self._loop.close()
            self._loop = None

    async def _close_smtp(self) -> None:
        self._smtp_server.close()
        # Cancel sessions still sleeping in handle_DATA so the loop closes with no pending tasks.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._smtp_server.wait_closed()

    def __enter__(self) -> MailSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP API, without a trailing slash."""
        return f"http://{self.host}:{self.http_port}"

    # -- fault injection ----------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Current settings and counters, as served by GET /api/config."""
        with self._cond:
            return {
                "delay_ms": self.delay_ms,
                "reject": self.reject,
                "accepted": self.accepted,
                "rejected": self.rejected,
            }

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change delay_ms and/or reject at run time (ValueError if invalid); returns config()."""
        _check_config(changes)
        with self._cond:
            for key, value in changes.items():
                setattr(self, key, value)
        return self.config()

    # -- storage ------------------------------------------------------------------------------

    def _deliver(self, envelope: Any) -> str:
        """Store an accepted message (or count a rejection) and return the SMTP reply."""
        with self._cond:
            if self.reject:
                self.rejected += 1
                return REJECT_REPLY
        record = _parse(envelope, time.time())
        with self._cond:
            record = {"id": self._next_id, **record}
            self._next_id += 1
            self._messages.append(record)
            self.accepted += 1
            self._cond.notify_all()
        return "250 OK"

    def _select(self, to: str | None = None, since_id: int | None = None) -> list[dict[str, Any]]:
        found = self._messages
        if since_id is not None:
            # Ids only grow, so the newer ones are a tail, found by bisection: a reader waiting for
            # one mail among thousands no longer costs the provider a scan of them all.
            found = found[bisect.bisect_right(found, since_id, key=itemgetter("id")) :]
        if to is not None:
            to = to.lower()
            found = [m for m in found if any(r.lower() == to for r in m["to"])]
        return found

    def messages(
        self,
        to: str | None = None,
        since_id: int | None = None,
        limit: int | None = None,
        wait_s: float = 0,
    ) -> list[dict[str, Any]]:
        """Stored messages, oldest first, optionally filtered; limit keeps the newest N.

        With `wait_s`, an answer that would be empty waits up to that long for a first match (a
        long poll): one request per awaited mail, where polling every 0.1 s took half of the
        simulator's CPU budget while reports waited (async-reports, 8 users polling)."""
        with self._cond:
            found = self._await(1, min(max(wait_s, 0), MAX_WAIT_S), to, since_id)
            if limit is not None:
                found = found[-limit:] if limit > 0 else []
            return copy.deepcopy(found)

    def message(self, msg_id: int) -> dict[str, Any] | None:
        """One message by id, or None."""
        with self._cond:
            for m in self._messages:
                if m["id"] == msg_id:
                    return copy.deepcopy(m)
        return None

    def clear(self) -> int:
        """Delete all messages (ids keep increasing); returns how many were deleted."""
        with self._cond:
            count = len(self._messages)
            self._messages.clear()
            return count

    def wait_for_messages(
        self,
        count: int = 1,
        timeout: float = 5.0,
        to: str | None = None,
        since_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Block until at least count matching messages exist; TimeoutError otherwise."""
        with self._cond:
            found = self._await(count, timeout, to, since_id)
            if len(found) < count:
                raise TimeoutError(f"expected {count} message(s), got {len(found)}")
            return copy.deepcopy(found)

    def _await(
        self, count: int, timeout: float, to: str | None, since_id: int | None
    ) -> list[dict[str, Any]]:
        """The matching messages once there are `count` of them, or after `timeout` seconds
        those there are (each delivery wakes the waiters). Call holding self._cond."""
        deadline = time.monotonic() + timeout
        while len(found := self._select(to, since_id)) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._cond.wait(left)
        return found
