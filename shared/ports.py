"""The seams a stage plugs adapters into. Resources and services know only these."""

from __future__ import annotations

from typing import Protocol

import falcon


class Authenticator(Protocol):
    """Proves who a request comes from: server sessions (legacy) or signed tokens (token-auth)."""

    def login(self, resp: falcon.Response, user_id: int) -> dict:
        """Start an authenticated session for a user; return the login response body."""

    def user_id(self, req: falcon.Request) -> int | None:
        """Return the user a request is authenticated as, or None."""


class ReviewMailer(Protocol):
    """Tells a specialist about a new review: inside the request, or through a queue."""

    def review_created(self, review_id: str) -> None:
        """Deliver (or arrange delivery of) the "You have a new review" mail."""


class TopRatedQuery(Protocol):
    """Answers "which specialists are rated highest": live from the database, or cached."""

    def top(self, limit: int) -> list[dict]:
        """Return up to `limit` specialists by average rating, highest first."""


class ReportStore(Protocol):
    """Keeps finished report files: on the worker's own disk, or in object storage."""

    def save(self, name: str, data: bytes) -> str:
        """Store a whole file (never a partial one) and return its location."""

    def respond(self, resp: falcon.Response, location: str, filename: str) -> None:
        """Answer a download: send the file, or redirect to where it can be fetched."""
