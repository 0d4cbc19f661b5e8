"""The queue and its tasks, imported by the web app (to enqueue) and the worker (to run)."""

from shared import db
from shared.adapters.cache import CachedTopRated
from shared.adapters.report_stores import LocalReportStore
from shared.config import Settings
from shared.mail import SmtpSender
from shared.queue import make_huey, register_review_mail
from shared.reports import ReportLinks, register_report_tasks

settings = Settings.from_env()
db.connect(settings.database_url)
huey = make_huey("lab", settings.redis_url)
sender = SmtpSender.from_settings(settings)
send_review_mail = register_review_mail(huey, sender)
# The worker writes into ITS LAB_REPORT_DIR: the disk of the machine it runs on (app-1's).
build_report = register_report_tasks(
    huey,
    # The API's cache, read only: a stale ranking is served, the API's next request refreshes it.
    CachedTopRated.from_url(settings.redis_url, settings.cache_ttl_seconds, refresh_stale=False),
    LocalReportStore(settings.report_dir),
    sender,
    ReportLinks.from_settings(settings),
)
