"""What a stage saved against what the mail provider received: reviews, outbox rows, mails.

`Ledger` reads the reviews and outbox rows straight from the stage's database and the mails
from the simulator's inbox, so a scenario can count lost and duplicated mails; `mail_config`
reads or changes the simulator's delay/reject settings (to make the provider refuse mail).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime

from benchmarks.client import LabClient, Reply
from benchmarks.faults.load import base_url
from shared import db as dbmod


def inbox_call(stack, method: str, path: str, payload=None) -> Reply:
    """One call to the mail simulator's HTTP API (anonymous)."""
    with closing(LabClient(base_url(stack.options.inbox_port))) as inbox:
        return inbox.request(method, path, payload)


class Ledger:
    """Compare the reviews in the database with the mails the simulator received."""

    def __init__(self, stack):
        self.stack = stack
        self.url = stack.env["LAB_DATABASE_URL"]

    def reviews_since(self, since: datetime) -> set[str]:
        """Ids of the reviews committed at or after `since` (naive UTC)."""
        from shared.models import Review

        database = dbmod.make_database(self.url)
        try:
            with database.bind_ctx([Review]):
                rows = Review.select(Review.id).where(Review.created_at >= since).tuples()
                return {str(uuid.UUID(str(r[0]))) for r in rows}
        finally:
            database.close()

    def outbox(self, refs: set[str]) -> Counter:
        """How many of these reviews' outbox rows are pending, sent or dropped."""
        from shared.models import MailOutbox

        database = dbmod.make_database(self.url)
        try:
            with database.bind_ctx([MailOutbox]):
                rows = MailOutbox.select(MailOutbox.ref, MailOutbox.status).tuples()
                return Counter(status for ref, status in rows if ref in refs)
        finally:
            database.close()

    def mails(self) -> list[dict]:
        reply = inbox_call(self.stack, "GET", "/api/messages")
        if reply.status != 200:
            raise RuntimeError(f"mail simulator: {reply.status} {reply.error}")
        return reply.json["messages"]

    def mail_counts(self) -> Counter:
        """How many review mails arrived for each review id."""
        return Counter(
            m["headers"].get("X-Lab-Review-Id")
            for m in self.mails()
            if m["headers"].get("X-Lab-Review-Id")
        )

    def wait_all_mailed(self, ids: set[str], timeout: float) -> Counter:
        """Wait (up to timeout) until every review id has a mail; return the counts seen."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.mail_counts()
            if all(counts[i] for i in ids) or time.monotonic() >= deadline:
                return counts
            time.sleep(0.2)


def utc_now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def mail_config(stack, **changes) -> dict:
    """Read (and change) the simulator's delay/reject settings and counters."""
    if changes:
        reply = inbox_call(stack, "PUT", "/api/config", changes)
    else:
        reply = inbox_call(stack, "GET", "/api/config")
    if reply.status != 200:
        raise RuntimeError(f"mail simulator config: {reply.status} {reply.body[:200]!r}")
    return reply.json
