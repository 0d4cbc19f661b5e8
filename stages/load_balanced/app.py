"""Composition root of the load-balanced stage."""

from shared import db
from shared.adapters.mailers import QueuedReviewMailer
from shared.adapters.sessions import DiskSessionAuth
from shared.adapters.top_rated import LiveTopRated
from shared.api import create_api
from shared.config import Settings


def create_app(settings: Settings | None = None):
    """Build one replica: async-mail's app; its sessions live on this replica's disk only."""
    from stages.load_balanced import tasks

    settings = settings or Settings.from_env()
    db.connect(settings.database_url)
    return create_api(
        auth=DiskSessionAuth(settings.session_dir),
        review_mailer=QueuedReviewMailer(tasks.send_review_mail),
        top_rated=LiveTopRated(),
        replica=settings.replica,
    )
