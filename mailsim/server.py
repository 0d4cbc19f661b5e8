"""The simulator: an aiosmtpd SMTP sink with injectable latency/faults plus an HTTP inbox."""

from __future__ import annotations

import asyncio
import copy
import email
import email.policy
import errno
import json
import math
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.smtp import SMTP

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
            httpd = ThreadingHTTPServer((self.host, self.http_port), _HTTPHandler)
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
            found = [m for m in found if m["id"] > since_id]
        if to is not None:
            to = to.lower()
            found = [m for m in found if any(r.lower() == to for r in m["to"])]
        return found

    def messages(
        self, to: str | None = None, since_id: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Stored messages, oldest first, optionally filtered; limit keeps the newest N."""
        with self._cond:
            found = self._select(to, since_id)
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
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(found := self._select(to, since_id)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"expected {count} message(s), got {len(found)}")
                self._cond.wait(remaining)
            return copy.deepcopy(found)


class _HTTPHandler(BaseHTTPRequestHandler):
    """JSON API and inbox page; reaches the simulator through self.server.sim."""

    server_version = "mailsim"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # silent: the lab polls this API under load and stderr noise helps nobody

    @property
    def sim(self) -> MailSimulator:
        return self.server.sim  # type: ignore[attr-defined]

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _route(self) -> tuple[str, dict[str, list[str]]]:
        url = urlsplit(self.path)
        return url.path.rstrip("/") or "/", parse_qs(url.query)

    def do_GET(self) -> None:
        path, query = self._route()
        if path == "/":
            self._send(200, INBOX_HTML.encode(), "text/html; charset=utf-8")
        elif path == "/health":
            self._json(200, {"status": "ok"})
        elif path == "/api/config":
            self._json(200, self.sim.config())
        elif path == "/api/messages":
            self._list_messages(query)
        elif path.startswith("/api/messages/"):
            raw_id = path.removeprefix("/api/messages/")
            found = self.sim.message(int(raw_id)) if raw_id.isdigit() else None
            if found is None:
                self._error(404, f"message {raw_id!r} not found")
            else:
                self._json(200, found)
        else:
            self._error(404, f"no route for GET {path}")

    def _list_messages(self, query: dict[str, list[str]]) -> None:
        ints = {}
        for name in ("since_id", "limit"):
            if name in query:
                try:
                    ints[name] = int(query[name][-1])
                except ValueError:
                    return self._error(400, f"{name} must be an integer")
        found = self.sim.messages(to=query.get("to", [None])[-1], since_id=ints.get("since_id"))
        total = len(found)  # number matching the filters, before limit
        if "limit" in ints:
            found = found[-ints["limit"] :] if ints["limit"] > 0 else []
        self._json(200, {"total": total, "messages": found})

    def do_DELETE(self) -> None:
        path, _ = self._route()
        if path == "/api/messages":
            self._json(200, {"deleted": self.sim.clear()})
        else:
            self._error(404, f"no route for DELETE {path}")

    def do_PUT(self) -> None:
        path, _ = self._route()
        if path != "/api/config":
            return self._error(404, f"no route for PUT {path}")
        length = int(self.headers.get("Content-Length") or 0)
        try:
            changes = json.loads(self.rfile.read(length) or b"null")
        except ValueError as exc:
            return self._error(400, f"body is not valid JSON: {exc}")
        if not isinstance(changes, dict) or not changes:
            return self._error(400, 'body must be a JSON object like {"delay_ms": 50}')
        try:
            self._json(200, self.sim.configure(**changes))
        except ValueError as exc:
            self._error(400, str(exc))

    def do_POST(self) -> None:
        self._error(405, f"method POST not allowed on {self._route()[0]}")


# Rendered client-side with textContent only, so message content can never become markup.
INBOX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mailsim inbox</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 0; display: flex; height: 100vh; }
#list { flex: 1; overflow: auto; border-right: 1px solid #ccc; }
#detail { flex: 1; overflow: auto; padding: 0 1em; }
header { padding: 8px; background: #f4f4f4; position: sticky; top: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; }
td { max-width: 22em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
tbody tr { cursor: pointer; }
tbody tr:hover { background: #f3f6ff; }
tr.sel { background: #dde6ff; }
pre { white-space: pre-wrap; background: #fafafa; padding: 8px; }
</style></head>
<body>
<div id="list">
  <header><b>mailsim</b> <span id="status"></span> <button id="clear">Clear</button></header>
  <table><thead><tr><th>#</th><th>Time</th><th>To</th><th>Subject</th></tr></thead>
  <tbody id="rows"></tbody></table>
</div>
<div id="detail"><p>Select a message.</p></div>
<script>
"use strict";
let messages = [], selected = null;
function el(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  return node;
}
function show(m) {
  selected = m.id;
  const headers = Object.entries(m.headers).map(([k, v]) => k + ": " + v).join("\\n");
  const meta = el("pre", "From: " + m.from + "\\nTo: " + m.to.join(", ") +
                         "\\nReceived: " + m.received_at_iso);
  const more = el("details");
  more.append(el("summary", "All headers"), el("pre", headers));
  document.getElementById("detail").replaceChildren(
    el("h2", m.subject || "(no subject)"), meta, el("pre", m.text), more);
  render();
}
function render() {
  const rows = messages.slice().reverse().map((m) => {
    const tr = el("tr");
    if (m.id === selected) tr.className = "sel";
    const time = new Date(m.received_at * 1000).toLocaleTimeString();
    tr.append(el("td", m.id), el("td", time), el("td", m.to.join(", ")), el("td", m.subject));
    tr.onclick = () => show(m);
    return tr;
  });
  document.getElementById("rows").replaceChildren(...rows);
}
async function refresh() {
  const status = document.getElementById("status");
  try {
    const data = await (await fetch("/api/messages?limit=200")).json();
    messages = data.messages;
    status.textContent = data.total + " message(s)";
    render();
  } catch (err) {
    status.textContent = "offline";
  }
}
document.getElementById("clear").onclick = async () => {
  await fetch("/api/messages", { method: "DELETE" });
  selected = null;
  document.getElementById("detail").replaceChildren(el("p", "Select a message."));
  refresh();
};
refresh();
setInterval(refresh, 2000);
</script>
</body></html>
"""
