"""Reports through the outbox, dead letters, and a sweeper that re-queues only lost tasks
(issue 12, items 5-6). In-process: a real mail simulator, a huey MemoryHuey run step by step
(dequeue + execute: the worker, without its threads), a fresh small SQLite database.
"""

from __future__ import annotations

import shutil
import smtplib
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import falcon.testing
import pytest
from huey import MemoryHuey

from mailsim import MailSimulator
from shared import db, deadletters, outbox, services
from shared.adapters.mailers import QueuedReviewMailer
from shared.adapters.report_stores import LocalReportStore
from shared.adapters.tokens import JwtAuth
from shared.adapters.top_rated import LiveTopRated
from shared.api import create_api
from shared.api.reports import report_routes
from shared.config import Settings
from shared.mail import SmtpSender, is_permanent
from shared.models import MailOutbox, Report, Specialist, utcnow
from shared.queue import register_review_mail
from shared.reports import ReportLinks, register_report_tasks
from shared.seed import DEMO_EMAIL, DEMO_PASSWORD, Scale, seed_sqlite_file
from shared.throttle import LoginThrottle

ROOT = Path(__file__).resolve().parent.parent
SECRET = "outbox-tests-" + "o" * 40
FAST = Settings(outbox_sweep_seconds=0.1, outbox_grace_seconds=30, outbox_max_attempts=3)


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory) -> Path:
    return seed_sqlite_file(tmp_path_factory.mktemp("outbox-seed") / "seed.sqlite3", Scale(20, 5))


@pytest.fixture
def database(seed_file, tmp_path) -> str:
    path = tmp_path / "lab.sqlite3"
    shutil.copyfile(seed_file, path)
    url = f"sqlite:///{path}"
    db.connect(url)
    return url


@pytest.fixture(scope="module")
def mail():
    with MailSimulator("127.0.0.1", smtp_port=0, http_port=0, delay_ms=0) as sim:
        yield sim


class Worker:
    """A stage's queue and tasks on a MemoryHuey, the worker run by hand."""

    def __init__(self, mail: MailSimulator, tmp_path: Path, settings: Settings = FAST):
        self.huey = MemoryHuey(f"outbox-{id(self)}")
        self.sender = SmtpSender("127.0.0.1", mail.smtp_port, "no-reply@lab.test", timeout=5)
        self.links = ReportLinks(SECRET, "http://lab.test")
        self.store = LocalReportStore(tmp_path / "reports")
        self.review_task = register_review_mail(self.huey, self.sender, settings=settings)
        self.report_task = register_report_tasks(
            self.huey, LiveTopRated(), self.store, self.sender, self.links, settings=settings
        )
        self.sweeper = self.huey._lab_outbox_sweeper

    def run_all(self, limit: int = 50) -> int:
        """Run what is queued (not what is scheduled for later), as a worker would."""
        ran = 0
        while ran < limit and (task := self.huey.dequeue()) is not None:
            self.huey.execute(task)
            ran += 1
        return ran

    def api(self) -> falcon.testing.TestClient:
        return falcon.testing.TestClient(
            create_api(
                auth=JwtAuth(SECRET),
                review_mailer=QueuedReviewMailer(self.review_task),
                top_rated=LiveTopRated(),
                login_throttle=LoginThrottle(),
                extra_routes=report_routes(self.report_task, self.store, self.links),
            )
        )


