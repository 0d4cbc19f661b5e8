"""Where the spread comes from, measured (benchmarks/results/noise.py): the CPU per request of a
full app box, said when it moves between repeats."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from benchmarks.results import noise


def repeat(folder: Path, cores: float, requests: int, failures: int = 0, budget=0.25) -> None:
    folder.mkdir(parents=True)
    app = {"cores": cores, "budget_cores": budget}
    (folder / "cpu.json").write_text(json.dumps({"groups": {"app": app}}))
    latency = {
        "GET /x": {"count": requests, "failures": failures},
        "E2E report": {"count": 999, "failures": 0},  # not an HTTP request: left out
        "_window": {"start": 100.0, "stop": 125.0},
    }
    (folder / "latency.json").write_text(json.dumps(latency))


def test_a_full_box_whose_cpu_per_request_moved_is_said(tmp_path):
    # async-mail: 0.25 core, 25 s: 1000 and 750 requests = 6.25 and 8.33 ms a request.
    repeat(tmp_path / "async-mail" / "r1", 0.249, 1000)
    repeat(tmp_path / "async-mail" / "r2", 0.250, 750)
    # cache: the same CPU per request in both repeats: nothing to say.
    repeat(tmp_path / "cache" / "r1", 0.5, 6000, budget=0.5)
    repeat(tmp_path / "cache" / "r2", 0.5, 6100, budget=0.5)
    # legacy: a box not full in one repeat (its throughput was not set by its CPU).
    repeat(tmp_path / "legacy" / "r1", 0.25, 1000)
    repeat(tmp_path / "legacy" / "r2", 0.10, 500)
    # load-balanced: its cheap 401s change the mix itself.
    repeat(tmp_path / "load-balanced" / "r1", 0.5, 2000, failures=800, budget=0.5)
    repeat(tmp_path / "load-balanced" / "r2", 0.5, 4000, failures=2400, budget=0.5)
    found = noise.cpu_per_request(tmp_path, ["async-mail", "cache", "legacy", "load-balanced"])
    assert list(found) == ["async-mail"]
    assert found["async-mail"] == pytest.approx((6.225, 8.333), abs=0.001)


def test_the_machines_speed_beside_each_window_is_said(tmp_path):
    for k, speed in (("r1", [14.8, 15.1]), ("r2", [22.9, 16.0])):
        folder = tmp_path / "cache" / k
        repeat(folder, 0.5, 6000, budget=0.5)
        host = {"busy_pct": 40.0, "steal_pct": 0.0, "cpu_count": 2, "speed_ms": speed}
        (folder / "stage.json").write_text(json.dumps({"host": host}))
    said = noise.caveats(SimpleNamespace(path=tmp_path, stages=["cache"]))
    assert any("a fixed CPU loop" in line and "14.8–22.9 ms" in line for line in said)
    assert not any("inside the windows" in line for line in said)
    # Timed inside the windows too: the swing within one window is said, and a window's speed
    # is the median of its inside samples.
    folder = tmp_path / "cache" / "r2"
    host = {"busy_pct": 40.0, "cpu_count": 2, "speed_ms": [22.9, 16.0],
            "speed_ms_during": [16.0, 20.0, 32.0]}  # fmt: skip
    (folder / "stage.json").write_text(json.dumps({"host": host}))
    said = noise.caveats(SimpleNamespace(path=tmp_path, stages=["cache"]))
    assert any("moved by up to 100% within a single window" in line for line in said)
    rows = noise.windows(tmp_path, ["cache"])
    assert [noise.window_speed(r) for r in rows] == [14.95, 20.0]
    for k in ("r1", "r2"):  # a run recorded before the loop: nothing said of it
        (tmp_path / "cache" / k / "stage.json").write_text(json.dumps({"host": {"busy_pct": 1}}))
    said = noise.caveats(SimpleNamespace(path=tmp_path, stages=["cache"]))
    assert not any("fixed CPU loop" in line for line in said)


def test_a_spread_tail_resting_on_a_handful_of_requests_is_said():
    # cache: 90 and 110 top-10 requests per repeat: its p99 is their 1-2 slowest; legacy's list:
    # 4,000 requests, 40 beyond its p99: a ⚠ there has another cause and is not said.
    rows = [("cache", 1, "GET /top", "requests", 90.0), ("cache", 2, "GET /top", "requests", 110.0),
            ("legacy", 1, "GET /list", "requests", 4000.0)]  # fmt: skip
    figures = pd.DataFrame(rows, columns=["stage", "repeat", "endpoint", "metric", "value"])
    run = SimpleNamespace(figures=figures)
    said = noise.thin_tails(
        run, [("cache", "GET /top", "p99", "key p99"), ("legacy", "GET /list", "p99", "key p99")]
    )
    assert "cache key p99: the 1–2 slowest of 90–110 requests" in said
    assert "legacy" not in said
    assert noise.thin_tails(run, [("cache", "GET /top", "p50", "key p50")]) is None  # no tail


def mail_rows(stage: str, lags: list[float]) -> list[tuple]:
    """Review mails one per second of a 30 s window, their lags spread evenly over `lags`."""
    return [(stage, 1, "review", float(s), lags[s * len(lags) // 30]) for s in range(30)]


def test_a_mail_queue_that_kept_growing_through_the_window_is_said():
    mails = pd.DataFrame(
        mail_rows("cache", [1000, 2000, 4000])  # the worker fell behind: 4x by the end
        + mail_rows("async-mail", [110, 112, 111])  # steady: the provider's 100 ms and a bit
        + [("cache", 1, "report", 5.0, 99999.0)],  # report mails are not review lag
        columns=["stage", "repeat", "kind", "t", "lag_ms"],
    )
    said = noise.growing_queues(SimpleNamespace(mails=mails), ["async-mail", "cache"])
    assert "cache 1,000 → 4,000 ms" in said and "async-mail" not in said
    steady = mails[mails["stage"] == "async-mail"]
    assert noise.growing_queues(SimpleNamespace(mails=steady), ["async-mail"]) is None
    assert noise.growing_queues(SimpleNamespace(mails=pd.DataFrame()), ["cache"]) is None


def test_how_far_the_machines_speed_moves_the_throughput_is_measured(tmp_path):
    # Two full-box stages, three windows each: the slower the loop, the fewer requests.
    for stage, base in (("legacy", 600), ("cache", 3000)):
        for k, (speed, share) in enumerate(((20.0, 1.1), (30.0, 1.0), (45.0, 0.8)), start=1):
            folder = tmp_path / stage / f"r{k}"
            repeat(folder, 0.25, int(base * share))
            host = {"busy_pct": 40.0, "cpu_count": 2, "speed_ms": [speed - 1, speed + 1]}
            (folder / "stage.json").write_text(json.dumps({"host": host}))
    r, n = noise.speed_and_throughput(tmp_path, ["legacy", "cache"])
    assert n == 6 and r < -0.9
    said = noise.caveats(SimpleNamespace(path=tmp_path, stages=["legacy", "cache"]))
    assert any("6 windows" in line and "correlate at r = -1.00" in line for line in said)
    # A stage whose box was not full is left out: its throughput was not set by the CPU.
    repeat(tmp_path / "spare" / "r1", 0.05, 100)
    repeat(tmp_path / "spare" / "r2", 0.05, 900)
    assert noise.speed_and_throughput(tmp_path, ["spare"]) is None
