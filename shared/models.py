"""The domain's tables: users, specialists and their reviews."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import peewee

from shared.db import database


def utcnow() -> datetime:
    """Return the current UTC time without tzinfo (every backend stores naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(peewee.Model):
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        database = database


class User(BaseModel):
    email = peewee.CharField(max_length=255, unique=True)
    password_hash = peewee.CharField(max_length=255)

    class Meta:
        table_name = "users"


class Specialist(BaseModel):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    crm = peewee.CharField(max_length=32, unique=True)
    name = peewee.CharField(max_length=255)
    specialty = peewee.CharField(max_length=255)
    email = peewee.CharField(max_length=255, unique=True)

    class Meta:
        table_name = "specialists"


class Review(BaseModel):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    specialist = peewee.ForeignKeyField(
        Specialist, backref="reviews", column_name="specialist_id", on_delete="CASCADE", index=False
    )
    rating = peewee.SmallIntegerField(constraints=[peewee.Check("rating BETWEEN 1 AND 10")])
    comment = peewee.TextField(null=True)

    class Meta:
        table_name = "reviews"
        # Serves both "reviews of a specialist, newest first" and the FK lookups.
        indexes = ((("specialist", "created_at"), False),)


class Report(BaseModel):
    """A top-rated report built in the background (async-reports and later stages)."""

    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    limit = peewee.SmallIntegerField(default=10)
    status = peewee.CharField(max_length=16, default="pending")  # pending | ready | failed
    location = peewee.CharField(max_length=512, null=True)
    error = peewee.TextField(null=True)

    class Meta:
        table_name = "reports"


class MailOutbox(BaseModel):
    """A mail still owed, written in the same transaction as the row it is about (shared.outbox).

    huey alone delivers at most once; this row is what makes delivery at least once.
    """

    kind = peewee.CharField(max_length=32)  # which mail: "review"
    ref = peewee.CharField(max_length=64)  # what it is about: the review id
    status = peewee.CharField(max_length=16, default="pending")  # pending | sent | dropped
    attempts = peewee.IntegerField(default=0)
    queued_at = peewee.DateTimeField(default=utcnow)  # last handed to the queue (or tried)
    claimed_until = peewee.DateTimeField(null=True)  # a worker is sending it until then
    sent_at = peewee.DateTimeField(null=True)
    last_error = peewee.TextField(null=True)

    class Meta:
        table_name = "mail_outbox"
        indexes = (
            (("kind", "ref"), True),
            (("status", "queued_at"), False),
        )


ALL_MODELS = [User, Specialist, Review, Report, MailOutbox]
