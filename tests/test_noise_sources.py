"""Each ⚠ figure sorted by the source its own run measured (benchmarks/results/noise_sources.py)."""

from __future__ import annotations

import json
import statistics
from types import SimpleNamespace

import pandas as pd

from benchmarks.measure import latency
from benchmarks.results import noise_sources as ns
from benchmarks.results.catalog import DOWNLOAD, E2E_CSV
from tests.test_noise import mail_rows, repeat


class Run:
    """The parts of analysis.Run the sorting reads: figures per repeat, mails, the folder."""

    def __init__(self, path, rows, mails=None, stages=()):
        self.path, self.stages = path, list(stages)
        columns = ["stage", "repeat", "endpoint", "metric", "value"]
        self.figures = pd.DataFrame(rows, columns=columns)
        self.mails = pd.DataFrame() if mails is None else mails

    def values(self, stage, metric, endpoint=""):
        f = self.figures
        pick = (f["stage"] == stage) & (f["endpoint"] == endpoint) & (f["metric"] == metric)
        return f[pick]["value"].tolist()

    def stat(self, stage, metric, endpoint=""):
        return SimpleNamespace(median=statistics.median(self.values(stage, metric, endpoint)))


def per_repeat(stage, endpoint, metric, values):
    return [(stage, k, endpoint, metric, v) for k, v in enumerate(values, start=1)]


def test_a_rate_over_few_trials_is_sampling_noise_and_one_over_many_is_not(tmp_path):
    rows = (
        # async-reports: ~75 downloads a repeat, half of them fail: one repeat's binomial
        # interval alone spans 0.38-0.62, far wider than 25 % of the rate.
        per_repeat("async-reports", DOWNLOAD, "requests", [73, 75, 80])
        + per_repeat("async-reports", "", "download_success", [34.2, 51.3, 62.3])
        # ...and 0.6 % failures of 5,800 requests: 35 failures, their interval 0.4-0.8 %.
        + per_repeat("async-reports", "", "http_requests", [5800, 5900, 6000])
        + per_repeat("async-reports", "", "failure_rate", [0.8, 0.6, 0.5])
        # load-balanced: 40 % of 3,000 requests: the interval is 37-42 %: sampling cannot
        # spread it to 57 %, something else did.
        + per_repeat("load-balanced", "", "http_requests", [3000, 5800, 3100])
        + per_repeat("load-balanced", "", "auth_failure_rate", [40.4, 56.7, 40.1])
    )
    run = Run(tmp_path, rows)
    assert ns.few_trials(run, "async-reports", "download_success")
    assert ns.few_trials(run, "async-reports", "failure_rate")
    assert not ns.few_trials(run, "load-balanced", "auth_failure_rate")
    assert not ns.few_trials(run, "async-reports", "throughput")  # not a rate of trials


def test_every_spread_figure_is_counted_under_its_source_and_the_rest_are_named(tmp_path):
    repeat(tmp_path / "async-mail" / "r1", 0.249, 1000)  # full boxes: the machine's speed
    repeat(tmp_path / "async-mail" / "r2", 0.250, 750)
    rows = (
        per_repeat("cache", "GET /top", "requests", [90, 110])  # its p99: the 1-2 slowest
        + per_repeat("async-reports", DOWNLOAD, "requests", [73, 80])
        + per_repeat("async-reports", "", "download_success", [34.2, 62.3])
        + per_repeat("load-balanced", "", "http_requests", [3000, 5800])
        + per_repeat("load-balanced", "", "auth_failure_rate", [40.4, 56.7])
        + per_repeat("external-storage", "POST /r", "requests", [5000, 5000])
    )
    mails = pd.DataFrame(mail_rows("cache", [1000, 2000, 4000]),
                         columns=["stage", "repeat", "kind", "t", "lag_ms"])  # fmt: skip
    run = Run(tmp_path, rows, mails, stages=["async-mail", "cache"])
    cells = [
        ("cache", "GET /top", "p99", "key p99"),
        ("async-reports", "", "download_success", "downloads ok"),
        ("cache", "", "review_lag_p50", "mail lag p50"),
        ("async-mail", "", "ok_throughput", "successful"),
        ("load-balanced", "", "auth_failure_rate", "auth failures"),
        ("external-storage", "POST /r", "alone_p50", "key p50 alone"),
    ]
    said = ns.sorted_by_source(run, cells)
    assert said.startswith("Where the 6 ⚠ figures' spread comes from")
    assert "1 tail percentiles resting on fewer than 10 requests per repeat" in said
    assert "1 rates counted over so few trials" in said
    assert "1 waits in mail queues that kept growing (mail lags, report times)" in said
    assert "1 throughputs of app boxes full at their CPU budget" in said
    assert "not attributed: load-balanced auth failures, external-storage key p50 alone" in said
    # The same p99 over 5,000 requests (50 beyond it) has no thin tail to blame.
    thick = ("external-storage", "POST /r", "p99", "key p99")
    assert "not attributed: external-storage key p99" in ns.sorted_by_source(run, [thick])
    assert ns.sorted_by_source(run, []) is None


