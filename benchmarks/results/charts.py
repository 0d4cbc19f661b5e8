"""The report's charts (PNG, matplotlib): one function per chart, all drawn by build_charts."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from benchmarks.results import analysis as an  # noqa: E402
from benchmarks.results.formatting import (  # noqa: E402
    DASH,
    GROUP_COLOURS,
    colour,
    fmt,
    slug,
)
from benchmarks.results.i18n import num, t  # noqa: E402
from benchmarks.results.ticks import localize_ticks  # noqa: E402

WIDTH_IN = 9.0  # charts are viewed ~900 px wide; saved at 2x for sharp text
DPI = 200
LOG_RANGE = 30  # a chart spanning more than this factor gets a log axis
LEGEND_RIGHT = {"loc": "center left", "bbox_to_anchor": (1.0, 0.5), "frameon": False}
plt.rcParams.update(
    {
        "font.size": 12,
        "axes.titlesize": 14,
        "axes.titleweight": "bold",
        "axes.labelsize": 12,
        "xtick.labelsize": 11,
        "ytick.labelsize": 11,
        "legend.fontsize": 11,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.axisbelow": True,
        "grid.alpha": 0.3,
    }
)


def _ticks(ax, stages: list[str]) -> None:
    """Label the x axis with stages at 0, 1, 2, ..."""
    ax.set_xticks(range(len(stages)))
    ax.set_xticklabels(stages, rotation=20, ha="right")
    ax.grid(axis="x", visible=False)
    pad = max(0.0, (4 - len(stages)) / 2)  # a lone bar should not fill the whole chart
    ax.set_xlim(-0.5 - pad, len(stages) - 0.5 + pad)


def _auto_log(ax, values: list[float]) -> bool:
    """Use a log axis when the values span orders of magnitude (e.g. the top-10 before cache)."""
    positive = [v for v in values if v and v > 0]
    if positive and max(positive) / min(positive) > LOG_RANGE:
        ax.set_yscale("log")
        return True
    return False


def stage_bars(ax, run, stages, series, ylabel, labels=True, log="auto") -> list[float]:
    """Draw grouped bars: one group per stage, one bar per (label, metric, endpoint, alpha).

    Colour says the stage; shade says the series. Error bars show the min-max over repeats.
    """
    width = 0.8 / len(series)
    values: list[float] = []
    tops: list[float] = []  # whisker tops: the axis must hold them and their labels
    for i, stage in enumerate(stages):
        for j, (_, metric, endpoint, alpha) in enumerate(series):
            stat = run.stat(stage, metric, endpoint)
            x = i - 0.4 + width * (j + 0.5)
            if stat is None:
                ax.text(x, 0, DASH, ha="center", va="bottom", color="#999999", fontsize=12)
                continue
            err = [[stat.median - stat.lo], [stat.hi - stat.median]] if stat.n > 1 else None
            ax.bar(
                x,
                stat.median,
                width * 0.92,
                color=colour(stage),
                alpha=alpha,
                edgecolor=colour(stage),
                yerr=err,
                capsize=3,
                ecolor="#333333",
            )
            values.append(stat.median)
            tops.append(stat.hi)
            if labels:
                top = stat.hi if stat.n > 1 else stat.median
                ax.annotate(
                    fmt(stat.median, stat.unit),
                    (x, top),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=9,
                )
    _ticks(ax, stages)
    ax.set_ylabel(ylabel)
    if log == "auto":
        _auto_log(ax, values)
    if values:  # headroom for the value labels
        linear = ax.get_yscale() == "linear"
        ax.set_ylim(0 if linear else None, max(tops) * (1.25 if linear else 4) or 1)
    if len(series) > 1:
        ax.legend(
            handles=[Patch(facecolor="#555555", alpha=a, label=lab) for lab, _, _, a in series],
            **LEGEND_RIGHT,
        )
    return values


def _save(fig, out: Path, name: str) -> str:
    localize_ticks(fig)
    fig.tight_layout()
    fig.savefig(out / name, dpi=DPI)
    plt.close(fig)
    return name


def chart_throughput(run, out: Path) -> str:
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.2))
    # Successful beside all answers: a replica's cheap 401s inflate the raw rate.
    series = [
        (t("all answers"), "throughput", "", 0.9),
        (t("successful"), "ok_throughput", "", 0.45),
    ]
    stage_bars(ax, run, run.stages, series, t("HTTP requests per second"), log=None)
    for i, stage in enumerate(run.stages):
        if stage in an.locust_bound(run):
            tp = run.stat(stage, "throughput")
            ax.annotate(
                "⚠ Locust",
                (i, tp.hi if tp else 0),
                xytext=(0, 14),
                textcoords="offset points",
                ha="center",
                fontsize=9,
                color="#B22222",
            )
    ax.set_title(t("Throughput by stage (same users, same duration)"))
    return _save(fig, out, "throughput.png")


def chart_endpoint(run, out: Path, endpoint: str) -> str | None:
    stages = [s for s in run.stages if run.stat(s, "p50", endpoint)]
    if not stages:
        return None
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.2))
    series = [("p50", "p50", endpoint, 0.95), ("p95", "p95", endpoint, 0.45)]
    stage_bars(ax, run, stages, series, t("response time (ms)"))
    if ax.get_yscale() == "log":
        ax.set_ylabel(t("response time (ms, log scale)"))
    ax.set_title(t("{endpoint}: latency by stage", endpoint=endpoint))
    return _save(fig, out, f"latency_{slug(endpoint)}.png")


def chart_failures(run, out: Path) -> str | None:
    panels = [
        (t("Failed HTTP requests"), "failure_rate", t("% of HTTP requests")),
        (
            t("Auth failures (401 on a logged-in request)"),
            "auth_failure_rate",
            t("% of auth'd requests"),
        ),
        (t("Report downloads that got the right CSV"), "download_success", t("% of downloads")),
    ]
    panels = [p for p in panels if any(run.stat(s, p[1]) for s in run.stages)]
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(WIDTH_IN, 3.2 * len(panels)), squeeze=False)
    axes = axes[:, 0]
    for ax, (title, metric, ylabel) in zip(axes, panels, strict=True):
        stage_bars(ax, run, run.stages, [(title, metric, "", 0.9)], ylabel, log=None)
        # A fixed floor, so 0 % reads as "none", not as an empty axis scaled to nothing.
        ax.set_ylim(0, 115 if metric == "download_success" else max(ax.get_ylim()[1], 5))
        ax.set_title(title)
    return _save(fig, out, "failures.png")


def chart_queue_lag(run, out: Path) -> str | None:
    review = [s for s in run.stages if run.stat(s, "review_lag_p50")]
    reports = [s for s in run.stages if run.stat(s, "p50", an.E2E_MAIL)]
    if not review and not reports:
        return None
    trend = an.lag_over_time(run)
    rows = [r for r in (review, review, reports) if r]
    fig, axes = plt.subplots(len(rows), 1, figsize=(WIDTH_IN, 4.2 * len(rows)), squeeze=False)
    axes = list(axes[:, 0])
    if review:
        ax = axes.pop(0)
        series = [("p50", "review_lag_p50", "", 0.95), ("p95", "review_lag_p95", "", 0.45)]
        stage_bars(ax, run, review, series, t("review → mail in inbox (ms)"))
        ax.set_title(t("Review mail: commit → inbox (queue lag)"))
        # A lag that grows over the window is a queue filling faster than the worker drains it.
        ax = axes.pop(0)
        for stage in review:
            part = trend[trend["stage"] == stage]
            ax.plot(part["t"], part["lag_ms"], color=colour(stage), label=stage, lw=1.8)
        log = _auto_log(ax, trend["lag_ms"].tolist())
        ax.set_ylabel(t("median lag (ms, log)") if log else t("median lag (ms)"))
        ax.set_xlabel(t("seconds into the measured window (when the review was made)"))
        ax.set_title(t("Review mail lag over the window: is the queue keeping up?"))
        ax.legend(**LEGEND_RIGHT)
    if reports:
        ax = axes.pop(0)
        series = [
            (t("→ mail p50"), "p50", an.E2E_MAIL, 0.95),
            (t("→ mail p95"), "p95", an.E2E_MAIL, 0.6),
            (t("→ CSV p50"), "p50", an.E2E_CSV, 0.4),
            (t("→ CSV p95"), "p95", an.E2E_CSV, 0.2),
        ]
        stage_bars(ax, run, reports, series, t("from POST /api/reports (ms)"))
        ax.set_title(t("Report: request → mail → CSV downloaded (end to end)"))
    return _save(fig, out, "queue_lag.png")


def chart_over_time(run, out: Path) -> str | None:
    p95 = an.timeseries(run, "p95")
    rps = an.timeseries(run, "rps")
    # 0 ms for every request of a whole window is Locust with no sample yet, not a measurement.
    p95 = p95[p95["p95"] > 0]
    if p95.empty and rps.empty:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(WIDTH_IN, 7.6), sharex=True)
    for stage in run.stages:
        part = p95[p95["stage"] == stage]
        top.plot(part["t"], part["p95"], color=colour(stage), label=stage, lw=1.8)
        part = rps[rps["stage"] == stage]
        bottom.plot(part["t"], part["rps"], color=colour(stage), label=stage, lw=1.8)
    log = _auto_log(top, p95["p95"].tolist())
    top.set_ylabel(t("p95, all requests (ms, log)") if log else t("p95, all requests (ms)"))
    top.set_title(t("Latency over the measured window (p95, rolling)"))
    bottom.set_ylabel(t("HTTP requests per second"))
    bottom.set_xlabel(t("seconds into the measured window"))
    bottom.set_title(t("Throughput over the measured window"))
    bottom.set_ylim(bottom=0)
    top.legend(**LEGEND_RIGHT)
    return _save(fig, out, "latency_over_time.png")


def chart_cpu(run, out: Path) -> str | None:
    if not any(run.stat(s, "cpu_total") for s in run.stages):
        return None
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.8))
    groups = list(an.CPU_GROUPS)
    groups += sorted(
        {m[4:] for m in run.summary["metric"] if m.startswith("cpu_")} - set(groups) - {"total"}
    )
    bottoms = [0.0] * len(run.stages)
    for group in groups:
        heights = [(run.stat(s, f"cpu_{group}") or an.Stat(0, 0, 0, 0)).median for s in run.stages]
        if not any(heights):
            continue
        ax.bar(
            range(len(run.stages)),
            heights,
            0.6,
            bottom=bottoms,
            label=group,
            color=GROUP_COLOURS.get(group, "#BBBBBB"),
            edgecolor="white",
            linewidth=0.6,
        )
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for i, stage in enumerate(run.stages):
        if stage in an.locust_bound(run):
            ax.annotate(
                t("⚠ Locust\n{cores} cores", cores=num(an.locust_bound(run)[stage], ".2f")),
                (i, bottoms[i]),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=9,
                color="#B22222",
            )
    top = max(bottoms + [0.1])
    if run.cpu_count:
        ax.axhline(
            run.cpu_count,
            color="#B22222",
            ls="--",
            lw=1.5,
            label=t("machine:\n{n} cores", n=run.cpu_count),
        )
        top = max(top, run.cpu_count)
    ax.set_ylim(0, top * 1.25)
    _ticks(ax, run.stages)
    ax.set_ylabel(t("CPU used (cores)"))
    ax.set_title(t("CPU by process group (load generator included)"))
    ax.legend(**LEGEND_RIGHT)
    return _save(fig, out, "cpu.png")


def chart_cpu_budget(run, out: Path) -> str | None:
    """CPU used against each group's budget (budgeted runs): which box was full."""
    budgeted = [s for s in run.stages if run.stat(s, "budget_app")]
    if not budgeted:
        return None
    groups = [g for g in an.CPU_GROUPS if any(run.stat(s, f"budget_{g}") for s in budgeted)]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.8))
    width = 0.8 / len(groups)
    for j, group in enumerate(groups):
        xs, used, throttled = [], [], []
        for i, stage in enumerate(budgeted):
            budget, cpu = run.stat(stage, f"budget_{group}"), run.stat(stage, f"cpu_{group}")
            if budget and cpu:
                xs.append(i - 0.4 + width * (j + 0.5))
                used.append(100 * cpu.median / budget.median)
                thr = run.stat(stage, f"throttled_{group}")
                throttled.append(thr.median if thr else 0)
        ax.bar(xs, used, width, label=group, color=GROUP_COLOURS.get(group, "#BBBBBB"))
        for x, u, th in zip(xs, used, throttled, strict=True):
            if th >= 20:  # throttled in a fifth of its periods or more: the box was full
                ax.annotate(
                    f"{th:.0f}%",
                    (x, u),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    fontsize=8,
                    color="#B22222",
                )
    ax.axhline(100, color="#B22222", ls="--", lw=1.5, label=t("budget"))
    _ticks(ax, budgeted)
    ax.set_ylim(0, max(130, ax.get_ylim()[1]))
    ax.set_ylabel(t("CPU used, % of the group's budget"))
    ax.set_title(t("Each box against its CPU budget (red: % of periods throttled)"))
    ax.legend(**LEGEND_RIGHT)
    return _save(fig, out, "cpu_budget.png")


def build_charts(run, out: Path) -> dict[str, str]:
    """Draw every chart the run has data for; return {key: file name}."""
    # Drawn with this module's helpers, kept in modules of their own:
    from benchmarks.results.hockey import chart_ladder
    from benchmarks.results.scaling_chart import chart_scaling

    charts = {"throughput": chart_throughput(run, out), "ladder": chart_ladder(run, out),
              "failures": chart_failures(run, out)}  # fmt: skip
    for endpoint in run.endpoints():
        if not endpoint.startswith("E2E"):  # end-to-end times are in the queue lag chart
            charts[endpoint] = chart_endpoint(run, out, endpoint)
    charts["queue_lag"] = chart_queue_lag(run, out)
    charts["over_time"] = chart_over_time(run, out)
    charts["cpu"] = chart_cpu(run, out)
    charts["cpu_budget"] = chart_cpu_budget(run, out)
    charts["scaling"] = chart_scaling(run, out)
    return {k: v for k, v in charts.items() if v}
