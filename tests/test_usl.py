"""The Universal Scalability Law fit: it recovers the parameters of synthetic curves (linear,
contention only, retrograde), with noise and repeats, finds the peak, and is clear about curves it
cannot fit (fewer than 3 replica counts: partial, fewer than 2: an error)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.results import usl

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "20260101-120000-abc1234"

N = [1, 2, 3, 4]


def curve(lam, sigma, kappa, ns=N):
    return [float(v) for v in usl.usl(ns, lam, sigma, kappa)]


def test_a_linear_curve_has_no_contention_and_no_peak():
    f = usl.fit(N, curve(100, 0, 0))
    assert f.lam == pytest.approx(100, rel=1e-3)
    assert f.sigma == 0 and f.kappa == 0 and f.ceiling_rps is None
    assert f.peak_replicas is None and f.peak_rps is None
    assert f.r2 == pytest.approx(1)


def test_a_contention_only_curve_flattens_towards_its_ceiling():
    f = usl.fit(N, curve(140, 0.2, 0))
    assert (f.lam, f.sigma) == (pytest.approx(140, rel=1e-3), pytest.approx(0.2, rel=1e-2))
    assert f.kappa == pytest.approx(0, abs=1e-6)
    assert f.ceiling_rps == pytest.approx(700, rel=1e-2)


def test_a_retrograde_curve_peaks_where_the_law_says():
    ns = [1, 2, 3, 4, 6, 8]
    f = usl.fit(ns, curve(100, 0.05, 0.02, ns))
    assert f.kappa == pytest.approx(0.02, rel=1e-2)
    assert f.peak_replicas == pytest.approx(math.sqrt(0.95 / 0.02), rel=1e-2)  # ~6.9
    assert f.peak_rps == pytest.approx(float(usl.usl(f.peak_replicas, 100, 0.05, 0.02)), rel=1e-3)
    assert f.predict(8) < f.predict(6)  # past the peak a replica makes it slower


def test_repeats_with_noise_are_fitted_together_and_r2_is_below_one():
    rng = np.random.default_rng(15)
    ns = [n for n in N for _ in range(3)]
    xs = [x * (1 + rng.normal(0, 0.03)) for x in curve(140, 0.1, 0.01, ns)]
    f = usl.fit(ns, xs)
    assert f.samples == 12 and 0.8 < f.r2 < 1
    assert f.lam == pytest.approx(140, rel=0.1)


def test_two_replica_counts_give_a_partial_fit_that_says_so():
    f = usl.fit([1, 2], curve(100, 0.25, 0, [1, 2]))
    assert f.fitted == ("lambda", "sigma") and f.kappa == 0
    assert f.sigma == pytest.approx(0.25, rel=1e-2)


@pytest.mark.parametrize(
    "ns,xs,match",
    [
        ([1, 1, 1], [100, 101, 99], "2\\+ distinct replica counts"),
        ([], [], "2\\+ distinct"),
        ([1, 2, 3], [100, 0, 250], "positive"),
        ([0, 1, 2], [1, 100, 180], "1 or more"),
        ([1, 2], [100], "one length"),
    ],
)
def test_input_that_cannot_be_fitted_is_refused_with_the_reason(ns, xs, match):
    with pytest.raises(usl.USLError, match=match):
        usl.fit(ns, xs)


def test_scaling_json_keeps_points_and_fits_every_repeat(tmp_path):
    points = [
        {
            "replicas": n,
            "successful_rps": x,
            "successful_rps_runs": [x * 0.98, x, x * 1.02],
            "cores": 0.3 * n,
        }
        for n, x in zip(N, curve(140, 0.1, 0.01), strict=True)
    ]
    doc = usl.write_scaling(tmp_path, list(reversed(points)))
    saved = json.loads((tmp_path / "scaling.json").read_text())
    assert saved == doc
    assert [p["replicas"] for p in saved["points"]] == N and saved["points"][0]["cores"] == 0.3
    law = saved["usl"]
    assert set(law) >= {"lambda", "sigma", "kappa", "r2", "peak_replicas", "peak_rps"}
    assert law["samples"] == 12 and law["lambda"] == pytest.approx(140, rel=0.02)


def test_scaling_json_of_one_point_keeps_it_and_says_why_there_is_no_fit(tmp_path):
    doc = usl.write_scaling(tmp_path, [{"replicas": 1, "successful_rps": 120.0}])
    assert doc["points"] == [{"replicas": 1, "successful_rps": 120.0}]
    assert "2+ distinct replica counts" in doc["usl"]["error"]
    with pytest.raises(usl.USLError, match="successful_rps"):
        usl.scaling_document([{"replicas": 1}])


def test_points_come_from_a_runs_per_repeat_figures():
    import pandas as pd

    rows = []
    for n, x in zip(N, curve(140, 0.1, 0.01), strict=True):
        for k, f in enumerate((0.97, 1.0, 1.03), 1):
            rows += [
                (str(n), k, "", "ok_throughput", x * f),
                (str(n), k, "", "throughput", x),
                (str(n), k, "", "cpu_app", 0.25 * n),
                (str(n), k, "GET x", "rps", 1.0),
            ]
    figures = pd.DataFrame(rows, columns=["replicas", "repeat", "endpoint", "metric", "value"])
    points = usl.points_of(figures)
    assert [p["replicas"] for p in points] == N
    assert points[1]["successful_rps"] == pytest.approx(curve(140, 0.1, 0.01)[1], rel=1e-3)
    assert len(points[1]["successful_rps_runs"]) == 3 and points[3]["app_cores"] == 1.0
    assert usl.scaling_document(points)["usl"]["samples"] == 12


def test_the_command_line_writes_a_runs_scaling_json(tmp_path, capsys):
    import shutil
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "runs" / "20260101-120000-abc1234"
    run = Path(shutil.copytree(fixture, tmp_path / fixture.name))
    assert usl.main([str(run)]) == 0
    doc = json.loads((run / "scaling.json").read_text())
    assert [p["replicas"] for p in doc["points"]] == sorted(p["replicas"] for p in doc["points"])
    assert "lambda" in doc["usl"] or "error" in doc["usl"]
    assert "scaling.json" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        usl.main([str(tmp_path)])  # no scaling/ folder: a clear error


def test_scaling_json_gains_the_unbudgeted_curve_and_older_runs_keep_working(tmp_path, capsys):
    import shutil
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "runs" / "20260101-120000-abc1234"
    run = Path(shutil.copytree(fixture, tmp_path / fixture.name))
    assert usl.main([str(run)]) == 0
    doc = json.loads((run / "scaling.json").read_text())
    unbudgeted = doc["unbudgeted"]
    assert set(unbudgeted) == set(doc) - {"unbudgeted"} == {"points", "usl"}  # the same shape
    assert set(unbudgeted["usl"]) == set(doc["usl"])
    # The fixture's contrast: two repeats per point, medians 58, 66, 67.5, 64 req/s.
    assert [p["successful_rps"] for p in unbudgeted["points"]] == [58.0, 66.0, 67.5, 64.0]
    assert unbudgeted["points"][0]["successful_rps_runs"] == [57.0, 59.0]
    assert unbudgeted["usl"]["samples"] == 8 and doc["usl"]["samples"] == 4
    assert 1 < unbudgeted["usl"]["peak_replicas"] < 4  # it turns down within the curve
    assert "without CPU budgets: lambda" in capsys.readouterr().out
    shutil.rmtree(run / "scaling-unbudgeted")  # a run from before --scaling-contrast
    assert usl.main([str(run)]) == 0
    assert "unbudgeted" not in json.loads((run / "scaling.json").read_text())


def test_the_scaling_stage_run_is_the_curves_point_at_its_replica_count(tmp_path):
    """The default bench measures the cache at 1 replica only: its stage run (2 replicas, the
    same closed loop and budgets) is the curve's second point, so 2 over 1 can be decided."""
    import shutil

    from benchmarks.results import analysis as an

    run = Path(shutil.copytree(FIXTURE, tmp_path / FIXTURE.name))
    for n in ("2", "3", "4"):
        shutil.rmtree(run / "scaling" / n)
    info = json.loads((run / "token-auth/r1/stage.json").read_text())
    (run / "token-auth/r1/stage.json").write_text(json.dumps({**info, "replicas": 2}))
    loaded = an.load_run(run)
    stage_rps = loaded.stat("token-auth", "ok_throughput").median
    doc = usl.of_run(loaded)
    assert [p["replicas"] for p in doc["points"]] == [1, 2]
    assert doc["points"][1]["successful_rps"] == round(stage_rps, 2)
    assert doc["usl"]["kappa"] == 0.0  # two points: lambda and sigma only (Amdahl), as fit() says
    # The page says where that point came from, when the run asked for fewer counts.
    from benchmarks.results.scaling_text import scaling_paragraphs

    meta = json.loads((run / "meta.json").read_text())
    meta["settings"] = {**meta.get("settings", {}), "scaling_stage": "token-auth",
                        "scaling_replicas": [1]}  # fmt: skip
    (run / "meta.json").write_text(json.dumps(meta))
    said = " ".join(scaling_paragraphs(an.load_run(run)))
    assert "The 2-replica point is token-auth's own run" in said
    # A curve that measured that count itself keeps its own point.
    assert [p["replicas"] for p in usl.of_run(an.load_run(FIXTURE))["points"]] == [1, 2, 3, 4]
