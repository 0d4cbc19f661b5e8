"""Reports for the storage and access scenarios: ask for one, wait for it, fetch its links.

A report is built by the worker and stored in object storage; the stage answers with a signed
link that redirects (303) to a presigned storage URL. `fetch` follows such a link anonymously,
as a mail's reader would, and `complete_csv` tells whether what came back is the whole file.
"""

from __future__ import annotations

from contextlib import closing
from urllib.parse import urlsplit

from benchmarks.client import LabClient, Reply
from benchmarks.faults.load import Api, wait_until


def fetch(url: str, timeout: float = 10, follow: bool = True) -> Reply:
    """GET a full URL anonymously, following redirects (the 303 to storage) unless told not to;
    4xx/5xx are answers, a failed connection is status 0."""
    parts = urlsplit(url)
    with closing(LabClient(f"{parts.scheme}://{parts.netloc}", timeout=timeout)) as anonymous:
        return anonymous.get(url, allow_redirects=follow)


def fetch_status(url: str) -> int:
    return fetch(url).status


def complete_csv(body: bytes, rows: int) -> bool:
    """Whether `body` is a whole report of `rows` specialists: the header line and every row."""
    lines = body.decode(errors="replace").strip().splitlines()
    return bool(lines) and lines[0].startswith("rank,id") and len(lines) == rows + 1


def request_report(api: Api, limit: int) -> str:
    """Ask for a top-`limit` report; return its id (it is built in the background)."""
    reply = api.call("POST", "/api/reports", {"limit": limit})
    if reply.status != 202:
        raise RuntimeError(f"POST /api/reports: {reply.status} {reply.body[:200]!r}")
    return reply.json["id"]


def report_status(api: Api, report_id: str) -> dict:
    return api.call("GET", f"/api/reports/{report_id}").json


def wait_report_settled(api: Api, report_id: str, timeout: float) -> dict:
    """Wait until the report is no longer pending (ready or failed); return its status."""

    def settled():
        status = report_status(api, report_id)
        return status if status["status"] != "pending" else None

    return wait_until(settled, timeout, f"report {report_id} to be ready or failed", interval=0.2)
