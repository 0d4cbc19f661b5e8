"""Composition root of the token-auth stage."""

from shared import db
from shared.adapters.mailers import QueuedReviewMailer
from shared.adapters.tokens import JwtAuth
from shared.adapters.top_rated import LiveTopRated
from shared.api import create_api
from shared.config import Settings


def create_app(settings: Settings | None = None):
    """Build one replica: logins return a signed token that every replica can verify."""
    from stages.token_auth import tasks

    settings = settings or Settings.from_env()
    db.connect(settings.database_url)
    return create_api(
        auth=JwtAuth(settings.jwt_secret, settings.jwt_ttl_seconds, demo=settings.demo),
        review_mailer=QueuedReviewMailer(tasks.send_review_mail),
        top_rated=LiveTopRated(),
        replica=settings.replica,
    )
