"""Stage 6, async reports: the top-rated CSV is built by a worker and its link is mailed."""

from shared.topology import Topology

TOPOLOGY = Topology(
    stage="async-reports",
    title="Async reports: POST /api/reports returns at once, a worker builds the CSV and mails it",
    change="the top-rated report is a CSV built by a huey task on the worker's disk, link mailed",
    app="stages.async_reports.app:create_app()",
    replicas=2,
    worker="stages.async_reports.tasks.huey",
    workers=8,
    needs_redis=True,
    jwt=True,
)
