"""The check (benchmarks/results/check.py) on the doctored fixture run: every expected effect,
when it holds and when it is missing, the three outcomes and their exit codes, the gate on
unmeasured stages, and a mutation check proving these tests notice a threshold made vacuous or
impossible."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.measure import ladder, latency
from benchmarks.results import analysis as an
from benchmarks.results import check

RUN = Path(__file__).parent / "fixtures" / "runs" / "20260101-120000-abc1234"

# The fixture's external-storage latency.json (exact latencies, 5 s slices of a 30 s window).
REPORT_MS = [8, 9, 7, 8, 10, 8, 12, 9, 20, 25]
DOWNLOAD_MS = [12, 11, 13, 12, 14, 12, 30, 12, 40, 12]


def write_latency(folder: Path, requests: dict[str, list[float]], failed: int = 0) -> None:
    """Write folder/latency.json with the real Recorder: requests spread evenly over 30 s.

    The first `failed` requests of GET report download fail (a 404 as in async-reports).
    """
    now = [0.0]
    rec = latency.Recorder(str(folder / "latency.json"), 5.0, clock=lambda: now[0])
    rec.on_start()
    for name, times in requests.items():
        for i, ms in enumerate(times):
            now[0] = 30 * (i + 0.5) / len(times)
            error = Exception("status 404") if name == an.DOWNLOAD and i < failed else None
            rec.on_request(name=name, response_time=ms, exception=error)
    now[0] = 30.0
    rec.on_stop()


# The fixture's ladders (ladder.json in every stage and repeat): the rate each stage holds to.
LADDER_RATES = (10, 20, 40, 80, 160, 320)
HOLDS_TO = {"legacy": 40, "async-mail": 80, "load-balanced": 20, "token-auth": 80, "cache": 320,
            "async-reports": 20, "external-storage": 160}  # fmt: skip


def write_ladder(folder: Path, holds_to: float, step_s: float = 60.0) -> None:
    """Write folder/ladder.json: p99 20 ms up to `holds_to` req/s, then 10 % of answers at 900 ms.

    Built with the real ladder.Recorder (its steps' histograms and figures), step_s per rate.
    """
    rec = ladder.Recorder()
    for i, rate in enumerate(LADDER_RATES):
        step = rec.begin(rate, 100.0 * i, step_s)
        n = int(rate * step_s)
        for j in range(n):
            rec.scheduled(step)
            slow = rate > holds_to and j % 10 == 0
            rec.on_request(900.0 if slow else 20.0, 100.0 * i + j / rate,
                           context={"ladder": (step, 100.0 * i + j / rate)})  # fmt: skip
    (folder / "ladder.json").write_text(json.dumps(rec.points(), indent=1))


def copy_run(tmp_path: Path) -> Path:
    return Path(shutil.copytree(RUN, tmp_path / RUN.name))


def set_cells(path: Path, name: str, **cells) -> None:
    """Set columns of every row of a Locust CSV whose Name is `name` (stats or history)."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row.get("Name") == name:
            row.update({k.replace("pct", "%"): str(v) for k, v in cells.items()})
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def set_latency(run: Path, stage: str, name: str, column: str, value) -> None:
    """Doctor a percentile of a request name in both the stats and the history CSV."""
    for file in ("locust_stats.csv", "locust_stats_history.csv"):
        set_cells(run / stage / "r1" / file, name, **{column: value})


def outcomes(run: Path | an.Run) -> dict[tuple[str, str], str]:
    """Return {(stage, says): status} of every expectation that applies to the run (the budget
    effects are "n/a" in the fixture, a run without budgets: tested at the end)."""
    found = check.check_run(run if isinstance(run, an.Run) else an.load_run(run))
    return {
        (o.expectation.stage, o.expectation.says): o.status
        for o in found
        if o.expectation and o.status != "n/a"
    }


def key(e: check.Expectation) -> tuple[str, str]:
    return (e.stage, e.says)


# --- how to break each expected effect in a copy of the fixture -------------------------------


def slow_async_mail(run):
    # Judged alone (probe.json): mail sent in the request again, 80 ms against legacy's 110.
    path = run / "async-mail/r1/probe.json"
    probe = json.loads(path.read_text())
    probe[an.POST_REVIEW]["ms"] = [m * 10 for m in probe[an.POST_REVIEW]["ms"]]
    path.write_text(json.dumps(probe))


def no_login_breakage(run):
    (run / "load-balanced/r1/locust_failures.csv").write_text(
        "Method,Name,Error,Occurrences,First Seen,Last Seen\n"
    )


def auth_failures_in_token_auth(run):
    with (run / "token-auth/r1/locust_failures.csv").open("a", newline="") as f:
        csv.writer(f).writerow(["GET", an.LIST, "CatchResponseError('auth: 401')", 3, "", ""])


def slow_cache_under_load(run):
    set_latency(run, "cache", an.HIGHEST_RATED, "50%", 500)  # token-auth's 1,400: not 100x


def slow_cache_alone(run):
    probe = {an.HIGHEST_RATED: {"ms": [300.0, 310.0, 305.0, 299.0, 301.0], "non_2xx": 0}}
    (run / "cache/r1/probe.json").write_text(json.dumps(probe))


def downloads_all_work_in_async_reports(run):
    set_cells(run / "async-reports/r1/locust_stats.csv", an.DOWNLOAD, **{"Failure Count": 0})


def downloads_fail_in_external_storage(run):
    set_cells(run / "external-storage/r1/locust_stats.csv", an.DOWNLOAD, **{"Failure Count": 3})
    write_latency(
        run / "external-storage/r1",
        {an.POST_REPORTS: REPORT_MS, an.DOWNLOAD: DOWNLOAD_MS},
        failed=3,
    )


def slow_reports(run, stage):
    # Judged alone (probe.json, one request at a time): a report built in the request is slow.
    path = run / stage / "r1/probe.json"
    probe = json.loads(path.read_text())
    probe[an.POST_REPORTS]["ms"] = [m * 10 for m in probe[an.POST_REPORTS]["ms"]]
    path.write_text(json.dumps(probe))


def slow_reports_in_async_reports(run):
    slow_reports(run, "async-reports")


def slow_reports_in_external_storage(run):
    slow_reports(run, "external-storage")


def ladders(run, **holds_to):
    for stage, cap in holds_to.items():
        for folder in sorted((run / stage).glob("r*")):
            write_ladder(folder, cap)


def async_mail_takes_less_than_legacy(run):
    ladders(run, **{"async-mail": 10})  # legacy holds 40


def token_auth_takes_less_than_load_balanced(run):
    ladders(run, **{"load-balanced": 160})  # token-auth holds 80


def cache_takes_less_than_token_auth(run):
    ladders(run, cache=20)


def cache_does_not_double_token_auth(run):
    ladders(run, cache=80)  # as much as token-auth (80), not 2x


def external_storage_takes_less_than_async_reports(run):
    ladders(run, **{"async-reports": 320})  # external-storage holds 160


BREAKERS = dict(
    zip(
        [key(e) for e in check.EXPECTATIONS],
        [
            slow_async_mail,
            no_login_breakage,
            auth_failures_in_token_auth,
            slow_cache_under_load,
            slow_cache_alone,
            downloads_all_work_in_async_reports,
            downloads_fail_in_external_storage,
            slow_reports_in_async_reports,
            slow_reports_in_external_storage,
            async_mail_takes_less_than_legacy,
            token_auth_takes_less_than_load_balanced,
            cache_takes_less_than_token_auth,
            external_storage_takes_less_than_async_reports,
            cache_does_not_double_token_auth,
        ],
        strict=True,  # a new expectation needs its breaker here
    )
)
IDS = [f"{s}: {says}" for s, says in BREAKERS]


def test_fixture_holds_every_effect_and_check_exits_0(capsys):
    assert set(outcomes(RUN).values()) == {"pass"}
    assert check.main([str(RUN)]) == 0
    out = capsys.readouterr().out
    assert "PASS  cache:" in out and "95 % CI" in out
    # The report request is judged alone: its interval resamples the probe's requests.
    line = next(x for x in out.splitlines() if x.startswith("PASS  external-storage: the rep"))
    assert "POST /api/reports alone_p95 = 15.77 ms" in line
    assert "(bootstrap over 10 probe requests)" in line


def test_the_check_reads_exact_latencies_where_the_run_has_them(tmp_path, capsys):
    run = copy_run(tmp_path)
    # Exact top-10 latencies in the cache stage: 10 ms, not the CSV's rounded 5 ms.
    write_latency(run / "cache/r1", {an.HIGHEST_RATED: [10.0] * 40})
    assert check.main([str(run)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "top-10 p50 under load" in x)
    assert "p50 = 10.01 ms" in line and "hdr slices" in line, line


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory):
    """The fixture with one effect broken, loaded: built once per effect for the module (the
    mutation check below reads the same broken runs)."""
    built: dict[tuple[str, str], an.Run] = {}

    def _broken(effect: tuple[str, str]) -> an.Run:
        if effect not in built:
            run = copy_run(tmp_path_factory.mktemp("broken"))
            BREAKERS[effect](run)
            built[effect] = an.load_run(run)
        return built[effect]

    return _broken


@pytest.mark.parametrize("effect", list(BREAKERS), ids=IDS)
def test_each_effect_fails_when_missing(effect, broken_run):
    found = outcomes(broken_run(effect))
    assert found[effect] == "fail", found
    others = {k: v for k, v in found.items() if k != effect and v != "pass"}
    # Only the broken effect fails (async-mail's slowdown also makes nothing else fail, etc.),
    # but a cache below token-auth is also below 2x token-auth, necessarily.
    if effect == ("cache", "capacity at SLO at least token-auth's"):
        assert others.pop(("cache", "capacity at SLO at least 2x token-auth's")) == "fail"
    assert not others, others


def test_a_straddling_interval_is_inconclusive_and_exits_3(tmp_path, capsys):
    run = copy_run(tmp_path)
    # Cache top-10 p50 per 10 s slice: 5, 50, 5 ms against token-auth's 1,400 ms: the ratio's
    # interval 0.0036..0.036 straddles the 1/50 threshold.
    history = run / "cache/r1/locust_stats_history.csv"
    with history.open(newline="") as f:
        rows = list(csv.DictReader(f))
    tops = [r for r in rows if r["Name"] == an.HIGHEST_RATED]
    for i, row in enumerate(tops):
        row["50%"] = "50" if i == len(tops) // 2 else "5"
    with history.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert check.main([str(run)]) == 3
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("INCONCLUSIVE  cache: top-10 p50 u"))
    assert "95 % CI 0.003571-0.03571" in line and "straddles" in line


