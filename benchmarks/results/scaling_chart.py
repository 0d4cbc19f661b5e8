"""The scaling chart: throughput, p95 and CPU against replicas, the ideal line, the fitted USL.

With the contrast curve (`bench --scaling-contrast`: the same replica counts with no CPU budgets),
both curves share each panel: the budgeted one in the stage's colour, solid, with its ideal line;
the unbudgeted one dark and dotted, hollow markers. Drawn by charts.py's build_charts with its
helpers (kept apart so each module stays short).
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
from benchmarks.results.i18n import t  # noqa: E402
from benchmarks.results.scaling_text import coefficient  # noqa: E402

UNBUDGETED_COLOUR = "#333333"


def budget_label(meta: dict) -> str:
    """What the main curve ran with, as its legend says (meta.json's "budgets")."""
    budgets = meta.get("budgets")
    if not budgets:  # a run from before budgets
        return t("measured")
    if not budgets.get("asked"):
        return t("measured, no CPU budgets")
    if budgets.get("enforced"):
        return t("with CPU budgets (a box of its own per replica)")
    return t("measured (CPU budgets asked, NOT enforced)")


def chart_scaling(run, out: Path) -> str | None:
    curves = [(run.scaling, False)]
    if an.UNBUDGETED in run.curves:
        curves.append((an.summarise(run.curves[an.UNBUDGETED], "replicas"), True))
    curves = [(s, unboxed) for s, unboxed in curves if s is not None and not s.empty]
    if not curves:
        return None
    laws = usl.of_run(run)  # the fit over every repeat, as scaling.json and the page have it
    settings = run.meta.get("settings") or {}
    stage = run.meta.get("scaling_stage") or settings.get("scaling_stage") or t("the app")
    contrast = len(curves) > 1
    fig = plt.figure(figsize=(WIDTH_IN, 5.6 if contrast else 4.6))
    grid = fig.add_gridspec(2, 3, height_ratios=(4, 1.3 if contrast else 0.8))
    axes = [fig.add_subplot(grid[0, i]) for i in range(3)]
    fig.suptitle(
        t("Scaling {stage}: more replicas, same load", stage=stage), fontweight="bold", fontsize=14
    )
    panels = (
        (t("Throughput"), t("successful requests per second"), "ok_throughput", ""),
        (t("p95 latency"), t("p95, all requests (ms)"), "p95", an.AGGREGATED),
        (t("CPU used"), t("cores (load generator included)"), "cpu_total", ""),
    )
    replicas = sorted({int(n) for s, _ in curves for n in s["replicas"].unique()})
    handles = []  # the throughput panel's, curve by curve: the legend under the panels
    for ax, (title, ylabel, metric, endpoint) in zip(axes, panels, strict=True):
        for s, unboxed in curves:
            part = s[(s["metric"] == metric) & (s["endpoint"] == endpoint)].sort_values("replicas")
            drawn = _points(ax, part, UNBUDGETED_COLOUR if unboxed else colour(stage), unboxed,
                            budget_label(run.meta))  # fmt: skip
            if metric == "ok_throughput" and drawn:
                handles.append(drawn)
                handles += _lines(ax, part, laws["unbudgeted"]["usl"] if unboxed else laws["usl"],
                                  drawn, unboxed)  # fmt: skip
        if metric == "cpu_total" and run.cpu_count:
            ax.axhline(run.cpu_count, color="#B22222", ls="--", lw=1.5)
            # Between two replica counts: an unbudgeted curve runs along the line, on the ticks.
            x = sum(replicas[:2]) / len(replicas[:2])
            ax.annotate(
                t("{n} cores", n=run.cpu_count),
                (x, run.cpu_count),
                xytext=(0, 3),
                textcoords="offset points",
                color="#B22222",
                fontsize=10,
                ha="center",
            )
        ax.set_title(title, fontsize=12)
        ax.set_ylabel(ylabel, fontsize=11)
        ax.set_xlabel(t("app replicas"))
        ax.set_xticks(replicas)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.12)  # room for the top marker
    # One legend for the three panels, under them: long labels do not fit inside a panel.
    legend = fig.add_subplot(grid[1, :])
    legend.axis("off")
    legend.legend(handles, [h.get_label() for h in handles], loc="center", ncol=2,
                  frameon=False, fontsize=10)  # fmt: skip
    return _save(fig, out, "scaling.png")


def _points(ax, part, line: str, unboxed: bool, boxed_label: str):
    """Draw one curve's medians with their min-max over repeats; return its handle (or None)."""
    n, median = part["replicas"].tolist(), part["median"]
    if not n:
        return None
    label = t("no CPU budgets (all processes share the machine)") if unboxed else boxed_label
    return ax.errorbar(
        n, median, yerr=[median - part["lo"], part["hi"] - median], color=line, capsize=3,
        marker="s" if unboxed else "o", ls=":" if unboxed else "-",
        mfc="white" if unboxed else line, ms=6, label=label,
    )  # fmt: skip


def _lines(ax, part, law: dict, points, unboxed: bool) -> list:
    """Draw the throughput panel's lines of one curve: the ideal line from its first point (the
    budgeted curve only) and its fitted law; return their handles."""
    n, median = part["replicas"].tolist(), part["median"].tolist()
    drawn = []
    if not unboxed:
        base = median[0] / n[0]
        drawn += ax.plot(n, [base * k for k in n], ls="--", color="#999999",
                         label=t("ideal (linear)"))  # fmt: skip
    fit = _usl_curve(ax, n, median, points.lines[0].get_color(), law=law, unboxed=unboxed)
    return drawn + ([fit] if fit is not None else [])


def _usl_curve(
    ax, n: list[int], rps: list[float], colour_: str, law: dict | None = None, unboxed=False
):
    """Draw the Universal Scalability Law (results/usl.py) over 1..max(n): `law` as scaling.json
    has it (fitted over every repeat), else fitted to the medians given; nothing when it does not
    fit. Return its line, or None."""
    if law is None:
        try:
            law = usl.fit(n, rps).to_json()
        except (usl.USLError, RuntimeError):
            return None
    if "error" in law:
        return None
    xs = np.linspace(1, max(n), 60)
    sigma, kappa = coefficient(law["sigma"], 2), coefficient(law["kappa"], 3)
    held = "kappa" not in law["fitted"]  # two replica counts: kappa held at 0, not measured
    if unboxed:
        label = (
            t("USL fit, no budgets (σ {sigma}, κ held at 0)", sigma=sigma)
            if held
            else t("USL fit, no budgets (σ {sigma}, κ {kappa})", sigma=sigma, kappa=kappa)
        )
    else:
        label = (t("USL fit (σ {sigma}, κ held at 0)", sigma=sigma) if held
                 else t("USL fit (σ {sigma}, κ {kappa})", sigma=sigma, kappa=kappa))  # fmt: skip
    ys = usl.usl(xs, law["lambda"], law["sigma"], law["kappa"])
    style = {"alpha": 0.45, "lw": 2, "ls": "-." if unboxed else "-"}
    return ax.plot(xs, ys, color=colour_, label=label, **style)[0]
