"""Top-rated reports built in the background: the request, the CSV, signed links and the tasks.

A report is asked for with POST /api/reports, built by a huey task from the stage's
TopRatedQuery (the same one GET /api/specialists/highest_rated answers from, so the CSV holds
what the API shows), stored whole by the stage's ReportStore, and announced by mail with a
signed, expiring download link.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC

from shared import outbox, services, validation
from shared.adapters.tokens import check_secret
from shared.config import Settings
from shared.db import database
from shared.mail import SmtpSender, is_permanent, report_mail
from shared.models import Report, User, utcnow
from shared.ports import ReportStore, TopRatedQuery

log = logging.getLogger("lab.reports")

COLUMNS = ("rank", "id", "name", "specialty", "average_rating", "reviews_count")
DEFAULT_LIMIT = 10


class LinkRefused(Exception):
    """A download link is malformed, tampered with or expired; the API answers 403."""


@dataclass(frozen=True)
class ReportLinks:
    """Sign and check download links: `?token=<user>.<expires>.<HMAC-SHA256>`.

    The mailed link is opened outside the API client (a browser, a mail app), so it cannot
    carry the bearer token. Its signature says which user it was made for and until when it is
    valid; it is keyed with LAB_JWT_SECRET, which every replica and the worker already share.
    """

    secret: str
    public_url: str
    ttl_seconds: int = 300
    demo: bool = True

    def __post_init__(self):
        check_secret(self.secret, demo=self.demo)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportLinks:
        return cls(
            settings.jwt_secret,
            settings.public_url.rstrip("/"),
            settings.link_ttl_seconds,
            settings.demo,
        )

    def _signature(self, report_id, user_id: int, expires: int) -> str:
        # The purpose prefix keeps these signatures from meaning anything anywhere else.
        message = f"report-download:v1:{report_id}:{user_id}:{expires}".encode()
        digest = hmac.new(self.secret.encode(), message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def token(self, report_id, user_id: int, now: float | None = None) -> str:
        """Return a token that lets `user_id` download `report_id` for ttl_seconds."""
        expires = int(now if now is not None else time.time()) + self.ttl_seconds
        return f"{user_id}.{expires}.{self._signature(report_id, user_id, expires)}"

    def verify(self, report_id, token: str, now: float | None = None) -> int:
        """Return the user a token was made for; raise LinkRefused if it is not valid now."""
        try:
            user_text, expires_text, signature = token.split(".")
            if not (user_text.isascii() and expires_text.isascii()):
                raise ValueError("not ASCII digits")  # int() would take "١٢" (Arabic digits)
            user_id, expires = int(user_text), int(expires_text)
        except ValueError:
            raise LinkRefused("the link's token is malformed") from None
        expected = self._signature(report_id, user_id, expires)
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogatepass")):
            raise LinkRefused("the link's signature does not match")
        if (now if now is not None else time.time()) >= expires:
            raise LinkRefused("the link has expired; GET /api/reports/{id} gives a fresh one")
        return user_id

    def status_url(self, report_id) -> str:
        return f"{self.public_url}/api/reports/{report_id}"

    def download_url(self, report_id, user_id: int, now: float | None = None) -> str:
        return f"{self.status_url(report_id)}/download?token={self.token(report_id, user_id, now)}"


# --- the service ---------------------------------------------------------------------------------


def request_report(user_id: int, payload) -> Report:
    """Validate the request and record a pending report (committed before the task is queued)."""
    c = validation.Checker(payload)
    c.integer("limit", low=1, high=100, required=False)
    limit = c.done().get("limit", DEFAULT_LIMIT)
    outbox.ensure_table()
    with database.atomic():
        report = Report.create(user=user_id, limit=limit)
        # Same transaction: a report asked for is on record to be built and mailed (outbox).
        outbox.add(outbox.REPORT, report.id)
        return report


def get_report(user_id: int, report_id: uuid.UUID) -> Report:
    """Return one of the user's reports; another user's report is as unknown as a missing one."""
    report = Report.get_or_none((Report.id == report_id) & (Report.user == user_id))
    if report is None:
        raise services.NotFound(f"report {report_id}")
    return report


def report_json(report: Report, links: ReportLinks) -> dict:
    data = {
        "id": str(report.id),
        "status": report.status,
        "limit": report.limit,
        "created_at": services.iso(report.created_at),
        "updated_at": services.iso(report.updated_at),
    }
    if report.status == "ready":
        data["download_url"] = links.download_url(report.id, report.user_id)
    if report.status == "failed":
        data["error"] = report.error
    return data


# A cell starting with one of these is read as a formula by spreadsheet programs (OWASP, "CSV
# Injection"): `=HYPERLINK(...)` in a specialist's name would run in whoever opens the report.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value):
    """Return a text cell a spreadsheet shows as text: a leading apostrophe before a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def report_csv(rows: list[dict]) -> bytes:
    """Render the ranking as CSV, one row per specialist, best first; text cells made inert."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for rank, row in enumerate(rows, start=1):
        writer.writerow(
            [
                inert(cell)
                for cell in (
                    rank,
                    row["id"],
                    row["name"],
                    row["specialty"],
                    row["average_rating"],
                    row["reviews_count"],
                )
            ]
        )
    return buffer.getvalue().encode("utf-8")


def _set_status(report_id, status: str, **fields) -> None:
    with database.atomic():
        Report.update(status=status, updated_at=utcnow(), **fields).where(
            Report.id == report_id
        ).execute()


class BuildFailed(Exception):
    """Building the report failed (the ranking or the store), as opposed to mailing it.

    `reason` is what the user is shown (GET /api/reports/{id}): short, and saying nothing of
    the inside (hosts, buckets, drivers); the full error goes to the log and the outbox row."""

    def __init__(self, reason: str, cause: BaseException):
        super().__init__(f"{reason} ({type(cause).__name__}: {cause})")
        self.reason = reason


RANKING_FAILED = "the ranking could not be computed; please ask for the report again later"
STORE_FAILED = "the report file could not be stored; please ask for the report again later"
BUILD_FAILED = "the report could not be built; please ask for the report again later"


def build_report(report_id, top_rated: TopRatedQuery, store: ReportStore) -> bool:
    """Get the ranking, store the whole CSV, then mark the report ready; False if it is gone.
    Raise BuildFailed (with the user's reason) if the ranking or the store fails."""
    report = Report.get_or_none(Report.id == report_id)
    if report is None:
        return False
    try:
        data = report_csv(top_rated.top(report.limit))
    except Exception as exc:
        raise BuildFailed(RANKING_FAILED, exc) from exc
    try:
        location = store.save(f"{report.id}.csv", data)
    except Exception as exc:
        raise BuildFailed(STORE_FAILED, exc) from exc
    # Ready only once the store holds the whole file.
    _set_status(report.id, "ready", location=location, error=None)
    return True


def mark_failed(report_id, reason: str) -> None:
    """Mark a report failed with the user's reason (never the raw exception text)."""
    _set_status(report_id, "failed", error=reason[:2000])


def ready_mail(report_id, links: ReportLinks):
    """Build "Your report is ready" for the user who asked, with a fresh signed link."""
    report = Report.get_by_id(report_id)
    user = User.get_by_id(report.user_id)
    requested_at = report.created_at.replace(tzinfo=UTC).timestamp()
    return report_mail(
        user.email, str(report.id), links.download_url(report.id, user.id), requested_at
    )


def register_report_tasks(
    huey,
    top_rated: TopRatedQuery,
    store: ReportStore,
    sender: SmtpSender,
    links: ReportLinks,
    retries: int = 3,
    *,
    settings: Settings | None = None,
):
    """Register "build the report and mail its link"; return the task (calling it enqueues).

    The report's outbox row (written with the report) makes it durable: the task claims the row,
    builds the report unless it is built already, sends the ready mail, marks the row sent. A
    task lost with a killed worker or an emptied queue is re-queued by the outbox's sweeper, the
    same one as the review mails'. A build that fails on the task's last retry marks the report
    failed and its row a dead letter (nothing to mail); a mail that keeps failing goes the review
    mail's way: huey's retries, then the sweeper, up to LAB_OUTBOX_MAX_ATTEMPTS tries.

    Pass the stage's own TopRatedQuery: behind a cache (read without refreshing, so the API's
    requests pay for the recomputation, not the mails behind a build), the aggregate still runs
    at most once per TTL however many reports are asked for, and a report shows the API's ranking.
    """
    settings = settings or Settings.from_env()
    # The claim must outlast a build plus a send, or a re-queued copy could do it a second time.
    lease = max(settings.outbox_grace_seconds, 2 * (sender.timeout + 1))

    def build_and_mail(report_id: str) -> None:
        report = Report.get_by_id(report_id)  # deleted: DoesNotExist, the row is dropped
        if report.status != "ready":
            try:
                built = build_report(report_id, top_rated, store)
            except BuildFailed:
                raise
            except Exception as exc:
                raise BuildFailed(BUILD_FAILED, exc) from exc
            if not built:
                raise Report.DoesNotExist(report_id)
        sender.send(ready_mail(report_id, links))

    @huey.task(retries=retries, retry_delay=1, retry_backoff=2, context=True, name="build_report")
    def build(report_id: str, task=None) -> None:
        try:
            done = outbox.deliver(
                outbox.REPORT,
                report_id,
                lambda: build_and_mail(report_id),
                lease_seconds=lease,
                max_attempts=settings.outbox_max_attempts,
                permanent=is_permanent,
            )
        except BuildFailed as exc:
            if task is None or not task.retries:  # the last attempt: say so instead of pending
                log.error("report %s failed: %s", report_id, exc, exc_info=exc.__cause__)
                mark_failed(report_id, exc.reason)
                outbox.give_up(outbox.REPORT, report_id, f"report failed: {exc}")
                outbox.count(huey, "outbox_dead_letters")
            raise
        if done == outbox.DEAD:
            outbox.count(huey, "outbox_dead_letters")
            # Out of tries before it was built: failed, not pending forever.
            Report.update(
                status="failed", error="gave up after too many tries", updated_at=utcnow()
            ).where((Report.id == report_id) & (Report.status == "pending")).execute()
        elif done == outbox.DROPPED:
            log.warning("report %s was deleted before it was built", report_id)

    sweeper = outbox.sweeper_for(
        huey, interval=settings.outbox_sweep_seconds, grace=settings.outbox_grace_seconds
    )
    sweeper.requeue[outbox.REPORT] = build
    return build
