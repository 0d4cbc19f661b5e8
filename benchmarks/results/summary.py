"""The words around the numbers: headline rows, caveats, method, course comparison, summary.md."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.results import analysis as an
from benchmarks.results import intervals as iv
from benchmarks.results import noise, noise_sources
from benchmarks.results.formatting import DASH, fmt, fmt_stat_ci
from benchmarks.results.i18n import decimal, later, num, t


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
    CourseFigure(later("POST review latency alone (async mail)"), "alone_p50", an.POST_REVIEW,
                 "legacy", "async-mail", "181 ms → 136 ms"),
    CourseFigure(later("POST review latency under load (async mail)"), "p50", an.POST_REVIEW,
                 "legacy", "async-mail", "181 ms → 136 ms"),
    CourseFigure(later("successful throughput (load balancer)"), "ok_throughput", "",
                 "async-mail", "load-balanced", "70 → 112 req/s"),
    CourseFigure(later("successful throughput (load balancer, logins fixed)"), "ok_throughput", "",
                 "async-mail", "token-auth", "70 → 112 req/s"),
    CourseFigure(later("top-10 latency alone (cache)"), "alone_p50", an.HIGHEST_RATED,
                 "token-auth", "cache", "5 s → 90 ms"),
    CourseFigure(later("top-10 latency under load (cache)"), "p50", an.HIGHEST_RATED,
                 "token-auth", "cache", "5 s → 90 ms"),
)
# fmt: on


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
        rows.append((f"{t(c.what)}: {c.before} → {c.after}", decimal(c.course), lab))
    return rows


def warnings(run) -> list[str]:
    """Return what a reader must know before trusting the numbers."""
    out = []
    if run.meta.get("quick"):
        out.append(t("Quick run: short and small, the numbers only show the direction of effects."))
    if run.meta.get("git_dirty"):
        out.append(t("The working tree had uncommitted changes when this run was measured."))
    load = (run.meta.get("loadavg_at_start") or [0])[0]
    if run.cpu_count and load > run.cpu_count / 2:
        out.append(
            t(
                "The machine was already busy when the run started (load average {load} on "
                "{cpus} CPUs): other work may have taken CPU from the stages.",
                load=load,
                cpus=run.cpu_count,
            )
        )
    if run.meta.get("interrupted"):
        out.append(t("The run was interrupted: some stages or repeats may be missing."))
    budgets = run.meta.get("budgets") or {}
    if budgets.get("asked") and not budgets.get("enforced"):
        out.append(
            t(
                "CPU budgets were asked for but NOT enforced on this machine ({why}): every "
                "process shared the same cores, so a replica added no capacity of its own.",
                why=budgets.get("why_not") or t("no mechanism"),
            )
        )
    out += [f"{t(stage)}: {t(text)}." for stage, text in run.problems]
    known = {f"{stage} {text.split()[0]}" for stage, text in run.problems}
    failed = [f for f in run.meta.get("failed") or [] if f not in known]
    if failed:
        out.append(t("The bench could not measure: {what}.", what=", ".join(failed)))
    for stage in run.stages:
        mails = run.stat(stage, "review_mail_success")
        if mails and mails.lo < 100:
            out.append(
                t(
                    "{stage}: only {share} % of the accepted reviews' mails arrived (worst "
                    "repeat): mails were lost or still queued.",
                    stage=stage,
                    share=fmt(mails.lo, "%"),
                )
            )
    bound = an.locust_bound(run)
    over = {s: c for s, c in bound.items() if c > an.LOCUST_CORE_LIMIT}
    boxed = {s: c for s, c in bound.items() if s not in over}  # its CPU box was the limit
    if over:
        where = ", ".join(f"{s} ({num(c, '.2f')})" for s, c in over.items())
        out.append(
            t(
                "Locust used more than {limit} core in {where}: there the load generator, not the "
                "app, may be what limits throughput.",
                limit=an.LOCUST_CORE_LIMIT,
                where=where,
            )
        )
    if boxed:
        where = ", ".join(f"{s} ({num(c, '.2f')})" for s, c in boxed.items())
        out.append(
            t(
                "Locust's CPU budget throttled it in {share} % of its periods or more in {where} "
                "(cores used): there the load generator, not the app, may be what limits "
                "throughput.",
                share=an.LOCUST_THROTTLED_PCT,
                where=where,
            )
        )
    out += noise.caveats(run)  # the machine, the generator, the worker: measured
    spread = [
        (stage, an.key_endpoint(stage) if col.endpoint is an.KEY else col.endpoint, col)
        for stage, _, cells in headline_cells(run)
        for (stat, _), col in zip(cells, an.HEADLINE_COLUMNS, strict=True)
        if stat and stat.wide
    ]
    cells = [(s, e, c.metric, c.label) for s, e, c in spread]
    tails = [cell for cell in cells if cell[2] in noise.TAILS]
    out += [x for x in (noise.thin_tails(run, tails), noise.growing_queues(run, run.stages)) if x]
    wide = len(spread)
    if wide:
        out.append(
            t(
                "{n} headline figures (marked ⚠) differ by more than {wide} between repeats: "
                "compare them with care, or measure more repeats.",
                n=wide,
                wide=f"{an.WIDE_SPREAD:.0%}",
            )
        )
        out.append(noise_sources.sorted_by_source(run, cells))
    return out


def method(run) -> str:
    """Return the method in two sentences, from the run's settings."""
    s = run.meta.get("settings", {})
    repeats = s.get("repeats", "?")
    times = t("measured once") if repeats == 1 else t("this was repeated {n} times", n=repeats)
    return t(
        "Each stage was brought up fresh on the same seeded data ({scale} specialists x reviews) "
        "and loaded by one Locust scenario with {users} users for {duration} s, after a separate "
        "{warmup} s warm-up that is discarded; {times} per stage. Figures are medians over the "
        "repeats with their 95 % confidence interval in brackets (⚠ when the repeats' min–max "
        "spread exceeds {wide} of the median); latencies are exact (an HdrHistogram of every "
        "request) and throughput counts HTTP requests only. Then, on the same warm stack, an "
        "open-loop ladder offers the same rates to every stage ({ladder}), each request timed "
        "from its scheduled send: capacity at SLO is the highest rate whose p99 stays under "
        "{slo} ms with under 1 % failures.",
        scale=s.get("scale", "?"),
        users=s.get("users", "?"),
        duration=s.get("duration_s", "?"),
        warmup=s.get("warmup_s", "?"),
        times=times,
        wide=f"{an.WIDE_SPREAD:.0%}",
        ladder=_ladder_words(s),
        slo=num(_slo(s), "g"),
    )


