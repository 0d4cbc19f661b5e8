"""The mail outbox: delivery that survives a killed worker, a lost queue and a provider outage.

huey alone delivers a task at most once: a task that was running when its worker died is gone,
and a queue server that restarts without its data forgets every queued task. So each mail the
domain owes is first a row in `mail_outbox`, written in the SAME transaction as the review it
is about (services.create_review): if the review is committed, so is the mail it owes.

- Whoever sends it (the worker's task, or the legacy request) first *claims* the row for a
  lease, sends, then marks it sent. A copy of the task that finds the row sent, or claimed by
  someone else, does nothing: re-queuing is always safe.
- A sweeper thread in the worker process re-queues what is still pending a grace period after
  it was last queued or tried, and whose task is really gone: not in the queue, not waiting in
  huey's schedule for a retry, not claimed by a worker (its lease). That is a task lost with a
  killed worker or a restarted queue server, or a mail whose huey retries ran out while the
  provider was down. A row merely waiting in a long backlog is left alone, so an overloaded
  queue is not multiplied. (The check reads the queue and the schedule once per sweep, and only
  when some row is overdue; a task taken off the queue but not yet claimed can be re-queued
  once: a duplicate task, which the claim turns into a no-op.) A row is re-queued at most once
  per grace period, so a long outage is no hot loop.
- Each try counts (`attempts`). A permanent refusal (an SMTP 5xx: no such mailbox) or
  LAB_OUTBOX_MAX_ATTEMPTS tries (25 by default) make the row a dead letter (`dead`, with its
  last error): never re-queued, counted (`lab:counter:outbox_dead_letters`, in the report's
  counters), listed and re-tried by hand with `python -m shared.deadletters`.
- Kinds: the review mail (`review`), and the report's ready mail (`report`), whose delivery
  builds the report first if it is not built yet: a report asked for is built and mailed at
  least once.

Delivery is at least once: a worker killed after the provider accepted a mail but before the
row was marked sent sends it again. A duplicate, never a loss.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from datetime import timedelta

import peewee

from shared.db import database
from shared.models import MailOutbox, utcnow

log = logging.getLogger("lab.outbox")

REVIEW = "review"  # the kind of the "You have a new review" mail
REPORT = "report"  # "Your report is ready" (its delivery builds the report if need be)
PENDING, SENT, DROPPED, DEAD = "pending", "sent", "dropped", "dead"
SWEEP_BATCH = 500

_ready: weakref.WeakSet = weakref.WeakSet()
_ready_lock = threading.Lock()


def ensure_table() -> None:
    """Create the outbox table if this database predates it (e.g. an older seed template)."""
    db = database.obj
    if db is None or db in _ready:
        return
    with _ready_lock:
        if db in _ready:
            return
        try:
            MailOutbox.create_table(safe=True)
        except peewee.DatabaseError:
            if not MailOutbox.table_exists():  # not a race with another process: a real error
                raise
        _ready.add(db)


def add(kind: str, ref) -> MailOutbox:
    """Record a mail owed; call it inside the transaction that writes what the mail is about."""
    return MailOutbox.create(kind=kind, ref=str(ref))


def _row(kind: str, ref: str):
    return (MailOutbox.kind == kind) & (MailOutbox.ref == ref)


def deliver(
    kind: str,
    ref,
    send: Callable[[], None],
    *,
    lease_seconds: float,
    max_attempts: int = 0,
    permanent: Callable[[BaseException], bool] | None = None,
) -> str:
    """Send one owed mail unless it is already sent or being sent; return what happened.

    The lease must outlast the slowest send (the SMTP timeout): a worker that dies while it holds
    the lease leaves the row to the sweeper once the lease has run out. A failure that is
    `permanent`, or the `max_attempts`-th (0: no cap), makes the row a dead letter and returns
    DEAD instead of raising (nothing left to retry); any other failure is raised, for a retry.
    """
    ensure_table()
    ref = str(ref)
    now = utcnow()
    free = MailOutbox.claimed_until.is_null() | (MailOutbox.claimed_until < now)
    claimed = (
        MailOutbox.update(
            claimed_until=now + timedelta(seconds=lease_seconds), attempts=MailOutbox.attempts + 1
        )
        .where(_row(kind, ref) & (MailOutbox.status == PENDING) & free)
        .execute()
    )
    if not claimed:
        if MailOutbox.select().where(_row(kind, ref)).exists():
            return "skipped"  # sent, dropped, dead, or another worker is sending it right now
        send()  # owed before the outbox existed: send it as before, with nothing to mark
        return SENT
    try:
        send()
    except peewee.DoesNotExist:
        # What the mail is about was deleted before it went out: nothing left to tell.
        _finish(kind, ref, DROPPED, "dropped: what the mail is about no longer exists")
        return DROPPED
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        tries = MailOutbox.get(_row(kind, ref)).attempts
        if (permanent and permanent(exc)) or (max_attempts and tries >= max_attempts):
            why = "refused for good" if permanent and permanent(exc) else f"{tries} tries"
            give_up(kind, ref, f"dead letter after {why}: {error}")
            return DEAD
        # Free the row for huey's retry; the sweeper waits a grace period before stepping in.
        (
            MailOutbox.update(claimed_until=None, queued_at=utcnow(), last_error=error)
            .where(_row(kind, ref))
            .execute()
        )
        raise
    _finish(kind, ref, SENT)
    return SENT


def give_up(kind: str, ref, error: str) -> None:
    """Make a row a dead letter: never re-queued, kept with its last error for a person."""
    log.error("outbox: %s %s is a dead letter: %s", kind, ref, error)
    (
        MailOutbox.update(status=DEAD, claimed_until=None, last_error=error[:1000])
        .where(_row(kind, str(ref)))
        .execute()
    )


def _finish(kind: str, ref: str, status: str, error: str | None = None) -> None:
    fields = {"status": status, "claimed_until": None, "sent_at": utcnow()}
    if error:
        fields["last_error"] = error
    MailOutbox.update(**fields).where(_row(kind, ref)).execute()


def pending(kind: str | None = None) -> int:
    """Count the mails still owed (of one kind, or all)."""
    ensure_table()
    query = MailOutbox.select().where(MailOutbox.status == PENDING)
    if kind:
        query = query.where(MailOutbox.kind == kind)
    return query.count()


def sweeper_for(huey, *, interval: float, grace: float) -> Sweeper:
    """Return the one sweeper of this huey instance, started in its worker process.

    Each kind of mail registers its task here (`sweeper.requeue[kind] = task`); the first call
    hooks the sweeper to the worker's start and stop. It asks this huey what is still queued.
    """
    sweeper = getattr(huey, "_lab_outbox_sweeper", None)
    if sweeper is None:
        sweeper = Sweeper({}, interval=interval, grace=grace, queued=lambda: _in_queue(huey))
        huey.on_startup("outbox_sweeper")(sweeper.start)
        huey.on_shutdown("outbox_sweeper")(sweeper.stop)
        huey._lab_outbox_sweeper = sweeper
    return sweeper


def _in_queue(huey) -> set[tuple[str, str]]:
    """(task name, first argument) of every task in the queue or in the schedule (retries)."""
    tasks = list(huey.pending()) + list(huey.scheduled())
    return {(t.name, str(t.args[0])) for t in tasks if t.args}


def count(huey, name: str, amount: int = 1) -> None:
    """Add to a lab:counter:* key in the queue's server (read into the report); best effort."""
    conn = getattr(getattr(huey, "storage", None), "conn", None)
    if conn is None or not amount:
        return
    try:
        conn.incrby(f"lab:counter:{name}", amount)
    except Exception as exc:  # a counter must never fail a delivery
        log.warning("could not count %s (%s)", name, exc)


