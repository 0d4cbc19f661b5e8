"""Domain operations on specialists, reviews and users; resources call these."""

from __future__ import annotations

import math
import uuid

import peewee

from shared import outbox, validation
from shared.db import database
from shared.models import Review, Specialist, User, utcnow
from shared.passwords import verify_password


class NotFound(Exception):
    """The thing asked for does not exist (or is not the caller's); the API answers 404."""


def iso(value) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def specialist_json(s: Specialist) -> dict:
    return {
        "id": str(s.id),
        "crm": s.crm,
        "name": s.name,
        "specialty": s.specialty,
        "email": s.email,
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
    }


def review_json(r: Review) -> dict:
    return {
        "id": str(r.id),
        "specialist_id": str(r.specialist_id),
        "rating": r.rating,
        "comment": r.comment,
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
    }


def user_json(u: User) -> dict:
    return {"id": u.id, "email": u.email, "created_at": iso(u.created_at)}


def paginate(query: peewee.ModelSelect, page: int, per_page: int, render) -> dict:
    """Return one page of a query as {data, current_page, per_page, total, last_page}."""
    total = query.count()
    rows = [render(row) for row in query.paginate(page, per_page)]
    return {
        "data": rows,
        "current_page": page,
        "per_page": per_page,
        "total": total,
        "last_page": max(1, math.ceil(total / per_page)),
    }


def account_email(email: str) -> str:
    """The address as stored for the account the database matches to `email` (by its own
    comparison: MariaDB's collation ignores case and accents), or `email` if none matches."""
    user = User.get_or_none(User.email == email)
    return user.email if user else email


def authenticate(email: str, password: str) -> User | None:
    """Return the user whose email and password match, in the same time whether or not it exists."""
    user = User.get_or_none(User.email == email)
    ok = verify_password(user.password_hash if user else None, password)
    return user if ok else None


def get_user(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound("user")
    return user


# --- specialists -------------------------------------------------------------------------


def _uniqueness(fields: dict, exclude: uuid.UUID | None = None) -> None:
    errors = {}
    for name in ("crm", "email"):
        if name in fields:
            q = Specialist.select().where(getattr(Specialist, name) == fields[name])
            if exclude is not None:
                q = q.where(Specialist.id != exclude)
            if q.exists():
                errors[name] = [f"{fields[name]!r} is already taken by another specialist"]
    if errors:
        raise validation.ValidationError(errors)


def _save_unique(write):
    """Run a write; a unique-constraint race that slipped past the check becomes a 422."""
    try:
        with database.atomic():
            return write()
    except peewee.IntegrityError as exc:
        field = "crm" if "crm" in str(exc).lower() else "email"
        taken = ["is already taken by another specialist"]
        raise validation.ValidationError({field: taken}) from None


def list_specialists(page: int, per_page: int) -> dict:
    query = Specialist.select().order_by(Specialist.name, Specialist.id)
    return paginate(query, page, per_page, specialist_json)


def get_specialist(specialist_id: uuid.UUID) -> Specialist:
    found = Specialist.get_or_none(Specialist.id == specialist_id)
    if found is None:
        raise NotFound(f"specialist {specialist_id}")
    return found


def create_specialist(payload) -> Specialist:
    fields = validation.specialist(payload)
    _uniqueness(fields)
    return _save_unique(lambda: Specialist.create(**fields))


def update_specialist(specialist_id: uuid.UUID, payload, *, partial: bool) -> Specialist:
    specialist = get_specialist(specialist_id)
    fields = validation.specialist(payload, partial=partial)
    _uniqueness(fields, exclude=specialist.id)
    for name, value in fields.items():
        setattr(specialist, name, value)
    specialist.updated_at = utcnow()
    _save_unique(specialist.save)
    return specialist


def delete_specialist(specialist_id: uuid.UUID) -> None:
    specialist = get_specialist(specialist_id)
    with database.atomic():
        # Explicit, so the cascade holds on every backend (SQLite needs foreign_keys=ON for it).
        Review.delete().where(Review.specialist == specialist.id).execute()
        specialist.delete_instance()


# --- reviews --------------------------------------------------------------------------------


def list_reviews(specialist_id: uuid.UUID, page: int, per_page: int) -> dict:
    get_specialist(specialist_id)
    query = (
        Review.select()
        .where(Review.specialist == specialist_id)
        .order_by(Review.created_at.desc(), Review.id)
    )
    return paginate(query, page, per_page, review_json)


def get_review(specialist_id: uuid.UUID, review_id: uuid.UUID) -> Review:
    found = Review.get_or_none((Review.id == review_id) & (Review.specialist == specialist_id))
    if found is None:
        raise NotFound(f"review {review_id}")
    return found


def create_review(specialist_id: uuid.UUID, payload) -> Review:
    """Validate and commit a review with the mail it owes; the caller then tells the mailer."""
    specialist = get_specialist(specialist_id)
    fields = validation.review(payload)
    outbox.ensure_table()
    with database.atomic():
        review = Review.create(specialist=specialist.id, **fields)
        # Same transaction: a committed review always has its mail on record (shared.outbox).
        outbox.add(outbox.REVIEW, review.id)
        return review


def update_review(
    specialist_id: uuid.UUID, review_id: uuid.UUID, payload, *, partial: bool
) -> Review:
    review = get_review(specialist_id, review_id)
    fields = validation.review(payload, partial=partial)
    for name, value in fields.items():
        setattr(review, name, value)
    review.updated_at = utcnow()
    with database.atomic():
        review.save()
    return review


def delete_review(specialist_id: uuid.UUID, review_id: uuid.UUID) -> None:
    review = get_review(specialist_id, review_id)
    with database.atomic():
        review.delete_instance()


# --- the expensive one ----------------------------------------------------------------------

# The fields of one row of the ranking (highest_rated), in order.
RANKING_FIELDS = ("id", "name", "specialty", "average_rating", "reviews_count")


def highest_rated(limit: int) -> list[dict]:
    """Compute the top specialists by average rating over every review (a full aggregate)."""
    average = peewee.fn.AVG(Review.rating)
    query = (
        Specialist.select(
            Specialist.id,
            Specialist.name,
            Specialist.specialty,
            average.alias("average_rating"),
            peewee.fn.COUNT(Review.id).alias("reviews"),
        )
        .join(Review)
        .group_by(Specialist.id, Specialist.name, Specialist.specialty)
        .order_by(average.desc(), Specialist.id)
        .limit(limit)
    )
    return [
        {
            "id": str(row.id),
            "name": row.name,
            "specialty": row.specialty,
            "average_rating": round(float(row.average_rating), 2),
            "reviews_count": row.reviews,
        }
        for row in query
    ]
