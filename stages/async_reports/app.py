"""Composition root of the async-reports stage."""

from shared import db
from shared.adapters.cache import CachedTopRated
from shared.adapters.mailers import QueuedReviewMailer
from shared.adapters.report_stores import LocalReportStore
from shared.adapters.tokens import JwtAuth
from shared.api import create_api
from shared.api.reports import report_routes
from shared.config import Settings
from shared.reports import ReportLinks


def create_app(settings: Settings | None = None):
    """Build one replica: reports are queued, and downloads come from this replica's own disk."""
    from stages.async_reports import tasks

    settings = settings or Settings.from_env()
    db.connect(settings.database_url)
    return create_api(
        auth=JwtAuth(settings.jwt_secret, settings.jwt_ttl_seconds, demo=settings.demo),
        review_mailer=QueuedReviewMailer(tasks.send_review_mail),
        top_rated=CachedTopRated.from_url(settings.redis_url, settings.cache_ttl_seconds),
        replica=settings.replica,
        extra_routes=report_routes(
            tasks.build_report,
            LocalReportStore(settings.report_dir),
            ReportLinks.from_settings(settings),
        ),
    )