def test_a_run_whose_every_spread_is_explained_says_so(tmp_path):
    run = Run(tmp_path, per_repeat("cache", "GET /top", "requests", [90, 110]))
    said = ns.sorted_by_source(run, [("cache", "GET /top", "p99", "key p99")])
    assert said.endswith("none left unattributed.")


def test_a_latency_is_put_on_the_machine_only_where_its_speed_loop_moved(tmp_path):
    for stage, loops in (("async-mail", ([14.8, 15.0], [16.3, 25.1])),  # 14.8 -> 25.1 ms
                         ("cache", ([14.8, 15.0], [15.2, 15.9]))):  # steady  # fmt: skip
        for k, speed in enumerate(loops, start=1):
            folder = tmp_path / stage / f"r{k}"
            folder.mkdir(parents=True)
            host = {"busy_pct": 40.0, "cpu_count": 2, "speed_ms": speed}
            (folder / "stage.json").write_text(json.dumps({"host": host}))
    run = Run(tmp_path, per_repeat("cache", "POST /r", "requests", [5000, 5000]))
    assert ns.source(run, "async-mail", "POST /r", "alone_p50", set()) == "machine"
    assert ns.source(run, "cache", "POST /r", "alone_p50", set()) is None
    # A rate is no latency: the machine's speed is not said for it.
    assert ns.source(run, "async-mail", "", "download_success", set()) is None
    # A throughput of boxes not full (no cpu.json says they were) is the machine's too.
    assert ns.source(run, "async-mail", "", "throughput", set()) == "machine"
    assert ns.source(run, "cache", "", "throughput", set()) is None
    said = ns.sorted_by_source(run, [("async-mail", "POST /r", "p50", "key p50")])
    assert "1 latencies, throughputs or capacities measured at machine speeds" in said
    assert "more than 25% apart" in said and said.endswith("none left unattributed.")
    # Samples jumping inside each window do not count: windows whose medians agree are steady.
    for k in (1, 2):
        folder = tmp_path / "cache" / f"r{k}"
        host = {"busy_pct": 40.0, "cpu_count": 2, "speed_ms": [15.0, 15.0],
                "speed_ms_during": [12.0, 15.0, 30.0]}  # fmt: skip
        (folder / "stage.json").write_text(json.dumps({"host": host}))
    assert ns.source(run, "cache", "POST /r", "alone_p50", set()) is None


def test_a_figure_alone_is_put_on_the_speed_around_its_probe_not_its_window(tmp_path):
    """The probe runs before the window: its repeats' loop timed around it decides for the
    figures alone (one run's async-mail POST alone spread 1.9-4.1 ms, its windows steady)."""

    def stage(name, windows, probes):
        for k, (window, probe) in enumerate(zip(windows, probes, strict=True), start=1):
            folder = tmp_path / name / f"r{k}"
            folder.mkdir(parents=True)
            info = {"host": {"busy_pct": 40.0, "cpu_count": 2, "speed_ms": window}}
            if probe:
                info["probe_speed_ms"] = probe
            (folder / "stage.json").write_text(json.dumps(info))

    steady, moved = ([15.0, 15.2], [15.1, 15.3]), ([15.0, 15.2], [24.0, 26.0])
    stage("async-mail", steady, moved)  # the windows steady, the probes 15 -> 25 ms
    stage("cache", moved, steady)  # the windows moved, the probes steady
    stage("token-auth", moved, (None, None))  # a run from before the probe was timed
    run = Run(tmp_path, per_repeat("cache", "POST /r", "requests", [5000, 5000]))
    assert ns.source(run, "async-mail", "POST /r", "alone_p50", set()) == "machine"
    assert ns.source(run, "async-mail", "POST /r", "alone_p95", set()) == "machine"
    assert ns.source(run, "async-mail", "POST /r", "p50", set()) is None  # its window: steady
    assert ns.source(run, "cache", "POST /r", "alone_p50", set()) is None
    assert ns.source(run, "cache", "POST /r", "p50", set()) == "machine"
    assert ns.source(run, "token-auth", "POST /r", "alone_p50", set()) == "machine"  # windows'
    said = ns.sorted_by_source(run, [("async-mail", "POST /r", "alone_p50", "key p50 alone")])
    assert "each probe for a figure alone" in said and said.endswith("none left unattributed.")


