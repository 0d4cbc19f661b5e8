"""Review mailers: send inside the request (legacy) or hand the mail to a task queue.

Either way the mail is already on record in the outbox (shared.outbox), written with the review.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from shared import outbox
from shared.mail import SmtpSender, review_mail
from shared.timing import timed

log = logging.getLogger("lab.mail")


@dataclass
class SmtpReviewMailer:
    """Send the mail now, inside the request: the client waits for the mail provider."""

    sender: SmtpSender

    def review_created(self, review_id: str) -> None:
        try:
            outbox.deliver(
                outbox.REVIEW,
                review_id,
                lambda: self.sender.send(review_mail(review_id)),
                lease_seconds=self.sender.timeout + 1,
            )
        except Exception as exc:
            # The review is committed, so the request succeeds; the outbox row stays pending,
            # with the error, for whoever sweeps it (this stage has no worker to do it).
            log.warning(
                "review %s saved but its mail failed (%s: %s); left pending in the outbox",
                review_id,
                type(exc).__name__,
                exc,
            )


@dataclass
class QueuedReviewMailer:
    """Put a task on the queue and return; a worker process sends the mail."""

    enqueue: Callable[[str], object]

    def review_created(self, review_id: str) -> None:
        try:
            with timed("queue"):
                self.enqueue(review_id)
        except Exception as exc:
            # The queue server is down. The outbox row was committed with the review, so the
            # worker's sweeper queues this mail once the server is back: nothing is lost.
            log.warning(
                "could not queue the mail of review %s (%s: %s); the outbox sweeper will",
                review_id,
                type(exc).__name__,
                exc,
            )
