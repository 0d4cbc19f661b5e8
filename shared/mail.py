"""The two mails the domain sends, and an SMTP sender for them."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import UTC
from email.message import EmailMessage

from shared.config import Settings
from shared.models import Review, Specialist
from shared.timing import timed


@dataclass(frozen=True)
class SmtpSender:
    """Send one message per SMTP connection, as a web app talking to a provider does."""

    host: str
    port: int
    sender: str
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSender:
        return cls(
            settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_timeout
        )

    def send(self, message: EmailMessage) -> None:
        message["From"] = self.sender
        with timed("smtp"), smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)


def review_mail(review_id: str) -> EmailMessage:
    """Build "You have a new review" for the reviewed specialist."""
    review = Review.get_by_id(review_id)
    specialist = Specialist.get_by_id(review.specialist_id)
    message = EmailMessage()
    message["To"] = specialist.email
    message["Subject"] = "You have a new review"
    # The lab measures queue lag from these: review id and when it was committed (epoch seconds).
    message["X-Lab-Review-Id"] = str(review.id)
    message["X-Lab-Created-At"] = f"{review.created_at.replace(tzinfo=UTC).timestamp():.6f}"
    message.set_content(
        f"Hello {specialist.name},\n\n"
        f"You have a new review.\n"
        f"Rating: {review.rating}/10\n"
        f"Comment: {review.comment or '(no comment)'}\n"
    )
    return message


def report_mail(to: str, report_id: str, link: str, requested_at: float) -> EmailMessage:
    """Build "Your report is ready" with its download link."""
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = "Your report is ready"
    message["X-Lab-Report-Id"] = report_id
    message["X-Lab-Created-At"] = f"{requested_at:.6f}"
    message["X-Lab-Link"] = link
    message.set_content(
        f"Your top-rated specialists report is ready.\n\nDownload it here: {link}\n"
    )
    return message


def is_permanent(exc: BaseException) -> bool:
    """Tell a refusal for good (SMTP 5xx: no such mailbox, relaying denied) from one worth a retry.

    A 4xx (try later), a timeout or a refused connection is temporary.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return False
