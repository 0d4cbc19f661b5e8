"""Measure one stage once: start it, verify, probe, warm up, load it, store its files."""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks.measure import hostload
from benchmarks.measure import inbox as mailbox
from benchmarks.measure.counters import redis_counters
from benchmarks.measure.cpu import CpuSampler, with_budgets
from benchmarks.measure.errors import StageFailed
from benchmarks.measure.locust_run import run_locust
from benchmarks.measure.meta import write_json
from benchmarks.measure.plan import Unit
from benchmarks.measure.probe import probe
from benchmarks.measure.stage_ladder import run_stage_ladder
from benchmarks.measure.verify import verify
from benchmarks.paths import LAB_DIR
from benchmarks.stack import Options, Stack, StackError, free_port
from shared.seed import Scale


def measure_stage(
    stage: str,
    k: int,
    args,
    run_dir: Path,
    say,
    replicas: int | None = None,
    budgets: bool = True,
) -> None:
    """Bring a stage up, verify it, warm it up and measure it into <run>/<stage>/r<k>/.

    With `replicas`, it is a point of the scaling experiment: <run>/scaling/<replicas>/r<k>/;
    with `budgets=False` too, a point of its contrast, every process unboxed whatever the run's
    budgets (as --no-budgets runs a stack): <run>/scaling-unbudgeted/<replicas>/r<k>/.
    """
    unit = Unit(k, 0, stage, replicas, budgets)
    folder = run_dir / unit.folder() / f"r{k}"
    folder.mkdir(parents=True)
    scale = Scale(args.specialists, args.reviews_per_specialist)
    unboxed = "" if budgets else "u"
    state = LAB_DIR / "bench" / run_dir.name / f"{stage}-{replicas or ''}{unboxed}r{k}"
    options = Options(
        port=free_port(),
        inbox_port=free_port(),
        smtp_port=free_port(),
        mail_delay_ms=args.mail_delay_ms,
        database_url=args.db,
        redis_url=args.redis,
        replicas=replicas or args.replicas,
        threads=args.threads,
        scale=scale,
        state_dir=state,
        quiet=True,
        # None: --no-budgets, or the scaling contrast (Locust then runs unconfined as well).
        replica_cpus=getattr(args, "budget_cpus", None) if budgets else None,
    )
    stack = Stack(stage, options)
    try:
        _measure(stack, folder, args, say, curve_point=bool(replicas))
    except Exception as exc:  # a broken stage must not end the whole run
        detail = str(exc) if isinstance(exc, StageFailed | StackError) else traceback.format_exc()
        (folder / "FAILED.txt").write_text(detail + "\n")
        if not (folder / "verify.json").exists():
            write_json(folder / "verify.json", [{"check": "start", "ok": False, "detail": detail}])
        raise StageFailed(detail) from exc
    finally:
        stack.stop()
        if (state / "logs").is_dir():
            shutil.copytree(state / "logs", folder / "logs", dirs_exist_ok=True)
        shutil.rmtree(state, ignore_errors=True)  # the database copy is big; the logs are kept


def _measure(stack: Stack, folder: Path, args, say, curve_point: bool = False) -> None:
    """Start, verify, warm up and measure one stage; write its files into folder.

    A point of the scaling curve is its closed loop only: the curve is throughput, and the
    probe and the ladder would add ~25 s a point."""
    say("starting")
    stack.start(cap=False)  # restores a fresh copy of the seed, embedded or at --db
    say("verifying")
    checks, features = verify(stack)
    write_json(folder / "verify.json", checks.items)
    if not checks.ok:
        raise StageFailed("verification failed: " + "; ".join(checks.failed()))
    # Start-up and verification ran unboxed (not measured); from here on each box has its quota.
    stack.boxes.cap()
    probe_speed = []  # the machine's speed loop just before and after the probe (noise_sources)
    if not curve_point:
        say("probing one request at a time")
        probe_speed.append(hostload.speed_ms())
        write_json(folder / "probe.json", probe(stack, features, args.probe_samples))
        probe_speed.append(hostload.speed_ms())
    inbox = stack.urls["inbox"].rstrip("/")
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as tmp:
        say(f"logins, warm-up {args.warmup}s, measuring {args.duration}s", estimate=True)
        mailbox.clear(inbox)
        sampler, loadgen, before = CpuSampler(), [], {}

        def window_opens() -> None:  # logins and warm-up are over: counters start from here
            before.update(
                counters=redis_counters(stack),
                host=hostload.snapshot(),
                boxes=stack.boxes.snapshot(),
                time=time.time(),
            )
            for generator in loadgen:
                generator.mark()

        speed = hostload.SpeedSampler()
        speed.start()
        try:
            window = run_locust(
                stack, features, args, args.duration, folder, Path(tmp), sampler, loadgen,
                args.warmup, window_opens,
            )  # fmt: skip
        finally:
            speed.stop()
        ended, boxes_after = time.time(), stack.boxes.snapshot()
        if not before:  # the window never opened: Locust failed, it says why in its log
            raise StageFailed("the measured window never opened (see locust.log)")
        host = hostload.window(before["host"], hostload.snapshot())
        during = speed.window(window.get("start", before["time"]), window.get("stop", ended))
        if during:
            host["speed_ms_during"] = during
    counters_after = redis_counters(stack)
    counters_before, boxes_before, started = before["counters"], before["boxes"], before["time"]
    start, end = window.get("start", started), window.get("stop", ended)
    write_json(
        folder / "cpu.json",
        with_budgets(sampler.window(start, end), stack, boxes_before, boxes_after, loadgen),
    )
    write_json(
        folder / "counters.json",
        {key: value - counters_before.get(key, 0) for key, value in counters_after.items()},
    )
    drain = mailbox.drain_mails(inbox, mailbox.successful_reviews(folder), start, args.users)
    write_json(folder / "mails.json", mailbox.messages(inbox))
    # The open-loop ladder on the same warm stack, after the closed loop's mails are all out.
    ladder = {} if curve_point else run_stage_ladder(stack, features, args, folder, say)
    write_json(
        folder / "stage.json",
        {
            **stack.describe(),
            "features": features,
            "measure_start": start,
            "measure_end": end,
            # Logins happen before the window (measure/locustfile.py): how long they took.
            "login_phase_s": round(window["logged_in"] - window["locust_start"], 2)
            if "locust_start" in window and "logged_in" in window
            else None,
            "warmup_s": args.warmup,
            "login_phase_note": window.get("note", ""),
            "mail_drain": drain,
            "host": host,  # the machine's steal, busy % and load average during the window
            **({"probe_speed_ms": probe_speed} if probe_speed else {}),
            **ladder,
        },
    )
    say("done")
