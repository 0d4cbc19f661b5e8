"""The middleware that gives every response a `Server-Timing` header (see shared.timing).

It is the outermost middleware: its recorder opens before the others run and the header is
written after they have, so the request's whole time in the app is split among the components.
Set LAB_SERVER_TIMING=0 to leave it out (to measure what it costs).
"""

from __future__ import annotations

import os

from shared import timing

ENV = "LAB_SERVER_TIMING"


def enabled() -> bool:
    """Say whether this process should time its requests (on unless LAB_SERVER_TIMING=0)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


class ServerTiming:
    """Open a recorder per request and write what it measured into the response's header."""

    def process_request(self, req, resp):
        timing.start()

    def process_response(self, req, resp, resource, req_succeeded):
        recorder = timing.current()
        if recorder is None:  # process_request did not run
            return
        resp.set_header("Server-Timing", recorder.header())
        timing.stop(recorder)
