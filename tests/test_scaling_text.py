"""The scaling curve's chart and the words under it (results/scaling_chart.py, scaling_text.py):
both curves on one chart when the run measured the contrast without budgets, and sigma and kappa
said honestly whatever the fit found (a peak within the curve or beyond it, kappa held at 0 or
fitted at 0, sigma 0, no fit at all)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from benchmarks.results import analysis as an
from benchmarks.results import scaling_chart, usl
from benchmarks.results.scaling_text import (
    coefficient,
    kappa_paragraph,
    scaling_paragraphs,
    sigma_paragraph,
    superlinear_paragraph,
)

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "20260101-120000-abc1234"


def figures(rps: dict[int, list[float]]) -> pd.DataFrame:
    """A curve's figures per repeat, as analysis.load_tree gives them."""
    rows = [(n, k, "", "ok_throughput", x) for n, xs in rps.items() for k, x in enumerate(xs, 1)]
    return pd.DataFrame(rows, columns=["replicas", "repeat", "endpoint", "metric", "value"])


def fake_run(budgeted: dict, unbudgeted: dict | None = None, database: str = "sqlite"):
    curves = {an.SCALING: figures(budgeted)}
    if unbudgeted is not None:
        curves[an.UNBUDGETED] = figures(unbudgeted)
    return SimpleNamespace(meta={"database": database}, curves=curves, cpu_count=2)


def law_of(rps: list[float], ns=(1, 2, 3, 4)) -> dict:
    return usl.fit(list(ns), rps).to_json()


def test_sigma_names_the_shared_things_and_the_ceiling():
    run = fake_run({1: [100.0]}, database="postgresql")
    law = law_of([float(x) for x in usl.usl([1, 2, 3, 4], 100, 0.1, 0.0)])
    said = sigma_paragraph(run, law, [1, 2, 3, 4])
    assert "<b>Contention, σ = 0.10</b>" in said and "10.0 % of the work" in said
    assert "λ/σ = <b>1,000 req/s</b>" in said and "the one postgresql database" in said
    zero = sigma_paragraph(run, law_of([100.0, 200.0, 300.0, 400.0]), [1, 2, 3, 4])
    assert "<b>Contention, σ = 0</b>" in zero and "ceiling of" not in zero


def test_kappa_says_where_the_curve_peaks_or_that_it_does_not():
    ns = [1, 2, 3, 4]
    within = kappa_paragraph(law_of([100.0, 150.0, 160.0, 150.0]), ns)
    assert "<b>Coherency, κ = " in within and "The law peaks at <b>" in within
    beyond = kappa_paragraph(law_of([float(x) for x in usl.usl(ns, 100, 0.1, 0.01)]), ns)
    assert "No peak within 1..4 replicas: the law puts it at 9.5 replicas" in beyond
    flat = kappa_paragraph(law_of([float(x) for x in usl.usl(ns, 100, 0.2, 0.0)]), ns)
    assert "<b>Coherency, κ = 0</b>" in flat and "no peak" in flat
    held = kappa_paragraph(law_of([100.0, 180.0], ns=(1, 2)), [1, 2])
    assert "κ held at 0" in held and "with only 2 replica counts" in held
    assert "peaks at" not in held and "No peak within" not in held


def test_one_replica_count_gets_no_law_and_no_invented_numbers():
    said = scaling_paragraphs(fake_run({2: [100.0, 104.0]}))
    assert len(said) == 1 and "No scaling law" in said[0] and "this curve has 1" in said[0]
    assert "σ =" not in said[0]


def test_the_contrast_says_the_lesson_only_when_the_run_shows_it():
    boxed = {1: [30.0], 2: [55.0], 3: [75.0], 4: [90.0]}
    flat = scaling_paragraphs(fake_run(boxed, {1: [60.0], 2: [66.0], 3: [67.0], 4: [66.0]}))
    assert len(flat) == 3
    assert "1 → 4 replicas gave <b>1.10x</b> (60 → 66 req/s), against 3.00x" in flat[2]
    assert "scale-out needs more boxes, not more processes on one box" in flat[2]
    steep = scaling_paragraphs(fake_run(boxed, {1: [30.0], 2: [60.0], 3: [90.0], 4: [120.0]}))
    assert "4.00x" in steep[2] and "more boxes" not in steep[2]
    assert "does not show" in steep[2]


def test_a_curve_above_the_linear_line_is_said_with_the_cpu_per_request():
    def doc(rps, cores):
        points = [{"replicas": n, "successful_rps": x, "app_cores": c}
                  for n, x, c in zip((1, 2, 3, 4), rps, cores, strict=True)]  # fmt: skip
        return {"points": points}

    # The reference's budgeted cache: 98 -> 534 req/s on 0.25 -> 1 core.
    said = superlinear_paragraph(doc([98.2, 209.5, 379.1, 533.8], [0.247, 0.495, 0.745, 0.996]))
    assert "4 replicas served 5.44x one replica's" in said
    assert "from 2.52 ms at 1 replica to 1.87 ms at 4" in said
    # On or under the line (within 10 %): nothing to say.
    assert superlinear_paragraph(doc([50.0, 104.0, 150.0, 190.0], [0.25, 0.5, 0.75, 1.0])) is None


def test_small_coefficients_keep_a_significant_digit():
    assert (coefficient(0.2006, 2), coefficient(0.0129, 3)) == ("0.20", "0.013")
    assert (coefficient(0.0004, 3), coefficient(0.0, 3)) == ("0.0004", "0.000")


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """Draw the scaling chart of a run; return the figure (kept open) instead of a file."""
    import matplotlib.pyplot as plt

    kept = []
    monkeypatch.setattr(scaling_chart, "_save", lambda fig, out, name: kept.append(fig) or name)

    def draw(run_dir: Path):
        assert scaling_chart.chart_scaling(an.load_run(run_dir), tmp_path) == "scaling.png"
        return kept[-1]

    yield draw
    for fig in kept:
        plt.close(fig)


def legend_texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]


def test_the_chart_draws_both_curves_with_their_fits(drawn):
    texts = legend_texts(drawn(FIXTURE))
    assert texts == [
        "measured",  # the fixture predates budgets in meta.json
        "ideal (linear)",
        "USL fit (σ 0.20, κ 0.013)",
        "no CPU budgets (all processes share the machine)",
        "USL fit, no budgets (σ 0.61, κ 0.063)",
    ]


def test_a_run_without_the_contrast_draws_its_one_curve(drawn, tmp_path):
    run = Path(shutil.copytree(FIXTURE, tmp_path / "run"))
    shutil.rmtree(run / "scaling-unbudgeted")
    for n in (3, 4):  # two replica counts left: kappa cannot be fitted
        shutil.rmtree(run / "scaling" / str(n))
    texts = legend_texts(drawn(run))
    assert texts == ["measured", "ideal (linear)", "USL fit (σ 0.26, κ held at 0)"]
