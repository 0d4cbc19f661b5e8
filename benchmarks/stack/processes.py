"""A stage's processes as data: declared once, run two ways.

`process_specs(topology, options, site)` turns a stage's declared topology (shared.topology) and
the run's options into the processes to run: command, environment, copies, how to stop them.
The embedded runner (benchmarks.stack) starts exactly these as local processes; the compose
generator (benchmarks.tools.compose) writes exactly these as services. A `Site` says only *where*:
addresses, ports, paths, executables, and the settings whose values depend on where things run
(the database URL, secrets). tests/test_compose.py proves that both sides agree.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from benchmarks.stack.budgets import group_budgets
from shared.api.app import MAX_BODY_BYTES
from shared.topology import Topology

# huey finishes its running task on SIGINT (and drops it on SIGTERM), so the worker is stopped
# with SIGINT and given longer than its longest task: a report upload with botocore's retries
# (3 attempts x (2 s connect + 10 s read) = 36 s) plus its mail (10 s SMTP timeout) is under 50 s.
WORKER_GRACE_S = 60
GRACE_S = 10  # everything else: gunicorn's --graceful-timeout, and plenty for the rest

# The flags whose values say where a process runs (an address, a port, a path), not what it does:
# the comparison of the two ways to run masks them (see command_shape).
PLACEMENT_FLAGS = frozenset(
    {"--bind", "--host", "--port", "--smtp-port", "--http-port", "--addr", "--config", "--dir"}
)


@dataclass(frozen=True)
class ProcessSpec:
    """One process of a stage (or, for the app, one replica, or all of them: see `replicas`)."""

    name: str  # mailsim, valkey, s3, app-1 (embedded) / app (compose), ...
    group: str  # mail, redis, storage, app, proxy, worker
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # its settings (on top of the OS's)
    replicas: int = 1  # copies of this spec (compose's deploy.replicas)
    port: int | None = None  # where it listens, in its site
    health: str | None = None  # an HTTP path answering 200 once it serves
    stop_signal: str = "SIGTERM"
    stop_grace_s: int = GRACE_S
    cpus: float | None = None  # its CPU budget in cores (each replica's); None: none


@dataclass(frozen=True)
class Dynamic:
    """Upstreams found by DNS, as Docker's resolver lists a scaled service's replicas."""

    name: str
    port: int
    refresh: str = "1s"


@dataclass(frozen=True)
class Site:
    """Where a stage runs: everything process_specs needs that is not the stage's own business."""

    kind: str  # "embedded" or "compose"
    python: str  # the interpreter of the lab's own processes
    bind: str  # the address servers listen on
    mail_host: str
    smtp_port: int
    inbox_port: int
    api_port: int  # the public API: the proxy's port, or the single app's
    app_ports: tuple[int, ...]  # embedded: one per replica; compose: one for the service
    redis_port: int | None
    s3_port: int | None
    state_dir: str  # a folder of this site's own (embedded: the run's state)
    caddyfile: str  # where the proxy's config is
    upstreams: tuple[str, ...] | Dynamic  # where the proxy finds the replicas
    values: Mapping[str, str]  # LAB_* values that depend on the site (URLs, secrets)
    tools: Mapping[str, str]  # executables: caddy, rclone, valkey-server
    per_replica: bool = True  # embedded: one spec per replica, each with its own disk
    public_host: str | None = "127.0.0.1"  # the proxy's site address (None: any host)
    balancing: str = "least_conn"  # the proxy's lb_policy (the stage's Topology.balancing)
    redis_config: str = ""  # where the queue/cache server's config file is

    def disk(self, owner: str, what: str) -> str:
        """A folder on the disk of `owner` (a machine): embedded, a folder per replica in the
        run's state; in containers, each container's own /data."""
        if self.per_replica:
            return os.path.join(self.state_dir, owner, what)
        return f"{self.state_dir}/{what}"


def shared_env(topology: Topology, options, site: Site) -> dict[str, str]:
    """The LAB_* settings every process of the lab (app replicas, worker) gets alike."""
    v = site.values
    env = {
        "LAB_DATABASE_URL": v["LAB_DATABASE_URL"],
        "LAB_SMTP_HOST": site.mail_host,
        "LAB_SMTP_PORT": str(site.smtp_port),
        "LAB_PUBLIC_URL": v["LAB_PUBLIC_URL"],
        "LAB_DEMO": v.get("LAB_DEMO", "1" if options.demo else "0"),
        **topology.env,
        **options.env,
    }
    if topology.needs_redis:
        env["LAB_REDIS_URL"] = v["LAB_REDIS_URL"]
    if topology.jwt:
        env["LAB_JWT_SECRET"] = v["LAB_JWT_SECRET"]
    if topology.needs_s3:
        env.update({k: val for k, val in v.items() if k.startswith("LAB_S3_")})
    return env