def test_a_figure_alone_is_put_on_the_speed_around_its_own_samples_where_they_were_timed(tmp_path):
    """Around the whole probe the loop moved 23 -> 38 ms in one repeat of the reference (20261208-
    025240), so its mean hid where the top-10's own second fell: each endpoint's samples are timed
    too (probe.json), and they decide where every repeat has them."""

    def stage(name, whole, own):
        for k, (around, mine) in enumerate(zip(whole, own, strict=True), start=1):
            folder = tmp_path / name / f"r{k}"
            folder.mkdir(parents=True)
            host = {"busy_pct": 40.0, "cpu_count": 2, "speed_ms": [15.0, 15.0]}
            info = {"host": host, "probe_speed_ms": around}
            (folder / "stage.json").write_text(json.dumps(info))
            if mine is not None:
                probe = {"GET /top": {"ms": [4.5], "speed_ms": mine}, "GET /x": {"ms": [2.0]}}
                (folder / "probe.json").write_text(json.dumps(probe))

    # The reference's cache: the means around the whole probe 28, 31 and 35 ms (23 % apart).
    whole = ([32.8, 23.3], [22.8, 38.4], [32.1, 38.4])
    stage("cache", whole, ([23.0, 23.4], [29.0, 30.0], [38.0, 38.4]))  # its own: 23 -> 38 ms
    stage("async-mail", ([15.0, 15.0], [24.0, 26.0]), ([15.0, 15.2], [15.1, 15.3]))  # steady
    stage("token-auth", whole, (None, None, None))  # from before the samples were timed
    run = Run(tmp_path, per_repeat("cache", "GET /top", "requests", [5000] * 3))
    assert ns.source(run, "cache", "GET /top", "alone_p50", set()) == "machine"
    assert ns.source(run, "async-mail", "GET /top", "alone_p50", set()) is None
    assert ns.source(run, "token-auth", "GET /top", "alone_p50", set()) is None  # 23 %: under
    # An endpoint some repeat did not time on its own is judged around the whole probe.
    assert ns.probe_speeds(tmp_path, "async-mail", "GET /x") == [15.0, 25.0]
    assert ns.probe_speeds(tmp_path, "async-mail", "GET /top") == [15.1, 15.2]


def latency_json(folder, endpoint, ms_values):
    """A repeat's latency.json with one request name's exact histogram (measure/latency.py)."""
    hist = latency.new_histogram()
    for ms in ms_values:
        latency.record(hist, ms)
    folder.mkdir(parents=True, exist_ok=True)
    entry = {"count": len(ms_values), "hdr": hist.encode().decode("ascii")}
    (folder / "latency.json").write_text(json.dumps({endpoint: entry}))
    (folder / "locust_stats.csv").write_text("")  # what marks a folder as a measured repeat


def test_a_percentile_on_the_edge_between_two_heaps_is_said_and_one_inside_a_heap_is_not(tmp_path):
    # cache: 45 % of the requests ran within the quota (~10 ms), the rest waited out the period
    # (~80 ms): the p50 sits on the edge. token-auth: one heap, p45-p55 close together.
    ran, waited = [10.0 + i / 10 for i in range(45)], [80.0 + i / 10 for i in range(55)]
    latency_json(tmp_path / "cache" / "r1", "GET /top", ran + waited)
    latency_json(tmp_path / "cache" / "r2", "GET /top", [10.0 + i / 10 for i in range(100)])
    latency_json(tmp_path / "token-auth" / "r1", "GET /top", [1400.0 + i for i in range(100)])
    run = Run(tmp_path, per_repeat("cache", "GET /top", "requests", [5000, 5000]))
    assert ns.source(run, "cache", "GET /top", "p50", set()) == "edge"  # in one repeat of two
    assert ns.source(run, "token-auth", "GET /top", "p50", set()) is None
    assert ns.source(run, "cache", "GET /top", "p99", set()) is None  # p99: not an edge rule
    assert ns.source(run, "cache", "GET /other", "p50", set()) is None  # no histogram, no claim
    said = ns.sorted_by_source(run, [("cache", "GET /top", "p50", "key p50")])
    assert "1 percentiles on an edge between two heaps of requests" in said
    assert "5 percentile points either side of them are 2x apart" in said


