"""Run the lab's Locust scenario headless against a started stage, CPU sampled alongside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.measure.cpu import CpuSampler, family
from benchmarks.measure.errors import StageFailed
from benchmarks.measure.loadgen import confine_load_generator
from benchmarks.paths import ROOT
from benchmarks.stack import Stack

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
LOGIN_PHASE_MAX_S = 120  # logins before the window (argon2id on a small CPU budget is slow)


def run_locust(
    stack: Stack,
    features: list[str],
    args,
    seconds: int,
    folder: Path | None,
    workdir: Path,
    sampler: CpuSampler | None = None,
    loadgen: list | None = None,
    warmup: float = 0,
    on_window: Callable[[], None] | None = None,
) -> dict:
    """Run one headless Locust; with a folder its CSVs go there, else the output is discarded.
    After the logins, `warmup` seconds of the scenario are run and dropped, then `seconds` are
    measured (the window file says when each phase began); `on_window` is called as the window
    opens (within 50 ms), to take the counters' "before" there.

    Where the stack runs with budgets, Locust is kept apart (measure/loadgen.py); give a list as
    `loadgen` to get its LoadGenerator (its CPU and throttling over the run) appended."""
    window_file = workdir / "window.json"
    window_file.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(args.users),
        "-r",
        str(args.spawn_rate),
        "-t",  # a cap: the locustfile ends the run LAB_WINDOW_S after the last login
        f"{warmup + seconds + LOGIN_PHASE_MAX_S + 10}s",
        "--host",
        stack.urls["api"].removesuffix("/api"),
        "--only-summary",
        "--exit-code-on-error",
        "0",
    ]
    if folder:
        cmd += ["--csv", str(folder / "locust"), "--csv-full-history"]
    env = {
        **os.environ,
        "LAB_INBOX_URL": stack.urls["inbox"].rstrip("/"),
        "LAB_FEATURES": ",".join(features),
        "LAB_WINDOW_FILE": str(window_file),
        "LAB_WINDOW_S": str(seconds),
        "LAB_WARMUP_S": str(warmup),
        "LAB_LOGIN_PHASE_MAX_S": str(LOGIN_PHASE_MAX_S),
        # Logins queue for the stage's hash slots instead of being shed (measure/locustfile.py).
        "LAB_LOGINS_AT_ONCE": str(int(stack.env.get("LAB_LOGIN_MAX_HASHES", "2")) * stack.replicas),
    }
    if folder:  # exact latencies of the measured window (benchmarks/measure/latency.py)
        env["LAB_LATENCY_FILE"] = str(folder / "latency.json")
        # Five slices a window (2-5 s each): the intervals bootstrap over them, and the 3 of a
        # 15 s window cut in 5 s slices left a 1.9x throughput ratio's interval at 1.4-2.3.
        env["LAB_SLICE_S"] = f"{max(2.0, min(5.0, seconds / 5)):g}"
        # and where their time went, from Server-Timing (benchmarks/measure/timing.py)
        env["LAB_TIMING_FILE"] = str(folder / "timing.json")
    log_path = (folder or workdir) / "locust.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    budgets = stack.boxes.budgets

    def confine() -> None:
        confined = confine_load_generator(proc.pid, budgets)
        if loadgen is not None:
            loadgen.append(confined)

    if budgets is not None:  # None: --no-budgets, Locust shares the CPUs as before
        # Logins are set-up, not load (argon2id took 7-10 s per stage in quarter-core boxes):
        # the stack's quotas are lifted while the users log in and Locust starts (its imports,
        # 3 s in its box); once all are in, the stack is capped and Locust boxed, for the
        # warm-up and the window. The logins' own figures are then those of open boxes.
        stack.boxes.cap(False)
        watch_window(window_file, proc, "logged_in", lambda: (stack.boxes.cap(), confine()))
    if sampler:
        sampler.groups = lambda: {**stack.pids(), "locust": family(proc.pid)}
        sampler.start()
    if on_window:
        watch_window(window_file, proc, "start", on_window)
    try:
        code = proc.wait(timeout=warmup + seconds + LOGIN_PHASE_MAX_S + 120)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if budgets is not None:
            stack.boxes.cap()  # also when the logins never ended
        if sampler:
            sampler.stop()
    if code != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise StageFailed(f"locust {'timed out' if code is None else f'exited {code}'}:\n{tail}")
    try:
        return json.loads(window_file.read_text())
    except (OSError, ValueError):
        return {}


def watch_window(window_file: Path, proc, key: str, callback: Callable[[], None]):
    """Call back (in a thread) once the window file has `key` ("logged_in": every user logged
    in; "start": the measured window opened), or never, if Locust (`proc`, a Popen or a
    psutil.Process) ends first."""
    running = proc.is_running if hasattr(proc, "is_running") else lambda: proc.poll() is None

    def watch() -> None:
        while running():
            try:
                if key in json.loads(window_file.read_text()):
                    callback()
                    return
            except (OSError, ValueError):
                pass  # not written yet, or caught mid-write
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread
