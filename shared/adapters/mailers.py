"""Review mailers: send inside the request (legacy) or hand the mail to a task queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.mail import SmtpSender, review_mail


@dataclass
class SmtpReviewMailer:
    """Send the mail now, inside the request: the client waits for the mail provider."""

    sender: SmtpSender

    def review_created(self, review_id: str) -> None:
        self.sender.send(review_mail(review_id))


@dataclass
class QueuedReviewMailer:
    """Put a task on the queue and return; a worker process sends the mail."""

    enqueue: Callable[[str], object]

    def review_created(self, review_id: str) -> None:
        self.enqueue(review_id)
