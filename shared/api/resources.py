"""Falcon resources for the course project's routes. They are the same in every stage."""

from __future__ import annotations

import logging

import falcon

from shared import services, validation
from shared.api.clients import client_address
from shared.ports import Authenticator, ReviewMailer, TopRatedQuery
from shared.throttle import LoginThrottle, Refused

log = logging.getLogger("lab.api")


def body(req: falcon.Request):
    """Return the parsed JSON body; an empty body is an empty object."""
    try:
        return req.get_media(default_when_empty={})
    except RecursionError:
        # json raises RecursionError, not ValueError, on deep nesting ("[[[[..."): a 400, not a 500
        raise falcon.HTTPBadRequest(
            title="Invalid JSON", description="The JSON body is nested too deeply."
        ) from None


class Public:
    """Marker: a resource anyone may call without logging in."""

    auth_required = False


class Login(Public):
    def __init__(
        self, auth: Authenticator, throttle: LoginThrottle, trusted_proxies: tuple[str, ...] = ()
    ):
        self.auth = auth
        self.throttle = throttle
        self.trusted_proxies = trusted_proxies

    def on_post(self, req, resp):
        """Check the credentials and start a session or issue a token."""
        email, password = validation.credentials(body(req))
        try:
            # Counted before the hash (shared.throttle): refused at once, the password unchecked,
            # so a right guess gets the same answer.
            # Keyed by the account the database finds (its collation), not by the spelling.
            attempt = self.throttle.attempt(
                services.account_email(email), client_address(req, self.trusted_proxies)
            )
            with self.throttle.hashing(attempt):
                user = services.authenticate(email, password)
        except Refused as exc:
            error = (
                falcon.HTTPTooManyRequests if exc.status == 429 else falcon.HTTPServiceUnavailable
            )
            title = "Too many failed logins" if exc.status == 429 else "Busy checking passwords"
            raise error(title=title, description=exc.reason, retry_after=exc.retry_after) from None
        if user is None:
            attempt.failed()
            # One answer for an unknown email and a wrong password: no user enumeration.
            raise falcon.HTTPUnauthorized(
                title="Invalid credentials", description="The email or the password is wrong."
            )
        attempt.succeeded()
        resp.media = self.auth.login(resp, user.id)


class CurrentUser:
    def on_get(self, req, resp):
        """Show the logged-in user."""
        resp.media = services.user_json(services.get_user(req.context.user_id))


class Test(Public):
    def on_get(self, req, resp):
        """Answer at once: the cheapest endpoint, for measuring the stack itself."""
        resp.media = {"message": "ok"}


class Health(Public):
    def __init__(self, replica: str):
        self.replica = replica

    def on_get(self, req, resp):
        """Tell the runner this replica serves and can reach its database."""
        services.Specialist.select().limit(1).count()
        resp.media = {"status": "ok", "replica": self.replica}


class Specialists:
    def on_get(self, req, resp):
        """List specialists by name, a page at a time."""
        page, per_page = validation.page_params(req.get_param("page"), req.get_param("per_page"))
        resp.media = services.list_specialists(page, per_page)

    def on_post(self, req, resp):
        """Register a specialist."""
        resp.media = services.specialist_json(services.create_specialist(body(req)))
        resp.status = falcon.HTTP_201


class Specialist:
    def on_get(self, req, resp, specialist_id):
        resp.media = services.specialist_json(services.get_specialist(specialist_id))

    def on_put(self, req, resp, specialist_id):
        resp.media = services.specialist_json(
            services.update_specialist(specialist_id, body(req), partial=False)
        )

    def on_patch(self, req, resp, specialist_id):
        resp.media = services.specialist_json(
            services.update_specialist(specialist_id, body(req), partial=True)
        )

    def on_delete(self, req, resp, specialist_id):
        """Delete a specialist and, by cascade, their reviews."""
        services.delete_specialist(specialist_id)
        resp.status = falcon.HTTP_204


class Reviews:
    def __init__(self, mailer: ReviewMailer):
        self.mailer = mailer

    def on_get(self, req, resp, specialist_id):
        """List a specialist's reviews, newest first, a page at a time."""
        page, per_page = validation.page_params(req.get_param("page"), req.get_param("per_page"))
        resp.media = services.list_reviews(specialist_id, page, per_page)

    def on_post(self, req, resp, specialist_id):
        """Commit a review, then tell the specialist (how depends on the stage's mailer)."""
        review = services.create_review(specialist_id, body(req))
        self.mailer.review_created(str(review.id))
        resp.media = services.review_json(review)
        resp.status = falcon.HTTP_201


class Review:
    def on_get(self, req, resp, specialist_id, review_id):
        resp.media = services.review_json(services.get_review(specialist_id, review_id))

    def on_put(self, req, resp, specialist_id, review_id):
        resp.media = services.review_json(
            services.update_review(specialist_id, review_id, body(req), partial=False)
        )

    def on_patch(self, req, resp, specialist_id, review_id):
        resp.media = services.review_json(
            services.update_review(specialist_id, review_id, body(req), partial=True)
        )

    def on_delete(self, req, resp, specialist_id, review_id):
        services.delete_review(specialist_id, review_id)
        resp.status = falcon.HTTP_204


class HighestRated:
    def __init__(self, top_rated: TopRatedQuery):
        self.top_rated = top_rated

    def on_get(self, req, resp, limit=None):
        """List the best-rated specialists, highest average first (10 unless a limit is given)."""
        resp.media = {"data": self.top_rated.top(validation.limit(limit))}
