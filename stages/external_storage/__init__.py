"""Stage 7, external storage: reports go to S3-compatible storage, fetched via signed links."""

from shared.topology import Topology

TOPOLOGY = Topology(
    stage="external-storage",
    title="External storage: reports live in a private S3 bucket, any replica can hand them out",
    change="the worker uploads the CSV to S3-compatible storage; downloads go via presigned URLs",
    app="stages.external_storage.app:create_app()",
    replicas=2,
    # A replica drawn at random for each request (Caddy's own default): the download lands on the
    # replica holding the file by a coin's toss. Least connections and round robin both followed
    # the closed loop's rhythm: downloads ok 95, 67 and 14 % in three repeats, then 44, 79 and 37
    # (README, "Balancing"); at random 48, 39 and 40.
    balancing="random",
    worker="stages.external_storage.tasks.huey",
    workers=8,
    needs_redis=True,
    needs_s3=True,
    jwt=True,
)
