"""The offered-load ladder (measure/ladder.py, ladderfile.py); latency.json from real Locust."""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import slo
from benchmarks.measure import ladder, latency, stage_ladder

ROOT = Path(__file__).resolve().parent.parent


def point(rate, p99, failures=0.0, behind=False) -> dict:
    return {"offered_rps": rate, "achieved_rps": rate, "p50": 1.0, "p99": p99,
            "failures_pct": failures, "behind_schedule": behind}  # fmt: skip


def test_capacity_is_the_last_rate_before_the_slo_breaks():
    points = [point(10, 50), point(20, 120), point(40, 499), point(80, 900), point(160, 100)]
    assert ladder.capacity_at_slo(points) == 40  # 160 passing again after 80 broke does not count
    assert ladder.capacity_at_slo(points, slo_ms=100) == 10
    assert ladder.capacity_at_slo([point(10, 600)]) is None
    assert ladder.capacity_at_slo([point(10, 50), point(20, 50, failures=1.0)]) == 10
    assert ladder.capacity_at_slo([point(10, 50), point(20, 50, behind=True)]) == 10
    assert ladder.capacity_at_slo([point(10, None)]) is None  # no answer at all


def test_arrivals_keep_the_offered_rate():
    rng = np.random.default_rng(0)
    assert ladder.arrivals(4, 1.0, "constant", rng) == [0, 0.25, 0.5, 0.75]
    poisson = ladder.arrivals(100, 100.0, "poisson", rng)
    assert len(poisson) == 10_000  # given its count: a step offers exactly rate x seconds
    assert all(0 <= t < 100 for t in poisson) and poisson == sorted(poisson)
    # A 2.5 s step at 160 req/s offers the 400 arrivals that decide a p99, every time.
    assert all(len(ladder.arrivals(160, 2.5, "poisson", rng)) == 400 for _ in range(50))
    gaps = np.diff(poisson)
    assert gaps.std() == pytest.approx(gaps.mean(), rel=0.05)  # exponential: std == mean


def test_bad_ladders_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="--rates: every rate must be > 0"):
        ladder.parse_rates("10,0")
    with pytest.raises(ValueError, match="--rates: expected req/s like 10,20,40"):
        ladder.parse_rates("10,fast")
    with pytest.raises(ValueError, match="arrivals must be 'poisson' or 'constant'"):
        ladder.Config((10,), arrivals="burst")
    config = ladder.Config((5.0, 10.0), step_s=2)
    os.environ.update(config.env())
    try:
        assert ladder.Config.from_env() == config
    finally:
        del os.environ["LAB_LADDER"]


def test_recorder_times_from_the_schedule_and_marks_late_sends():
    rec = ladder.Recorder()
    on_time, late = rec.begin(10, 1000.0, 10), rec.begin(20, 1010.0, 10)
    for i in range(100):  # sent on time, answered in 5 ms
        rec.scheduled(on_time)
        t = 1000.0 + i * 0.1
        rec.on_request(response_time=5.0, start_time=t, context={"ladder": (on_time, t)})
    for i in range(20):  # sent 200 ms after schedule (generator behind), answered in 5 ms
        rec.scheduled(late)
        t = 1010.0 + i * 0.5
        rec.on_request(response_time=5.0, start_time=t + 0.2, context={"ladder": (late, t)})
    rec.scheduled(late)  # never answered
    rec.on_request(response_time=5.0, start_time=1.0, context={})  # untagged: not a ladder entry
    first, second = rec.points()
    assert first["p99"] == pytest.approx(5.0, rel=1e-3) and not first["behind_schedule"]
    assert first["achieved_rps"] == pytest.approx(10.0)
    assert second["p50"] == pytest.approx(205.0, rel=1e-3)  # coordinated omission would say 5
    assert second["behind_schedule"] and second["late_pct"] == 100.0
    rec.blocked(on_time)  # one arrival found every in-flight slot taken
    assert rec.points()[0]["behind_schedule"]
    assert second["unanswered"] == 1 and second["failures_pct"] == pytest.approx(100 / 21, rel=1e-3)


# --- real runs against a real stage -----------------------------------------------------------


@pytest.fixture(scope="module")
def legacy(launch):
    stack = launch("legacy")
    yield stack
    stack.stop()


@pytest.mark.slow
def test_ladder_against_a_real_stage(legacy, tmp_path):
    host = legacy.urls["api"].removesuffix("/api")
    # 5 req/s is easy; 400 req/s with at most 2 requests in flight cannot be offered on time.
    config = ladder.Config((5.0, 400.0), step_s=3, arrivals="constant", max_in_flight=2, drain_s=3)
    points = ladder.run(host, config, tmp_path / "ladder.json", legacy.urls["inbox"].rstrip("/"))
    assert [p["offered_rps"] for p in points] == [5.0, 400.0]
    easy, hard = points
    assert set(easy) >= {"offered_rps", "achieved_rps", "p50", "p99", "failures_pct",
                         "behind_schedule"}  # fmt: skip
    assert easy["requests"] == 15 and easy["failures_pct"] == 0 and not easy["behind_schedule"]
    assert easy["achieved_rps"] == pytest.approx(5.0, abs=1.0)
    # Arrivals that found both slots taken were dropped: unanswered, so failed in their step.
    assert hard["behind_schedule"] and hard["blocked"] > 0 and hard["unanswered"] >= hard["blocked"]
    assert hard["failures_pct"] >= 100 * hard["blocked"] / hard["requests"] - 0.01
    assert ladder.capacity_at_slo(points) == 5.0
    assert "capacity at SLO (p99 < 500 ms, failures < 1 %): 5 req/s" in ladder.table(points)


