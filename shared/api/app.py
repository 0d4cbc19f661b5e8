"""Build the Falcon app: routes, middleware and error handlers shared by every stage."""

from __future__ import annotations

import logging
import uuid

import falcon

from shared import services, validation
from shared.api import otel, resources
from shared.api.timing import enabled as timing_enabled
from shared.api.timing import timed_app
from shared.config import Settings
from shared.ports import Authenticator, ReviewMailer, TopRatedQuery
from shared.throttle import LoginThrottle

log = logging.getLogger("lab.api")

MAX_BODY_BYTES = 64 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _is_json(content_type: str | None) -> bool:
    """Accept application/json and the +json types, with or without a charset."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestGuard:
    """Refuse bodies that are too large (before reading them) or not JSON; name the replica."""

    def __init__(self, replica: str):
        self.replica = replica

    def process_request(self, req, resp):
        resp.set_header("X-Replica", self.replica)
        if req.content_length and req.content_length > MAX_BODY_BYTES:
            raise falcon.HTTPContentTooLarge(
                title="Body too large",
                description=f"The body is {req.content_length} bytes; "
                f"the limit is {MAX_BODY_BYTES}.",
            )
        if req.method not in BODY_METHODS:
            return
        if req.content_length is None and req.get_header("Transfer-Encoding"):
            # A chunked body has no size to check up front (and would be read as empty).
            raise falcon.HTTPLengthRequired(
                title="Length required",
                description="Send the body with a Content-Length header (not chunked).",
            )
        if req.content_length and not _is_json(req.content_type):
            # Without this a form-encoded body would be parsed and half-understood.
            raise falcon.HTTPUnsupportedMediaType(
                title="Unsupported media type",
                description=f"The body is {req.content_type or 'of no declared type'}; send "
                "JSON with Content-Type: application/json.",
            )


class AuthRequired:
    """Let a request through only if the stage's authenticator knows its user."""

    def __init__(self, auth: Authenticator):
        self.auth = auth

    def process_resource(self, req, resp, resource, params):
        if resource is None or not getattr(resource, "auth_required", True):
            return
        user_id = self.auth.user_id(req)
        if user_id is None:
            raise falcon.HTTPUnauthorized(
                title="Not logged in", description="Log in with POST /api/login first."
            )
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
    raise falcon.HTTPInternalServerError(
        title="Internal error", description=f"Incident {incident} was logged."
    )


def create_api(
    *,
    auth: Authenticator,
    review_mailer: ReviewMailer,
    top_rated: TopRatedQuery,
    replica: str = "app-1",
    extra_routes: dict | None = None,
    login_throttle: LoginThrottle | None = None,
    server_timing: bool | None = None,
) -> falcon.App:
    """Wire the resources to the adapters a stage chose (the login throttle: from LAB_* if None;
    the Server-Timing header: on unless LAB_SERVER_TIMING=0, if None)."""
    if server_timing is None:
        server_timing = timing_enabled()
    otel.setup()  # spans too, if OTEL_EXPORTER_OTLP_ENDPOINT is set (before the App is built)
    middleware = [RequestGuard(replica), AuthRequired(auth)]
    app = (timed_app(falcon.App) if server_timing else falcon.App)(middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(validation.ValidationError, _validation_error)
    app.add_error_handler(services.NotFound, _not_found)

    app.add_route("/health", resources.Health(replica))
    app.add_route("/api/test", resources.Test())
    app.add_route(
        "/api/login",
        resources.Login(
            auth, login_throttle or LoginThrottle.from_env(), Settings.from_env().trusted_proxies
        ),
    )
    app.add_route("/api/user", resources.CurrentUser())
    app.add_route("/api/specialists", resources.Specialists())
    highest = resources.HighestRated(top_rated)
    app.add_route("/api/specialists/highest_rated", highest)
    app.add_route("/api/specialists/highest_rated/{limit}", highest)
    app.add_route("/api/specialists/{specialist_id:uuid}", resources.Specialist())
    app.add_route("/api/specialists/{specialist_id:uuid}/reviews", resources.Reviews(review_mailer))
    app.add_route(
        "/api/specialists/{specialist_id:uuid}/reviews/{review_id:uuid}", resources.Review()
    )
    for path, resource in (extra_routes or {}).items():
        app.add_route(path, resource)
    return app
