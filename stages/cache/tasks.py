"""The queue and its tasks, imported by the web app (to enqueue) and the worker (to run)."""

from shared import db
from shared.config import Settings
from shared.mail import SmtpSender
from shared.queue import make_huey, register_review_mail

settings = Settings.from_env()
db.connect(settings.database_url)
huey = make_huey("lab", settings.redis_url)
send_review_mail = register_review_mail(huey, SmtpSender.from_settings(settings))
