"""The verification pass: check a stage's answers end to end before anything is measured."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from benchmarks.client import LabClient, LoginFailed
from benchmarks.measure.inbox import MAIL_DEADLINE_S, wait_for_mail
from benchmarks.measure.report_csv import csv_problem
from benchmarks.stack import Stack
from shared.seed import DEMO_EMAIL, DEMO_PASSWORD


def call(
    c: LabClient,
    method: str,
    url: str,
    body: Any = None,
    anonymous: bool = False,
    headers: dict | None = None,
) -> tuple[int, Any, str]:
    """Return (status, parsed JSON or None, text); `headers` given replace the credentials."""
    reply = c.request(method, url, body, headers=headers, auth=not anonymous and headers is None)
    return reply.status, reply.json_or_none(), reply.text


class Checks:
    """Collect verification results as [{"check", "ok", "detail"}]."""

    def __init__(self):
        self.items: list[dict] = []

    def add(self, check: str, ok: bool, detail: Any = "") -> bool:
        self.items.append({"check": check, "ok": bool(ok), "detail": detail})
        return bool(ok)

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.items)

    def failed(self) -> list[str]:
        return [f"{c['check']}: {c['detail']}" for c in self.items if not c["ok"]]


def verify(stack: Stack) -> tuple[Checks, list[str]]:
    """Check the stage's behaviour end to end; return the checks and the features found."""
    checks = Checks()
    api, inbox = stack.urls["api"].removesuffix("/api"), stack.urls["inbox"].rstrip("/")
    c = LabClient(api, timeout=60)
    # A replica that does not know our session answers 401 (the load-balanced lesson), and a
    # report file may sit on another replica's disk: the checks ask whether the feature works
    # at all, so they retry around the balancer and report how many attempts failed.
    # Least connections picks at random among idle replicas: 12 tries per replica miss the
    # right one with odds under 1 in 100,000 (2 replicas: 24 tries, 1 in 16 million).
    tries = 12 * stack.replicas

    def retried(method: str, url: str, body=None, ok=lambda s: s != 401, headers=None):
        misses = []
        for _ in range(tries):
            status, data, text = call(c, method, url, body, headers=headers)
            if ok(status):
                break
            misses.append(status)
        note = f" after {len(misses)} failed attempt(s) {misses}" if misses else ""
        return status, data, text, note

    try:
        c.login(DEMO_EMAIL, DEMO_PASSWORD)
    except LoginFailed as exc:
        checks.add("login", False, str(exc))
        return checks, []
    checks.add("login", True, "bearer token" if c.uses_token else "session cookie")

    status, data, text, note = retried("GET", "/api/user")
    checks.add(
        "current user",
        status == 200 and isinstance(data, dict) and data.get("email") == DEMO_EMAIL,
        f"status {status}{note}: {text[:200]}",
    )

    status, data, text, note = retried("GET", "/api/specialists")
    keys = ("data", "current_page", "per_page", "total", "last_page")
    page_ok = status == 200 and isinstance(data, dict) and all(k in data for k in keys)
    if not checks.add(
        "list specialists",
        page_ok and bool(data["data"]),
        f"status {status}{note}: {text[:200]}"
        if not page_ok or note
        else f"total {data['total']}, last_page {data['last_page']}",
    ):
        return checks, []
    sid = data["data"][0]["id"]

    status, data, text, note = retried("GET", f"/api/specialists/{sid}")
    checks.add(
        "one specialist",
        status == 200 and isinstance(data, dict) and data.get("id") == sid,
        f"status {status}{note}: {text[:120]}",
    )

    status, data, text, note = retried("GET", f"/api/specialists/{sid}/reviews")
    checks.add(
        "reviews of a specialist",
        status == 200 and isinstance(data, dict) and all(k in data for k in keys),
        f"status {status}{note}: {text[:120]}",
    )

    started = time.time()
    status, data, text, note = retried(
        "POST", f"/api/specialists/{sid}/reviews", {"rating": 7, "comment": "Verification review."}
    )
    if checks.add(
        "create review",
        status == 201 and isinstance(data, dict) and data.get("id"),
        f"status {status}{note}: {text[:120]}",
    ):
        mail = wait_for_mail(inbox, "X-Lab-Review-Id", data["id"])
        checks.add(
            "review mail arrives",
            mail is not None,
            f"in {mail['received_at'] - started:.2f} s"
            if mail
            else f"no mail within {MAIL_DEADLINE_S:.0f} s",
        )

    status, data, text, note = retried("GET", "/api/specialists/highest_rated")
    rows = data.get("data") if isinstance(data, dict) else None
    ratings = [r.get("average_rating") for r in rows or []]
    ordered = all(a >= b for a, b in zip(ratings, ratings[1:], strict=False))
    checks.add(
        "highest rated: 10 rows, best first",
        status == 200 and len(ratings) == 10 and ordered,
        f"status {status}{note}, averages {ratings}",
    )

    status, _, text = call(c, "GET", "/api/user", anonymous=True)
    checks.add("401 without credentials", status == 401, f"status {status}")

    # Reports are a feature of the stage's routes: an unknown route is 404, a known one 401.
    status, _, _ = call(c, "POST", "/api/reports", {"limit": 10}, anonymous=True)
    features = [] if status in (404, 405) else ["reports"]
    checks.add("features", True, {"reports": bool(features), "anonymous POST /api/reports": status})
    if features:
        verify_report(c, checks, inbox, retried)
    return checks, features


def verify_report(c: LabClient, checks: Checks, inbox: str, retried) -> None:
    """Ask for a report, wait for its mail and download the mailed CSV."""
    started = time.time()
    status, data, text, note = retried("POST", "/api/reports", {"limit": 10})
    if not checks.add(
        "report request",
        status == 202 and isinstance(data, dict) and data.get("id") and data.get("status_url"),
        f"status {status}{note}: {text[:200]}",
    ):
        return
    mail = wait_for_mail(inbox, "X-Lab-Report-Id", str(data["id"]))
    if not checks.add(
        "report mail arrives",
        mail is not None and mail["headers"].get("X-Lab-Link"),
        f"in {mail['received_at'] - started:.2f} s"
        if mail
        else f"no mail within {MAIL_DEADLINE_S:.0f} s",
    ):
        return
    link = mail["headers"]["X-Lab-Link"]
    # The bearer token is for the API only; object storage gets a presigned link and nothing else.
    same_host = urlsplit(link).netloc == urlsplit(c.base).netloc
    status, _, text, note = retried(
        "GET", link, ok=lambda s: s == 200, headers=None if same_host else {}
    )
    problem = f"status {status}" if status != 200 else csv_problem(text)
    checks.add(
        "report download is the CSV",
        problem is None,
        f"{problem or 'ok'}{note} ({link.split('?')[0]})",
    )
