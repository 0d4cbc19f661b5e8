"""Server-side sessions kept as files on this instance's own disk (the legacy file sessions)."""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import falcon

COOKIE = "lab_session"
_SID = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass
class DiskSessionAuth:
    """A login writes a session file here and sends its id as a cookie.

    Another instance has another directory, so it does not know the session: the flaw the
    load-balanced stage exposes.
    """

    directory: Path
    ttl_seconds: int = 7200

    def __post_init__(self):
        self.directory.mkdir(parents=True, exist_ok=True)

    def login(self, resp: falcon.Response, user_id: int) -> dict:
        sid = secrets.token_urlsafe(32)
        tmp = self.directory / f".{sid}.tmp"
        tmp.write_text(json.dumps({"user_id": user_id, "created": time.time()}))
        os.replace(tmp, self.directory / sid)
        resp.set_cookie(
            COOKIE,
            sid,
            path="/",
            secure=False,
            http_only=True,
            same_site="Lax",
            max_age=self.ttl_seconds,
        )
        return {"message": "Logged in", "auth": "session-cookie"}

    def user_id(self, req: falcon.Request) -> int | None:
        values = req.get_cookie_values(COOKIE) or []
        for sid in values:
            if not _SID.match(sid):
                continue
            try:
                data = json.loads((self.directory / sid).read_text())
            except (OSError, ValueError):
                continue
            if time.time() - data.get("created", 0) < self.ttl_seconds:
                return int(data["user_id"])
        return None
