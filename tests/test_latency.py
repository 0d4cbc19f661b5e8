"""Exact latencies (measure/latency.py) and their 95 % intervals (results/intervals.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks.measure import latency
from benchmarks.results import analysis as an
from benchmarks.results import intervals as iv

RUN = Path(__file__).parent / "fixtures" / "runs" / "20260101-120000-abc1234"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def recorded(tmp_path: Path, samples: list[tuple[float, str, float, Exception | None]]) -> dict:
    """Run a Recorder over (t, name, ms, error) samples inside a 0..30 s window; return the file."""
    clock = Clock()
    rec = latency.Recorder(str(tmp_path / "latency.json"), 5.0, clock=clock)
    rec.on_request(name="before", response_time=1.0)  # before test_start: not measured
    clock.now = 100.0
    rec.on_start()
    for t, name, ms, error in samples:
        clock.now = 100.0 + t
        rec.on_request(name=name, response_time=ms, exception=error)
    clock.now = 130.0
    rec.on_stop()
    rec.on_request(name="after", response_time=1.0)  # after test_stop: not measured
    return json.loads((tmp_path / "latency.json").read_text())


def test_percentiles_are_exact_to_three_digits(tmp_path):
    rng = np.random.default_rng(1)
    ms = rng.lognormal(np.log(1400), 0.3, 5000)  # token-auth's top-10: about 1.4 s
    data = recorded(tmp_path, [(30 * i / len(ms), "top", v, None) for i, v in enumerate(ms)])
    top = data["top"]
    assert top["count"] == 5000 and set(data) == {"top", latency.WINDOW_KEY}
    for key, q in latency.PERCENTILES.items():
        exact = np.sort(ms)[int(q / 100 * len(ms) + 0.5) - 1]  # the q-th percent of requests
        assert top[key] == pytest.approx(exact, rel=1e-3), key  # Locust: 1,400 +- 50
    assert top["max"] == pytest.approx(ms.max(), rel=1e-3)
    assert latency.figures(latency.decode(top["hdr"]))["p50"] == top["p50"]


def test_slices_failures_and_range(tmp_path):
    auth = Exception("auth: 401 Unauthorized")
    data = recorded(
        tmp_path,
        [(1, "a", 10, None), (2, "a", 0.0001, auth), (7, "a", 5e9, Exception("status 500"))],
    )
    a = data["a"]
    assert (a["count"], a["failures"], a["auth_failures"]) == (3, 2, 1)
    assert a["max"] == pytest.approx(3_600_000, rel=1e-3)  # clamped to 1 h, not dropped
    assert [(s["t"], s["count"], s["auth_failures"]) for s in a["slices"]] == [(0, 2, 1), (5, 1, 0)]
    assert data[latency.WINDOW_KEY] == {"start": 100.0, "stop": 130.0, "slice_s": 5.0}


def test_bad_slice_length_is_refused():
    with pytest.raises(ValueError, match="LAB_SLICE_S must be > 0"):
        latency.Recorder(None, 0)


def test_constant_sample_has_no_width():
    s = iv.Sample((np.array([5.0, 5.0, 5.0]),), iv._median, "repeats")
    assert iv.bootstrap(s) == iv.Interval(5.0, 5.0, 3, "repeats")


def test_interval_covers_the_truth_and_narrows_with_more_slices():
    rng = np.random.default_rng(2)
    small = iv.bootstrap(iv.Sample((rng.normal(100, 10, 10),), iv._median, "slices"))
    large = iv.bootstrap(iv.Sample((rng.normal(100, 10, 200),), iv._median, "slices"))
    assert small.lo < 100 < small.hi and large.lo < 100 < large.hi
    assert large.hi - large.lo < (small.hi - small.lo) / 2
    assert "95 % CI" in small.text("ms") and "(bootstrap over 10 slices)" in small.text()


def test_histogram_sample_pools_slices_like_hdrhistogram(tmp_path):
    rng = np.random.default_rng(3)
    ms = rng.exponential(20, 600)
    data = recorded(tmp_path, [(30 * i / len(ms), "x", v, None) for i, v in enumerate(ms)])
    sample = iv._histogram_sample(data["x"]["slices"], 95.0)
    assert sample.units == 6
    assert sample.value() == pytest.approx(data["x"]["p95"], abs=1e-9)  # the same rule
    interval = iv.bootstrap(sample)
    assert interval.lo < data["x"]["p95"] < interval.hi


def test_quotient_of_two_stages():
    rng = np.random.default_rng(4)
    top = iv.Sample((rng.normal(14, 2, 9),), iv._median, "history slices")
    bottom = iv.Sample((rng.normal(1400, 100, 9),), iv._median, "history slices")
    q = iv.quotient(top, bottom)
    assert q.lo < 0.01 < q.hi and q.kind == "history slices"


def test_older_runs_fall_back_to_history_slices_and_repeats():
    run = an.load_run(RUN)
    # Locust's history percentiles cover the last 10 s: one slice every 10 rows, from the end.
    s = iv.sample(run, "legacy", "p50", an.POST_REVIEW)
    assert s.kind == "history slices" and s.units == 6  # 2 repeats x rows at 10, 20, 30 s
    assert iv.sample(run, "load-balanced", "auth_failure_rate").kind == "repeats"
    assert iv.sample(run, "cache", "alone_p50", an.HIGHEST_RATED).kind == "probe requests"
    assert iv.sample(run, "cache", "p50", "no such request") is None


def test_rates_resample_slices_of_latency_json(tmp_path):
    run_dir = Path(shutil.copytree(RUN, tmp_path / RUN.name))
    folder = run_dir / "external-storage/r1"
    samples = [(t, an.DOWNLOAD, 12.0, Exception("status 404") if t < 10 else None)
               for t in np.arange(0.5, 30, 1.0)]  # fmt: skip
    samples += [(t, an.LIST, 20.0, None) for t in np.arange(0.5, 30, 0.5)]
    shutil.copy(_write(tmp_path, samples), folder / "latency.json")
    run = an.load_run(run_dir)
    s = iv.sample(run, "external-storage", "download_success")
    assert s.kind == "hdr slices" and s.units == 6
    assert s.value() == pytest.approx(100 * 20 / 30)
    assert iv.bootstrap(s).lo < 66.7 < iv.bootstrap(s).hi
    auth = iv.sample(run, "external-storage", "auth_failure_rate")
    assert auth.value() == 0  # the 404s are failures, not auth failures


def _write(tmp_path: Path, samples) -> Path:
    out = tmp_path / "made"
    out.mkdir()
    recorded(out, samples)
    return out / "latency.json"


def test_throughput_slices_and_headline_intervals(tmp_path):
    run_dir = Path(shutil.copytree(RUN, tmp_path / RUN.name))
    samples = [(t, an.LIST, 20.0, None) for t in np.arange(0.25, 30, 0.5)]  # 2 req/s
    samples += [(t, an.E2E_CSV, 900.0, None) for t in np.arange(0.5, 30, 1.0)]  # not HTTP
    shutil.copy(_write(tmp_path, samples), run_dir / "external-storage/r1/latency.json")
    run = an.load_run(run_dir)
    s = iv.sample(run, "external-storage", "throughput")
    assert s.kind == "hdr slices" and s.units == 6 and s.value() == pytest.approx(2.0)
    cells = iv.headline_intervals(run)
    assert cells[("external-storage", "throughput")] == iv.Interval(2.0, 2.0, 6, "hdr slices")
    cache = cells[("cache", "key_p50")]
    assert cache.kind == "history slices" and cache.lo <= 5 <= cache.hi
    one = cells[("load-balanced", "auth_failure_rate")]
    assert one.text("%") == "no interval (one repeat: 25 %)"


def test_a_repeat_unlike_the_others_widens_the_interval_around_the_median_of_repeats():
    # Three repeats of five slices: two near 100 req/s, one near 160. The figure is the median
    # of the repeats' rates (~100); pooling the 15 slices would centre it on ~120 instead.
    rng = np.random.default_rng(5)
    rates = np.concatenate([rng.normal(m, 3, 5) for m in (100, 102, 160)])
    groups = np.repeat([0, 1, 2], 5)
    s = iv.Sample((rates,), iv._mean, "hdr slices", groups)
    assert s.repeats == 3 and s.value() == pytest.approx(np.mean(rates[5:10]))
    ci = iv.bootstrap(s)
    assert ci.lo <= s.value() <= ci.hi and ci.lo < 100 and ci.hi > 150  # the odd one widens it
    assert ci.text() == f"95 % CI {ci.lo:.4g}-{ci.hi:.4g} (bootstrap over 3 repeats and their " \
        "15 hdr slices)"  # fmt: skip
    # The same slices pooled as one repeat: an interval of their mean, which misses the median
    # of repeats it would be shown beside (how intervals were drawn before).
    one = iv.bootstrap(iv.Sample((rates,), iv._mean, "hdr slices"))
    assert one.lo > s.value() and one.hi - one.lo < ci.hi - ci.lo
    # A quotient keeps both levels and holds the quotient of the two medians.
    bottom = iv.Sample((rng.normal(50, 2, 15),), iv._mean, "hdr slices", groups)
    q = iv.quotient(s, bottom)
    assert q.lo <= s.value() / bottom.value() <= q.hi and q.repeats == 3


def test_every_pooled_figure_is_labelled_with_its_repeats():
    run = an.load_run(RUN)
    s = iv.sample(run, "legacy", "p50", an.POST_REVIEW)
    assert s.repeats == 2 and s.units == 6  # each repeat's history slices, labelled
    probes = iv.sample(run, "cache", "alone_p50", an.HIGHEST_RATED)
    per = [v for v in run.values("cache", "alone_p50", an.HIGHEST_RATED)]
    assert probes.repeats == len(per)
    if probes.repeats > 1:
        assert probes.value() == pytest.approx(float(np.median(per)), rel=0.05)
