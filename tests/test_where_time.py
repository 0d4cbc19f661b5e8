"""Where the time goes: timing.json pooled over repeats, and its section of the report page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.results import analysis as an
from benchmarks.results import timing as tm
from benchmarks.results.page import page
from benchmarks.results.where_charts import build_where_charts

RUN = Path(__file__).parent / "fixtures" / "runs" / "20260101-120000-abc1234"
WHERE_CHARTS = [
    "where_post_api_specialists_id_reviews.png",
    "where_get_api_specialists_highest_rated.png",
    "where_post_api_reports.png",
    "where_post_api_login.png",
]


def test_repeats_pool_weighted_by_requests():
    timing = tm.load_timing(RUN)
    review = timing[(timing["stage"] == "legacy") & (timing["endpoint"] == an.POST_REVIEW)]
    row = review.set_index("component").loc["smtp"]
    # r1: 30 responses at 101 ms, r2: 10 at 103 ms -> 101.5, not the plain mean 102.
    assert row["mean_ms"] == pytest.approx(101.5)
    assert row["requests"] == 40 and row["repeats"] == 2
    assert review.set_index("component").loc["db", "mean_ms"] == pytest.approx(5.5)


def test_breakdown_is_stages_in_course_order_by_components_in_fixed_order():
    table = tm.breakdown(tm.where_time(an.load_run(RUN)), an.POST_REVIEW)
    assert list(table.columns) == ["db", "queue", "smtp", "app"]
    # token-auth has no timing.json: it is simply not a bar.
    assert list(table.index) == ["legacy", "async-mail", "load-balanced", "cache",
                                 "async-reports", "external-storage"]  # fmt: skip
    assert table.loc["async-mail", "smtp"] == 0 and table.loc["legacy", "queue"] == 0
    assert tm.main_component(table.loc["legacy"])[0] == "smtp"
    login = tm.breakdown(tm.where_time(an.load_run(RUN)), an.LOGIN)
    assert {tm.main_component(row)[0] for _, row in login.iterrows()} == {"hash"}


def test_page_has_the_section_and_its_charts(fixture_report):
    page = fixture_report("en", charts=False).read_text()  # rendered: tests/test_report.py
    assert "<h2>Where the time goes</h2>" in page
    for name in WHERE_CHARTS:
        assert f"src='{name}'" in page
    # Each chart has its caption, and the section comes before the other charts.
    assert "Look for the red smtp part" in page and "Look for the purple hash part" in page
    assert page.index("Where the time goes") < page.index("<h2>Charts</h2>")
    # The section's charts are not repeated among the others under "Charts".
    assert page.count("src='where_post_api_login.png'") == 1


def test_a_run_without_timing_has_no_section(tmp_path):
    run = Path(shutil.copytree(RUN, tmp_path / RUN.name))
    for path in run.rglob(tm.TIMING_FILE):
        path.unlink()
    out = tmp_path / "report"
    out.mkdir()
    loaded = an.load_run(run)
    # What report.build does, but for the other charts (drawn by tests/test_report.py).
    charts = build_where_charts(loaded, out) | {"throughput": "throughput.png"}
    html = page(loaded, charts)
    assert "Where the time goes" not in html
    assert not list(out.glob("where_*.png"))
    assert "<h2>Charts</h2>" in html  # the rest of the page is still there


def test_a_malformed_timing_file_names_itself(tmp_path):
    path = tmp_path / tm.TIMING_FILE
    path.write_text('{"POST /api/login": {"hash": {"mean_ms": 200}}}')
    with pytest.raises(ValueError, match=r"timing.json: 'POST /api/login' / 'hash' needs"):
        tm.read_timing(path)