def test_heaps_closer_than_the_edge_ratio_are_an_edge_where_nothing_lies_between_them(tmp_path):
    # async-mail: requests that waited out two periods (~200 ms) or three (~300 ms), 1.4x apart,
    # nothing between them. token-auth: as wide a stretch (log-even, 10-1000 ms) with no gap.
    two, three = [200.0 + i / 10 for i in range(45)], [290.0 + i / 10 for i in range(55)]
    latency_json(tmp_path / "async-mail" / "r1", "POST /review", two + three)
    spread = [10 * 1.0476**i for i in range(100)]
    latency_json(tmp_path / "token-auth" / "r1", "POST /review", spread)
    run = Run(tmp_path, per_repeat("async-mail", "POST /review", "requests", [5000]))
    assert ns.source(run, "async-mail", "POST /review", "p50", set()) == "edge"
    assert ns.source(run, "token-auth", "POST /review", "p50", set()) is None
    said = ns.sorted_by_source(run, [("async-mail", "POST /review", "p50", "key p50")])
    assert "or 25% apart with no request in 60% of the way between" in said


def test_a_mail_lag_between_heaps_of_whole_periods_is_an_edge(tmp_path):
    # legacy sends its mail inside a full box's request: its lags fall in heaps at ~200 and
    # ~300 ms (periods waited), and the p50 lies between them in repeat 2. async-mail: the lags
    # spread evenly over as wide a stretch, no gap.
    def mails(stage, k, lags):
        return [(stage, k, "review", i / 10, lag) for i, lag in enumerate(lags)]

    heaps = [200.0 + i / 10 for i in range(45)] + [295.0 + i / 10 for i in range(55)]
    rows = (
        mails("legacy", 1, [200.0 + i / 10 for i in range(100)])
        + mails("legacy", 2, heaps)
        + mails("async-mail", 1, [150.0 + 2 * i for i in range(100)])
        + [("legacy", 2, "report", 0.0, 250.0)] * 50  # report mails are not review lags
    )
    frame = pd.DataFrame(rows, columns=["stage", "repeat", "kind", "t", "lag_ms"])
    run = Run(tmp_path, [], mails=frame)
    assert ns.on_an_edge(run, "legacy", "", "review_lag_p50")
    assert not ns.on_an_edge(run, "async-mail", "", "review_lag_p50")
    assert not ns.on_an_edge(run, "legacy", "", "review_lag_p99")  # p99: not an edge rule
    assert ns.source(run, "legacy", "", "review_lag_p50", set()) == "edge"


def test_a_report_time_in_a_growing_queue_is_the_queue(tmp_path):
    run = Run(tmp_path, per_repeat("async-reports", E2E_CSV, "requests", [5000, 5000]))
    grew = {"async-reports"}
    assert ns.source(run, "async-reports", E2E_CSV, "p50", grew) == "queue"
    assert ns.source(run, "async-reports", E2E_CSV, "p50", set()) is None


def test_capacities_one_ladder_step_apart_are_the_ladder_and_farther_ones_are_not(tmp_path):
    rows = (
        per_repeat("async-reports", "", "capacity_at_slo", [80.0, 160.0, 160.0])  # one step
        + per_repeat("external-storage", "", "capacity_at_slo", [0.0, 10.0, 10.0])  # 0 is a step
        + per_repeat("cache", "", "capacity_at_slo", [40.0, 160.0, 160.0])  # two steps apart
        + per_repeat("token-auth", "", "capacity_at_slo", [40.0, 80.0, 160.0])  # three values
    )
    run = Run(tmp_path, rows)
    run.meta = {"settings": {"ladder": {"rates": [10.0, 20.0, 40.0, 80.0, 160.0]}}}
    assert ns.one_step(run, "async-reports")
    assert ns.one_step(run, "external-storage")
    assert not ns.one_step(run, "cache")
    assert not ns.one_step(run, "token-auth")
    cells = [(stage, "", "capacity_at_slo", "capacity at SLO")
             for stage in ("async-reports", "cache")]  # fmt: skip
    said = ns.sorted_by_source(run, cells)
    assert "1 capacities at SLO one step of the ladder apart" in said
    assert said.endswith("not attributed: cache capacity at SLO.")
    # A run whose ladder is not recorded blames nothing on it.
    run.meta = {}
    assert not ns.one_step(run, "async-reports")


