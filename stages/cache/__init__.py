"""Stage 5, cache: the top-rated ranking is kept in the Redis-protocol server with a TTL."""

from shared.topology import Topology

TOPOLOGY = Topology(
    stage="cache",
    title="Cache: the top-rated ranking is served from valkey, recomputed once per TTL",
    change="highest_rated comes from a shared cache: TTL, one recomputation at a time, fail open",
    app="stages.cache.app:create_app()",
    replicas=2,
    worker="stages.cache.tasks.huey",
    workers=8,
    needs_redis=True,
    jwt=True,
)
