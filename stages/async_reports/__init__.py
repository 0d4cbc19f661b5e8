"""Stage 6, async reports: the top-rated CSV is built by a worker and its link is mailed."""

from shared.topology import Topology

TOPOLOGY = Topology(
    stage="async-reports",
    title="Async reports: POST /api/reports returns at once, a worker builds the CSV and mails it",
    change="the top-rated report is a CSV built by a huey task on the worker's disk, link mailed",
    app="stages.async_reports.app:create_app()",
    replicas=2,
    # A replica drawn at random for each request (Caddy's own default): the download lands on the
    # replica holding the file by a coin's toss. Least connections and round robin both followed
    # the closed loop's rhythm: downloads ok 95, 67 and 14 % in three repeats, then 44, 79 and 37
    # (README, "Balancing"); at random 48, 39 and 40.
    balancing="random",
    worker="stages.async_reports.tasks.huey",
    workers=8,
    needs_redis=True,
    jwt=True,
)