class Sweeper:
    """Re-queue the mails still pending a grace period after they were last queued or tried,
    whose task is no longer queued anywhere.

    It runs as one daemon thread in the worker process (started by a huey startup hook), so it
    lives and dies with the worker it backs up. `queued` returns the (task name, ref) pairs still
    in the queue; without it every overdue row is re-queued.
    """

    def __init__(
        self,
        requeue: dict[str, Callable[[str], object]],
        *,
        interval: float,
        grace: float,
        queued: Callable[[], set[tuple[str, str]]] | None = None,
    ):
        self.requeue = requeue  # kind -> enqueue function (a huey task: calling enqueues)
        self.interval = max(0.05, float(interval))
        self.grace = timedelta(seconds=max(0.0, float(grace)))
        self.queued = queued
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.requeued = 0
        self.still_queued = 0  # overdue rows left alone: their task is in the queue

    def start(self) -> None:
        """Start the sweeping thread, once per process however often it is called."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="outbox-sweeper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _task_name(self, kind: str) -> str:
        return getattr(self.requeue[kind], "name", kind)

    def sweep_once(self) -> int:
        """Re-queue every overdue pending mail whose task is gone (up to a batch); return how
        many were queued."""
        ensure_table()
        now = utcnow()
        overdue = list(
            MailOutbox.select(MailOutbox.id, MailOutbox.kind, MailOutbox.ref)
            .where(
                (MailOutbox.status == PENDING)
                & (MailOutbox.queued_at < now - self.grace)
                & MailOutbox.kind.in_(list(self.requeue) or [""])
                & (MailOutbox.claimed_until.is_null() | (MailOutbox.claimed_until < now))
            )
            .order_by(MailOutbox.queued_at)
            .limit(SWEEP_BATCH)
        )
        queued = self.queued() if (overdue and self.queued) else set()
        count = 0
        for row in overdue:
            if (self._task_name(row.kind), row.ref) not in queued:
                self.requeue[row.kind](row.ref)  # raises while the queue is down: next round
                count += 1
            else:
                self.still_queued += 1
            # Either way, look again only a grace period from now.
            MailOutbox.update(queued_at=utcnow()).where(MailOutbox.id == row.id).execute()
        self.requeued += count
        return count

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                count = self.sweep_once()
            except Exception as exc:  # the queue or the database is down: try again next round
                log.warning(
                    "outbox sweep failed (%s: %s); retrying in %.1f s",
                    type(exc).__name__,
                    exc,
                    self.interval,
                )
                continue
            if count:
                log.warning(
                    "outbox: re-queued %d mail(s) still unsent after %.0f s",
                    count,
                    self.grace.total_seconds(),
                )
