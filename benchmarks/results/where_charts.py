"""The "Where the time goes" charts (PNG): per key request, a stacked bar per stage by component.

Kept beside charts.py (whose style and sizes they share) rather than in it, to keep each module
short; report.build draws them with the others.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.results import analysis as an
from benchmarks.results import timing as tm
from benchmarks.results.charts import DPI, WIDTH_IN, plt  # charts sets matplotlib's style
from benchmarks.results.formatting import COMPONENT_COLOURS, DASH, fmt, slug
from benchmarks.results.i18n import t
from benchmarks.results.ticks import localize_ticks


def chart_where_time(run, out: Path, endpoint: str) -> str | None:
    """One request name, one stacked bar per stage: mean ms in the app by component (left);
    beside POST review the review mail's queue lag, elsewhere each component's share (right)."""
    table = tm.breakdown(tm.where_time(run), endpoint)
    if table.empty:
        return None
    stages, y = list(table.index), list(range(len(table.index)))
    lag = endpoint == an.POST_REVIEW
    lags = [run.stat(s, "review_lag_p50") if lag else None for s in stages]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(WIDTH_IN, 1.9 + 0.5 * len(stages)), sharey=True, sharex=lag,
        layout="constrained", gridspec_kw={"width_ratios": (3, 2)},
    )  # fmt: skip
    totals = table.sum(axis=1)
    share = table.div(totals.where(totals > 0, 1), axis=0) * 100
    starts, shares = [0.0] * len(stages), [0.0] * len(stages)
    for component in table.columns:
        style = {"color": COMPONENT_COLOURS.get(component, "#BBBBBB"), "edgecolor": "white"}
        left.barh(y, table[component], 0.6, left=starts, label=component, **style)
        starts = [a + b for a, b in zip(starts, table[component], strict=True)]
        if not lag:
            right.barh(y, share[component], 0.6, left=shares, **style)
            shares = [a + b for a, b in zip(shares, share[component], strict=True)]
    failed = [run.stat(s, "failure_rate", endpoint) for s in stages]
    # A failed request (a quick 401) takes almost no time: say so on its bar.
    bars = [(left, i, total, t(" ({rate} % failed)", rate=fmt(f.median, "%"))
             if f and f.median > 5 else "")
            for i, (total, f) in enumerate(zip(totals, failed, strict=True))]  # fmt: skip
    for i, stat in enumerate(lags):
        if stat is not None:
            right.barh(i, stat.median, 0.6, color=COMPONENT_COLOURS["queue"], hatch="//",
                       edgecolor="white", alpha=0.7)  # fmt: skip
            bars.append((right, i, stat.median, ""))
        elif lag:
            right.annotate(
                t("{dash} none measured", dash=DASH), (0, i), va="center", color="#999", fontsize=9
            )
    for ax, i, value, note in bars:
        ax.annotate(fmt(value, "ms") + " ms" + note, (value, i), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=9)  # fmt: skip
    left.set_xlim(0, max([b[2] for b in bars] + [1]) * 1.22)
    left.set_yticks(y, stages)
    left.invert_yaxis()  # the course's order, top to bottom
    left.set_xlabel(t("mean time in the app (ms)"))
    left.set_title(t("In the request"), fontsize=12)
    if lag:
        right.set_xlabel(t("commit → inbox, p50 (ms)"))
        right.set_title(t("Review mail lag"), fontsize=12)
    else:
        right.set_xlim(0, 100)
        right.set_xlabel(t("share of the time in the app (%)"))
        right.set_title(t("Share"), fontsize=12)
    for ax in (left, right):
        ax.grid(axis="y", visible=False)
    fig.suptitle(
        t("Where the time goes: {endpoint}", endpoint=endpoint), fontweight="bold", fontsize=14
    )
    fig.legend(loc="outside lower center", ncol=len(table.columns), frameon=False)
    name = f"where_{slug(endpoint)}.png"
    localize_ticks(fig)
    fig.savefig(out / name, dpi=DPI)  # not _save: constrained layout keeps the legend clear
    plt.close(fig)
    return name


def build_where_charts(run, out: Path) -> dict[str, str]:
    """Draw the chart of each key request the run has timing for; return {key: file name},
    keys prefixed with timing.WHERE (the page puts them in their own section)."""
    charts = {f"{tm.WHERE}{e}": chart_where_time(run, out, e) for e in tm.WHERE_ENDPOINTS}
    return {k: v for k, v in charts.items() if v}
