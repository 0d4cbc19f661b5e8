"""Drive the load by hand: bring a stage up (as `up` does) and open Locust's web UI on it.

    python -m benchmarks.measure.play cache [--users 10] [--locust-port 8089] [up's options]

The stage runs with the same processes and options as `nox -s up`; Locust's web UI (on
http://127.0.0.1:8089 by default) runs the lab's scenario, benchmarks/locustfile.py, with the
stage's address already in its host field and --users in its user count. Start, stop, change the
number of users and watch Locust's live charts; Ctrl-C stops Locust and every process of the stage.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.client import LabClient
from benchmarks.measure.locust_run import LOCUSTFILE
from benchmarks.paths import ROOT
from benchmarks.stack import Stack, StackError, up

UI_DEADLINE_S = 60


def features(api: str) -> list[str]:
    """The scenario's optional parts this stage has: "reports" if it has the report routes."""
    reply = LabClient(api.removesuffix("/api"), timeout=10).post("/api/reports", {})
    if reply.status == 0:
        raise StackError(f"the stage did not answer POST /api/reports: {reply.error}")
    return [] if reply.status in (404, 405) else ["reports"]


def locust_command(host: str, users: int, spawn_rate: float, port: int) -> list[str]:
    """Locust with its web UI on 127.0.0.1:port, aimed at host, the form filled in."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--host",
        host,
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(port),
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
    ]


def wait_for_ui(url: str, proc: subprocess.Popen, log: Path) -> None:
    """Poll the UI until it answers; fail with Locust's own words if it exits or takes too long."""
    deadline = time.monotonic() + UI_DEADLINE_S
    while True:
        if proc.poll() is not None:
            raise StackError(
                f"Locust exited ({proc.returncode}) before its web UI answered:\n"
                f"{log.read_text(errors='replace')[-2000:]}"
            )
        if LabClient(url, timeout=2).get("/").status == 200:
            return
        if time.monotonic() > deadline:
            raise StackError(
                f"Locust's web UI did not answer on {url} within {UI_DEADLINE_S} s (log: {log})"
            )
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = up.parser(__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the usage lines
    parser.add_argument(
        "--users",
        type=int,
        default=10,
        help="users filled in Locust's form (default 10, the course's)",
    )
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    parser.add_argument(
        "--locust-port", type=int, default=8089, help="Locust web UI port (default 8089)"
    )
    args = parser.parse_args(argv)
    if args.users < 1:
        parser.error(f"--users must be at least 1 (got {args.users})")
    if args.spawn_rate <= 0:
        parser.error(f"--spawn-rate must be positive (got {args.spawn_rate})")
    stack = Stack(args.stage, up.options(args))
    running: list[subprocess.Popen] = []

    def start_locust(stack: Stack):
        host = stack.urls["api"].removesuffix("/api")
        log = stack.state / "logs" / "locust.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "LAB_INBOX_URL": stack.urls["inbox"].rstrip("/"),
            "LAB_FEATURES": ",".join(features(stack.urls["api"])),
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(
                locust_command(host, args.users, args.spawn_rate, args.locust_port),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        running.append(proc)
        ui = f"http://127.0.0.1:{args.locust_port}"
        wait_for_ui(ui, proc, log)
        print(f"  Locust  {ui}   (host {host}, {args.users} users: press Start)")
        return lambda: (
            f"locust (exit {proc.returncode}, log {log})" if proc.poll() is not None else None
        )

    try:
        return up.serve(stack, start_locust)
    finally:
        for proc in running:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


if __name__ == "__main__":
    sys.exit(main())
