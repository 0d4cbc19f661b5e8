"""Measure stages with Locust, store raw results: `python -m benchmarks.measure.bench [STAGE ...]`.

For every repeat and stage (repeats interleave the stages, so slow drift of the machine spreads
over all of them): bring the stage up on free ports, verify it works, warm it up with a discarded
Locust run, then measure one Locust run with CPU sampling of every process group. The files
written are described in docs/RESULTS.md; a run folder is never overwritten.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import stages
from benchmarks.measure import stage_ladder
from benchmarks.measure.errors import StageFailed
from benchmarks.measure.meta import make_meta, new_run_dir, write_json
from benchmarks.measure.plan import SCALING_DIR, describe, make_plan
from benchmarks.measure.probe import PROBE_SAMPLES
from benchmarks.measure.progress import Progress, summary
from benchmarks.measure.stage import measure_stage
from benchmarks.measure.stage_ladder import (
    DEFAULT_RATES,
    DEFAULT_STEP_S,
    QUICK_RATES,
    QUICK_STEP_S,
)
from benchmarks.measure.wrk import wrk_crosscheck
from benchmarks.paths import LAB_DIR, ROOT
from benchmarks.stack import boxes
from benchmarks.stack.databases import sqlite_seed
from benchmarks.stack.embedded_pg import resolve_db_option
from shared.seed import Scale

DEFAULT_SCALING = "cache"  # the stage of the default scaling point (and of the reference curve)


def parse_args(argv: list[str] | None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "stages",
        nargs="*",
        metavar="STAGE",
        help=f"stages to measure (default: all, in order: {' '.join(stages.names())})",
    )
    p.add_argument("--users", type=int, default=10, help="concurrent Locust users (default 10)")
    p.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    p.add_argument("--duration", type=int, default=25, help="measured seconds (default 25)")
    p.add_argument("--warmup", type=int, default=2, help="discarded warm-up seconds (default 2)")
    p.add_argument("--repeats", type=int, default=1, help="measured runs per stage (default 1)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run (under 3 minutes): duration 6 s, warm-up 1 s, 2 probes, 1 s ladder steps",
    )
    p.add_argument("--mail-delay-ms", type=int, default=100, help="simulated mail latency")
    p.add_argument("--threads", type=int, default=4, help="threads per app replica")
    p.add_argument("--replicas", type=int, help="app replicas (default: each stage's own)")
    p.add_argument(
        "--db",
        help="database URL, or `postgres` for an embedded PostgreSQL (default: embedded "
        "SQLite); every stage gets a fresh copy of the seed in it (benchmarks/stack/databases/)",
    )
    p.add_argument(
        "--redis", help="Redis URL with a database of its own, flushed per stage (redis://h/15)"
    )
    p.add_argument("--specialists", type=int, default=Scale.specialists)
    p.add_argument("--reviews-per-specialist", type=int, default=Scale.reviews_per_specialist)
    p.add_argument("--out", type=Path, default=ROOT / "results", help="results folder")
    p.add_argument("--no-report", action="store_true", help="do not build the report at the end")
    p.add_argument(
        "--scaling",
        metavar="STAGE",
        help="also measure STAGE at each replica count of --scaling-replicas (scaling curve); "
        f"without it, a run with budgets that measures {DEFAULT_SCALING} measures it at 1 "
        "replica too, its own run being the curve's 2-replica point (--no-scaling: not even that)",
    )
    p.add_argument(
        "--scaling-replicas",
        help="replica counts of the scaling experiment (default 1,2,3,4)",
    )
    p.add_argument(
        "--no-scaling", action="store_true", help="no scaling point at all, not even the default"
    )
    p.add_argument(
        "--scaling-repeats", type=int, default=1, help="runs per point of the scaling curve"
    )
    p.add_argument(
        "--scaling-contrast",
        action="store_true",
        help="after the scaling curve, measure the same replica counts again with no CPU "
        "budgets at all (every process unboxed, Locust unconfined) into "
        "<run>/scaling-unbudgeted/: the contrast of more processes on one box",
    )
    p.add_argument(
        "--ladder-rates",
        help="offered req/s of each stage's open-loop ladder, the same for every stage "
        f"(default {DEFAULT_RATES}; --quick: {QUICK_RATES})",
    )
    p.add_argument(
        "--ladder-step-s",
        type=float,
        help=f"seconds per rate (default {DEFAULT_STEP_S:g}; --quick: {QUICK_STEP_S:g})",
    )
    p.add_argument("--ladder-arrivals", choices=("poisson", "constant"), default="poisson")
    p.add_argument("--no-ladder", action="store_true", help="closed loop only, no ladder")
    p.add_argument(
        "--slo-ms", type=float, default=500, help="p99 SLO of 'capacity at SLO' (default 500)"
    )
    p.add_argument(
        "--wrk-stage",
        default="token-auth",
        help="stage for the wrk cross-check of Locust's throughput, when wrk is installed",
    )
    boxes.add_arguments(p)
    args = p.parse_args(argv)
    args.budget_cpus = boxes.replica_cpus(args, p)
    unknown = [s for s in args.stages if s not in stages.names()]
    if unknown:
        p.error(f"unknown stage(s) {unknown}; choose from: {', '.join(stages.names())}")
    args.stages = args.stages or stages.names()
    if args.scaling and args.scaling not in stages.names():
        p.error(f"--scaling: unknown stage {args.scaling!r}")
    if args.scaling_contrast and not args.scaling:
        p.error("--scaling-contrast needs --scaling STAGE: it is the same curve without budgets")
    if args.scaling_contrast and args.budget_cpus is None:
        p.error(
            "--scaling-contrast with --no-budgets: the scaling curve is already measured without "
            "budgets, there is nothing to contrast it with (drop one of the two)"
        )
    if args.scaling and args.no_scaling:
        p.error("--scaling and --no-scaling: choose one")
    replicas = args.scaling_replicas or "1,2,3,4"
    if _default_scaling(args):
        # The scaling law's first step, cheaply: the stage run is the 2-replica point
        # (results/analysis.py), so one more closed loop decides "2 replicas >= 1.7x 1".
        args.scaling, replicas = DEFAULT_SCALING, args.scaling_replicas or "1"
        args.scaling_defaulted = True
    args.scaling_replicas = [int(n) for n in str(replicas).split(",") if n.strip()]
    args.probe_samples = PROBE_SAMPLES
    if args.quick:
        # A smoke run: every part runs, each as briefly as still says something (~20 s a
        # stage; the whole bench under 3 minutes). Its checks are mostly INCONCLUSIVE: honestly.
        args.duration, args.warmup, args.probe_samples = 6, 1, 2
    args.ladder_rates = args.ladder_rates or (QUICK_RATES if args.quick else DEFAULT_RATES)
    if args.ladder_step_s is None:
        args.ladder_step_s = QUICK_STEP_S if args.quick else DEFAULT_STEP_S
    try:
        stage_ladder.config(args)
    except ValueError as exc:
        p.error(f"ladder: {exc}")
    return args


def _default_scaling(args) -> bool:
    """Whether this run gets the default scaling point: a full run with enforceable budgets."""
    return (
        not (args.scaling or args.no_scaling or args.quick or args.budget_cpus is None)
        and DEFAULT_SCALING in args.stages
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.db = resolve_db_option(args.db)  # `--db postgres`: an embedded server, stopped at exit
    run_dir = new_run_dir(args.out)
    budgets = boxes.planned(args.budget_cpus)
    if getattr(args, "scaling_defaulted", False) and not budgets.get("enforced"):
        args.scaling = None  # its effect is not applicable without budgets: no time spent on it
    meta = make_meta(args, run_dir)
    meta["budgets"] = budgets
    write_json(run_dir / "meta.json", meta)
    print(f"run folder: {run_dir}", flush=True)
    # SIGTERM behaves like Ctrl-C: the running stack is stopped by measure_stage's finally.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    if not args.db:
        sqlite_seed(Scale(args.specialists, args.reviews_per_specialist))  # once, visibly
    plan = make_plan(args)  # stage runs, then the scaling curve (and its contrast)
    progress = Progress(args, len(plan), describe(plan), sum(1 for u in plan if u.replicas))
    print(progress.plan(), flush=True)
    interrupted = False
    try:
        for unit in plan:
            progress.label = unit.label(len(args.stages))
            try:
                measure_stage(
                    unit.stage, unit.k, args, run_dir, progress.say, unit.replicas, unit.budgets
                )
            except StageFailed as exc:
                meta["failed"].append(unit.name())
                print(
                    f"\n!!! {unit.name()} FAILED, not measured: {exc}\n",
                    file=sys.stderr,
                    flush=True,
                )
            progress.finished += 1
        meta["wrk"] = wrk_crosscheck(args, run_dir, progress.say)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: the stack was stopped; partial results kept", flush=True)
    finally:
        shutil.rmtree(LAB_DIR / "bench" / run_dir.name, ignore_errors=True)  # stage state dirs
        meta["finished_at"] = datetime.now().astimezone().isoformat()
        meta["interrupted"] = interrupted
        write_json(run_dir / "meta.json", meta)
    print("\n" + summary(run_dir, args.stages, args.repeats))
    if meta["failed"]:
        print(f"\nFAILED (not measured): {', '.join(meta['failed'])}", file=sys.stderr)
    if interrupted:
        print(f"\nresults: {run_dir}")
        return 130
    curve = args.scaling and (run_dir / SCALING_DIR).is_dir()  # the law: <run>/scaling.json
    if args.no_report:
        if curve:
            subprocess.run([sys.executable, "-m", "benchmarks.results.usl", str(run_dir)], cwd=ROOT)
    elif (ROOT / "benchmarks" / "results" / "report.py").exists():
        # The report writes scaling.json too: one load of the run (~6 s) instead of two.
        more = ["--write-scaling"] if curve else []
        built = subprocess.run(
            [sys.executable, "-m", "benchmarks.results.report", str(run_dir), *more], cwd=ROOT
        )
        if built.returncode:
            print(f"warning: the report builder exited {built.returncode}", file=sys.stderr)
    else:
        print(
            f"\nno report builder yet: build it later with "
            f"`python -m benchmarks.results.report {run_dir}`"
        )
    print(f"\nresults: {run_dir}")
    return 1 if meta["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