def process_specs(topology: Topology, options, site: Site) -> list[ProcessSpec]:
    """Return the stage's processes in start order: mail, Redis, S3, app, proxy, worker.

    `options` is a benchmarks.stack.Options (replicas, workers, threads, mail_delay_ms, demo,
    env, replica_cpus are read). Each spec carries its group's CPU budget (stack.budgets),
    none when replica_cpus is None (a run without budgets)."""
    t, o = topology, options
    replicas = o.replicas or t.replicas
    env = shared_env(t, o, site)
    specs = _process_specs(t, o, site, replicas, env)
    if o.replica_cpus is None:
        return specs
    cores = group_budgets(o.replica_cpus)
    return [replace(s, cpus=cores[s.group]) for s in specs]


def _process_specs(t: Topology, o, site: Site, replicas: int, env: dict) -> list[ProcessSpec]:
    specs = [
        ProcessSpec(
            "mailsim",
            "mail",
            (
                site.python,
                "-m",
                "mailsim",
                "--host",
                site.bind,
                "--smtp-port",
                str(site.smtp_port),
                "--http-port",
                str(site.inbox_port),
                "--delay-ms",
                str(o.mail_delay_ms),
            ),
            port=site.inbox_port,
            health="/health",
        )
    ]
    if t.needs_redis and site.redis_port is not None:  # None: an external Redis, given by URL
        specs.append(
            ProcessSpec(
                "valkey",
                "redis",
                # The config file (first) holds the password: not in argv, where `ps` shows it.
                (
                    site.tools["valkey-server"],
                    site.redis_config,
                    "--port",
                    str(site.redis_port),
                    "--bind",
                    site.bind,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    site.state_dir,
                ),
                port=site.redis_port,
            )
        )
    if t.needs_s3 and site.s3_port is not None:  # None: external S3 storage, given by env
        access, secret = site.values["LAB_S3_ACCESS_KEY"], site.values["LAB_S3_SECRET_KEY"]
        specs.append(
            ProcessSpec(
                "s3",
                "storage",
                (
                    site.tools["rclone"],
                    "serve",
                    "s3",
                    "--addr",
                    f"{site.bind}:{site.s3_port}",
                    "--config",
                    f"{site.state_dir}/rclone.conf",
                    f"{site.state_dir}/s3",
                ),
                # Keys go through the environment, not argv, so `ps` does not show them.
                env={"RCLONE_AUTH_KEY": f'"{access},{secret}"'},
                port=site.s3_port,
            )
        )
    gunicorn = (
        "-m",
        "gunicorn",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        str(o.threads),
        "--graceful-timeout",
        str(GRACE_S),
        "--timeout",
        "60",
        "--log-level",
        "warning",
        "-c",
        "python:benchmarks.stack.gunicorn_conf",
    )
    copies = range(1, replicas + 1) if site.per_replica else [None]
    for i, port in zip(copies, site.app_ports, strict=True):
        owner = f"app-{i}" if i else "app"
        specs.append(
            ProcessSpec(
                owner,
                "app",
                (site.python, *gunicorn[:2], "--bind", f"{site.bind}:{port}", *gunicorn[2:], t.app),
                env={
                    **env,
                    # Empty in containers: the image's entrypoint names the replica by its hostname.
                    "LAB_REPLICA": owner if i else "",
                    "LAB_SESSION_DIR": site.disk(owner, "sessions"),
                    "LAB_REPORT_DIR": site.disk(owner, "reports"),
                    # Whose X-Forwarded-For names the client (shared.api.clients): the proxy's
                    # address, 127.0.0.1 embedded, Docker's private range in containers.
                    **(
                        {"LAB_TRUSTED_PROXIES": "127.0.0.1" if i else "172.16.0.0/12"}
                        if replicas > 1
                        else {}
                    ),
                },
                replicas=1 if i else replicas,
                port=port,
                health="/health",
            )
        )
    if replicas > 1:
        specs.append(
            ProcessSpec(
                "caddy",
                "proxy",
                (site.tools["caddy"], "run", "--config", site.caddyfile, "--adapter", "caddyfile"),
                port=site.api_port,
                health="/health",
            )
        )
    if t.worker:
        specs.append(
            ProcessSpec(
                "worker",
                "worker",
                (
                    site.python,
                    "-m",
                    "huey.bin.huey_consumer",
                    t.worker,
                    "-w",
                    str(o.workers or t.workers),
                    "-k",
                    "thread",
                    "-q",
                ),
                # It runs "on the first machine": embedded, it shares app-1's disk.
                env={
                    **env,
                    "LAB_REPLICA": "worker",
                    "LAB_REPORT_DIR": site.disk("app-1", "reports"),
                },
                stop_signal="SIGINT",
                stop_grace_s=WORKER_GRACE_S,
            )
        )
    return specs