def _bearer(client) -> dict:
    token = client.simulate_post(
        "/api/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    ).json["token"]
    return {"Authorization": f"Bearer {token}"}


def _age(ref, seconds: float) -> None:
    MailOutbox.update(queued_at=utcnow() - timedelta(seconds=seconds)).where(
        MailOutbox.ref == str(ref)
    ).execute()


def _report_mails(mail, report_id) -> int:
    return sum(1 for m in mail.messages() if m["headers"].get("X-Lab-Report-Id") == report_id)


# --- item 5: a report asked for is built and mailed at least once ----------------------------


def test_a_report_whose_task_was_lost_is_built_and_mailed_by_the_sweeper(database, mail, tmp_path):
    worker = Worker(mail, tmp_path)
    client = worker.api()
    posted = client.simulate_post("/api/reports", json={"limit": 3}, headers=_bearer(client))
    assert posted.status_code == 202
    report_id = posted.json["id"]
    worker.huey.flush()  # the queue server restarted empty (or the worker died holding it)
    _age(report_id, 60)
    assert worker.sweeper.sweep_once() == 1, "the lost report was not re-queued"
    worker.run_all()
    assert Report.get_by_id(report_id).status == "ready"
    mail.wait_for_messages(1, timeout=5, to=DEMO_EMAIL)
    assert _report_mails(mail, report_id) == 1
    row = MailOutbox.get((MailOutbox.kind == outbox.REPORT) & (MailOutbox.ref == report_id))
    assert row.status == outbox.SENT


def test_a_report_asked_for_while_the_queue_is_down_is_accepted_and_built_later(
    database, mail, tmp_path
):
    worker = Worker(mail, tmp_path)
    client = worker.api()
    headers = _bearer(client)

    def queue_down(report_id):
        raise ConnectionError("queue server down (simulated)")

    down = falcon.testing.TestClient(
        create_api(
            auth=JwtAuth(SECRET),
            review_mailer=QueuedReviewMailer(worker.review_task),
            top_rated=LiveTopRated(),
            login_throttle=LoginThrottle(),
            extra_routes=report_routes(queue_down, worker.store, worker.links),
        )
    )
    posted = down.simulate_post("/api/reports", json={"limit": 2}, headers=headers)
    assert posted.status_code == 202, posted.text  # on record: the sweeper queues it
    report_id = posted.json["id"]
    _age(report_id, 60)
    assert worker.sweeper.sweep_once() == 1
    worker.run_all()
    assert Report.get_by_id(report_id).status == "ready"
    assert mail.wait_for_messages(1, timeout=5, to=DEMO_EMAIL)


def test_a_worker_killed_after_the_build_mails_the_built_report_without_rebuilding(
    database, mail, tmp_path
):
    worker = Worker(mail, tmp_path)
    client = worker.api()
    posted = client.simulate_post("/api/reports", json={"limit": 2}, headers=_bearer(client))
    report_id = posted.json["id"]
    worker.huey.flush()
    # Built, then the worker died before the mail: the report is ready, the row still pending.
    from shared.reports import build_report

    build_report(report_id, LiveTopRated(), worker.store)
    built_at = Report.get_by_id(report_id).updated_at
    _age(report_id, 60)
    worker.sweeper.sweep_once()
    worker.run_all()
    assert Report.get_by_id(report_id).updated_at == built_at, "built a second time"
    mail.wait_for_messages(1, timeout=5, to=DEMO_EMAIL)
    assert _report_mails(mail, report_id) == 1


# --- item 6: only lost tasks are re-queued; a cap on tries; dead letters ----------------------


def test_the_sweeper_leaves_a_task_that_is_still_in_the_queue(database, mail, tmp_path):
    worker = Worker(mail, tmp_path)
    review = services.create_review(Specialist.select().first().id, {"rating": 4})
    worker.review_task(str(review.id))  # queued, behind a long backlog
    _age(review.id, 60)
    assert worker.sweeper.sweep_once() == 0, "re-queued a task that was still queued"
    assert len(worker.huey.pending()) == 1
    worker.huey.flush()  # now it is really gone
    _age(review.id, 60)
    assert worker.sweeper.sweep_once() == 1
    assert len(worker.huey.pending()) == 1


def test_the_sweeper_leaves_a_task_waiting_for_its_retry(database, mail, tmp_path):
    worker = Worker(mail, tmp_path)
    review = services.create_review(Specialist.select().first().id, {"rating": 4})
    mail.configure(reject=True)
    try:
        worker.review_task(str(review.id))
        worker.run_all(limit=1)  # refused: huey schedules a retry (1 s later)
    finally:
        mail.configure(reject=False)
    assert len(worker.huey.scheduled()) == 1
    _age(review.id, 60)
    assert worker.sweeper.sweep_once() == 0, "re-queued a task waiting in huey's schedule"


def test_a_mail_refused_for_good_is_a_dead_letter_at_once(database, mail, tmp_path, monkeypatch):
    worker = Worker(mail, tmp_path)
    review = services.create_review(Specialist.select().first().id, {"rating": 4})

    def refused(self, message):
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"5.1.1 no such user")})

    monkeypatch.setattr(SmtpSender, "send", refused)
    worker.review_task(str(review.id))
    worker.run_all()
    row = MailOutbox.get(MailOutbox.ref == str(review.id))
    assert (row.status, row.attempts) == (outbox.DEAD, 1), "retried a permanent refusal"
    assert "550" in row.last_error
    assert worker.huey.scheduled() == [], "huey was asked to retry it"
    _age(review.id, 60)
    assert worker.sweeper.sweep_once() == 0, "a dead letter was re-queued"


