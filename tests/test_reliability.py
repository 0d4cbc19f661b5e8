"""The mail outbox, in-process: a committed review always owes its mail, and it gets sent.

These are the rules the fault runs (test_faults.py) lean on: the row is written in the review's
transaction; a sender claims it, sends, marks it sent; copies of the task do nothing; a failure
frees the row; the sweeper re-queues what is overdue, once per grace period.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import falcon.testing
import peewee
import pytest
from huey import MemoryHuey

import stages
from mailsim import MailSimulator
from shared import db, outbox, services
from shared.adapters.mailers import QueuedReviewMailer, SmtpReviewMailer
from shared.adapters.tokens import JwtAuth
from shared.adapters.top_rated import LiveTopRated
from shared.api import create_api
from shared.config import Settings
from shared.mail import SmtpSender, review_mail
from shared.models import MailOutbox, Review, Specialist, utcnow
from shared.queue import register_review_mail
from shared.seed import DEMO_EMAIL, DEMO_PASSWORD, Scale, seed_sqlite_file
from shared.throttle import LoginThrottle

ROOT = Path(__file__).resolve().parent.parent
SECRET = "reliability-tests-" + "r" * 40


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory) -> Path:
    return seed_sqlite_file(
        tmp_path_factory.mktemp("reliability-seed") / "seed.sqlite3", Scale(20, 5)
    )


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


@pytest.fixture
def sender(mail) -> SmtpSender:
    mail.configure(reject=False)
    return SmtpSender("127.0.0.1", mail.smtp_port, "no-reply@lab.test", timeout=5)


def _specialist() -> Specialist:
    return Specialist.select().order_by(Specialist.crm).first()


def _row(review_id) -> MailOutbox:
    return MailOutbox.get((MailOutbox.kind == outbox.REVIEW) & (MailOutbox.ref == str(review_id)))


def _mails_for(mail: MailSimulator, review_id) -> int:
    return sum(1 for m in mail.messages() if m["headers"].get("X-Lab-Review-Id") == str(review_id))


# --- the row is written with the review ------------------------------------------------------


def test_a_review_is_committed_with_its_outbox_row(database):
    review = services.create_review(_specialist().id, {"rating": 8})
    row = _row(review.id)
    assert (row.status, row.attempts, row.sent_at) == (outbox.PENDING, 0, None)


def test_no_review_is_saved_without_its_outbox_row(database, monkeypatch):
    before = Review.select().count()

    def broken(kind, ref):
        raise peewee.OperationalError("disk full (simulated)")

    monkeypatch.setattr(outbox, "add", broken)
    with pytest.raises(peewee.OperationalError):
        services.create_review(_specialist().id, {"rating": 8})
    assert Review.select().count() == before, "the review was committed without its mail"


def test_a_database_made_before_the_outbox_gets_its_table(seed_file, tmp_path):
    path = tmp_path / "old.sqlite3"
    shutil.copyfile(seed_file, path)
    db.connect(f"sqlite:///{path}")
    db.database.execute_sql("DROP TABLE mail_outbox")
    review = services.create_review(_specialist().id, {"rating": 3})
    assert _row(review.id).status == outbox.PENDING


# --- claim, send, mark --------------------------------------------------------------------------


def test_deliver_sends_once_then_skips(database, mail, sender):
    review = services.create_review(_specialist().id, {"rating": 9, "comment": "once"})
    send = lambda: sender.send(review_mail(str(review.id)))  # noqa: E731
    assert outbox.deliver(outbox.REVIEW, review.id, send, lease_seconds=30) == outbox.SENT
    assert outbox.deliver(outbox.REVIEW, review.id, send, lease_seconds=30) == "skipped"
    row = _row(review.id)
    assert (row.status, row.attempts, row.claimed_until) == (outbox.SENT, 1, None)
    assert row.sent_at is not None
    assert _mails_for(mail, review.id) == 1


def test_a_copy_running_while_the_row_is_claimed_does_nothing(database):
    review = services.create_review(_specialist().id, {"rating": 4})
    inside, release = threading.Event(), threading.Event()
    sent = []

    def slow_send():
        inside.set()
        release.wait(10)
        sent.append("first")

    first = threading.Thread(
        target=lambda: outbox.deliver(outbox.REVIEW, review.id, slow_send, lease_seconds=30)
    )
    first.start()
    assert inside.wait(10)
    second = outbox.deliver(
        outbox.REVIEW, review.id, lambda: sent.append("second"), lease_seconds=30
    )
    release.set()
    first.join(10)
    assert second == "skipped" and sent == ["first"]


def test_a_failed_send_frees_the_row_with_its_error(database):
    review = services.create_review(_specialist().id, {"rating": 4})

    def refused():
        raise ConnectionRefusedError("provider down (simulated)")

    with pytest.raises(ConnectionRefusedError):
        outbox.deliver(outbox.REVIEW, review.id, refused, lease_seconds=30)
    row = _row(review.id)
    assert (row.status, row.attempts, row.claimed_until) == (outbox.PENDING, 1, None)
    assert "provider down" in row.last_error
    assert outbox.deliver(outbox.REVIEW, review.id, lambda: None, lease_seconds=30) == outbox.SENT


def test_a_claim_whose_worker_died_expires(database):
    review = services.create_review(_specialist().id, {"rating": 4})
    # A worker claimed it and died: the lease is still running, then it has run out.
    MailOutbox.update(claimed_until=utcnow() + timedelta(seconds=30)).where(
        MailOutbox.ref == str(review.id)
    ).execute()
    assert outbox.deliver(outbox.REVIEW, review.id, lambda: None, lease_seconds=30) == "skipped"
    MailOutbox.update(claimed_until=utcnow() - timedelta(seconds=1)).where(
        MailOutbox.ref == str(review.id)
    ).execute()
    assert outbox.deliver(outbox.REVIEW, review.id, lambda: None, lease_seconds=30) == outbox.SENT


def test_the_mail_of_a_deleted_review_is_dropped_not_retried(database, sender):
    specialist = _specialist()
    review = services.create_review(specialist.id, {"rating": 4})
    services.delete_review(specialist.id, review.id)
    result = outbox.deliver(
        outbox.REVIEW, review.id, lambda: sender.send(review_mail(str(review.id))), lease_seconds=30
    )
    assert result == outbox.DROPPED
    assert _row(review.id).status == outbox.DROPPED and outbox.pending() == 0


# --- the sweeper --------------------------------------------------------------------------------


def _age(review_id, seconds: float) -> None:
    MailOutbox.update(queued_at=utcnow() - timedelta(seconds=seconds)).where(
        MailOutbox.ref == str(review_id)
    ).execute()


def test_the_sweeper_requeues_overdue_mail_once_per_grace_period(database):
    fresh = services.create_review(_specialist().id, {"rating": 5})
    overdue = services.create_review(_specialist().id, {"rating": 6})
    claimed = services.create_review(_specialist().id, {"rating": 7})
    _age(overdue.id, 60)
    _age(claimed.id, 60)
    MailOutbox.update(claimed_until=utcnow() + timedelta(seconds=30)).where(
        MailOutbox.ref == str(claimed.id)
    ).execute()
    queued = []
    sweeper = outbox.Sweeper({outbox.REVIEW: queued.append}, interval=1, grace=30)
    assert sweeper.sweep_once() == 1
    assert queued == [str(overdue.id)], "only the overdue, unclaimed one"
    assert sweeper.sweep_once() == 0, "re-queued again before its grace period ran out"
    assert str(fresh.id) not in queued


def test_a_sweep_with_the_queue_down_leaves_the_mail_for_the_next(database):
    review = services.create_review(_specialist().id, {"rating": 5})
    _age(review.id, 60)

    def queue_down(ref):
        raise ConnectionError("queue server down (simulated)")

    with pytest.raises(ConnectionError):
        outbox.Sweeper({outbox.REVIEW: queue_down}, interval=1, grace=30).sweep_once()
    queued = []
    assert outbox.Sweeper({outbox.REVIEW: queued.append}, interval=1, grace=30).sweep_once() == 1
    assert queued == [str(review.id)]


def test_the_sweeper_thread_runs_and_survives_errors(database):
    review = services.create_review(_specialist().id, {"rating": 5})
    _age(review.id, 60)
    calls = []

    def flaky(ref):
        calls.append(ref)
        if len(calls) == 1:
            raise ConnectionError("first try fails")

    sweeper = outbox.Sweeper({outbox.REVIEW: flaky}, interval=0.05, grace=30)
    sweeper.start()
    sweeper.start()  # idempotent: one thread per process
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sweeper.stop()
    assert calls[:2] == [str(review.id)] * 2


# --- through the API: legacy and queued mailers ---------------------------------------------------


def _app(review_mailer) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(
        create_api(
            auth=JwtAuth(SECRET),
            review_mailer=review_mailer,
            top_rated=LiveTopRated(),
            login_throttle=LoginThrottle(),
        )
    )


def _login(client) -> dict:
    token = client.simulate_post(
        "/api/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    ).json["token"]
    return {"Authorization": f"Bearer {token}"}


def test_legacy_marks_the_row_sent_and_survives_a_provider_outage(database, mail, sender):
    client = _app(SmtpReviewMailer(sender))
    auth = _login(client)
    sid = str(_specialist().id)
    ok = client.simulate_post(f"/api/specialists/{sid}/reviews", json={"rating": 7}, headers=auth)
    assert ok.status_code == 201 and _row(ok.json["id"]).status == outbox.SENT
    mail.configure(reject=True)
    try:
        down = client.simulate_post(
            f"/api/specialists/{sid}/reviews", json={"rating": 2}, headers=auth
        )
    finally:
        mail.configure(reject=False)
    # Committed, so 201 (not a 500 for a review that is saved); the mail stays owed, with why.
    assert down.status_code == 201, down.text
    row = _row(down.json["id"])
    assert row.status == outbox.PENDING and "451" in row.last_error


def test_queue_down_the_review_is_saved_and_its_mail_sent_later(database, mail, sender):
    huey = MemoryHuey("reliability", immediate=True)
    task = register_review_mail(huey, sender, settings=Settings(outbox_grace_seconds=0))
    up = threading.Event()

    def enqueue(review_id):
        if not up.is_set():
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379 (simulated)")
        return task(review_id)

    client = _app(QueuedReviewMailer(enqueue))
    auth = _login(client)
    resp = client.simulate_post(
        f"/api/specialists/{_specialist().id}/reviews", json={"rating": 6}, headers=auth
    )
    assert resp.status_code == 201, resp.text
    review_id = resp.json["id"]
    assert Review.get_or_none(Review.id == uuid.UUID(review_id)) is not None
    assert _row(review_id).status == outbox.PENDING and _mails_for(mail, review_id) == 0
    up.set()  # the server is back: the worker's sweeper (here called by hand) queues it
    sweeper = huey._lab_outbox_sweeper
    sweeper.requeue[outbox.REVIEW] = enqueue
    assert sweeper.sweep_once() == 1
    assert _row(review_id).status == outbox.SENT and _mails_for(mail, review_id) == 1


@pytest.mark.processes
def test_every_queued_stage_starts_the_sweeper_in_its_worker(tmp_path):
    """Each stage with a worker gets the sweeper from shared code, not from stage code."""
    queued = [name for name in stages.names() if stages.topology(name).worker]
    assert queued, "no stage has a worker"
    modules = [stages.topology(name).worker.rsplit(".", 1)[0] for name in queued]
    script = "; ".join(
        [
            "import importlib",
            f"mods = {modules!r}",
            "missing = [m for m in mods if 'outbox_sweeper' not in importlib.import_module(m).huey"
            "._startup or 'review' not in importlib.import_module(m).huey._lab_outbox_sweeper"
            ".requeue]",
            "print('MISSING', missing)",
        ]
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LAB_JWT_SECRET": SECRET,
        "LAB_DATABASE_URL": f"sqlite:///{tmp_path}/lab.sqlite3",
        "LAB_REDIS_URL": "redis://127.0.0.1:1/0",
        "LAB_S3_ENDPOINT": "http://127.0.0.1:1",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MISSING []" in done.stdout, done.stdout
