"""Tests for the bench: the Locust scenario's names and tasks, its checks, and one real run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.measure.bench import parse_args
from benchmarks.measure.meta import new_run_dir
from benchmarks.measure.report_csv import csv_problem
from benchmarks.stack.budgets import DEFAULT_REPLICA_CPUS

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["list_specialists", "get_specialist", "list_reviews", "create_review", "highest_rated"]


def results_md_names() -> set[str]:
    """Return the request names of the table in docs/RESULTS.md."""
    text = (ROOT / "docs" / "RESULTS.md").read_text()
    table = text.split("Request names used by the Locust scenario", 1)[1]
    return set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.M))


def locustfile_facts(features: str) -> dict:
    """Import the locustfile in a child process: Locust monkey-patches with gevent on import."""
    code = (
        "import json, benchmarks.measure.locustfile as m; "
        "print(json.dumps({'names': m.NAMES, "
        "'tasks': sorted(t.__name__ for t in m.LabUser.mix), "
        "'base': m.LabUser.__mro__[1].__name__}))"
    )
    env = {**os.environ, "LAB_FEATURES": features}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.processes
def test_locustfile_uses_exactly_the_documented_request_names():
    facts = locustfile_facts("")
    assert set(facts["names"]) == results_md_names()
    assert facts["base"] == "FastHttpUser"


@pytest.mark.processes
def test_report_task_exists_only_with_the_reports_feature():
    assert locustfile_facts("")["tasks"] == sorted(TASKS)
    assert locustfile_facts("reports")["tasks"] == sorted([*TASKS, "report"])


def test_csv_check_wants_a_name_header_and_ten_rows():
    rows = "".join(f"{i},Dr. {i},9.{i}\n" for i in range(1, 11))
    assert csv_problem("rank,name,average_rating\n" + rows) is None
    assert "header" in csv_problem("rank,who,average_rating\n" + rows)
    assert "9 data rows" in csv_problem("rank,name\n" + "".join(rows.splitlines(True)[:9]))
    assert csv_problem("<html>not found</html>") is not None


@pytest.mark.processes
def test_a_run_folder_is_never_reused(tmp_path):
    first, second = new_run_dir(tmp_path), new_run_dir(tmp_path)
    assert first != second and first.is_dir() and second.is_dir()


@pytest.mark.slow
@pytest.mark.processes
def test_bench_measures_the_legacy_stage_end_to_end(tmp_path):
    argv = [
        sys.executable,
        "-m",
        "benchmarks.measure.bench",
        "legacy",
        "--duration",
        "3",
        "--warmup",
        "1",
        "--users",
        "2",
        "--specialists",
        "20",
        "--reviews-per-specialist",
        "20",
        "--out",
        str(tmp_path),
        "--no-report",
        "--ladder-rates",
        "5,10",
        "--ladder-step-s",
        "1",
    ]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    meta = json.loads((run / "meta.json").read_text())
    assert meta["stages"] == ["legacy"] and meta["settings"]["scale"] == "20x20"
    folder = run / "legacy" / "r1"
    for name in ("locust_stats.csv", "verify.json", "cpu.json", "mails.json", "stage.json",
                 "latency.json"):  # fmt: skip
        assert (folder / name).is_file(), name
    exact = json.loads((folder / "latency.json").read_text())
    assert exact["POST /api/specialists/{id}/reviews"]["count"] > 0

    assert all(check["ok"] for check in json.loads((folder / "verify.json").read_text()))
    stats = (folder / "locust_stats.csv").read_text().splitlines()
    aggregated = next(line for line in stats if line.startswith(",Aggregated,"))
    requests, failures = map(int, aggregated.split(",")[2:4])
    assert requests > 0 and failures == 0
    assert any(line.startswith("POST,POST /api/specialists/{id}/reviews,") for line in stats)

    cpu = json.loads((folder / "cpu.json").read_text())
    assert cpu["window_seconds"] > 0 and {"app", "mail", "locust"} <= set(cpu["groups"])
    mails = json.loads((folder / "mails.json").read_text())["messages"]
    assert any("X-Lab-Review-Id" in m["headers"] for m in mails)
    stage = json.loads((folder / "stage.json").read_text())
    assert stage["measure_start"] < stage["measure_end"]
    # The machine's speed loop just before and after the probe (results/noise_sources.py).
    assert len(stage["probe_speed_ms"]) == 2 and min(stage["probe_speed_ms"]) > 0
    probe = json.loads((folder / "probe.json").read_text())
    assert all(len(e["speed_ms"]) == 2 and min(e["speed_ms"]) > 0 for e in probe.values())

    # Where the time went (Server-Timing, measure/timing.py): the mail is sent in the request.
    timing = json.loads((folder / "timing.json").read_text())
    review = timing["POST /api/specialists/{id}/reviews"]
    assert review["smtp"]["mean_ms"] > 0 and review["db"]["mean_ms"] > 0, review
    assert "hash" in timing["POST /api/login"], timing["POST /api/login"]

    # Budgets are on by default; where the machine enforces them, cpu.json has each box's
    # throttling over the window (tests/test_budgets.py proves the boxes themselves).
    assert meta["budgets"]["asked"] and stage["budgets"]["groups"]["app"] == DEFAULT_REPLICA_CPUS
    if meta["budgets"]["enforced"]:
        app = cpu["groups"]["app"]
        assert app["budget_cores"] == DEFAULT_REPLICA_CPUS and app["nr_periods"] > 0
        assert {"nr_throttled", "throttled_s"} <= set(app)
        assert cpu["groups"]["locust"]["how"] == "box" and "hit_limit" in cpu["groups"]["locust"]
    # The machine's load around the window, and the ladder on the same warm stack after it.
    assert 0 <= stage["host"]["busy_pct"] <= 100 and stage["host"]["load1_start"] is not None
    assert stage["measure_end"] <= stage["ladder"]["start"] < stage["ladder"]["end"]
    # The speed loop timed inside the ladder too: a capacity is put on it (noise_sources.py).
    assert all(ms > 0 for ms in stage["ladder"]["host"]["speed_ms_during"])
    points = json.loads((folder / "ladder.json").read_text())
    assert [p["offered_rps"] for p in points] == [5, 10]
    assert all(p["requests"] > 0 and p["hdr"] for p in points)
    assert meta["settings"]["ladder"] == {"rates": [5.0, 10.0], "step_s": 1.0,
                                          "steps_s": [1.0, 1.0], "arrivals": "poisson"}  # fmt: skip
    # The ladder records the mix it dealt (results/ladders.py's floor reasons with it).
    assert stage["ladder"]["mix"]["GET /api/specialists/highest_rated"] == round(1 / 71, 6)
    # One stage named: no default scaling point (it is the cache's).
    assert meta["settings"]["scaling_stage"] is None and not (run / "scaling").exists()
    assert "plan: 1 stage run(s)" in done.stdout


def test_bench_refuses_a_bad_ladder_and_estimates_it():
    from benchmarks.measure.bench import parse_args
    from benchmarks.measure.progress import OVERHEAD_GUESS_S, Progress

    with pytest.raises(SystemExit):
        parse_args(["--ladder-rates", "10,x"])
    args = parse_args(["--quick"])
    assert (args.ladder_rates, args.ladder_step_s) == ("20,80,160", 1.0)
    assert (args.duration, args.warmup, args.probe_samples) == (6, 1, 2)  # under 3 minutes
    assert parse_args(["--no-ladder"]).no_ladder
    # 3 steps x 1 s + 1 s drain + 1 s Locust: the estimate counts the ladder.
    assert Progress(args, 1).guess() == args.warmup + args.duration + 5 + OVERHEAD_GUESS_S


def test_host_window_reads_steal_and_busy_from_two_snapshots():
    from benchmarks.measure import hostload

    ticks = dict.fromkeys(hostload.FIELDS, 0)
    start = {"ticks": ticks, "loadavg": [1.0, 1, 1]}
    end = {"ticks": {**ticks, "user": 60, "idle": 30, "steal": 10}, "loadavg": [2.0, 1, 1]}
    window = hostload.window(start, end)
    assert (window["busy_pct"], window["steal_pct"]) == (60.0, 10.0)
    assert (window["load1_start"], window["load1_end"]) == (1.0, 2.0)
    assert "ticks" in hostload.snapshot()  # Linux: /proc/stat is there
    timed = hostload.window({**start, "speed_ms": 15.0}, {**end, "speed_ms": 22.5})
    assert timed["speed_ms"] == [15.0, 22.5] and "speed_ms" not in window
    assert 0 < hostload.snapshot()["speed_ms"] < 5000


def test_the_speed_loop_is_timed_inside_the_window_and_kept_to_it():
    from benchmarks.measure import hostload

    sampler = hostload.SpeedSampler(every_s=0.01)
    sampler.start()
    deadline = time.monotonic() + 30
    while len(sampler.samples) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    sampler.stop()
    assert len(sampler.samples) >= 3 and all(0 < ms < 5000 for _, ms in sampler.samples)
    # Only the samples taken inside the window are its own.
    sampler.samples = [(10.0, 15.0), (20.0, 22.0), (30.0, 40.0)]
    assert sampler.window(15.0, 30.0) == [22.0, 40.0]
    # A short loop is said in the full loop's units: both near the same ms, not a third of it.
    short, full = hostload.speed_ms(hostload.SPEED_SHORT), hostload.speed_ms()
    assert full / 3 < short < full * 3


def test_budget_options_are_checked_and_can_be_turned_off():
    assert parse_args(["legacy"]).budget_cpus == DEFAULT_REPLICA_CPUS
    assert parse_args(["legacy", "--replica-cpus", "0.4"]).budget_cpus == 0.4
    assert parse_args(["legacy", "--no-budgets"]).budget_cpus is None
    with pytest.raises(SystemExit):
        parse_args(["legacy", "--replica-cpus", "0"])


def test_scaling_contrast_needs_scaling_and_budgets(capsys):
    with pytest.raises(SystemExit):
        parse_args(["legacy", "--scaling-contrast"])
    assert "--scaling-contrast needs --scaling STAGE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["legacy", "--scaling", "cache", "--scaling-contrast", "--no-budgets"])
    assert "already measured without budgets" in capsys.readouterr().err
    assert parse_args(["legacy", "--scaling", "cache", "--scaling-contrast"]).scaling_contrast


def test_scaling_contrast_measures_the_same_replicas_again_without_budgets():
    from benchmarks.measure.plan import describe, make_plan
    from benchmarks.measure.progress import Progress

    args = parse_args(["legacy", "--scaling", "cache", "--scaling-replicas", "1,2"])
    assert [u.folder() for u in make_plan(args)] == ["legacy", "scaling/1", "scaling/2"]
    args = parse_args(
        ["legacy", "--scaling", "cache", "--scaling-replicas", "1,2", "--scaling-contrast"]
    )
    plan = make_plan(args)
    assert [(u.folder(), u.budgets) for u in plan] == [
        ("legacy", True),
        ("scaling/1", True),
        ("scaling/2", True),
        ("scaling-unbudgeted/1", False),
        ("scaling-unbudgeted/2", False),
    ]
    assert plan[-1].label(1) == "[scaling cache x2 no budgets r1]"
    assert plan[-1].name() == "cache x2 (no budgets) r1"
    said = Progress(args, len(plan), describe(plan)).plan()
    assert "plan: 5 stage run(s) (2 scaling point(s) + 2 without budgets), each" in said


def test_an_unbudgeted_scaling_point_runs_its_stack_unboxed(tmp_path, monkeypatch):
    from benchmarks.measure import stage as stage_mod

    seen = []

    class FakeStack:
        def __init__(self, name, options):
            seen.append(options.replica_cpus)

        def stop(self):
            pass

    monkeypatch.setattr(stage_mod, "Stack", FakeStack)
    monkeypatch.setattr(stage_mod, "_measure", lambda stack, folder, *_, **__: seen.append(folder))
    args = parse_args(["cache", "--scaling", "cache", "--scaling-contrast"])
    stage_mod.measure_stage("cache", 1, args, tmp_path, print, 3)
    stage_mod.measure_stage("cache", 1, args, tmp_path, print, 3, budgets=False)
    assert seen == [
        DEFAULT_REPLICA_CPUS,  # the run's budgets
        tmp_path / "scaling" / "3" / "r1",
        None,  # as --no-budgets: every process unboxed, Locust unconfined
        tmp_path / "scaling-unbudgeted" / "3" / "r1",
    ]


def test_a_full_run_with_budgets_measures_the_cache_at_one_replica_too():
    from benchmarks.measure.plan import make_plan

    args = parse_args([])  # the README's `nox -s bench`
    assert (args.scaling, args.scaling_replicas) == ("cache", [1])
    # Right after the cache's own run (the curve's 2-replica point): the same machine for both.
    assert [u.folder() for u in make_plan(args)][4:7] == ["cache", "scaling/1", "async-reports"]
    twice = make_plan(parse_args(["--repeats", "2", "--scaling-repeats", "3"]))
    assert [(u.folder(), u.k) for u in twice if "cache" in u.folder() or u.replicas] == [
        ("cache", 1), ("scaling/1", 1), ("cache", 2), ("scaling/1", 2), ("scaling/1", 3)
    ]  # fmt: skip
    # Not where its effect cannot be decided, nor where it is not asked for.
    assert parse_args(["--no-budgets"]).scaling is None
    assert parse_args(["--quick"]).scaling is None
    assert parse_args(["--no-scaling"]).scaling is None
    assert parse_args(["legacy", "token-auth"]).scaling is None
    # An explicit curve is the whole curve, as before.
    assert parse_args(["--scaling", "cache"]).scaling_replicas == [1, 2, 3, 4]
    assert parse_args(["--scaling-replicas", "1,3"]).scaling_replicas == [1, 3]
    with pytest.raises(SystemExit):
        parse_args(["--scaling", "cache", "--no-scaling"])


@pytest.mark.processes
def test_logins_queue_for_the_stages_hash_slots():
    code = "import benchmarks.measure.locustfile as m; print(m.LOGINS_AT_ONCE.counter)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "LAB_LOGINS_AT_ONCE": "4"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "4"
