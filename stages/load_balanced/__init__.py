"""Stage 3, load balanced: N app replicas behind Caddy, each with its own session directory."""

from shared.topology import Topology

TOPOLOGY = Topology(
    stage="load-balanced",
    title="Load balanced: two replicas behind Caddy (round robin), sessions still on disk",
    change="N app replicas behind a real load balancer; each keeps sessions on its own disk",
    app="stages.load_balanced.app:create_app()",
    replicas=2,
    # Round robin, as the course's nginx: least connections was accidentally sticky under the
    # closed loop (each user back to the replica it just left), and one repeat of three broke
    # almost no session (0.2 % auth failures; 61 and 81 % in the others).
    balancing="round_robin",
    worker="stages.load_balanced.tasks.huey",
    workers=8,
    needs_redis=True,
)
