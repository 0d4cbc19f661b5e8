"""Composition root of the legacy stage."""

from shared import db
from shared.adapters.mailers import SmtpReviewMailer
from shared.adapters.sessions import DiskSessionAuth
from shared.adapters.top_rated import LiveTopRated
from shared.api import create_api
from shared.config import Settings
from shared.mail import SmtpSender


def create_app(settings: Settings | None = None):
    """Build the legacy app: sessions on this instance's disk, mail sent in the request."""
    settings = settings or Settings.from_env()
    db.connect(settings.database_url)
    return create_api(
        auth=DiskSessionAuth(settings.session_dir),
        review_mailer=SmtpReviewMailer(SmtpSender.from_settings(settings)),
        top_rated=LiveTopRated(),
        replica=settings.replica,
    )