def test_a_failure_beats_inconclusive_exit_1(tmp_path):
    run = copy_run(tmp_path)
    slow_cache_alone(run)
    set_latency(run, "async-reports", an.POST_REPORTS, "95%", 80)
    assert check.main([str(run)]) == 1


def test_stage_named_but_not_measured_fails_with_its_reason(tmp_path, capsys):
    run = copy_run(tmp_path)
    (run / "cache/r1/locust_stats.csv").unlink()
    assert check.main([str(run)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  cache: cache named in the run but not measured (r1 was not measured)" in out
    assert "FAIL  cache: top-10 p50 under load" in out


def test_failed_stage_in_meta_fails(tmp_path, capsys):
    run = copy_run(tmp_path)
    meta = json.loads((run / "meta.json").read_text())
    meta["failed"] = ["legacy r3"]  # r1 and r2 measured, r3 did not start
    (run / "meta.json").write_text(json.dumps(meta))
    assert check.main([str(run)]) == 1
    assert "FAIL  legacy: legacy r3 failed in the bench (meta.json)" in capsys.readouterr().out


def test_stage_never_asked_for_is_skipped_and_exits_3(tmp_path, capsys):
    run = copy_run(tmp_path)
    shutil.rmtree(run / "external-storage")
    meta = json.loads((run / "meta.json").read_text())
    meta["stages"].remove("external-storage")
    (run / "meta.json").write_text(json.dumps(meta))
    assert check.main([str(run)]) == 3  # not green: two effects were not checked
    assert "SKIP  external-storage:" in capsys.readouterr().out


def test_exact_claims_hold_in_every_repeat(tmp_path, capsys):
    run = copy_run(tmp_path)
    auth_failures_in_token_auth(run)
    assert check.main([str(run)]) == 1
    assert "FAIL  token-auth:" in capsys.readouterr().out


@pytest.mark.parametrize("which", ["decide", "exit_code"])
def test_decision_rules(which):
    from benchmarks.results.intervals import Interval

    if which == "decide":
        iv = Interval(2.0, 4.0, 9, "repeats")
        assert check.decide("<", iv, 5) == "pass"
        assert check.decide("<", iv, 4) == "inconclusive"  # hi == threshold: not strictly below
        assert check.decide("<=", iv, 4) == "pass"
        assert check.decide("<=", iv, 1) == "fail"
        assert check.decide(">", iv, 1) == "pass"
        assert check.decide(">", iv, 3) == "inconclusive"
        assert check.decide(">", iv, 4) == "fail"
        assert check.decide("<", Interval(float("nan"), 1.0, 9, "repeats"), 5) == "inconclusive"
    else:
        o = {s: check.Outcome(None, s, "") for s in check.EXIT}
        assert check.exit_code([o["pass"]]) == 0
        assert check.exit_code([o["pass"], o["inconclusive"]]) == 3
        assert check.exit_code([o["skip"]]) == 3
        assert check.exit_code([o["inconclusive"], o["fail"], o["pass"]]) == 1


# --- mutation check: do these tests notice a wrong threshold? ---------------------------------


def loosened(e: check.Expectation) -> check.Expectation:
    """The expectation made (nearly) vacuous: the kind of edit issue 10 found unnoticed."""
    if e.op == "==":
        return replace(e, op=">=", threshold=-1e9)
    if e.op == ">":
        return replace(e, threshold=-1e9)
    if isinstance(e.threshold, check.Rel):
        up = 1e-6 if e.op == ">=" else 1e6  # "at least f x": a tiny f lets anything pass
        return replace(e, threshold=check.Rel(e.threshold.stage, e.threshold.factor * up))
    return replace(e, threshold=e.threshold * 1e6)


def tightened(e: check.Expectation) -> check.Expectation:
    """The expectation made impossible for the fixture's healthy run."""
    if e.op == "==":
        return replace(e, threshold=e.threshold + 1)
    if e.op == ">":
        return replace(e, threshold=1e9)
    if isinstance(e.threshold, check.Rel):
        down = 1e6 if e.op == ">=" else 1e-6
        return replace(e, threshold=check.Rel(e.threshold.stage, e.threshold.factor * down))
    return replace(e, threshold=e.threshold / 1e6)


@pytest.fixture(scope="module")
def healthy() -> an.Run:
    return an.load_run(RUN)


@pytest.mark.parametrize("index", range(len(check.EXPECTATIONS)), ids=IDS)
def test_mutation_each_threshold_change_is_noticed(index, healthy, broken_run):
    original = check.EXPECTATIONS[index]
    broken = broken_run(key(original))
    for mutant, healthy_should, broken_should in (
        (loosened(original), "pass", "pass"),  # the missing effect would go unnoticed...
        (tightened(original), "fail", "fail"),  # ...or the healthy run would fail
    ):
        # check.evaluate is what check_run applies to each expectation in EXPECTATIONS.
        assert check.evaluate(broken, mutant).status == broken_should
        assert check.evaluate(healthy, mutant).status == healthy_should
    # So: test_each_effect_fails_when_missing fails under the loosened threshold, and
    # test_fixture_holds_every_effect_and_check_exits_0 under the tightened one.


# --- capacity at SLO (the open-loop ladder) ----------------------------------------------------


def capacity_line(path: Path, says: str) -> check.Outcome:
    run = an.load_run(path)
    return next(o for o in check.check_run(run) if o.expectation and o.expectation.says == says)


def test_capacity_of_short_steps_is_inconclusive_and_exits_3(tmp_path, capsys):
    path = copy_run(tmp_path)
    # 1 s steps: 10-40 answers a step cannot show that a p99 holds (binomial), so cache's low end
    # is 0 req/s while its point (320) clears 2 x token-auth's 80: the interval straddles it.
    write_ladder(path / "cache/r1", 320, step_s=1.0)
    outcome = capacity_line(path, "capacity at SLO at least 2x token-auth's")
    assert outcome.status == "inconclusive"
    assert "95 % CI 0-320 req/s (binomial per step, 1 ladder(s))" in outcome.detail
    assert check.main([str(path)]) == 3
    assert "INCONCLUSIVE  cache: capacity at SLO at least 2x" in capsys.readouterr().out


def test_capacity_pass_names_both_intervals(capsys):
    outcome = capacity_line(RUN, "capacity at SLO at least 2x token-auth's")
    assert outcome.status == "pass"
    assert outcome.detail == (
        "320 req/s, 95 % CI 320-320 req/s (binomial per step, 1 ladder(s)) vs 2 x token-auth's "
        "80 req/s, 95 % CI 80-80 req/s (binomial per step, 1 ladder(s))"
    )


def test_a_stage_without_ladder_fails_and_no_ladder_runs_skip(tmp_path):
    path = copy_run(tmp_path)
    (path / "cache/r1/ladder.json").unlink()
    outcome = capacity_line(path, "capacity at SLO at least token-auth's")
    assert outcome.status == "fail"
    assert "no ladder (ladder.json) measured in cache" in outcome.detail
    meta = json.loads((path / "meta.json").read_text())
    meta["settings"]["ladder"] = None  # the bench ran with --no-ladder
    (path / "meta.json").write_text(json.dumps(meta))
    assert capacity_line(path, "capacity at SLO at least token-auth's").status == "skip"
    del meta["settings"]["ladder"]  # a run from before the ladder (the committed references)
    (path / "meta.json").write_text(json.dumps(meta))
    outcome = capacity_line(path, "capacity at SLO at least token-auth's")
    assert outcome.status == "n/a" and "before the offered-load ladder" in outcome.detail


def test_neither_holding_the_lowest_rate_is_inconclusive(tmp_path):
    path = copy_run(tmp_path)
    ladders(path, legacy=0, **{"async-mail": 0})
    outcome = capacity_line(path, "capacity at SLO at least legacy's")
    assert outcome.status == "inconclusive"
    assert "neither held even the lowest rate" in outcome.detail


def test_behind_schedule_and_unanswered_steps_break_the_climb(tmp_path):
    from benchmarks.results import ladders as lad

    write_ladder(tmp_path, 320)
    points = json.loads((tmp_path / "ladder.json").read_text())
    points[3]["behind_schedule"] = True  # 80 req/s was not really offered
    assert lad.capacity(points) == 40 and lad.capacity_interval(points) == (40, 40)
    write_ladder(tmp_path, 320)
    points = json.loads((tmp_path / "ladder.json").read_text())
    points[2].update(unanswered=100, failures_pct=4.0)  # 100 of 2,500 never answered
    assert lad.step_verdict(points[2]) == "broken"
    assert lad.capacity_interval(points)[1] == 20


def test_repeats_pool_their_answers_per_rate(tmp_path):
    from benchmarks.results import ladders as lad

    write_ladder(tmp_path, 320, step_s=1.0)  # 320 answers at 320 req/s: too few to be sure
    points = json.loads((tmp_path / "ladder.json").read_text())
    assert lad.capacity_interval(points) == (0, 320)
    assert lad.pooled_interval([points, points]) == (320, 320)  # 640 answers, none late: held
    slower = [{**p, "p99": 900.0} if p["offered_rps"] == 320 else p for p in points]
    assert lad.pooled_interval([points, slower])[0] == 160  # a repeat unlike the other widens it


# --- the effects of CPU budgets ---------------------------------------------------------------


def with_budgets(tmp_path: Path, enforced: bool) -> Path:
    run = copy_run(tmp_path)
    meta = json.loads((run / "meta.json").read_text())
    meta["budgets"] = {
        "asked": True,
        "enforced": enforced,
        "mechanism": "cgroup v1" if enforced else "none",
        "groups": {"app": 0.25},
        "why_not": "no cgroup here",
    }
    (run / "meta.json").write_text(json.dumps(meta))
    return run


def test_budget_effects_are_not_applicable_without_enforced_budgets(tmp_path, capsys):
    assert check.main([str(RUN)]) == 0  # a run from before budgets: named, decides nothing
    out = capsys.readouterr().out
    assert out.count("N/A  ") == 3 and "a run from before budgets" in out
    assert check.main([str(with_budgets(tmp_path, enforced=False))]) == 0
    assert "not enforced in this run (no cgroup here)" in capsys.readouterr().out


def test_budget_effects_are_decided_where_budgets_were_enforced(tmp_path, capsys):
    check.main([str(with_budgets(tmp_path, enforced=True))])
    out = capsys.readouterr().out
    assert "N/A" not in out
    # The fixture: token-auth 48.5 req/s against async-mail's 32.5 (1.49x: below 1.5x), and the
    # scaling curve 32.5 -> 51.7 req/s (1.59x: below 1.7x).
    token = next(x for x in out.splitlines() if "token-auth: with budgets" in x)
    assert token.split()[0] in ("FAIL", "INCONCLUSIVE") and "ratio 1.49" in token
    assert "FAIL  scaling: on the scaling curve" in out and "= 1.59x" in out


def test_budget_effects_pass_when_the_ratios_hold(tmp_path, monkeypatch):
    run = an.load_run(with_budgets(tmp_path, enforced=True))
    easy = tuple(
        replace(e, threshold=check.Rel(e.threshold.stage, 0.5)) for e in check.BUDGET_EXPECTATIONS
    )
    monkeypatch.setattr(check, "BUDGET_EXPECTATIONS", easy)
    monkeypatch.setattr(check, "SCALING_2_OVER_1", 1.5)
    found = {o.expectation.says: o.status for o in check.check_run(run) if o.expectation}
    assert all(found[e.says] == "pass" for e in easy)
    assert check.scaling_outcome(run).status == "pass"


# --- the floor: a request slower than the SLO alone, over 1 % of the arrivals --------------------


def floored(run: Path, stage: str, alone_ms: float = 1700.0, share: float = 1 / 71) -> None:
    """Give each repeat of a stage a probe where the top-10 alone takes alone_ms or more, and a
    ladder whose recorded mix has it at `share` of the arrivals."""
    for folder in sorted((run / stage).glob("r*")):
        path = folder / "probe.json"
        probe = json.loads(path.read_text()) if path.exists() else {}
        probe[an.HIGHEST_RATED] = {"ms": [alone_ms + 40, alone_ms, alone_ms + 90], "non_2xx": 0}
        path.write_text(json.dumps(probe))
        info = json.loads((folder / "stage.json").read_text())
        mix = {an.HIGHEST_RATED: share, "GET /api/specialists": 1 - share}
        info["ladder"] = {**(info.get("ladder") or {}), "mix": mix}
        (folder / "stage.json").write_text(json.dumps(info))


def test_a_floor_makes_both_zero_at_any_rate_and_equal(tmp_path):
    path = copy_run(tmp_path)
    ladders(path, legacy=0, **{"async-mail": 0})  # neither held the lowest rate: undecided
    assert capacity_line(path, "capacity at SLO at least legacy's").status == "inconclusive"
    floored(path, "legacy")
    floored(path, "async-mail", alone_ms=520.0)
    outcome = capacity_line(path, "capacity at SLO at least legacy's")
    assert outcome.status == "pass", outcome.detail
    assert "(both 0 at any rate: equal)" in outcome.detail
    assert (
        "surely 0-0 req/s (GET /api/specialists/highest_rated alone took 520 ms or more and is "
        "1.4 % of the arrivals: the p99 is over the SLO at every rate)"
    ) in outcome.detail


def test_a_floored_predecessor_is_surely_below_a_stage_that_holds(tmp_path):
    path = copy_run(tmp_path)
    cache_does_not_double_token_auth(path)  # cache 80 against token-auth's 80: not 2x
    assert capacity_line(path, "capacity at SLO at least 2x token-auth's").status == "fail"
    floored(path, "token-auth")  # token-auth's 80 was a short step's luck: surely 0
    run = an.load_run(path)
    assert run.stat("token-auth", check.CAPACITY).median == 0  # the figure too, not only its CI
    assert capacity_line(path, "capacity at SLO at least 2x token-auth's").status == "pass"


def test_no_floor_for_a_rare_or_a_fast_request(tmp_path):
    from benchmarks.results import ladders as lad

    path = copy_run(tmp_path)
    folder = path / "token-auth" / "r1"
    floored(path, "token-auth", share=0.009)  # under 1 % of the arrivals: the p99 may hold
    assert lad.floor(folder) is None
    floored(path, "token-auth", alone_ms=480.0)  # under the SLO alone: load decides
    assert lad.floor(folder) is None
    floored(path, "token-auth", alone_ms=480.0)
    assert lad.floor(folder, slo_ms=400.0) == (an.HIGHEST_RATED, 480.0, 1 / 71)
    assert capacity_line(path, "capacity at SLO at least 2x token-auth's").status == "pass"


def test_a_short_steps_outlier_does_not_undercut_a_surely_held_higher_rate():
    """One slow answer in 20 at 10 req/s (the cache's entry recomputed, once per TTL) puts that
    step's p99 over the SLO; 400 answers at 80 req/s with none over say 80 held, and by the
    monotonic assumption so did 10: the capacity is 80, as its interval says."""
    from benchmarks.results import ladders as lad

    rec = ladder.Recorder()
    for i, (rate, seconds) in enumerate(((10, 2.0), (80, 5.0))):
        step = rec.begin(rate, 100.0 * i, seconds)
        for j in range(int(rate * seconds)):
            rec.scheduled(step)
            sent = 100.0 * i + j / rate
            ms = 2600.0 if (rate == 10 and j == 3) else 20.0
            rec.on_request(ms, sent, context={"ladder": (step, sent)})
    points = rec.points()
    assert lad.step_verdict(points[1]) == "held"
    assert lad.capacity(points) == 80 and lad.capacity_interval(points) == (80, 80)


def write_rates(folder: Path, rates: list[float], slice_s: float = 5.0) -> None:
    """Write folder/latency.json: `rates[i]` successful req/s in the window's i-th slice."""
    now = [0.0]
    rec = latency.Recorder(str(folder / "latency.json"), slice_s, clock=lambda: now[0])
    rec.on_start()
    for i, rate in enumerate(rates):
        n = round(rate * slice_s)
        for j in range(n):
            now[0] = slice_s * (i + (j + 0.5) / n)
            rec.on_request(name="GET /api/specialists", response_time=10.0, exception=None)
    now[0] = slice_s * len(rates)
    rec.on_stop()


def default_curve(tmp_path: Path, one: list[float], two: list[float]) -> an.Run:
    """The default bench's curve: scaling/1 measured, the cache's own run (2 replicas) the
    2-replica point; each window's slices at the given rates, the machine's speed recorded."""
    run = with_budgets(tmp_path, enforced=True)
    for n in (2, 3, 4):
        shutil.rmtree(run / "scaling" / str(n))
    meta = json.loads((run / "meta.json").read_text())
    meta.setdefault("settings", {})["scaling_stage"] = "cache"
    (run / "meta.json").write_text(json.dumps(meta))
    for folder, rates, speed in ((run / "scaling/1/r1", one, [15.3, 15.6]),
                                 (run / "cache/r1", two, [15.4, 19.0])):  # fmt: skip
        write_rates(folder, rates)
        info = json.loads((folder / "stage.json").read_text())
        info.update(replicas=2 if folder.parent.name == "cache" else 1)
        info["host"] = {"busy_pct": 50.0, "cpu_count": 2, "speed_ms": speed}
        (folder / "stage.json").write_text(json.dumps(info))
    return an.load_run(run)


@pytest.mark.parametrize(
    ("two", "status"),
    [
        ([250, 245, 255, 250, 248], "pass"),  # 2.5x, tight
        ([120, 125, 118, 122, 121], "fail"),  # 1.2x, tight
        ([150, 230, 160, 240, 155], "inconclusive"),  # 1.9x, but the slices spread around 1.7x
    ],
)
def test_the_scaling_effect_is_decided_on_its_interval(tmp_path, two, status):
    run = default_curve(tmp_path, [100, 101, 99, 100, 100], two)
    outcome = check.scaling_outcome(run)
    assert outcome.status == status, outcome.detail
    assert "95 % CI" in outcome.detail and "bootstrap over 5 hdr slices" in outcome.detail
    # Each point's window beside the machine's speed, so a drifting VM is visible in the line.
    assert "by replicas: 1: 15.3–15.6 ms, 2: 15.4–19.0 ms" in outcome.detail


@pytest.mark.parametrize(("asked", "status"), [([1, 3, 4], "skip"), ([1, 2, 3, 4], "fail")])
def test_a_curve_without_its_2_replica_point_skips_unless_it_was_asked_for(tmp_path, asked, status):
    run = with_budgets(tmp_path, enforced=True)
    shutil.rmtree(run / "scaling" / "2")  # the fixture's cache stage run is at 1 replica
    meta = json.loads((run / "meta.json").read_text())
    meta.setdefault("settings", {}).update(scaling_stage="cache", scaling_replicas=asked)
    (run / "meta.json").write_text(json.dumps(meta))
    outcome = check.scaling_outcome(an.load_run(run))
    assert (
        outcome.status == status and "lacks 1 or 2 replicas (has ['1', '3', '4'])" in outcome.detail
    )


def test_the_scaling_quotient_draws_each_round_for_both_points(tmp_path):
    """Round k measures 1 then 2 replicas back to back; a machine slower in round 2 than in
    round 1 moves both points alike. Drawn apart, rounds 1 and 2 mix (2 replicas of the slow
    round over 1 of the fast one: 1.2x) and the 2.0x of every round looks inconclusive."""
    run = default_curve(tmp_path, [100] * 5, [200] * 5)
    for folder, rates in (("scaling/1", [60] * 5), ("cache", [120] * 5)):
        r2 = run.path / folder / "r2"
        shutil.copytree(run.path / folder / "r1", r2)
        write_rates(r2, rates)
    outcome = check.scaling_outcome(an.load_run(run.path))
    assert outcome.status == "pass", outcome.detail
    assert "95 % CI 2-2 (bootstrap over 2 rounds, each drawn for both sides" in outcome.detail
