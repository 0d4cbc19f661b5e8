"""mailsim's HTTP side: the JSON API (messages, config, health) and the inbox page, one handler."""

from __future__ import annotations

import json
import math
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from mailsim.inbox_page import INBOX_HTML

if TYPE_CHECKING:
    from mailsim.server import MailSimulator

MAX_WAIT_S = 30  # the longest GET /api/messages?wait_s= may wait for a first match (a long poll)


class HTTPHandler(BaseHTTPRequestHandler):
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
        """GET /api/messages[?to=ADDR][&since_id=N][&limit=N][&wait_s=S]: oldest first; `limit`
        keeps the newest N, `total` counts before it; `wait_s` (0-30) holds an empty answer
        until a first match arrives (a long poll)."""
        ints = {}
        for name in ("since_id", "limit"):
            if name in query:
                try:
                    ints[name] = int(query[name][-1])
                except ValueError:
                    return self._error(400, f"{name} must be an integer")
        wait_s = 0.0
        if "wait_s" in query:
            try:
                wait_s = float(query["wait_s"][-1])
            except ValueError:
                wait_s = math.nan
            if not 0 <= wait_s <= MAX_WAIT_S:
                return self._error(
                    400,
                    f"wait_s must be a number of seconds from 0 to {MAX_WAIT_S}, "
                    f"got {query['wait_s'][-1]!r}",
                )
        found = self.sim.messages(
            to=query.get("to", [None])[-1], since_id=ints.get("since_id"), wait_s=wait_s
        )
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
