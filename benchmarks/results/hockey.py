"""The hockey-stick chart: p99 against offered load, every stage, from the runs' ladder.json.

Drawn by benchmarks/results/charts.py's build_charts with its helpers (kept apart so charts.py
stays one sitting long); its title and caption are in page.py under "ladder".
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.results import ladders
from benchmarks.results.charts import LEGEND_RIGHT, WIDTH_IN, _save, plt
from benchmarks.results.formatting import colour, fmt
from benchmarks.results.i18n import t


def chart_ladder(run, out: Path) -> str | None:
    """The hockey stick: p99 (timed from the schedule) against offered load, every stage."""
    curves = ladders.median_curves(run.path, run.stages)
    if curves.empty:
        return None
    slo = ladders.slo_of(run.meta)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 5.4))
    for stage in run.stages:
        part = curves[(curves["stage"] == stage) & curves["p99"].notna()]
        if part.empty:
            continue
        ax.plot(part["offered_rps"], part["p99"], color=colour(stage), label=stage, lw=1.8,
                marker="o", ms=5)  # fmt: skip
        late = part[part["behind"]]
        # Hollow markers: the generator could not offer this rate on time.
        ax.scatter(late["offered_rps"], late["p99"], s=110, facecolors="white",
                   edgecolors=colour(stage), linewidths=2, zorder=3)  # fmt: skip
    ax.axhline(slo, color="#c0392b", ls="--", lw=1.2)
    ax.annotate(f"SLO {fmt(slo, 'ms')} ms", (0.01, slo), xycoords=("axes fraction", "data"),
                color="#c0392b", va="bottom", fontsize=10)  # fmt: skip
    ax.scatter([], [], s=80, facecolors="white", edgecolors="#555", label=t("behind schedule"))
    ax.set_xscale("log", base=2)
    rates = sorted(curves["offered_rps"].unique())
    ax.set_xticks(rates, [fmt(r) for r in rates])
    ax.minorticks_off()
    ax.set_yscale("log")
    ax.set_xlabel(t("offered load (req/s, open loop)"))
    ax.set_ylabel(t("p99 from scheduled send (ms, log)"))
    ax.set_title(t("p99 against offered load (the hockey stick)"))
    ax.legend(**LEGEND_RIGHT)
    return _save(fig, out, "ladder.png")
