"""Where the spread comes from, measured (benchmarks/results/noise.py): the CPU per request of a
full app box, said when it moves between repeats."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

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
    for k in ("r1", "r2"):  # a run recorded before the loop: nothing said of it
        (tmp_path / "cache" / k / "stage.json").write_text(json.dumps({"host": {"busy_pct": 1}}))
    said = noise.caveats(SimpleNamespace(path=tmp_path, stages=["cache"]))
    assert not any("fixed CPU loop" in line for line in said)