def _slo(settings: dict) -> float:
    return float(settings.get("slo_ms") or 500)


def _ladder_words(settings: dict) -> str:
    ladder = settings.get("ladder")
    if not ladder:
        return t("not run in this run")
    rates = ", ".join(num(r, "g") for r in ladder.get("rates", []))
    return t(
        "{rates} req/s, {step} s each, {arrivals}",
        rates=rates,
        step=ladder.get("step_s", "?"),
        arrivals=ladder.get("arrivals", ""),
    )


def setup_line(run) -> str:
    """Return the run's setup in one line, for the top of the page and summary.md."""
    m, s = run.meta, run.meta.get("settings") or {}
    return t(
        "{cpus} CPUs · {database} · {users} users × {duration} s · repeats: {repeats}",
        cpus=m.get("cpu_count", "?"),
        database=m.get("database", "?"),
        users=s.get("users", "?"),
        duration=s.get("duration_s", "?"),
        repeats=s.get("repeats", "?"),
    ) + (t(" · quick run") if m.get("quick") else "")


def environment(run) -> list[tuple[str, str]]:
    """Return (label, value) pairs describing where and how the run was measured."""
    m = run.meta
    commit = (m.get("git_commit") or "?")[:12] + (t(" (dirty)") if m.get("git_dirty") else "")
    settings = ", ".join(f"{k}={v}" for k, v in (m.get("settings") or {}).items())
    packages = ", ".join(f"{k} {v}" for k, v in sorted((m.get("packages") or {}).items()))
    return [
        (t("run"), f"{run.run_id} ({m.get('started_at', '?')} → {m.get('finished_at', '?')})"),
        (t("git commit"), commit),
        (
            t("machine"),
            t(
                "{cpus} CPUs, {platform}",
                cpus=m.get("cpu_count", "?"),
                platform=m.get("platform", "?"),
            ),
        ),
        (
            t("load average at start"),
            " / ".join(num(x) for x in m.get("loadavg_at_start") or ["?"]),
        ),
        ("Python", str(m.get("python", "?"))),
        (t("database / Redis"), f"{m.get('database', '?')} / {m.get('redis', '?')}"),
        (t("settings"), settings or "?"),
        (t("repeats"), str((m.get("settings") or {}).get("repeats", "?"))),
        (t("packages"), packages or "?"),
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


def cell_intervals(run) -> dict:
    """Return {(stage, column name): 95 % interval} of the headline, computed once per run."""
    if getattr(run, "_cell_intervals", None) is None:
        run._cell_intervals = iv.headline_intervals(run)
    return run._cell_intervals


def headline_rows(run):
    """Yield (stage, key, [(stat, focus, interval)]): the headline cells with their intervals."""
    intervals = cell_intervals(run)
    for stage, key, cells in headline_cells(run):
        yield (
            stage,
            key,
            [
                (stat, focus, intervals.get((stage, col.name)))
                for (stat, focus), col in zip(cells, an.HEADLINE_COLUMNS, strict=True)
            ],
        )


def summary_markdown(run) -> str:
    """Return the headline table (and the course comparison) as Markdown, for the README."""
    cols = an.HEADLINE_COLUMNS
    head = [t("stage"), t("key endpoint")] + [f"{t(c.label)} ({t(c.unit)})" for c in cols]
    lines = [
        t("# Results of run {run_id}", run_id=run.run_id),
        "",
        f"{setup_line(run)}. "
        + t(
            "Median over repeats [its 95 % confidence interval: bootstrap over repeats and time "
            "slices; capacity at SLO: binomial per ladder step]; ⚠ = repeats differ (max - min) "
            "by more than {wide} of the median; {dash} = not measured.",
            wide=f"{an.WIDE_SPREAD:.0%}",
            dash=DASH,
        ),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for stage, key, cells in headline_rows(run):
        texts = [
            f"**{fmt_stat_ci(st, ci)}**" if focus and st else fmt_stat_ci(st, ci)
            for st, focus, ci in cells
        ]
        lines.append(f"| {stage} | {key} | " + " | ".join(texts) + " |")
    caveats = warnings(run)
    if caveats:
        lines += ["", t("Caveats:"), ""] + [f"- {w}" for w in caveats]
    lines += [
        "",
        "| "
        + " | ".join(
            (t("compared with the course"), t("course (published)"), t("this run (median)"))
        )
        + " |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in course_rows(run)]
    return "\n".join(lines) + "\n"
