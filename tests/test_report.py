"""The report and the check, built from a tiny doctored run folder (tests/fixtures/runs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.results import analysis as an
from benchmarks.results import report
from benchmarks.results.charts import chart_cpu_budget
from benchmarks.results.page import page
from benchmarks.results.summary import warnings

FIXTURE_RESULTS = Path(__file__).parent / "fixtures" / "runs"
RUN_ID = "20260101-120000-abc1234"
RUN = FIXTURE_RESULTS / RUN_ID

CHARTS = [
    "throughput.png",
    "ladder.png",
    "failures.png",
    "queue_lag.png",
    "latency_over_time.png",
    "cpu.png",
    "scaling.png",
    "latency_post_api_login.png",
    "latency_get_api_specialists.png",
    "latency_post_api_specialists_id_reviews.png",
    "latency_get_api_specialists_highest_rated.png",
    "latency_post_api_reports.png",
    "latency_get_report_download.png",
]
WHERE_CHARTS = [  # "Where the time goes" (tests/test_where_time.py)
    "where_post_api_specialists_id_reviews.png",
    "where_get_api_specialists_highest_rated.png",
    "where_post_api_reports.png",
    "where_post_api_login.png",
]


def summary_rows(text: str) -> dict[str, list[str]]:
    """Return the headline table of summary.md as {stage: [cells after the stage]}."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip().strip("*") for c in line.strip().strip("|").split("|")]
        if cells[0] in an.STAGE_ORDER:
            rows[cells[0]] = cells[1:]
    return rows


@pytest.fixture(scope="module")
def built(fixture_report) -> Path:
    """The fixture's page and summary.md; its charts are made but not rendered (the next test
    renders them: ~10 s, so not in the fast loop)."""
    return fixture_report("en", charts=False).parent


@pytest.mark.slow  # renders every chart (~10 s)
def test_report_writes_page_and_every_chart(fixture_report):
    built = fixture_report("en").parent
    assert (built / "index.html").is_file()
    missing = [name for name in CHARTS + WHERE_CHARTS if not (built / name).is_file()]
    assert not missing, f"charts not drawn: {missing}"


def test_page_is_self_contained_and_links_every_chart(built):
    page = (built / "index.html").read_text()
    for name in CHARTS:
        assert f"src='{name}'" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "181 ms → 136 ms" in page and "70 → 112 req/s" in page and "5 s → 90 ms" in page
    assert "Locust used more than 0.8 core in load-balanced (0.90)" in page


def test_the_table_alone_says_how_many_requests_each_endpoint_got(built):
    """The fixture's probes hold 5 and 10 samples an endpoint (a slow one stops early); the page
    said "10 requests" while the bench sent 20, so it counts them from the run."""
    page = (built / "index.html").read_text()
    assert "p50 of 5–10 requests an endpoint, sent one at a time" in page


def test_summary_headline_matches_fixture(built):
    rows = summary_rows((built / "summary.md").read_text())
    cols = ["key"] + [c.name for c in an.HEADLINE_COLUMNS]
    table = {stage: dict(zip(cols, cells, strict=True)) for stage, cells in rows.items()}
    assert list(table) == list(an.STAGE_ORDER)  # every stage, in course order
    # legacy: two repeats -> median [95 % interval]; throughput counts HTTP rows only.
    assert table["legacy"]["throughput"] == "34.1 [32.5–35.7]"
    assert table["legacy"]["key_p50"] == "135 [130–140]"
    # capacity at SLO from each stage's ladder.json (tests/test_check.py's write_ladder).
    assert table["legacy"]["capacity_at_slo"] == "40"
    assert table["cache"]["capacity_at_slo"] == "320"
    # async-mail: 3 mails of 200/300/400 ms lag; the warm-up mail is not counted.
    assert table["async-mail"]["key_p50"] == "30"
    assert table["async-mail"]["lag_p50"] == "300"
    # load-balanced: 225 auth failures / 900 authenticated requests (login excluded).
    assert table["load-balanced"]["auth_failure_rate"] == "25.0"
    assert table["token-auth"]["auth_failure_rate"] == "0"
    assert table["cache"]["key"] == "GET top-10"
    assert table["cache"]["key_p50"] == "5"
    # async-reports: 4 of 10 downloads failed; E2E rows excluded from throughput.
    assert table["async-reports"]["download_success"] == "60.0"
    assert table["async-reports"]["key_p95"] == "20"
    assert table["async-reports"]["report_e2e_p50"] == "1,300"
    # external-storage: exact latencies from its latency.json (HdrHistogram: 25 ms -> 25.007).
    assert table["external-storage"]["download_success"] == "100"
    assert table["external-storage"]["key_p95"] == "25 [10–25]"  # over its 6 hdr slices


def test_newest_run_picks_the_latest_finished_folder(tmp_path):
    runs = {
        "20260101-120000-abc1234": '{"finished_at": "2026-01-01T12:20:00"}',
        "20260102-090000-def5678": '{"finished_at": "2026-01-02T09:20:00"}',
        "20260103-000000-running": '{"finished_at": null}',  # still being measured
    }
    for run_id, meta in runs.items():
        (tmp_path / run_id).mkdir()
        (tmp_path / run_id / "meta.json").write_text(meta)
    (tmp_path / "20260104-000000-nometa").mkdir()  # no meta.json: not a run
    assert an.newest_run(tmp_path).name == "20260102-090000-def5678"


def test_spread_flag_needs_repeats_and_a_real_difference():
    assert an.Stat(100, 80, 130, 3, "ms").wide
    assert not an.Stat(100, 90, 110, 3, "ms").wide
    assert not an.Stat(100, 60, 160, 1, "ms").wide  # one repeat has no spread
    assert not an.Stat(2, 2, 3, 3, "ms").wide  # Locust rounds to whole ms


