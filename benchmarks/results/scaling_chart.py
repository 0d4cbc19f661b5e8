"""The scaling chart: throughput and p95 against replicas, the ideal line and the fitted USL curve.

Drawn by charts.py's build_charts with its helpers (kept apart so each module stays short).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.results import analysis as an  # noqa: E402
from benchmarks.results import usl  # noqa: E402
from benchmarks.results.charts import DPI, LEGEND_RIGHT, WIDTH_IN, _save  # noqa: F401, E402
from benchmarks.results.formatting import (  # noqa: E402
    colour,
)
from benchmarks.results.i18n import num, t  # noqa: E402


def chart_scaling(run, out: Path) -> str | None:
    s = run.scaling
    if s is None or s.empty:
        return None
    settings = run.meta.get("settings") or {}
    stage = run.meta.get("scaling_stage") or settings.get("scaling_stage") or t("the app")
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH_IN, 4.0))
    fig.suptitle(
        t("Scaling {stage}: more replicas, same load", stage=stage), fontweight="bold", fontsize=14
    )
    panels = (
        (t("Throughput"), t("HTTP requests per second"), "throughput", "", colour(stage)),
        (t("p95 latency"), t("p95, all requests (ms)"), "p95", an.AGGREGATED, "#C44E52"),
        (t("CPU used"), t("cores (load generator included)"), "cpu_total", "", "#555555"),
    )
    for ax, (title, ylabel, metric, endpoint, line) in zip(axes, panels, strict=True):
        part = s[(s["metric"] == metric) & (s["endpoint"] == endpoint)].sort_values("replicas")
        n = part["replicas"].tolist()
        if n:
            errs = [part["median"] - part["lo"], part["hi"] - part["median"]]
            ax.errorbar(
                n, part["median"], yerr=errs, marker="o", capsize=3, color=line, label=t("measured")
            )
        if metric == "throughput" and n:
            base = part["median"].iloc[0] / n[0]
            ax.plot(n, [base * k for k in n], ls="--", color="#999999", label=t("ideal (linear)"))
            _usl_curve(ax, n, part["median"].tolist(), line)
            ax.legend(frameon=False, fontsize=10)
        if metric == "cpu_total" and run.cpu_count:
            ax.axhline(run.cpu_count, color="#B22222", ls="--", lw=1.5)
            ax.annotate(
                t("{n} cores", n=run.cpu_count),
                (n[0] if n else 1, run.cpu_count),
                xytext=(0, 3),
                textcoords="offset points",
                color="#B22222",
                fontsize=10,
            )
        ax.set_title(title, fontsize=12)
        ax.set_ylabel(ylabel, fontsize=11)
        ax.set_xlabel(t("app replicas"))
        ax.set_xticks(sorted(s["replicas"].unique()))
        ax.set_ylim(0, ax.get_ylim()[1] * 1.12)  # room for the top marker
    return _save(fig, out, "scaling.png")


def _usl_curve(ax, n: list[int], rps: list[float], colour_: str) -> None:
    """Draw the Universal Scalability Law fitted to the medians (results/usl.py), when it fits
    (scaling.json holds the fit over every repeat)."""
    try:
        law = usl.fit(n, rps)
    except (usl.USLError, RuntimeError):
        return
    xs = np.linspace(1, max(n), 60)
    ax.plot(
        xs,
        law.predict(xs),
        color=colour_,
        alpha=0.45,
        lw=2,
        label=t(
            "USL fit (σ {sigma}, κ {kappa})",
            sigma=num(law.sigma, ".2f"),
            kappa=num(law.kappa, ".3f"),
        ),
    )
