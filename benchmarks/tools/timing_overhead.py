"""What the Server-Timing header costs: GET /api/test throughput with it on and off, side by side.

Two gunicorn replicas of the legacy app, set up as the runner sets one up (1 worker, gthread,
4 threads), one with LAB_SERVER_TIMING=1 and one with 0, started afresh each round; wrk hits them
in turn, the order alternating, so that drift on this shared machine hits both alike. Prints each
run and the ratios of medians: throughput, and the server's CPU time per request (steadier when
other work shares the cores).
`--control` runs the same with the header off in both (an A/A test): the difference it shows is
the noise floor of this machine, below which the real comparison cannot tell anything.

Then the app alone, in this process, without HTTP: the CPU time of one WSGI call of
GET /api/test with and without the header (the smallest, steadiest measure of its cost), as a
share of the CPU one request took through gunicorn: the figure to hold under 2 %, since the wrk
comparison cannot resolve 2 % (its A/A spread, `--control`, is about +-3 % here).

    python -m benchmarks.tools.timing_overhead [--rounds 4] [--seconds 5] [--connections 10]
                                               [--control]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.client import LabClient
from benchmarks.paths import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int, on: bool, state: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "LAB_SERVER_TIMING": "1" if on else "0",
        "LAB_DATABASE_URL": f"sqlite:///{state}/lab.sqlite3",
        "LAB_SESSION_DIR": str(state / f"sessions-{port}"),
    }
    env.pop("LAB_REDIS_URL", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--log-level",
            "warning",
            "--bind",
            f"127.0.0.1:{port}",
            "stages.legacy.app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _wait_ready(url: str, on: bool, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        reply = LabClient(url.removesuffix("/api/test"), timeout=5).get("/api/test")
        if reply.status == 200:
            has = reply.header("Server-Timing") is not None
            if has != on:
                raise SystemExit(f"{url}: Server-Timing present={has}, expected {on}")
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer within {deadline_s} s")
        time.sleep(0.1)


def _wrk(url: str, seconds: int, connections: int, server: psutil.Process | None = None):
    """Return (requests per second, server CPU microseconds per request)."""
    before = _cpu(server)
    out = subprocess.run(
        [shutil.which("wrk") or "wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not match or not total:
        raise SystemExit(f"wrk printed no Requests/sec:\n{out}")
    return float(match[1]), (_cpu(server) - before) * 1e6 / max(1, int(total[1]))


def _cpu(server: psutil.Process | None) -> float:
    """CPU seconds of gunicorn's master and workers so far."""
    if server is None:
        return 0.0
    total = 0.0
    for proc in [server, *server.children(recursive=True)]:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=4, help="runs of each, alternating")
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument(
        "--control",
        action="store_true",
        help="A/A: the header off in both servers (the noise floor)",
    )
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("error: wrk is not installed (Debian/Ubuntu: apt-get install wrk)", file=sys.stderr)
        return 2
    rps: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            # Fresh servers each round, the setting swapped between the two started each time
            # and the order of the runs alternated: no server or slot is always "on".
            order = (True, False) if i % 2 == 0 else (False, True)
            ports = {on: _free_port() for on in order}
            header = {on: on and not args.control for on in order}
            procs = {on: _serve(ports[on], header[on], Path(tmp)) for on in order}
            try:
                urls = {on: f"http://127.0.0.1:{ports[on]}/api/test" for on in order}
                for on in order:
                    _wait_ready(urls[on], header[on])
                    _wrk(urls[on], 1, args.connections)  # warm-up, not counted
                for on in order:
                    rate, us = _wrk(
                        urls[on], args.seconds, args.connections, psutil.Process(procs[on].pid)
                    )
                    rps[on].append(rate)
                    cpu[on].append(us)
                    label = ("A" if on else "B") if args.control else ("on " if on else "off")
                    print(
                        f"round {i + 1} Server-Timing {label}: "
                        f"{rate:.0f} req/s, {us:.0f} us CPU/request",
                        flush=True,
                    )
            finally:
                for proc in procs.values():
                    proc.terminate()
                for proc in procs.values():
                    proc.wait(15)
    on, off = statistics.median(rps[True]), statistics.median(rps[False])
    print(
        f"median throughput: on {on:.0f} req/s, off {off:.0f} req/s: on/off = {on / off:.4f} "
        f"(cost {100 * (1 - on / off):+.2f} %)"
    )
    on, off = statistics.median(cpu[True]), statistics.median(cpu[False])
    print(
        f"median CPU/request: on {on:.1f} us, off {off:.1f} us: on/off = {on / off:.4f} "
        f"(cost {100 * (on / off - 1):+.2f} %)"
    )
    with_mw, without = _in_process()
    print(
        f"in process, app only: {with_mw:.2f} us with, {without:.2f} us without: "
        f"+{with_mw - without:.2f} us per request = {100 * (with_mw - without) / off:.2f} % of "
        f"the {off:.0f} us CPU a request took through gunicorn"
    )
    return 0


def _in_process(rounds: int = 20, calls: int = 3000) -> tuple[float, float]:
    """CPU microseconds of one WSGI call of GET /api/test, with and without the header (best of
    `rounds`, alternating)."""
    import io

    import falcon.testing

    from shared.adapters.sessions import DiskSessionAuth
    from shared.adapters.top_rated import LiveTopRated
    from shared.api import create_api

    with tempfile.TemporaryDirectory() as tmp:
        apps = {
            on: create_api(
                auth=DiskSessionAuth(Path(tmp)),
                review_mailer=None,
                top_rated=LiveTopRated(),
                server_timing=on,
            )
            for on in (True, False)
        }
        environ = falcon.testing.create_environ(path="/api/test")
        best = {True: float("inf"), False: float("inf")}
        for i in range(rounds):
            for on in (True, False) if i % 2 == 0 else (False, True):
                app = apps[on]
                started = time.process_time()
                for _ in range(calls):
                    b"".join(app({**environ, "wsgi.input": io.BytesIO()}, lambda *a: None))
                best[on] = min(best[on], (time.process_time() - started) / calls * 1e6)
    return best[True], best[False]


if __name__ == "__main__":
    sys.exit(main())
