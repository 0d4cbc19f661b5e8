"""Report routes, added by the stages that build reports in the background (extra_routes)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import falcon

from shared import reports
from shared.api.resources import Public, body
from shared.ports import ReportStore
from shared.timing import timed

log = logging.getLogger("lab.api")


class Reports:
    def __init__(self, enqueue: Callable[[str], object], links: reports.ReportLinks):
        self.enqueue = enqueue
        self.links = links

    def on_post(self, req, resp):
        """Ask for a report: 202 at once; it is built in the background and its link mailed."""
        report = reports.request_report(req.context.user_id, body(req))
        try:
            with timed("queue"):
                self.enqueue(str(report.id))
        except Exception as exc:
            # The queue server is down. The report's outbox row was committed with it, so the
            # worker's sweeper queues it once the server is back: accepted all the same.
            log.warning(
                "could not queue report %s (%s: %s); the outbox sweeper will",
                report.id,
                type(exc).__name__,
                exc,
            )
        status_url = self.links.status_url(report.id)
        resp.status = falcon.HTTP_202
        resp.location = status_url
        resp.media = {"id": str(report.id), "status": report.status, "status_url": status_url}


class ReportStatus:
    def __init__(self, links: reports.ReportLinks):
        self.links = links

    def on_get(self, req, resp, report_id):
        """Show one of my reports: pending, ready (with a download_url) or failed (with error)."""
        report = reports.get_report(req.context.user_id, report_id)
        resp.media = reports.report_json(report, self.links)


class ReportDownload(Public):
    """The link is opened outside the API client: its signature, not a login, authorizes it."""

    def __init__(self, store: ReportStore, links: reports.ReportLinks):
        self.store = store
        self.links = links

    def on_get(self, req, resp, report_id):
        """Serve the CSV (or redirect to it) if the signed link is valid and the report is ready."""
        try:
            user_id = self.links.verify(report_id, req.get_param("token") or "")
        except reports.LinkRefused as exc:
            raise falcon.HTTPForbidden(title="Link refused", description=str(exc)) from None
        report = reports.get_report(user_id, report_id)
        if report.status != "ready":
            raise falcon.HTTPConflict(
                title="Report not ready", description=f"The report is {report.status}."
            )
        resp.set_header("Cache-Control", "no-store")
        self.store.respond(resp, report.location, f"top-rated-{report.id}.csv")


def report_routes(
    enqueue: Callable[[str], object], store: ReportStore, links: reports.ReportLinks
) -> dict:
    """Return the report routes for create_api(extra_routes=...)."""
    return {
        "/api/reports": Reports(enqueue, links),
        "/api/reports/{report_id:uuid}": ReportStatus(links),
        "/api/reports/{report_id:uuid}/download": ReportDownload(store, links),
    }
