"""Build charts and a report page from stored results: `python -m benchmarks.report [RUN_DIR]`."""

from __future__ import annotations

import argparse
import html
import math
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from benchmarks import analysis as an  # noqa: E402
from benchmarks.check import check_run  # noqa: E402

REPORTS_DIR = an.ROOT / "reports"
WIDTH_IN = 9.0  # charts are viewed ~900 px wide; saved at 2x for sharp text
DPI = 200
LOG_RANGE = 30  # a chart spanning more than this factor gets a log axis
DASH = "–"
LEGEND_RIGHT = {"loc": "center left", "bbox_to_anchor": (1.0, 0.5), "frameon": False}

STAGE_COLOURS = dict(
    zip(an.STAGE_ORDER, ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860",
                         "#DA8BC3"), strict=True)
)  # fmt: skip
GROUP_COLOURS = {
    "app": "#4C72B0",
    "worker": "#DD8452",
    "proxy": "#55A868",
    "redis": "#C44E52",
    "mail": "#8172B3",
    "storage": "#937860",
    "locust": "#7F7F7F",
}
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


@dataclass(frozen=True)
class CourseFigure:
    """A figure the course project published, and the lab's like-with-like counterpart."""

    what: str
    metric: str
    endpoint: str
    before: str  # stage measured before the change
    after: str
    course: str  # as published, before -> after


# fmt: off
COURSE = (
    CourseFigure("POST review latency alone (async mail)", "alone_p50", an.POST_REVIEW,
                 "legacy", "async-mail", "181 ms → 136 ms"),
    CourseFigure("POST review latency under load (async mail)", "p50", an.POST_REVIEW,
                 "legacy", "async-mail", "181 ms → 136 ms"),
    CourseFigure("successful throughput (load balancer)", "ok_throughput", "",
                 "async-mail", "load-balanced", "70 → 112 req/s"),
    CourseFigure("successful throughput (load balancer, logins fixed)", "ok_throughput", "",
                 "async-mail", "token-auth", "70 → 112 req/s"),
    CourseFigure("top-10 latency alone (cache)", "alone_p50", an.HIGHEST_RATED,
                 "token-auth", "cache", "5 s → 90 ms"),
    CourseFigure("top-10 latency under load (cache)", "p50", an.HIGHEST_RATED,
                 "token-auth", "cache", "5 s → 90 ms"),
)
# fmt: on


def colour(stage: str) -> str:
    """Return a stage's colour, the same in every chart."""
    return STAGE_COLOURS.get(stage.replace("_", "-"), "#999999")


def fmt(value: float | None, unit: str = "") -> str:
    """Format a figure for a table: precision that suits its unit and size."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if unit == "cores":
        return f"{value:.2f}"
    if unit == "%":
        return "0" if value == 0 else "100" if value == 100 else f"{value:.1f}"
    if abs(value) >= 100 or (unit == "ms" and abs(value) >= 10):
        return f"{value:,.0f}"
    # Locust's latencies are whole ms: "3", not "3.0".
    return f"{value:.1f}".removesuffix(".0") if abs(value) >= 1 or value == 0 else f"{value:.2g}"


def stat_parts(stat: an.Stat | None) -> tuple[str, str, bool]:
    """Return a figure's median, its "min–max" over repeats ("" if none) and its wide flag."""
    if not isinstance(stat, an.Stat):
        return DASH, "", False
    lo, hi = fmt(stat.lo, stat.unit), fmt(stat.hi, stat.unit)
    spread = f"{lo}–{hi}" if stat.n > 1 and lo != hi else ""
    return fmt(stat.median, stat.unit), spread, stat.wide


def fmt_stat(stat: an.Stat | None) -> str:
    """Format a figure as "median (min–max)", flagged when its repeats disagree too much."""
    text, spread, wide = stat_parts(stat)
    return text + (f" ({spread})" if spread else "") + (" ⚠" if wide else "")


