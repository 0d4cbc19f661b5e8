"""Stage 2, async mail: the review mail goes to a huey queue; a worker process sends it."""

from shared.topology import Topology

TOPOLOGY = Topology(
    stage="async-mail",
    title="Async mail: a huey worker sends the review mail, the request only enqueues it",
    change="the review mail goes through a task queue (huey on valkey) to a worker process",
    app="stages.async_mail.app:create_app()",
    worker="stages.async_mail.tasks.huey",
    workers=8,
    needs_redis=True,
)
