"""The wrk cross-check: is Locust, not the app, what limits throughput on this box?"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import stages
from benchmarks.measure.cpu import CpuSampler
from benchmarks.measure.locust_run import run_locust
from benchmarks.measure.meta import write_json
from benchmarks.paths import LAB_DIR
from benchmarks.stack import Options, Stack, free_port
from shared.seed import Scale

WRK_SECONDS = 5


def wrk_crosscheck(args, run_dir: Path, say) -> dict:
    """Measure GET /api/test with wrk and with Locust, same stage and concurrency, side by side.

    Locust spends a core of this 2-core box generating load; wrk (C, event loop) is far cheaper.
    If wrk gets much more from the same endpoint, Locust, not the app, set the ceiling.
    """
    if getattr(args, "quick", False):  # a smoke run: ~20 s saved, the cross-check is no smoke
        return {"skipped": "--quick: a smoke run has no cross-check (run the bench without it)"}
    wrk = shutil.which("wrk")
    if not wrk:
        return {"skipped": "wrk is not installed (Debian: apt-get install wrk)"}
    stage = args.wrk_stage if args.wrk_stage in stages.names() else args.stages[-1]
    say_label = f"[wrk cross-check {stage}]"
    print(f"{say_label} starting", flush=True)
    options = Options(
        port=free_port(),
        inbox_port=free_port(),
        smtp_port=free_port(),
        database_url=args.db,
        redis_url=args.redis,
        threads=args.threads,
        scale=Scale(args.specialists, args.reviews_per_specialist),
        state_dir=LAB_DIR / "bench" / run_dir.name / "wrk",
        quiet=True,
    )
    stack = Stack(stage, options)
    try:
        stack.start()
        url = stack.urls["api"] + "/test"
        out = subprocess.run(
            [wrk, "-t", "2", "-c", str(args.users), "-d", f"{WRK_SECONDS}s", "--latency", url],
            capture_output=True,
            text=True,
            timeout=WRK_SECONDS + 30,
        ).stdout
        wrk_rps = float(out.split("Requests/sec:")[1].split()[0])
        print(f"{say_label} wrk: {wrk_rps:.0f} req/s; now Locust on the same endpoint", flush=True)
        with tempfile.TemporaryDirectory(prefix="lab-wrk-") as tmp:
            folder = Path(tmp)
            os.environ["LAB_SCENARIO"] = "test-endpoint"
            try:
                sampler = CpuSampler()
                run_locust(stack, [], args, WRK_SECONDS, folder, folder, sampler)
            finally:
                os.environ.pop("LAB_SCENARIO", None)
            rows = list(csv.DictReader((folder / "locust_stats.csv").open()))
            locust_rps = next(float(r["Requests/s"]) for r in rows if r["Name"] == "Aggregated")
            locust_cores = sampler.window(None, None)["groups"].get("locust", {}).get("cores")
        result = {
            "stage": stage,
            "endpoint": "GET /api/test",
            "connections": args.users,
            "seconds": WRK_SECONDS,
            "wrk_rps": round(wrk_rps, 1),
            "locust_rps": round(locust_rps, 1),
            "locust_cores": locust_cores,
            "ratio_wrk_to_locust": round(wrk_rps / locust_rps, 2) if locust_rps else None,
            "wrk_output": out,
        }
        write_json(run_dir / "wrk.json", result)
        print(
            f"{say_label} Locust: {locust_rps:.0f} req/s (wrk/Locust = "
            f"{result['ratio_wrk_to_locust']})",
            flush=True,
        )
        return {k: v for k, v in result.items() if k != "wrk_output"}
    except Exception as exc:  # a cross-check must not cost the run
        return {"skipped": f"wrk cross-check failed: {exc}"}
    finally:
        stack.stop()
        shutil.rmtree(options.state_dir, ignore_errors=True)