def test_a_capacity_is_put_on_the_machine_by_the_speed_inside_its_ladders_only(tmp_path):
    """Capacities two steps apart (115, 160, 115 req/s) are the machine's where the loop timed
    inside the ladders moved, not where only the windows' did: the ladder runs after them."""

    def stage(name, windows, ladders):
        for k, (window, inside) in enumerate(zip(windows, ladders, strict=True), start=1):
            folder = tmp_path / name / f"r{k}"
            folder.mkdir(parents=True)
            info = {"host": {"busy_pct": 40.0, "cpu_count": 2, "speed_ms": window},
                    "ladder": {"host": {"busy_pct": 40.0}}}  # fmt: skip
            if inside:
                info["ladder"]["host"]["speed_ms_during"] = inside
            (folder / "stage.json").write_text(json.dumps(info))

    steady, fast = [15.0, 15.2], [23.0, 24.0]
    stage("external-storage", (steady,) * 3, ([23.0, 24.1, 22.8], [15.9, 16.4], [23.5, 23.1]))
    stage("cache", (steady, fast, steady), ([20.0, 21.0], [20.5, 20.4], [21.0, 20.0]))
    stage("async-reports", (steady, fast, steady), (None, None, None))  # before ladders were timed
    rates = [10.0, 20.0, 40.0, 80.0, 95.0, 115.0, 135.0, 160.0]
    rows = [row for name in ("external-storage", "cache", "async-reports")
            for row in per_repeat(name, "", "capacity_at_slo", [115.0, 160.0, 115.0])]  # fmt: skip
    run = Run(tmp_path, rows)
    run.meta = {"settings": {"ladder": {"rates": rates}}}
    assert ns.source(run, "external-storage", "", "capacity_at_slo", set()) == "machine"
    assert ns.source(run, "cache", "", "capacity_at_slo", set()) is None  # only its windows moved
    assert ns.source(run, "async-reports", "", "capacity_at_slo", set()) is None
    cells = [(name, "", "capacity_at_slo", "capacity at SLO")
             for name in ("external-storage", "cache")]  # fmt: skip
    said = ns.sorted_by_source(run, cells)
    assert "inside each ladder for a capacity" in said
    assert said.endswith("not attributed: cache capacity at SLO.")


def _timing(folder, endpoint, p50s):
    folder.mkdir(parents=True, exist_ok=True)
    parts = {name: {"mean_ms": ms, "p50_ms": ms, "requests": 100} for name, ms in p50s.items()}
    (folder / "timing.json").write_text(json.dumps({endpoint: parts}))


def test_a_latency_whose_own_time_in_the_app_moved_is_put_on_the_app(tmp_path):
    top = "GET /api/specialists/highest_rated"
    # The committed reference's cache: time in the app 1.6, 1.7, 4.0 ms; p50 7.8, 6.2, 17 ms.
    for k, cache_ms in enumerate([1.44, 1.6, 3.84], start=1):
        _timing(tmp_path / "cache" / f"r{k}", top, {"app": 0.13, "cache": cache_ms, "db": 0.0})
    # token-auth: the app's time steady (1,400 ms) while the latency under load moved.
    for k, db_ms in enumerate([1400.0, 1390.0, 1410.0], start=1):
        _timing(tmp_path / "token-auth" / f"r{k}", top, {"db": db_ms})
    # async-mail: the app's time doubled, but by 0.5 ms against a figure that moved 95 ms.
    for k, ms in enumerate([0.5, 1.0, 0.6], start=1):
        _timing(tmp_path / "async-mail" / f"r{k}", "POST /r", {"db": ms})
    rows = (
        per_repeat("cache", top, "p50", [7.8, 6.2, 17.2])
        + per_repeat("token-auth", top, "p50", [2300.0, 2400.0, 3100.0])
        + per_repeat("async-mail", "POST /r", "p50", [201.0, 296.0, 209.0])
    )
    run = Run(tmp_path, rows)
    assert ns.app_time_moved(run, "cache", top, "p50")
    assert not ns.app_time_moved(run, "token-auth", top, "p50")
    assert not ns.app_time_moved(run, "async-mail", "POST /r", "p50")
    said = ns.sorted_by_source(run, [("cache", top, "p50", "key p50")])
    assert "1 latencies under load whose request's own time in the app" in said
    # A figure alone is the probe's, not the window's: its timing.json does not speak for it.
    assert ns.source(run, "cache", top, "alone_p50", set()) is None
    # A repeat with no record of the app's time: nothing is said.
    (tmp_path / "cache" / "r2" / "timing.json").unlink()
    assert not ns.app_time_moved(run, "cache", top, "p50")
