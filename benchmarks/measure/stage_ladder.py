"""The bench's offered-load ladder of one stage, on the stack the closed loop just measured.

Runs benchmarks/measure/ladder.py's Locust ladder against the started stage right after the
closed-loop window (the stack is warm, no second start-up; with budgets, every process still in
its box and the ladder's Locust in one of its own), writes <stage>/r<k>/ladder.json and returns
what stage.json records about it: its window, settings, the machine's load meanwhile and the
generator's box.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psutil

from benchmarks import slo
from benchmarks.measure import hostload, ladder, mix
from benchmarks.measure.loadgen import confine_load_generator
from benchmarks.measure.locust_run import watch_window
from benchmarks.stack import Stack

# The same absolute rates for every stage of a run (so stages compare at equal offered load),
# and for every run (so runs compare too): a doubling ladder from under legacy's closed-loop
# capacity in its quarter-core box (~30 req/s) to over the cache's two boxes (~150-200). 320 was
# dropped: Locust in its box (then 0.4 core) fell behind it in every stage. Short steps keep the
# default bench under 8 minutes; --ladder-rates / --ladder-step-s change them.
DEFAULT_RATES = "10,20,40,80,160"
DEFAULT_STEP_S = 2.0
# A step that can offer 400 arrivals within this is lengthened to (80 req/s: 5 s, 160: 2.5 s):
# the rate where a p99 under the SLO can be decided at all (measure/ladder.py's DECIDABLE).
LONG_STEP_S = 5.0
QUICK_RATES = "20,80,160"
QUICK_STEP_S = 1.0
DRAIN_S = 1.0  # after the last step: what is unanswered by then is past twice the default SLO


def config(args, floored: bool = False) -> ladder.Config | None:
    """Return the run's ladder (None with --no-ladder); a clear error on bad options.

    Longer steps are there to decide a p99 under the SLO: not in a smoke run (--quick), nor
    where the probe already showed the p99 over it at every rate (`floored`, benchmarks/slo.py:
    every stage before the cache, ~3.5 s saved each)."""
    if args.no_ladder:
        return None
    rates = ladder.parse_rates(args.ladder_rates)
    quick = getattr(args, "quick", False)
    longer = 0.0 if quick or floored else max(args.ladder_step_s, LONG_STEP_S)
    return ladder.Config(
        rates, args.ladder_step_s, args.ladder_arrivals, drain_s=DRAIN_S, long_step_s=longer
    )


def seconds(args) -> float:
    """Return the seconds a stage's ladder takes (for the bench's estimate), 0 without one."""
    cfg = config(args)
    # + Locust start-up, login, stop: about 1 s more than the steps and the drain (measured
    # on a quiet machine; 4-10 s at a load average of 6).
    return cfg.seconds + 1 if cfg else 0.0


def run_stage_ladder(stack: Stack, features: list[str], args, folder: Path, say) -> dict:
    """Run the ladder against the started stack; write ladder.json; return stage.json's entry."""
    if args.no_ladder:
        return {}
    shares = mix.shares(features)
    probed = folder / "probe.json"  # written before the window (measure/stage.py)
    probe = json.loads(probed.read_text()) if probed.exists() else {}
    floored = slo.floor(shares, probe, args.slo_ms)
    cfg = config(args, floored=floored is not None)
    steps = ", ".join(f"{r:g} req/s {cfg.step_seconds(r):g} s" for r in cfg.rates)
    say(f"ladder {steps}")
    host = stack.urls["api"].removesuffix("/api")
    inbox = stack.urls["inbox"].rstrip("/")
    before = hostload.snapshot()
    started = time.time()
    # The machine's speed inside the ladder, as inside the window: a capacity is read here, after
    # the window, and the speed flips within seconds (results/noise_sources.py reads it).
    speed = hostload.SpeedSampler()
    speed.start()
    confined = []  # with budgets, the ladder's Locust is kept apart like the closed loop's

    window = folder / "ladder-window.json"

    def confine(pid: int) -> None:
        # Boxed once its user is logged in, as the closed loop's Locust: its start-up is set-up.
        if stack.boxes.budgets is not None:
            watch_window(
                window,
                psutil.Process(pid),
                "logged_in",
                lambda: confined.append(confine_load_generator(pid, stack.boxes.budgets)),
            )

    try:
        points = ladder.run(
            host, cfg, folder / "ladder.json", inbox, ",".join(features), confine, window
        )
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        # The closed loop is measured and kept; the missing ladder.json fails its checks.
        say(f"ladder FAILED: {str(exc)[-300:]}")
        return {"ladder": {"error": str(exc)[-3000:]}}
    finally:
        speed.stop()
        window.unlink(missing_ok=True)
    ended = time.time()
    behind = [p["offered_rps"] for p in points if p["behind_schedule"]]
    if behind:
        say(f"ladder: the generator fell behind schedule at {behind} req/s (marked)")
    return {
        "ladder": {
            "start": started,
            "end": ended,
            "rates": list(cfg.rates),
            "step_s": cfg.step_s,
            "steps_s": [round(cfg.step_seconds(r), 3) for r in cfg.rates],
            "arrivals": cfg.arrivals,
            "slo_ms": args.slo_ms,
            # Each request's share of the arrivals: with the probe, results/ladders.py knows
            # when an endpoint slower than the SLO alone puts every step over it.
            "mix": shares,
            # The request that put the p99 over the SLO at every rate before the ladder began
            # (no longer steps then), or null.
            "floored_by": floored[0] if floored else None,
            "host": {
                **hostload.window(before, hostload.snapshot()),
                "speed_ms_during": speed.window(started, ended),
            },
            "loadgen": confined[0].window() if confined else None,
        }
    }
