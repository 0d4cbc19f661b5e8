"""How a stage is laid out as processes: declared once, followed by the runner and compose files."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Topology:
    """The processes a stage runs and the services it needs."""

    stage: str  # CLI name, e.g. "async-mail"
    title: str  # one line: what this stage is
    change: str  # one line: what it changes from the stage before
    app: str  # gunicorn target of one app replica
    replicas: int = 1  # app replicas; more than one puts the proxy in front
    # How the proxy picks a replica (Caddy's lb_policy): the fewest requests in flight, except
    # where a stage shows that state on one replica breaks (README, "Balancing"): round robin
    # (load-balanced's sessions), random (the report stages' files).
    balancing: str = "least_conn"
    worker: str | None = None  # huey instance the worker process consumes, if any
    workers: int = 1  # huey worker threads (the course scaled by adding workers)
    needs_redis: bool = False  # a Redis-protocol server (queue and/or cache)
    needs_s3: bool = False  # S3-compatible object storage
    jwt: bool = False  # needs a JWT secret shared by every replica
    env: dict[str, str] = field(default_factory=dict)  # stage-specific settings

    @property
    def proxied(self) -> bool:
        return self.replicas > 1
