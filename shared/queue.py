"""The task queue (huey on a Redis-protocol server) and the tasks the domain puts on it.

The web app and the worker both call these functions, so both register the same task names.
"""

from __future__ import annotations

from huey import RedisHuey

from shared import outbox
from shared.config import Settings
from shared.mail import SmtpSender, is_permanent, review_mail


def make_huey(name: str, redis_url: str) -> RedisHuey:
    """Return a huey queue stored in the Redis-protocol server at redis_url."""
    return RedisHuey(name, url=redis_url)


def register_review_mail(huey: RedisHuey, sender: SmtpSender, *, settings: Settings | None = None):
    """Register the "send the review mail" task and return it (calling it enqueues).

    The worker process also gets the outbox sweeper (a startup hook): huey drops a task whose
    worker died, so the sweeper re-queues whatever is still unsent after a grace period.
    """
    settings = settings or Settings.from_env()
    # A claim must outlast the slowest send, or a re-queued copy could send it a second time.
    lease = max(settings.outbox_grace_seconds, sender.timeout + 1)

    # Retries with backoff (1, 2, 4, 8, 16 s): a provider hiccup delays the mail instead of
    # losing it; a longer outage is the sweeper's, once per grace period.
    @huey.task(retries=5, retry_delay=1, retry_backoff=2, name="send_review_mail")
    def send_review_mail(review_id: str) -> None:
        done = outbox.deliver(
            outbox.REVIEW,
            review_id,
            lambda: sender.send(review_mail(review_id)),
            lease_seconds=lease,
            max_attempts=settings.outbox_max_attempts,
            permanent=is_permanent,
        )
        if done == outbox.DEAD:
            outbox.count(huey, "outbox_dead_letters")

    sweeper = outbox.sweeper_for(
        huey, interval=settings.outbox_sweep_seconds, grace=settings.outbox_grace_seconds
    )
    sweeper.requeue[outbox.REVIEW] = send_review_mail
    return send_review_mail
