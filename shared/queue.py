"""The task queue (huey on a Redis-protocol server) and the tasks the domain puts on it.

The web app and the worker both call these functions, so both register the same task names.
"""

from __future__ import annotations

from huey import RedisHuey

from shared.mail import SmtpSender, review_mail


def make_huey(name: str, redis_url: str) -> RedisHuey:
    """Return a huey queue stored in the Redis-protocol server at redis_url."""
    return RedisHuey(name, url=redis_url)


def register_review_mail(huey: RedisHuey, sender: SmtpSender):
    """Register the "send the review mail" task and return it (calling it enqueues)."""

    # Retries with backoff: a provider hiccup delays the mail instead of losing it.
    @huey.task(retries=5, retry_delay=1, retry_backoff=2, name="send_review_mail")
    def send_review_mail(review_id: str) -> None:
        sender.send(review_mail(review_id))

    return send_review_mail
