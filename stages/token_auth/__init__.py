"""Stage 4, token auth: signed JWT bearer tokens replace server-side sessions."""

from shared.topology import Topology

TOPOLOGY = Topology(
    stage="token-auth",
    title="Token auth: signed JWTs, so any replica can check any login",
    change="signed JWT bearer tokens (PyJWT, HS256) replace sessions on the replica's disk",
    app="stages.token_auth.app:create_app()",
    replicas=2,
    worker="stages.token_auth.tasks.huey",
    workers=8,
    needs_redis=True,
    jwt=True,
)
