"""Read the mail simulator of a running stage: its messages, a mail by header, the drain."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from benchmarks.client import LabClient

MAIL_DEADLINE_S = 30.0
DRAIN_DEADLINE_S = 120.0


def messages(inbox: str) -> dict:
    """The simulator's whole answer to GET /api/messages ({"messages": [...]})."""
    reply = LabClient(inbox, timeout=30).get("/api/messages")
    if reply.status != 200:
        raise RuntimeError(f"mail simulator at {inbox}: {reply.status} {reply.error}".rstrip())
    return reply.json


def clear(inbox: str) -> None:
    """Empty the simulator's mailbox (DELETE /api/messages)."""
    LabClient(inbox, timeout=30).request("DELETE", "/api/messages")


def newest_id(inbox: str) -> int:
    """The id of the newest message in the simulator (0 when it holds none)."""
    found = LabClient(inbox, timeout=30).get("/api/messages?limit=1").json_or_none()
    newest = (found or {}).get("messages") or [{"id": 0}]
    return int(newest[-1]["id"])


def wait_past(inbox: str, since_id: int, wait_s: float) -> int | None:
    """Wait (one long poll, no CPU spent polling) for a message newer than since_id; return the
    newest id, or None if none came within wait_s."""
    reply = LabClient(inbox, timeout=wait_s + 30).get(
        f"/api/messages?since_id={since_id}&wait_s={wait_s:g}"
    )
    found = (reply.json_or_none() or {}).get("messages") or []
    return int(found[-1]["id"]) if found else None


def wait_for_mail(inbox: str, header: str, value: str, deadline_s: float = MAIL_DEADLINE_S):
    """Poll the mail simulator until a message carries header=value; None after the deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for message in messages(inbox)["messages"]:
            if message["headers"].get(header) == value:
                return message
        time.sleep(0.1)
    return None


def successful_reviews(folder: Path) -> int:
    """Return how many POST reviews succeeded in the measured run (each owes one mail)."""
    with (folder / "locust_stats.csv").open() as f:
        for row in csv.DictReader(f):
            if row["Name"] == "POST /api/specialists/{id}/reviews":
                return int(row["Request Count"]) - int(row["Failure Count"])
    return 0


# A review sent just before the window opened can be counted in it (Locust counts a request when
# it ends) while its mail says it was made before: up to one per user is never owed. With that
# few missing, a short silence ends the wait; with more, only a long one (a queue still lagging
# sends at least a mail a second).
EDGE_SILENCE_S = 2.0
SILENCE_S = 15.0


def drain_mails(inbox: str, expected: int, since: float, edge: int = 0) -> dict:
    """Wait until the mail of every review accepted since `since` arrived (queues may lag);
    `edge`: how many may be missing for want of a window edge (the users)."""
    started = time.monotonic()
    count, last_change, last_count = 0, started, -1
    while time.monotonic() - started < DRAIN_DEADLINE_S:
        found = messages(inbox)["messages"]
        count = sum(
            1
            for m in found
            if "X-Lab-Review-Id" in m["headers"]
            and float(m["headers"].get("X-Lab-Created-At", 0)) >= since
        )
        if count >= expected:
            break
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > (
            EDGE_SILENCE_S if count >= expected - edge else SILENCE_S
        ):
            break  # nothing arrives any more: the rest is lost, and mails.json will show it
        time.sleep(0.25)
    return {
        "expected_review_mails": expected,
        "review_mails": count,
        "waited_s": round(time.monotonic() - started, 2),
    }
