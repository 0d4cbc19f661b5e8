"""Stage 7, external storage: reports go to S3-compatible storage, fetched via signed links."""

from shared.topology import Topology

TOPOLOGY = Topology(
    stage="external-storage",
    title="External storage: reports live in a private S3 bucket, any replica can hand them out",
    change="the worker uploads the CSV to S3-compatible storage; downloads go via presigned URLs",
    app="stages.external_storage.app:create_app()",
    replicas=2,
    worker="stages.external_storage.tasks.huey",
    workers=8,
    needs_redis=True,
    needs_s3=True,
    jwt=True,
)