def slug(name: str) -> str:
    """Return a file-name-safe form of a request name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# ---------------------------------------------------------------- charts


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
    fig.tight_layout()
    fig.savefig(out / name, dpi=DPI)
    plt.close(fig)
    return name


def locust_bound(run) -> dict[str, float]:
    """Return {stage: cores} where Locust used enough CPU to be the limit itself."""
    cores = {s: run.stat(s, "cpu_locust") for s in run.stages}
    return {s: c.median for s, c in cores.items() if c and c.median > an.LOCUST_CORE_LIMIT}


def chart_throughput(run, out: Path) -> str:
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.2))
    # Successful beside all answers: a replica's cheap 401s inflate the raw rate.
    series = [("all answers", "throughput", "", 0.9), ("successful", "ok_throughput", "", 0.45)]
    stage_bars(ax, run, run.stages, series, "HTTP requests per second", log=None)
    for i, stage in enumerate(run.stages):
        if stage in locust_bound(run):
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
    ax.set_title("Throughput by stage (same users, same duration)")
    return _save(fig, out, "throughput.png")


def chart_endpoint(run, out: Path, endpoint: str) -> str | None:
    stages = [s for s in run.stages if run.stat(s, "p50", endpoint)]
    if not stages:
        return None
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.2))
    series = [("p50", "p50", endpoint, 0.95), ("p95", "p95", endpoint, 0.45)]
    stage_bars(ax, run, stages, series, "response time (ms)")
    if ax.get_yscale() == "log":
        ax.set_ylabel("response time (ms, log scale)")
    ax.set_title(f"{endpoint}: latency by stage")
    return _save(fig, out, f"latency_{slug(endpoint)}.png")


def chart_failures(run, out: Path) -> str | None:
    panels = [
        ("Failed HTTP requests", "failure_rate", "% of HTTP requests"),
        ("Auth failures (401 on a logged-in request)", "auth_failure_rate", "% of auth'd requests"),
        ("Report downloads that got the right CSV", "download_success", "% of downloads"),
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
        stage_bars(ax, run, review, series, "review → mail in inbox (ms)")
        ax.set_title("Review mail: commit → inbox (queue lag)")
        # A lag that grows over the window is a queue filling faster than the worker drains it.
        ax = axes.pop(0)
        for stage in review:
            part = trend[trend["stage"] == stage]
            ax.plot(part["t"], part["lag_ms"], color=colour(stage), label=stage, lw=1.8)
        log = _auto_log(ax, trend["lag_ms"].tolist())
        ax.set_ylabel("median lag (ms" + (", log)" if log else ")"))
        ax.set_xlabel("seconds into the measured window (when the review was made)")
        ax.set_title("Review mail lag over the window: is the queue keeping up?")
        ax.legend(**LEGEND_RIGHT)
    if reports:
        ax = axes.pop(0)
        series = [
            ("→ mail p50", "p50", an.E2E_MAIL, 0.95),
            ("→ mail p95", "p95", an.E2E_MAIL, 0.6),
            ("→ CSV p50", "p50", an.E2E_CSV, 0.4),
            ("→ CSV p95", "p95", an.E2E_CSV, 0.2),
        ]
        stage_bars(ax, run, reports, series, "from POST /api/reports (ms)")
        ax.set_title("Report: request → mail → CSV downloaded (end to end)")
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
    top.set_ylabel("p95, all requests (ms" + (", log)" if log else ")"))
    top.set_title("Latency over the measured window (p95, rolling)")
    bottom.set_ylabel("HTTP requests per second")
    bottom.set_xlabel("seconds into the measured window")
    bottom.set_title("Throughput over the measured window")
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
        if stage in locust_bound(run):
            ax.annotate(
                f"⚠ Locust\n{locust_bound(run)[stage]:.2f} cores",
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
            label=f"machine:\n{run.cpu_count} cores",
        )
        top = max(top, run.cpu_count)
    ax.set_ylim(0, top * 1.25)
    _ticks(ax, run.stages)
    ax.set_ylabel("CPU used (cores)")
    ax.set_title("CPU by process group (load generator included)")
    ax.legend(**LEGEND_RIGHT)
    return _save(fig, out, "cpu.png")


def chart_scaling(run, out: Path) -> str | None:
    s = run.scaling
    if s is None or s.empty:
        return None
    settings = run.meta.get("settings") or {}
    stage = run.meta.get("scaling_stage") or settings.get("scaling_stage") or "the app"
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH_IN, 4.0))
    fig.suptitle(f"Scaling {stage}: more replicas, same load", fontweight="bold", fontsize=14)
    panels = (
        ("Throughput", "HTTP requests per second", "throughput", "", colour(stage)),
        ("p95 latency", "p95, all requests (ms)", "p95", an.AGGREGATED, "#C44E52"),
        ("CPU used", "cores (load generator included)", "cpu_total", "", "#555555"),
    )
    for ax, (title, ylabel, metric, endpoint, line) in zip(axes, panels, strict=True):
        part = s[(s["metric"] == metric) & (s["endpoint"] == endpoint)].sort_values("replicas")
        n = part["replicas"].tolist()
        if n:
            errs = [part["median"] - part["lo"], part["hi"] - part["median"]]
            ax.errorbar(
                n, part["median"], yerr=errs, marker="o", capsize=3, color=line, label="measured"
            )
        if metric == "throughput" and n:
            base = part["median"].iloc[0] / n[0]
            ax.plot(n, [base * k for k in n], ls="--", color="#999999", label="ideal (linear)")
            ax.legend(frameon=False, fontsize=10)
        if metric == "cpu_total" and run.cpu_count:
            ax.axhline(run.cpu_count, color="#B22222", ls="--", lw=1.5)
            ax.annotate(
                f"{run.cpu_count} cores",
                (n[0] if n else 1, run.cpu_count),
                xytext=(0, 3),
                textcoords="offset points",
                color="#B22222",
                fontsize=10,
            )
        ax.set_title(title, fontsize=12)
        ax.set_ylabel(ylabel, fontsize=11)
        ax.set_xlabel("app replicas")
        ax.set_xticks(sorted(s["replicas"].unique()))
        ax.set_ylim(0, ax.get_ylim()[1] * 1.12)  # room for the top marker
    return _save(fig, out, "scaling.png")


def build_charts(run, out: Path) -> dict[str, str]:
    """Draw every chart the run has data for; return {key: file name}."""
    charts = {"throughput": chart_throughput(run, out), "failures": chart_failures(run, out)}
    for endpoint in run.endpoints():
        if not endpoint.startswith("E2E"):  # end-to-end times are in the queue lag chart
            charts[endpoint] = chart_endpoint(run, out, endpoint)
    charts["queue_lag"] = chart_queue_lag(run, out)
    charts["over_time"] = chart_over_time(run, out)
    charts["cpu"] = chart_cpu(run, out)
    charts["scaling"] = chart_scaling(run, out)
    return {k: v for k, v in charts.items() if v}


# ---------------------------------------------------------------- text


def course_rows(run) -> list[tuple[str, str, str]]:
    """Return (what, course as published, this run) rows for like-with-like comparison."""
    rows = []
    for c in COURSE:
        before, after = (
            run.stat(c.before, c.metric, c.endpoint),
            run.stat(c.after, c.metric, c.endpoint),
        )
        unit = (before or after).unit if (before or after) else ""
        lab = f"{fmt(before and before.median, unit)} → {fmt(after and after.median, unit)}"
        lab = f"{lab} {unit}" if before or after else DASH
        rows.append((f"{c.what}: {c.before} → {c.after}", c.course, lab))
    return rows


def warnings(run) -> list[str]:
    """Return what a reader must know before trusting the numbers."""
    out = []
    if run.meta.get("quick"):
        out.append("Quick run: short and small, the numbers only show the direction of effects.")
    if run.meta.get("git_dirty"):
        out.append("The working tree had uncommitted changes when this run was measured.")
    load = (run.meta.get("loadavg_at_start") or [0])[0]
    if run.cpu_count and load > run.cpu_count / 2:
        out.append(
            f"The machine was already busy when the run started (load average {load} on "
            f"{run.cpu_count} CPUs): other work may have taken CPU from the stages."
        )
    if run.meta.get("interrupted"):
        out.append("The run was interrupted: some stages or repeats may be missing.")
    out += [f"{stage}: {text}." for stage, text in run.problems]
    known = {f"{stage} {text.split()[0]}" for stage, text in run.problems}
    failed = [f for f in run.meta.get("failed") or [] if f not in known]
    if failed:
        out.append(f"The bench could not measure: {', '.join(failed)}.")
    for stage in run.stages:
        mails = run.stat(stage, "review_mail_success")
        if mails and mails.lo < 100:
            out.append(
                f"{stage}: only {fmt(mails.lo, '%')} % of the accepted reviews' mails "
                f"arrived (worst repeat): mails were lost or still queued."
            )
    bound = locust_bound(run)
    if bound:
        where = ", ".join(f"{s} ({c:.2f})" for s, c in bound.items())
        out.append(
            f"Locust used more than {an.LOCUST_CORE_LIMIT} core in {where}: there the load "
            f"generator, not the app, may be what limits throughput."
        )
    wide = sum(1 for _, _, cells in headline_cells(run) for stat, _ in cells if stat and stat.wide)
    if wide:
        out.append(
            f"{wide} headline figures (marked ⚠) differ by more than {an.WIDE_SPREAD:.0%} between "
            f"repeats: compare them with care, or measure more repeats."
        )
    return out


def method(run) -> str:
    """Return the method in two sentences, from the run's settings."""
    s = run.meta.get("settings", {})
    repeats = s.get("repeats", "?")
    times = "measured once" if repeats == 1 else f"this was repeated {repeats} times"
    return (
        f"Each stage was brought up fresh on the same seeded data ({s.get('scale', '?')} "
        f"specialists x reviews) and loaded by one Locust scenario with {s.get('users', '?')} "
        f"users for {s.get('duration_s', '?')} s, after a separate {s.get('warmup_s', '?')} s "
        f"warm-up that is discarded; {times} per stage. "
        f"Figures are medians over the repeats with their min–max spread in brackets (⚠ when "
        f"the spread exceeds {an.WIDE_SPREAD:.0%} of the median); latencies are Locust's "
        f"percentiles in whole ms and throughput counts HTTP requests only."
    )


