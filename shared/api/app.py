"""Build the Falcon app: routes, middleware and error handlers shared by every stage."""

from __future__ import annotations

import logging
import uuid

import falcon

from shared import services, validation
from shared.api import resources
from shared.ports import Authenticator, ReviewMailer, TopRatedQuery

log = logging.getLogger("lab.api")

MAX_BODY_BYTES = 64 * 1024


class RequestGuard:
    """Refuse oversized bodies before reading them, and name the replica that answered."""

    def __init__(self, replica: str):
        self.replica = replica

    def process_request(self, req, resp):
        resp.set_header("X-Replica", self.replica)
        if req.content_length and req.content_length > MAX_BODY_BYTES:
            raise falcon.HTTPPayloadTooLarge(
                title="Body too large",
                description=f"The body is {req.content_length} bytes; the limit is {MAX_BODY_BYTES}.")


class AuthRequired:
    """Let a request through only if the stage's authenticator knows its user."""

    def __init__(self, auth: Authenticator):
        self.auth = auth

    def process_resource(self, req, resp, resource, params):
        if resource is None or not getattr(resource, "auth_required", True):
            return
        user_id = self.auth.user_id(req)
        if user_id is None:
            raise falcon.HTTPUnauthorized(title="Not logged in",
                                          description="Log in with POST /api/login first.")
        req.context.user_id = user_id


def _validation_error(req, resp, exc: validation.ValidationError, params):
    resp.status = falcon.HTTP_422
    resp.media = {"title": "Validation failed", "errors": exc.errors}


def _not_found(req, resp, exc: services.NotFound, params):
    raise falcon.HTTPNotFound(title="Not found", description=f"No {exc}.")


def _unexpected(req, resp, exc: Exception, params):
    if isinstance(exc, falcon.HTTPError):
        raise exc
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", incident, req.method, req.path)
    raise falcon.HTTPInternalServerError(title="Internal error",
                                         description=f"Incident {incident} was logged.")


def create_api(*, auth: Authenticator, review_mailer: ReviewMailer, top_rated: TopRatedQuery,
               replica: str = "app-1", extra_routes: dict | None = None) -> falcon.App:
    """Wire the resources to the adapters a stage chose."""
    app = falcon.App(middleware=[RequestGuard(replica), AuthRequired(auth)])
    app.req_options.strip_url_path_trailing_slash = True
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(validation.ValidationError, _validation_error)
    app.add_error_handler(services.NotFound, _not_found)

    app.add_route("/health", resources.Health(replica))
    app.add_route("/api/test", resources.Test())
    app.add_route("/api/login", resources.Login(auth))
    app.add_route("/api/user", resources.CurrentUser())
    app.add_route("/api/specialists", resources.Specialists())
    highest = resources.HighestRated(top_rated)
    app.add_route("/api/specialists/highest_rated", highest)
    app.add_route("/api/specialists/highest_rated/{limit}", highest)
    app.add_route("/api/specialists/{specialist_id:uuid}", resources.Specialist())
    app.add_route("/api/specialists/{specialist_id:uuid}/reviews", resources.Reviews(review_mailer))
    app.add_route("/api/specialists/{specialist_id:uuid}/reviews/{review_id:uuid}",
                  resources.Review())
    for path, resource in (extra_routes or {}).items():
        app.add_route(path, resource)
    return app