def redis_config(site: Site) -> str:
    """The queue/cache server's config file: a password. huey's tasks are pickles, so whoever
    can write to this server can run code in the worker; nobody without the password can."""
    return f"requirepass {site.values['LAB_REDIS_PASSWORD']}\n"


def proxy_config(site: Site) -> str:
    """The load balancer's Caddyfile for a site."""
    return caddyfile_for(
        site.api_port, site.upstreams, host=site.public_host, balancing=site.balancing
    )


BALANCING = {
    "least_conn": "\t\t# The replica with the fewest requests in flight: round robin sent every "
    "other request\n\t\t# to a replica busy with a live top-10 while the other idled (README, "
    '"Balancing").\n',
    "random": "\t\t# A replica drawn at random for each request: least connections and round "
    "robin both\n\t\t# followed the closed loop's rhythm in the report stages (README, "
    '"Balancing").\n',
    "round_robin": "\t\t# Each replica in turn: least connections was accidentally sticky here "
    "(stages/load_balanced).\n",
}


def caddyfile_for(
    port: int, upstreams, host: str | None = "127.0.0.1", balancing: str = "least_conn"
) -> str:
    """Return the load balancer's config: `balancing` (BALANCING: least_conn, round_robin,
    random), dead replicas out, idempotent retries.

    `upstreams`: replica ports on 127.0.0.1 (embedded), "host:port" strings, or a `Dynamic`
    DNS name (compose: every replica of the scaled service, re-resolved every second). `host`:
    the address to answer on (None: any, as inside a container)."""
    if isinstance(upstreams, Dynamic):
        backends = ""
        source = (
            f"\t\t# Every replica Docker's DNS lists for {upstreams.name!r}, looked up "
            f"again every {upstreams.refresh}\n"
            f"\t\t# (so `--scale {upstreams.name}=N` is balanced). Caddy runs active "
            "health checks on static\n\t\t# upstreams only; here a failed dial is retried "
            "on another replica.\n"
            f"\t\tdynamic a {upstreams.name} {upstreams.port} {{\n"
            f"\t\t\trefresh {upstreams.refresh}\n\t\t}}\n"
        )
    else:
        hosts = [u if isinstance(u, str) else f"127.0.0.1:{u}" for u in upstreams]
        backends, source = " " + " ".join(hosts), ""
    site = f"http://{host}:{port}" if host else f"http://:{port}"
    bind = f"\tbind {host}\n" if host else ""
    length = "{http.request.header.Content-Length}"
    too_big = json.dumps(
        {
            "title": "Body too large",
            "description": f"The body is {length} bytes; the limit is {MAX_BODY_BYTES}.",
        }
    )
    return f"""{{
\tadmin off
\tauto_https off
\tpersist_config off
}}

{site} {{
{bind}\t# Oversized bodies are refused here, never forwarded: gunicorn answers the app's 413 with
\t# "keep-alive" but then closes a connection it cannot drain (over 64 KiB unread), so a pooled
\t# upstream connection would fail the next POST sent over it with a 502.
\t@too_big expression `{length}.matches("^[0-9]+$") && int({length}) > {MAX_BODY_BYTES}`
\thandle @too_big {{
\t\theader Content-Type application/json
\t\trespond `{too_big}` 413
\t}}
\treverse_proxy{backends} {{
{source}{BALANCING[balancing]}\t\tlb_policy {balancing}
\t\t# A failed connection marks a replica down for 5 s; GETs are retried on another for 2 s.
\t\tlb_try_duration 2s
\t\tlb_try_interval 100ms
\t\tfail_duration 5s
\t\thealth_uri /health
\t\thealth_interval 1s
\t\thealth_timeout 1s
\t}}
}}
"""