def setup_line(run) -> str:
    """Return the run's setup in one line, for the top of the page and summary.md."""
    m, s = run.meta, run.meta.get("settings") or {}
    return (
        f"{m.get('cpu_count', '?')} CPUs · {m.get('database', '?')} · {s.get('users', '?')} users "
        f"× {s.get('duration_s', '?')} s · repeats: {s.get('repeats', '?')}"
        + (" · quick run" if m.get("quick") else "")
    )


def environment(run) -> list[tuple[str, str]]:
    """Return (label, value) pairs describing where and how the run was measured."""
    m = run.meta
    commit = (m.get("git_commit") or "?")[:12] + (" (dirty)" if m.get("git_dirty") else "")
    settings = ", ".join(f"{k}={v}" for k, v in (m.get("settings") or {}).items())
    packages = ", ".join(f"{k} {v}" for k, v in sorted((m.get("packages") or {}).items()))
    return [
        ("run", f"{run.run_id} ({m.get('started_at', '?')} → {m.get('finished_at', '?')})"),
        ("git commit", commit),
        ("machine", f"{m.get('cpu_count', '?')} CPUs, {m.get('platform', '?')}"),
        ("load average at start", " / ".join(str(x) for x in m.get("loadavg_at_start") or ["?"])),
        ("Python", str(m.get("python", "?"))),
        ("database / Redis", f"{m.get('database', '?')} / {m.get('redis', '?')}"),
        ("settings", settings or "?"),
        ("repeats", str((m.get("settings") or {}).get("repeats", "?"))),
        ("packages", packages or "?"),
    ]


