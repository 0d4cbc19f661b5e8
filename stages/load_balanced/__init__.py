"""Stage 3, load balanced: N app replicas behind Caddy, each with its own session directory."""

from shared.topology import Topology

TOPOLOGY = Topology(
    stage="load-balanced",
    title="Load balanced: two replicas behind Caddy (least connections), sessions still on disk",
    change="N app replicas behind a real load balancer; each keeps sessions on its own disk",
    app="stages.load_balanced.app:create_app()",
    replicas=2,
    worker="stages.load_balanced.tasks.huey",
    workers=4,
    needs_redis=True,
)