def test_a_mail_that_keeps_failing_is_a_dead_letter_after_the_cap(database, mail, tmp_path):
    worker = Worker(mail, tmp_path)  # LAB_OUTBOX_MAX_ATTEMPTS=3
    review = services.create_review(Specialist.select().first().id, {"rating": 4})
    mail.configure(reject=True)  # 451: temporary, retried
    try:
        for _ in range(6):  # the sweeper's rounds; huey's retries are left in its schedule
            _age(review.id, 60)
            worker.huey.storage.flush_schedule()
            worker.sweeper.sweep_once()
            worker.run_all(limit=1)
    finally:
        mail.configure(reject=False)
    row = MailOutbox.get(MailOutbox.ref == str(review.id))
    assert row.status == outbox.DEAD and row.attempts == 3, (row.status, row.attempts)
    listed = deadletters.dead_letters()
    assert [r["ref"] for r in listed] == [str(review.id)]
    assert deadletters.retry(listed[0]["id"])
    assert MailOutbox.get_by_id(row.id).status == outbox.PENDING
    assert worker.sweeper.sweep_once() == 1, "a retried dead letter is swept again"


def test_smtp_errors_are_told_apart():
    assert is_permanent(smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"no")}))
    assert is_permanent(smtplib.SMTPDataError(554, b"rejected"))
    assert not is_permanent(smtplib.SMTPDataError(451, b"try later"))
    assert not is_permanent(smtplib.SMTPRecipientsRefused({"a@b.c": (450, b"busy")}))
    assert not is_permanent(ConnectionRefusedError())


@pytest.mark.processes
def test_the_dead_letter_listing_runs_as_a_command(database):
    done = subprocess.run(
        [sys.executable, "-m", "shared.deadletters"],
        cwd=ROOT,
        env={"LAB_DATABASE_URL": database, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "0 dead letter(s)" in done.stdout


def test_a_dead_letter_is_counted_in_the_queue_servers_counters(
    database, mail, tmp_path, monkeypatch, redis_server
):
    """lab:counter:outbox_dead_letters, which the bench copies into the report's counters."""
    import redis
    from huey import RedisHuey

    client = redis.Redis.from_url(f"{redis_server}/15", socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {redis_server} ({exc})", pytrace=False)
    huey = RedisHuey(f"outbox-count-{uuid.uuid4().hex[:8]}", url=f"{redis_server}/15")
    huey.storage.conn.delete("lab:counter:outbox_dead_letters")
    sender = SmtpSender("127.0.0.1", mail.smtp_port, "no-reply@lab.test", timeout=5)
    task = register_review_mail(huey, sender, settings=FAST)
    review = services.create_review(Specialist.select().first().id, {"rating": 4})

    def refused(self, message):
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"5.1.1 no such user")})

    monkeypatch.setattr(SmtpSender, "send", refused)
    try:
        task(str(review.id))
        huey.execute(huey.dequeue())
        assert int(huey.storage.conn.get("lab:counter:outbox_dead_letters") or 0) == 1
    finally:
        huey.storage.conn.delete("lab:counter:outbox_dead_letters")
        huey.flush()