@pytest.mark.slow  # a whole report of its own (~10 s of charts): not in the fast loop
def test_report_survives_missing_files(tmp_path):
    run = Path(shutil.copytree(RUN, tmp_path / RUN_ID))
    (run / "cache/r1/locust_stats.csv").unlink()  # the bench failed to measure this repeat
    (run / "async-mail/r1/cpu.json").unlink()
    (run / "legacy/r2/locust_stats_history.csv").unlink()
    out = tmp_path / "report"
    report.main([str(run), "--out", str(out)])
    rows = summary_rows((out / "summary.md").read_text())
    assert set(rows["cache"][1:]) == {"–"}
    assert "cache: r1 was not measured." in (out / "index.html").read_text()


def test_budgets_asked_but_not_enforced_get_a_banner(tmp_path):
    import json

    run = Path(shutil.copytree(RUN, tmp_path / RUN_ID))
    assert not any("CPU budgets" in w for w in warnings(an.load_run(run)))
    meta = json.loads((run / "meta.json").read_text())
    meta["budgets"] = {
        "asked": True,
        "enforced": False,
        "mechanism": "none",
        "groups": {},
        "why_not": "cgroup1: no cpu controller",
    }
    (run / "meta.json").write_text(json.dumps(meta))
    banner = [w for w in warnings(an.load_run(run)) if "CPU budgets" in w]
    assert banner and "NOT enforced" in banner[0] and "no cpu controller" in banner[0]
    assert "NOT enforced" in page(an.load_run(run), {})  # the page itself, charts aside


def test_scaling_chart_draws_the_fitted_law_when_it_fits():
    import matplotlib.pyplot as plt

    from benchmarks.results import scaling_chart as charts

    fig, ax = plt.subplots()
    charts._usl_curve(ax, [1, 2, 3, 4], [40.0, 75.0, 100.0, 118.0], "#C44E52")
    assert any(label.startswith("USL fit (σ") for label in ax.get_legend_handles_labels()[1])
    fig2, ax2 = plt.subplots()
    charts._usl_curve(ax2, [1], [40.0], "#C44E52")  # one point: no curve, no error
    assert ax2.get_legend_handles_labels()[1] == []
    plt.close(fig)
    plt.close(fig2)


def test_a_budgeted_run_charts_each_box_against_its_budget(tmp_path):
    import json

    run = Path(shutil.copytree(RUN, tmp_path / RUN_ID))
    cpu_path = run / "token-auth/r1/cpu.json"
    cpu = json.loads(cpu_path.read_text())
    cpu["groups"]["app"].update(
        budget_cores=1.0, nr_periods=600, nr_throttled=540, throttled_s=20.0
    )
    cpu["groups"]["mail"].update(budget_cores=0.15, nr_periods=300, nr_throttled=0, throttled_s=0.0)
    cpu_path.write_text(json.dumps(cpu))
    loaded = an.load_run(run)
    assert loaded.stat("token-auth", "budget_app").median == 1.0
    assert loaded.stat("token-auth", "throttled_app").median == 90.0
    assert loaded.stat("legacy", "budget_app") is None  # an unbudgeted stage has none
    # The one chart this test is about (report.build draws it with the others), and its place.
    name = chart_cpu_budget(loaded, tmp_path)
    assert name == "cpu_budget.png" and (tmp_path / name).stat().st_size > 10_000
    html = page(loaded, {"cpu_budget": name})
    assert "src='cpu_budget.png'" in html and "CPU against budget" in html


def test_a_throttled_load_generator_box_is_named_as_the_limit(tmp_path):
    import json

    run = Path(shutil.copytree(RUN, tmp_path / RUN_ID))
    cpu_path = run / "token-auth/r1/cpu.json"
    cpu = json.loads(cpu_path.read_text())
    assert "token-auth" not in an.locust_bound(an.load_run(run))  # 0.5 core: under 0.8
    cpu["groups"]["locust"].update(
        budget_cores=0.4, nr_periods=300, nr_throttled=150, throttled_s=5.0, hit_limit=True
    )
    cpu_path.write_text(json.dumps(cpu))
    loaded = an.load_run(run)
    assert an.locust_bound(loaded)["token-auth"] == 0.5
    # Said as what it is: its box throttled it (at 0.5 core, not "more than 0.8 core").
    said = [w for w in warnings(loaded) if "token-auth" in w and "Locust" in w]
    assert said == [
        "Locust's CPU budget throttled it in 20 % of its periods or more in token-auth (0.50) "
        "(cores used): there the load generator, not the app, may be what limits throughput."
    ], said


def test_the_scaling_chart_is_explained_with_this_runs_sigma_and_kappa(built):
    from benchmarks.results import usl

    page = (built / "index.html").read_text()
    law = usl.of_run(an.load_run(RUN))["usl"]  # what scaling.json says of the fixture's curve
    after = page.split("src='scaling.png'", 1)[1].split("<h2>", 1)[0]  # under the chart
    assert f"{law['sigma']:.2f}" == "0.20" and "<b>Contention, σ = 0.20</b>" in after
    assert "λ/σ = <b>160 req/s</b>" in after and "the one SQLite file" in after
    assert f"<b>Coherency, κ = {law['kappa']:.3f}</b>" in after
    assert "No peak within 1..4 replicas: the law puts it at 7.9 replicas" in after
    # The contrast: 58 -> 64 req/s without budgets against 32.5 -> 73 with them.
    assert "1 → 4 replicas gave <b>1.10x</b> (58 → 64 req/s), against 2.25x" in after
    assert "scale-out needs more boxes, not more processes on one box" in after