SHORT_NAMES = {
    an.POST_REVIEW: "POST review",
    an.HIGHEST_RATED: "GET top-10",
    an.POST_REPORTS: "POST report",
}


def headline_cells(run):
    """Yield (stage, key endpoint, [(stat, focus)]) for each row of the headline table."""
    table = an.headline(run)
    for stage, row in table.to_dict("index").items():  # iterrows would turn None into NaN
        focus = an.FOCUS.get(stage)
        key = an.key_endpoint(stage)
        cells = [(row[c.name], bool(focus and c.name in focus.shows)) for c in an.HEADLINE_COLUMNS]
        yield stage, SHORT_NAMES.get(key, key) if key else DASH, cells


def summary_markdown(run) -> str:
    """Return the headline table (and the course comparison) as Markdown, for the README."""
    cols = an.HEADLINE_COLUMNS
    head = ["stage", "key endpoint"] + [f"{c.label} ({c.unit})" for c in cols]
    lines = [
        f"# Results of run {run.run_id}",
        "",
        f"{setup_line(run)}. "
        "Median (min–max over repeats); ⚠ = repeats differ by more than "
        f"{an.WIDE_SPREAD:.0%}; {DASH} = not measured.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for stage, key, cells in headline_cells(run):
        texts = [f"**{fmt_stat(st)}**" if focus and st else fmt_stat(st) for st, focus in cells]
        lines.append(f"| {stage} | {key} | " + " | ".join(texts) + " |")
    caveats = warnings(run)
    if caveats:
        lines += ["", "Caveats:", ""] + [f"- {w}" for w in caveats]
    lines += [
        "",
        "| compared with the course | course (published) | this run (median) |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in course_rows(run)]
    return "\n".join(lines) + "\n"


CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:1100px;
margin:2em auto;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.8em 0;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:right;vertical-align:top}
th{background:#f4f4f4}td.l,th.l{text-align:left}
td.focus{background:#fff4cc;font-weight:600}td.focus small{font-weight:400}
td.l small{display:inline-block;max-width:11em;line-height:1.3}
td:not(.l) small,td.l b,td.key{white-space:nowrap}td.missing{color:#aaa}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
.scroll{overflow-x:auto}table.headline{font-size:12px}table.headline td small{font-size:10px}
table.headline th,table.headline td{padding:3px 4px}table.headline td:not(.l){white-space:nowrap}
.warn{background:#fff1f0;border-left:4px solid #c0392b;padding:.5em 1em;margin:.4em 0}
.pass{color:#1e7b34}.fail{color:#c0392b;font-weight:600}.skip{color:#888}.inconclusive{color:#b9770e}
figure{margin:1.5em 0}figure img{width:100%;max-width:900px;border:1px solid #eee}
figcaption{font-size:13px;color:#555;max-width:900px}
dl{display:grid;grid-template-columns:10em 1fr;gap:2px 1em;font-size:13px}dt{font-weight:600}
small{color:#777}
"""

CAPTIONS = {
    "throughput": "HTTP requests per second over the measured window (E2E entries excluded). "
    "Course project, 10 connections for 10 s: 70 → 112 req/s with the load balancer.",
    "failures": "Failure rate over all HTTP requests; auth failures: 401 on a logged-in request, "
    "over every request but login (load-balanced should be > 0, token-auth 0); download "
    "success: mailed links that returned the right CSV (async-reports < 100 %, "
    "external-storage 100 %).",
    "queue_lag": "Queue lag: the time from the review's commit (or the report request) to the "
    "mail in the simulator's inbox, over mails of work created in the measured window. A lag "
    "that climbs over the window means the worker cannot keep up with the load.",
    "over_time": "Rolling p95 (Locust's ~10 s window) and requests per second, median over "
    "repeats. The p95 counts every Locust entry, the report E2E entries included.",
    "cpu": "CPU cores used by each process group over the measured window (median over "
    "repeats). The dashed line is the machine: a stack near it means the box was the limit; "
    f"Locust above {an.LOCUST_CORE_LIMIT} core may be the limit itself.",
    "scaling": "Throughput and p95 as the app is replicated; the dashed line is perfect linear "
    "scaling from one replica. Replicas on one machine share its CPUs: once they are busy (see "
    "the CPU chart), more replicas cannot add throughput.",
    an.POST_REVIEW: "Course project: 181 ms → 136 ms with the async mail.",
    an.HIGHEST_RATED: "Course project: 5 s → 90 ms with the cache.",
}
TITLES = {
    "throughput": "Throughput",
    "failures": "Failures, auth failures and downloads",
    "queue_lag": "Async work: queue lag and report end to end",
    "over_time": "Over time",
    "cpu": "CPU per process group",
    "scaling": "Scaling curve",
}


def counters_table(run) -> list[str]:
    """Return the stages' Redis counters (e.g. top_rated_computed) as an HTML table, if any."""
    names = sorted(
        m.removeprefix("counter_") for m in set(run.summary["metric"]) if m.startswith("counter_")
    )
    if not names:
        return []
    rows = ["<h2>Work counted in Redis</h2><table><tr><th class=l>stage</th>"]
    rows += [f"<th>{_e(n)}</th>" for n in names] + ["</tr>"]
    for stage in run.stages:
        cells = [fmt_stat(run.stat(stage, f"counter_{n}")) for n in names]
        rows.append(
            f"<tr><td class=l>{_e(stage)}</td>"
            + "".join(f"<td>{_e(c)}</td>" for c in cells)
            + "</tr>"
        )
    rows.append(
        "</table><p><small>lab:counter:* keys, end minus start of the measured window: "
        "e.g. how often the top-10 was really computed rather than served from the "
        "cache.</small></p>"
    )
    return rows


def alone_table(run) -> list[str]:
    """Return the table of each endpoint's latency alone (probe.json), per stage."""
    names = [n for n in an.ENDPOINT_ORDER if any(run.stat(s, "alone_p50", n) for s in run.stages)]
    if not names:
        return []
    out = [
        "<h2>Each endpoint alone</h2><p>p50 of 10 requests sent one at a time before the "
        "load (ms): the endpoint's own cost. Under the closed-loop load every request also "
        "queues behind the others (with 10 users, latency ≈ 10 / throughput), which is why "
        "the figures under load are higher.</p><table><tr><th class=l>stage</th>"
    ]
    out += [f"<th>{_e(n)}</th>" for n in names]
    out.append("</tr>")
    for stage in run.stages:
        cells = "".join(f"<td>{_e(fmt_stat(run.stat(stage, 'alone_p50', n)))}</td>" for n in names)
        out.append(f"<tr><td class=l>{_e(stage)}</td>{cells}</tr>")
    out.append("</table>")
    return out


def wrk_section(run) -> list[str]:
    """Return the cross-check of Locust's throughput against wrk, or why it was skipped."""
    wrk = run.meta.get("wrk") or {"skipped": "this run predates the cross-check"}
    if "skipped" in wrk:
        return [f"<h2>Load generator cross-check</h2><p>Skipped: {_e(wrk['skipped'])}.</p>"]
    return [
        "<h2>Load generator cross-check</h2>"
        f"<p>{_e(wrk['endpoint'])} on the {_e(wrk['stage'])} stage, {wrk['connections']} "
        f"connections, {wrk['seconds']} s each: <b>wrk {fmt(wrk['wrk_rps'])} req/s</b>, "
        f"<b>Locust {fmt(wrk['locust_rps'])} req/s</b> (wrk/Locust = "
        f"{wrk['ratio_wrk_to_locust']}; Locust used {fmt(wrk.get('locust_cores'))} core). "
        "Where wrk gets more from the same endpoint, the stages' cheapest requests were "
        "partly limited by the load generator, not by the app.</p>"
    ]


def failed_note(run, endpoint: str) -> str:
    """Say where an endpoint's latencies are mostly failed requests (Locust times those too)."""
    rates = {s: run.stat(s, "failure_rate", endpoint) for s in run.stages}
    failing = [
        f"{s} ({fmt(r.median, '%')} % failed)" for s, r in rates.items() if r and r.median > 5
    ]
    if not failing:
        return ""
    return (
        f"Latencies include failed requests, often fast error answers such as a 401: "
        f"{', '.join(failing)}. "
    )


def _e(text) -> str:
    return html.escape(str(text))


def page(run, charts: dict[str, str]) -> str:
    """Return the self-contained report page."""
    cols = an.HEADLINE_COLUMNS
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Scaling lab — run {_e(run.run_id)}</title><style>{CSS}</style></head><body>",
        f"<h1>Scaling lab: seven architecture stages, measured</h1><p>Run <b>{_e(run.run_id)}"
        f"</b> · {_e(setup_line(run))}<br>Stages measured: {_e(', '.join(run.stages))}</p>",
    ]
    parts += [f"<div class=warn>⚠ {_e(w)}</div>" for w in warnings(run)]

    parts.append(
        "<h2>Headline</h2><div class=scroll><table class=headline><tr><th class=l>stage</th>"
        "<th class=l>key</th>"
    )
    parts += [f"<th>{_e(c.label)}<br><small>{_e(c.unit)}</small></th>" for c in cols]
    parts.append("</tr>")
    for stage, key, cells in headline_cells(run):
        focus = an.FOCUS.get(stage)
        swatch = f"<span class=swatch style='background:{colour(stage)}'></span>"
        parts.append(
            f"<tr><td class=l><b>{swatch}{_e(stage)}</b><br><small>"
            f"{_e(focus.expect if focus else '')}</small></td>"
            f"<td class='l key'>{_e(key)}</td>"
        )
        for stat, is_focus in cells:
            text, spread, wide = stat_parts(stat)
            klass = "missing" if stat is None else "focus" if is_focus else ""
            flag = " <span title='repeats differ too much'>⚠</span>" if wide else ""
            sub = f"<br><small>{_e(spread)}</small>" if spread else ""
            parts.append(f"<td class='{klass}'>{_e(text)}{flag}{sub}</td>")
        parts.append("</tr>")
    parts.append(
        f"</table></div><p><small>Median (min–max over repeats); highlighted: what the stage "
        f"is about; ⚠ repeats differ by more than {an.WIDE_SPREAD:.0%}; {DASH} not "
        f"measured. Key: the endpoint the stage is about (alone: one request at a time, before "
        f"the load); mail lag: review committed → its mail in the inbox; report e2e: report "
        f"requested → CSV downloaded; downloads ok: mailed links that gave the right CSV."
        f"</small></p>"
    )

    parts.append("<h2>Expected effects</h2><ul>")
    for o in check_run(run):
        parts.append(
            f"<li class={o.status}>{o.status.upper()} — <b>{_e(o.stage or o.expectation.stage)}"
            f"</b>: {_e(o.expectation.says if o.expectation else o.detail)}. "
            f"<small>{_e(o.detail if o.expectation else '')}</small></li>"
        )
    parts.append("</ul>")

    parts.append(
        "<h2>Compared with the course project</h2><table><tr><th class=l>figure</th>"
        "<th>course (published)</th><th>this run (median)</th></tr>"
    )
    parts += [
        f"<tr><td class=l>{_e(a)}</td><td>{_e(b)}</td><td>{_e(c)}</td></tr>"
        for a, b, c in course_rows(run)
    ]
    parts.append(
        "</table><p><small>The course's figures come from a PHP/Laravel stack on "
        "other hardware: compare the direction and size of each change, not absolute "
        "values.</small></p>"
    )

    parts += counters_table(run)
    parts += alone_table(run)
    parts += wrk_section(run)
    parts.append("<h2>Charts</h2>")
    for key, name in charts.items():
        title = TITLES.get(key, f"Latency: {key}")
        caption = CAPTIONS.get(key, "")
        if key not in TITLES:
            caption = (
                "p50 (solid) and p95 (light) per stage; bars show the median over "
                "repeats, whiskers the min–max. " + failed_note(run, key) + caption
            )
        parts.append(
            f"<figure><h3>{_e(title)}</h3><img src='{_e(name)}' alt='{_e(title)}'>"
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )

    parts.append(f"<h2>Environment and method</h2><p>{_e(method(run))}</p><dl>")
    parts += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in environment(run)]
    parts.append(
        f"</dl><p><small>Built by <code>python -m benchmarks.report</code> from "
        f"<code>{_e(run.path)}</code>.</small></p></body></html>"
    )
    return "\n".join(parts)


def build(run: an.Run, out: Path | None = None) -> Path:
    """Build the charts, index.html and summary.md of a run; return the page's path."""
    out = out or REPORTS_DIR / run.run_id
    out.mkdir(parents=True, exist_ok=True)
    charts = build_charts(run, out)
    (out / "summary.md").write_text(summary_markdown(run), encoding="utf-8")
    index = out / "index.html"
    index.write_text(page(run, charts), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", nargs="?", help="a results/<run_id> folder (default: newest)")
    parser.add_argument("--out", type=Path, help="output folder (default: reports/<run_id>/)")
    args = parser.parse_args(argv)
    index = build(an.load_cli_run(args.run_dir), args.out)
    print(index)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
