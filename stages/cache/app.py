"""Composition root of the cache stage."""

from shared import db
from shared.adapters.cache import CachedTopRated
from shared.adapters.mailers import QueuedReviewMailer
from shared.adapters.tokens import JwtAuth
from shared.api import create_api
from shared.config import Settings


def create_app(settings: Settings | None = None):
    """Build one replica: the ranking comes from the shared cache; the database refreshes it."""
    from stages.cache import tasks

    settings = settings or Settings.from_env()
    db.connect(settings.database_url)
    return create_api(
        auth=JwtAuth(settings.jwt_secret, settings.jwt_ttl_seconds, demo=settings.demo),
        review_mailer=QueuedReviewMailer(tasks.send_review_mail),
        top_rated=CachedTopRated.from_url(settings.redis_url, settings.cache_ttl_seconds),
        replica=settings.replica,
    )