@pytest.mark.slow
def test_locustfile_writes_exact_latencies_matching_locusts_counts(legacy, tmp_path):
    """The window opens when every user has logged in and lasts LAB_WINDOW_S; the logins keep
    an entry of their own in latency.json, Locust's statistics start with the window."""
    env = {**os.environ, "LAB_INBOX_URL": legacy.urls["inbox"].rstrip("/"),
           "LAB_LATENCY_FILE": str(tmp_path / "latency.json"), "LAB_WINDOW_S": "3",
           "LAB_WINDOW_FILE": str(tmp_path / "window.json")}  # fmt: skip
    cmd = [sys.executable, "-m", "locust", "-f", "benchmarks/measure/locustfile.py", "--headless",
           "-u", "4", "-r", "4", "-t", "60s", "--host", legacy.urls["api"].removesuffix("/api"),
           "--only-summary", "--csv", str(tmp_path / "locust"),
           # A login shed by the login limits (503, retried) is a failure: counted, not fatal.
           "--exit-code-on-error", "0"]  # fmt: skip
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, timeout=90)
    exact = latency.load(tmp_path / "latency.json")
    with (tmp_path / "locust_stats.csv").open() as f:
        counts = {r["Name"]: int(r["Request Count"]) for r in csv.DictReader(f)}
    login = "POST /api/login"
    assert exact[login]["count"] >= 4 and counts.get(login, 0) == 0
    assert exact and {n: e["count"] for n, e in exact.items() if n != login} == {
        n: c for n, c in counts.items() if n != "Aggregated" and c
    }
    window = json.loads((tmp_path / "latency.json").read_text())[latency.WINDOW_KEY]
    assert 2.5 < window["stop"] - window["start"] < 6
    phases = json.loads((tmp_path / "window.json").read_text())
    assert phases["locust_start"] < phases["start"] and phases["users_ready"] == 4


def test_a_step_is_lengthened_where_400_arrivals_can_decide_its_p99():
    cfg = ladder.Config((10, 20, 40, 80, 160), 2.0, long_step_s=5.0, drain_s=1.0)
    # 80 req/s: 400 arrivals take 5 s; 160: 2.5 s; under 80 they would take longer than 5 s.
    assert [cfg.step_seconds(r) for r in cfg.rates] == [2.0, 2.0, 2.0, 5.0, 2.5]
    assert cfg.seconds == 2 + 2 + 2 + 5 + 2.5 + 1
    assert ladder.Config((80, 400), 2.0).step_seconds(80) == 2.0  # off by default
    assert ladder.Config((80, 400), 6.0, long_step_s=6.0).step_seconds(400) == 6.0  # never shorter


def test_no_longer_steps_where_the_probe_already_put_the_p99_over_the_slo(tmp_path):
    args = argparse.Namespace(
        no_ladder=False, ladder_rates="10,20,40,80,160", ladder_step_s=2.0,
        ladder_arrivals="poisson", quick=False, slo_ms=500.0,
    )  # fmt: skip
    assert stage_ladder.config(args).step_seconds(80) == 5.0
    assert stage_ladder.config(args, floored=True).step_seconds(80) == 2.0
    # The rule the bench reads before its ladder and the analysis after: 1 arrival in 71 over
    # the SLO alone floors it; the same request under 1 % of the arrivals, or faster, does not.
    probe = {"GET /top": {"ms": [1210.0, 980.0, 1500.0]}, "GET /list": {"ms": [3.0]}}
    assert slo.floor({"GET /top": 1 / 71, "GET /list": 70 / 71}, probe) == (
        "GET /top", 980.0, 1 / 71,
    )  # fmt: skip
    assert slo.floor({"GET /top": 1 / 200, "GET /list": 199 / 200}, probe) is None
    assert slo.floor({"GET /top": 1 / 71}, probe, slo_ms=1000.0) is None


def test_the_reference_ladder_is_finer_than_the_spread_line_where_the_knees_lie():
    # A capacity at SLO is one of the ladder's rates. With the default doubling ladder two repeats
    # one step apart (80 and 160 req/s) spread past WIDE_SPREAD whatever the stage did; the
    # reference (read for its spread) steps finer from 80 req/s up, and keeps the default rates.
    import noxfile
    from benchmarks.results.catalog import WIDE_SPREAD

    rates = ladder.parse_rates(noxfile.REFERENCE_RATES)
    assert set(ladder.parse_rates(stage_ladder.DEFAULT_RATES)) <= set(rates)
    knees = [r for r in rates if r >= 80]
    assert len(knees) >= 4 and rates == tuple(sorted(rates))
    assert all((hi - lo) / lo <= WIDE_SPREAD for lo, hi in itertools.pairwise(knees))
