"""Every response gets a `Server-Timing` header (see shared.timing), written by the app itself.

Not a Falcon middleware: a middleware's two calls per request cost more than the timing does,
and the header is meant to stay under 2 % of the cheapest request's CPU. The app class is a
subclass of falcon.App whose WSGI call opens the recorder before anything else runs and appends
the header when Falcon starts the response, after every middleware and handler: the request's
whole time in the app is split among the components.
Set LAB_SERVER_TIMING=0 to leave it out (to measure what it costs).
"""

from __future__ import annotations

import os

from shared import timing

ENV = "LAB_SERVER_TIMING"
_classes: dict[type, type] = {}


def enabled() -> bool:
    """Say whether this process should time its requests (on unless LAB_SERVER_TIMING=0)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def timed_app(base: type) -> type:
    """Return a subclass of `base` (falcon.App, or the class OpenTelemetry's instrumentation put
    in its place, hence made when asked) that writes the Server-Timing header."""
    if base not in _classes:

        class TimedApp(base):
            def __call__(self, env, start_response):
                recorder = timing.start()

                def start(status, headers, exc_info=None):
                    headers.append(("Server-Timing", recorder.header()))
                    return start_response(status, headers, exc_info)

                try:
                    return super().__call__(env, start)
                finally:
                    timing.stop(recorder)

        _classes[base] = TimedApp
    return _classes[base]
