"""The report page: one self-contained HTML file around the charts and the headline table."""

from __future__ import annotations

import html
import json

from benchmarks.results import analysis as an
from benchmarks.results import timing as tm
from benchmarks.results.check import check_run
from benchmarks.results.formatting import DASH, colour, fmt, fmt_interval, fmt_stat, stat_parts
from benchmarks.results.i18n import current, later, t
from benchmarks.results.scaling_text import scaling_paragraphs
from benchmarks.results.summary import (
    course_rows,
    environment,
    headline_rows,
    method,
    setup_line,
    warnings,
)

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
figcaption{font-size:13px;color:#555;max-width:900px}p.law{max-width:900px}
dl{display:grid;grid-template-columns:10em 1fr;gap:2px 1em;font-size:13px}dt{font-weight:600}
small{color:#777}
"""

CAPTIONS = {
    "throughput": later(
        "HTTP requests per second over the measured window (E2E entries "
        "excluded). Course project, 10 connections for 10 s: 70 → 112 req/s with the load balancer."
    ),
    "failures": later(
        "Failure rate over all HTTP requests; auth failures: 401 on a logged-in "
        "request, over every request but login (load-balanced should be > 0, token-auth 0); "
        "download success: mailed links that returned the right CSV (async-reports < 100 %, "
        "external-storage 100 %)."
    ),
    "queue_lag": later(
        "Queue lag: the time from the review's commit (or the report request) to "
        "the mail in the simulator's inbox, over mails of work created in the measured window. "
        "A lag that climbs over the window means the worker cannot keep up with the load."
    ),
    "over_time": later(
        "Rolling p95 (Locust's ~10 s window) and requests per second, median over "
        "repeats. The p95 counts every Locust entry, the report E2E entries included."
    ),
    "cpu": later(
        "CPU cores used by each process group over the measured window (median over "
        "repeats). The dashed line is the machine: a stack near it means the box was the limit; "
        "Locust above {limit} core may be the limit itself.",
        limit=an.LOCUST_CORE_LIMIT,
    ),
    "cpu_budget": later(
        "With CPU budgets, each process group runs in a box of its own (a cgroup "
        "quota): the bars are the CPU it used as a share of its budget, red figures the share of "
        "scheduler periods it was throttled in. A box at 100 % and throttled was the limit."
    ),
    "scaling": later(
        "Successful throughput, p95 and CPU as the app is replicated (median over "
        "repeats, whiskers the min–max); the dashed line is perfect linear scaling from one "
        "replica, the light curve the Universal Scalability Law fitted over every repeat. Replicas "
        "on one machine share its CPUs: once they are busy (see the CPU panel), more replicas "
        "cannot add throughput. The dark dotted curve, where the run has one, is the same "
        "replicas with no CPU budgets at all."
    ),
    "ladder": later(
        "Open-loop ladder: requests arrive on a schedule (Poisson) at the same offered "
        "rates for every stage, whatever the answers do, and each is timed from its scheduled send "
        "(no coordinated omission); median p99 over repeats. Where a curve crosses the dashed SLO "
        "line is the stage's capacity at SLO (headline table). Hollow markers: the generator fell "
        "behind its schedule at that rate (an arrival found its in-flight limit reached, or over "
        "10 % of sends left 50 ms late), so the stage was offered less than the rate says."
    ),
    an.POST_REVIEW: later("Course project: 181 ms → 136 ms with the async mail."),
    an.HIGHEST_RATED: later("Course project: 5 s → 90 ms with the cache."),
}
TITLES = {
    "throughput": later("Throughput"),
    "ladder": later("p99 against offered load (open loop)"),
    "failures": later("Failures, auth failures and downloads"),
    "queue_lag": later("Async work: queue lag and report end to end"),
    "over_time": later("Over time"),
    "cpu": later("CPU per process group"),
    "cpu_budget": later("CPU against budget"),
    "scaling": later("Scaling curve"),
}


def counters_table(run) -> list[str]:
    """Return the stages' Redis counters (e.g. top_rated_computed) as an HTML table, if any."""
    names = sorted(
        m.removeprefix("counter_") for m in set(run.summary["metric"]) if m.startswith("counter_")
    )
    if not names:
        return []
    rows = [f"<h2>{t('Work counted in Redis')}</h2><table><tr><th class=l>{t('stage')}</th>"]
    rows += [f"<th>{_e(n)}</th>" for n in names] + ["</tr>"]
    for stage in run.stages:
        cells = [fmt_stat(run.stat(stage, f"counter_{n}")) for n in names]
        rows.append(
            f"<tr><td class=l>{_e(stage)}</td>"
            + "".join(f"<td>{_e(c)}</td>" for c in cells)
            + "</tr>"
        )
    rows.append(
        "</table><p><small>"
        + t(
            "lab:counter:* keys, end minus start of the measured window: e.g. how often the "
            "top-10 was really computed rather than served from the cache."
        )
        + "</small></p>"
    )
    return rows


def alone_table(run) -> list[str]:
    """Return the table of each endpoint's latency alone (probe.json), per stage."""
    names = [n for n in an.ENDPOINT_ORDER if any(run.stat(s, "alone_p50", n) for s in run.stages)]
    if not names:
        return []
    out = [
        f"<h2>{t('Each endpoint alone')}</h2><p>"
        + t(
            "p50 of {n} requests an endpoint, sent one at a time before the load (ms): the "
            "endpoint's own cost. Under the closed-loop load every request also queues behind the "
            "others (with 10 users, latency ≈ 10 / throughput), which is why the figures under "
            "load are higher.",
            n=_probe_counts(run),
        )
        + f"</p><table><tr><th class=l>{t('stage')}</th>"
    ]
    out += [f"<th>{_e(n)}</th>" for n in names]
    out.append("</tr>")
    for stage in run.stages:
        cells = "".join(f"<td>{_e(fmt_stat(run.stat(stage, 'alone_p50', n)))}</td>" for n in names)
        out.append(f"<tr><td class=l>{_e(stage)}</td>{cells}</tr>")
    out.append("</table>")
    return out


def _probe_counts(run) -> str:
    """The fewest and most samples an endpoint got in any probe of the run (probe.json): a slow
    one (a live top-10) stops after a few seconds of requests, so not every endpoint got as many."""
    counts = [
        len(entry["ms"])
        for stage in run.stages
        for probe in (run.path / stage).glob("r*/probe.json")
        for entry in json.loads(probe.read_text()).values()
        if entry.get("ms")
    ]
    low, high = min(counts, default=0), max(counts, default=0)
    return f"{low}–{high}" if low != high else str(high)


def wrk_section(run) -> list[str]:
    """Return the cross-check of Locust's throughput against wrk, or why it was skipped."""
    wrk = run.meta.get("wrk") or {"skipped": t("this run predates the cross-check")}
    head = f"<h2>{t('Load generator cross-check')}</h2>"
    if "skipped" in wrk:
        return [head + f"<p>{t('Skipped: {why}.', why=_e(wrk['skipped']))}</p>"]
    return [
        head
        + "<p>"
        + t(
            "{endpoint} on the {stage} stage, {connections} connections, {seconds} s each: "
            "<b>wrk {wrk} req/s</b>, <b>Locust {locust} req/s</b> (wrk/Locust = {ratio}; Locust "
            "used {cores} core). Where wrk gets more from the same endpoint, the stages' "
            "cheapest requests were partly limited by the load generator, not by the app.",
            endpoint=_e(wrk["endpoint"]),
            stage=_e(wrk["stage"]),
            connections=wrk["connections"],
            seconds=wrk["seconds"],
            wrk=fmt(wrk["wrk_rps"]),
            locust=fmt(wrk["locust_rps"]),
            cores=fmt(wrk.get("locust_cores")),
            ratio=wrk["ratio_wrk_to_locust"],
        )
        + "</p>"
    ]


def failed_note(run, endpoint: str) -> str:
    """Say where an endpoint's latencies are mostly failed requests (Locust times those too)."""
    rates = {s: run.stat(s, "failure_rate", endpoint) for s in run.stages}
    failing = [
        t("{stage} ({rate} % failed)", stage=s, rate=fmt(r.median, "%"))
        for s, r in rates.items() if r and r.median > 5
    ]  # fmt: skip
    if not failing:
        return ""
    return t(
        "Latencies include failed requests, often fast error answers such as a 401: {stages}. ",
        stages=", ".join(failing),
    )


WHERE_CAPTIONS = {
    an.POST_REVIEW: later(
        "Look for the red smtp part: the mail provider's delay (and more under "
        "load) inside the request in legacy, gone from it in async-mail, where an enqueue (queue) "
        "takes its place. On the right, the time from the review's commit to its mail in the "
        "inbox: in legacy it passes inside the request (the smtp part), from async-mail on after "
        "the answer, as queue lag: the work did not vanish, it left the request."
    ),
    an.HIGHEST_RATED: later(
        "Look for the blue db part turning into a thin green cache part in the "
        "cache stage: most requests are served from the cache, so the mean database time left is "
        "that of the few misses."
    ),
    an.POST_REPORTS: later(
        "Look for how little the report request does itself: it records the "
        "job and enqueues it (queue); building and storing the CSV happen in the worker, after the "
        "answer (their time is in the report's end-to-end figures, not here)."
    ),
    an.LOGIN: later(
        "Look for the purple hash part: the password check (a deliberately slow key "
        "derivation) dominates login in every stage; no architecture change makes it cheaper. "
        "Logins are set-up, before the window: with CPU budgets they run with the boxes open, "
        "so their times are those of a whole core, not a quarter."
    ),
}


def where_section(run, charts: dict[str, str]) -> list[str]:
    """Return the "Where the time goes" section: one stacked-bar chart per key request name.

    Runs without timing.json (before Server-Timing) have no such charts: no section."""
    figures = [(k.removeprefix(tm.WHERE), v) for k, v in charts.items() if k.startswith(tm.WHERE)]
    if not figures:
        return []
    out = [
        f"<h2>{t('Where the time goes')}</h2><p>"
        + t(
            "Each response's <code>Server-Timing</code> header says how long the app spent in "
            "each component; the bars stack the mean over every measured request of that name (a "
            "request that skipped a component counts 0 for it), pooled over repeats. They add up "
            "to the time <i>in the app</i>: the latency Locust sees also counts waiting for a "
            "free worker and the network."
        )
        + "</p>"
    ]
    for endpoint, name in figures:
        title = t("Where the time goes: {endpoint}", endpoint=endpoint)
        caption = t(WHERE_CAPTIONS.get(endpoint, "")) + " " + failed_note(run, endpoint)
        out.append(
            f"<figure><img src='{_e(name)}' alt='{_e(title)}'>"
            f"<figcaption>{_e(caption.strip())}</figcaption></figure>"
        )
    return out


def _e(text) -> str:
    return html.escape(str(text))


def page(run, charts: dict[str, str]) -> str:
    """Return the self-contained report page, in the current language (i18n.use)."""
    cols = an.HEADLINE_COLUMNS
    parts = [
        f"<!doctype html><html lang={current()}><head><meta charset=utf-8>",
        f"<title>{t('Scaling lab — run {run_id}', run_id=_e(run.run_id))}</title>"
        f"<style>{CSS}</style></head><body>",
        f"<h1>{t('Scaling lab: seven architecture stages, measured')}</h1><p>"
        + t("Run <b>{run_id}</b>", run_id=_e(run.run_id))
        + f" · {_e(setup_line(run))}<br>"
        + t("Stages measured: {stages}", stages=_e(", ".join(run.stages)))
        + "</p>",
    ]
    parts += [f"<div class=warn>⚠ {_e(w)}</div>" for w in warnings(run)]

    parts.append(
        f"<h2>{t('Headline')}</h2><div class=scroll><table class=headline><tr><th class=l>"
        f"{t('stage')}</th><th class=l>{t('key')}</th>"
    )
    parts += [f"<th>{_e(t(c.label))}<br><small>{_e(t(c.unit))}</small></th>" for c in cols]
    parts.append("</tr>")
    for stage, key, cells in headline_rows(run):
        focus = an.FOCUS.get(stage)
        swatch = f"<span class=swatch style='background:{colour(stage)}'></span>"
        parts.append(
            f"<tr><td class=l><b>{swatch}{_e(stage)}</b><br><small>"
            f"{_e(t(focus.expect) if focus else '')}</small></td>"
            f"<td class='l key'>{_e(key)}</td>"
        )
        for stat, is_focus, interval in cells:
            text, spread, wide = stat_parts(stat)
            klass = "missing" if stat is None else "focus" if is_focus else ""
            said = t("repeats {spread}: they differ too much", spread=spread) if spread else ""
            flag = f" <span title='{_e(said)}'>⚠</span>" if wide else ""
            ci = fmt_interval(interval, stat.unit) if stat is not None else ""
            ci_title = t("95 % confidence interval")
            sub = f"<br><small title='{ci_title}'>{_e(ci)}</small>" if ci else ""
            parts.append(f"<td class='{klass}'>{_e(text)}{flag}{sub}</td>")
        parts.append("</tr>")
    parts.append(
        "</table></div><p><small>"
        + t(
            "Median over repeats, under it its 95 % confidence interval (bootstrap over repeats "
            "and five time slices of each window; capacity at SLO: binomial per ladder step); "
            "highlighted: what the stage is about; ⚠ repeats differ (max − min) by more than "
            "{wide} of the median (hover for them); {dash} not measured. Key: the endpoint the "
            "stage is about (alone: one request at a time, before the load); mail lag: review "
            "committed → its mail in the inbox; report e2e: report requested → CSV downloaded; "
            "downloads ok: mailed links that gave the right CSV; capacity at SLO: the highest "
            "offered rate of the ladder with p99 under the SLO and failures under 1 % (0: not "
            "even the lowest; surely 0: a request slower than the SLO alone is over 1 % of the "
            "arrivals, so no rate can hold).",
            wide=f"{an.WIDE_SPREAD:.0%}",
            dash=DASH,
        )
        + "</small></p>"
    )

    parts.append(f"<h2>{t('Expected effects')}</h2><ul>")
    for o in check_run(run):
        parts.append(
            f"<li class={o.status}>{_e(t(o.status.upper()))} — "
            f"<b>{_e(o.stage or o.expectation.stage)}"
            f"</b>: {_e(t(o.expectation.says) if o.expectation else o.detail)}. "
            f"<small>{_e(o.detail if o.expectation else '')}</small></li>"
        )
    parts.append("</ul>")

    parts.append(
        f"<h2>{t('Compared with the course project')}</h2><table><tr><th class=l>"
        f"{t('figure')}</th><th>{t('course (published)')}</th>"
        f"<th>{t('this run (median)')}</th></tr>"
    )
    parts += [
        f"<tr><td class=l>{_e(a)}</td><td>{_e(b)}</td><td>{_e(c)}</td></tr>"
        for a, b, c in course_rows(run)
    ]
    parts.append(
        "</table><p><small>"
        + t(
            "The course's figures come from a PHP/Laravel stack on other hardware: compare the "
            "direction and size of each change, not absolute values."
        )
        + "</small></p>"
    )

    parts += counters_table(run)
    parts += alone_table(run)
    parts += wrk_section(run)
    parts += where_section(run, charts)
    parts.append(f"<h2>{t('Charts')}</h2>")
    for key, name in charts.items():
        if key.startswith(tm.WHERE):  # drawn in their own section
            continue
        title = t(TITLES[key]) if key in TITLES else t("Latency: {endpoint}", endpoint=key)
        caption = t(CAPTIONS.get(key, ""))
        if key not in TITLES:
            caption = (
                t(
                    "p50 (solid) and p95 (light) per stage; bars show the median over repeats, "
                    "whiskers the min–max. "
                )
                + failed_note(run, key)
                + caption
            )
        parts.append(
            f"<figure><h3>{_e(title)}</h3><img src='{_e(name)}' alt='{_e(title)}'>"
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )
        if key == "scaling":  # sigma and kappa from this run's fit, and the contrast if any
            parts += scaling_paragraphs(run)

    parts.append(f"<h2>{t('Environment and method')}</h2><p>{_e(method(run))}</p><dl>")
    parts += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in environment(run)]
    parts.append(
        "</dl><p><small>"
        + t(
            "Built by <code>python -m benchmarks.results.report</code> from <code>{path}</code>.",
            path=_e(run.path),
        )
        + "</small></p></body></html>"
    )
    return "\n".join(parts)
