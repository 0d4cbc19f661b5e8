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

from benchmarks.measure import latency
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
    """Return {(stage, says): status} of every expectation."""
    found = check.check_run(run if isinstance(run, an.Run) else an.load_run(run))
    return {(o.expectation.stage, o.expectation.says): o.status for o in found if o.expectation}


def key(e: check.Expectation) -> tuple[str, str]:
    return (e.stage, e.says)


# --- how to break each expected effect in a copy of the fixture -------------------------------


def slow_async_mail(run):
    set_latency(run, "async-mail", an.POST_REVIEW, "50%", 100)  # legacy's 135: not 1/3


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


def slow_reports_in_async_reports(run):
    set_latency(run, "async-reports", an.POST_REPORTS, "95%", 80)


def slow_reports_in_external_storage(run):
    # external-storage has latency.json: the check must read the exact latencies, not the CSV.
    write_latency(
        run / "external-storage/r1",
        {an.POST_REPORTS: [m * 10 for m in REPORT_MS], an.DOWNLOAD: DOWNLOAD_MS},
    )


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
    # external-storage has latency.json: its interval comes from the exact histograms.
    line = next(x for x in out.splitlines() if x.startswith("PASS  external-storage: the rep"))
    assert "POST /api/reports p95 = 25.01 ms" in line and "(bootstrap over 6 hdr slices)" in line


@pytest.mark.parametrize("effect", list(BREAKERS), ids=IDS)
def test_each_effect_fails_when_missing(effect, tmp_path):
    run = copy_run(tmp_path)
    BREAKERS[effect](run)
    found = outcomes(run)
    assert found[effect] == "fail", found
    others = {k: v for k, v in found.items() if k != effect and v != "pass"}
    # Only the broken effect fails (async-mail's slowdown also makes nothing else fail, etc.).
    assert not others, others


def test_a_straddling_interval_is_inconclusive_and_exits_3(tmp_path, capsys):
    run = copy_run(tmp_path)
    # Cache top-10 p50 per 10 s slice: 5, 20, 5 ms against token-auth's 1,400 ms: the ratio's
    # interval 0.0036..0.014 straddles the 1/100 threshold.
    history = run / "cache/r1/locust_stats_history.csv"
    with history.open(newline="") as f:
        rows = list(csv.DictReader(f))
    tops = [r for r in rows if r["Name"] == an.HIGHEST_RATED]
    for i, row in enumerate(tops):
        row["50%"] = "20" if i == len(tops) // 2 else "5"
    with history.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert check.main([str(run)]) == 3
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("INCONCLUSIVE  cache: top-10 p50 u"))
    assert "95 % CI 0.003571-0.01429" in line and "straddles" in line


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
        return replace(e, threshold=check.Rel(e.threshold.stage, e.threshold.factor * 1e6))
    return replace(e, threshold=e.threshold * 1e6)


def tightened(e: check.Expectation) -> check.Expectation:
    """The expectation made impossible for the fixture's healthy run."""
    if e.op == "==":
        return replace(e, threshold=e.threshold + 1)
    if e.op == ">":
        return replace(e, threshold=1e9)
    if isinstance(e.threshold, check.Rel):
        return replace(e, threshold=check.Rel(e.threshold.stage, e.threshold.factor / 1e6))
    return replace(e, threshold=e.threshold / 1e6)


@pytest.fixture(scope="module")
def healthy() -> an.Run:
    return an.load_run(RUN)


@pytest.mark.parametrize("index", range(len(check.EXPECTATIONS)), ids=IDS)
def test_mutation_each_threshold_change_is_noticed(index, tmp_path, monkeypatch, healthy):
    original = check.EXPECTATIONS[index]
    path = copy_run(tmp_path)
    BREAKERS[key(original)](path)
    broken = an.load_run(path)
    for mutant, healthy_should, broken_should in (
        (loosened(original), "pass", "pass"),  # the missing effect would go unnoticed...
        (tightened(original), "fail", "fail"),  # ...or the healthy run would fail
    ):
        patched = tuple(mutant if i == index else e for i, e in enumerate(check.EXPECTATIONS))
        monkeypatch.setattr(check, "EXPECTATIONS", patched)
        assert outcomes(broken)[key(original)] == broken_should
        assert outcomes(healthy)[key(original)] == healthy_should
    # So: test_each_effect_fails_when_missing fails under the loosened threshold, and
    # test_fixture_holds_every_effect_and_check_exits_0 under the tightened one.
