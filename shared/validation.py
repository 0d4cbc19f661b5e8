"""Input checks that name the offending field, the limit and the fix."""

from __future__ import annotations

import re
import uuid

from email_validator import EmailNotValidError, validate_email

MAX_COMMENT = 2000
MAX_PER_PAGE = 100
# Far beyond any real page, and small enough that the OFFSET fits a 64-bit integer.
MAX_PAGE = 2**31 - 1


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ValidationError(Exception):
    """Bad input, with a list of messages per field; the API answers 422."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class Checker:
    """Collect field errors, then raise them all at once."""

    def __init__(self, payload):
        if not isinstance(payload, dict):
            raise ValidationError({"body": ["must be a JSON object"]})
        self.payload = payload
        self.errors: dict[str, list[str]] = {}
        self.clean: dict = {}

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def text(
        self,
        field: str,
        *,
        max_length: int,
        required: bool = True,
        nullable: bool = False,
        pattern: re.Pattern | None = None,
        hint: str = "",
    ) -> None:
        if field not in self.payload:
            if required:
                self.fail(field, "is required")
            return
        value = self.payload[field]
        if value is None and nullable:
            self.clean[field] = None
            return
        if not isinstance(value, str):
            self.fail(field, "must be a string")
            return
        value = value.strip()
        if "\x00" in value or not _encodable(value):
            # PostgreSQL refuses NUL in text and no driver can encode a lone surrogate ("\ud800").
            self.fail(field, "must be valid text (no NUL characters or unpaired surrogates)")
        elif not value and not nullable:
            self.fail(field, "must not be empty")
        elif len(value) > max_length:
            self.fail(field, f"is {len(value)} characters long; the limit is {max_length}")
        elif pattern and not pattern.match(value):
            self.fail(field, f"is not valid{hint}")
        else:
            self.clean[field] = value or None

    def email(self, field: str) -> None:
        """Exactly one mailbox address (the review mail's To:): no list, no display name.

        email-validator's syntax rules (RFC 5321/5322 as mail servers accept them, with
        internationalized addresses); no DNS lookup. `.test` domains are allowed: the lab mails a
        simulator."""
        try:
            validate_email(self.clean[field], check_deliverability=False, test_environment=True)
        except EmailNotValidError as exc:
            del self.clean[field]
            self.fail(
                field,
                f"is not one valid address ({exc}); expected an address like name@example.com",
            )

    def integer(self, field: str, *, low: int, high: int, required: bool = True) -> None:
        if field not in self.payload:
            if required:
                self.fail(field, f"is required (an integer from {low} to {high})")
            return
        value = self.payload[field]
        # bool is an int in Python; a rating of `true` is a client bug, not a 1.
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(field, f"must be an integer from {low} to {high}")
        elif not low <= value <= high:
            self.fail(field, f"is {value}; it must be from {low} to {high}")
        else:
            self.clean[field] = value

    def done(self) -> dict:
        if self.errors:
            raise ValidationError(self.errors)
        return self.clean


def specialist(payload, *, partial: bool = False) -> dict:
    """Validate a specialist's fields (all required unless partial)."""
    c = Checker(payload)
    c.text("crm", max_length=32, required=not partial)
    c.text("name", max_length=255, required=not partial)
    c.text("specialty", max_length=255, required=not partial)
    c.text("email", max_length=255, required=not partial)
    if c.clean.get("email"):
        c.email("email")
    return c.done()


def review(payload, *, partial: bool = False) -> dict:
    """Validate a review's rating (1..10) and optional comment."""
    c = Checker(payload)
    c.integer("rating", low=1, high=10, required=not partial)
    c.text("comment", max_length=MAX_COMMENT, required=False, nullable=True)
    return c.done()


def credentials(payload) -> tuple[str, str]:
    """Validate a login body: email and password strings."""
    c = Checker(payload)
    c.text("email", max_length=255)
    c.text("password", max_length=1024)
    clean = c.done()
    return clean["email"], payload["password"]


def page_params(
    page: str | None, per_page: str | None, default_per_page: int = 15
) -> tuple[int, int]:
    """Parse ?page= and ?per_page= (1-based page, per_page 1..100)."""
    errors: dict[str, list[str]] = {}
    values = []
    for name, raw, default, high in (
        ("page", page, 1, MAX_PAGE),
        ("per_page", per_page, default_per_page, MAX_PER_PAGE),
    ):
        if raw is None:
            values.append(default)
            continue
        try:
            value = int(raw)
        except ValueError:
            errors[name] = ["must be a positive integer"]
            continue
        if not 1 <= value <= high:
            errors[name] = [f"is {value}; it must be from 1 to {high}"]
        values.append(value)
    if errors:
        raise ValidationError(errors)
    return values[0], values[1]


def limit(value: int | str | None, default: int = 10, high: int = 100) -> int:
    """Validate a top-N limit (1..100)."""
    if value is None:
        return default
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValidationError({"limit": [f"must be an integer from 1 to {high}"]}) from None
    if not 1 <= n <= high or isinstance(value, bool):
        raise ValidationError({"limit": [f"is {value}; it must be from 1 to {high}"]})
    return n


def as_uuid(value: str) -> uuid.UUID | None:
    """Parse a UUID or return None."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
