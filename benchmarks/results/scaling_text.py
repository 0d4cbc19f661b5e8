"""The words under the scaling chart, from this run's numbers: sigma and kappa, a paragraph each.

The law is the one scaling.json holds (results/usl.py, fitted over every repeat): sigma
(contention) is the share of the work that queues for something every replica shares, and caps
throughput at lambda / sigma; kappa (coherency) is the cost paid per pair of replicas, which
makes the curve peak. A fit that held kappa at 0 (two replica counts), a sigma or kappa of 0 and
a failed fit are said as such. With the contrast curve (`bench --scaling-contrast`), one more
paragraph sets the two curves side by side: more processes on one box are not more CPU.
"""

from __future__ import annotations

import html

from benchmarks.results import usl
from benchmarks.results.formatting import fmt
from benchmarks.results.i18n import num, t


def coefficient(value: float, places: int) -> str:
    """sigma or kappa as the chart and the page write them: `places` decimals, or one
    significant digit for a smaller one (a kappa of 0.0004 is not "0.000")."""
    if value == 0 or abs(value) >= 10**-places:
        return num(value, f".{places}f")
    return num(value, ".1g")


def _rps(value: float) -> str:
    return fmt(value)


def _shared(run) -> str:
    """What every replica of this run shares, in words: its database, Redis if it has one, and
    the proxy (a scaling point from 2 replicas on is served through the load balancer)."""
    database = str(run.meta.get("database") or "sqlite")
    parts = [
        t("the one SQLite file (one writer at a time: its write lock)")
        if database.startswith("sqlite")
        else t("the one {database} database", database=database)
    ]
    metrics = {m for figures in run.curves.values() for m in figures["metric"].unique()}
    if "cpu_redis" in metrics:
        parts.append(t("the one Redis"))
    return t(
        "{shared} and, from 2 replicas on, the proxy every request passes through",
        shared=", ".join(parts),
    )


def sigma_paragraph(run, law: dict, counts: list[int]) -> str:
    """Contention: what sigma is, this run's value and what it costs."""
    sigma = coefficient(law["sigma"], 2)
    how = t(
        "the law fitted over {samples} runs at {counts} replicas",
        samples=law["samples"],
        counts=", ".join(str(n) for n in counts),
    )
    if law["r2"] is not None:
        how += t(", R² {r2}", r2=num(law["r2"], ".3f"))
    if law["sigma"] == 0:
        return t(
            "<b>Contention, σ = 0</b> ({how}): the fit finds no work waiting in line for "
            "something all replicas share ({shared}): nothing bends this curve towards a ceiling, "
            "or too little to tell from the noise.",
            how=how,
            shared=_shared(run),
        )
    return t(
        "<b>Contention, σ = {sigma}</b> ({how}): {pct} % of the work waits in line for something "
        "all replicas share; here {shared}. Every replica added queues there too, so the curve "
        "bends away from the ideal line towards a ceiling of λ/σ = <b>{ceiling} req/s</b>, "
        "however many replicas (λ = {lam} req/s: one replica's throughput with nothing shared).",
        sigma=sigma,
        how=how,
        pct=fmt(100 * law["sigma"], "%"),
        shared=_shared(run),
        ceiling=_rps(law["ceiling_rps"]),
        lam=_rps(law["lambda"]),
    )


def kappa_paragraph(law: dict, counts: list[int]) -> str:
    """Coherency: what kappa is, this run's value and where (or whether) the curve peaks."""
    first, top = counts[0], counts[-1]
    if "kappa" not in law["fitted"]:
        return t(
            "<b>Coherency, κ held at 0</b>: with only {k} replica counts the law has too few "
            "points for its three parameters, so κ was not measured and no peak is claimed; "
            "measure 3 or more (--scaling-replicas 1,2,3,4) to fit it.",
            k=len(counts),
        )
    what = t(
        "the cost of keeping replicas in agreement, paid per pair of replicas: N replicas make "
        "N(N−1)/2 pairs, so it grows faster than the replicas do. The replicas of this lab never "
        "talk to each other: their crosstalk goes through what they share, e.g. writers that find "
        "the database locked and wait or retry while the others hold it."
    )
    if law["kappa"] == 0:
        return t(
            "<b>Coherency, κ = 0</b>: {what} No such cost shows within {first}..{top} replicas: "
            "the curve does not turn down; no peak.",
            what=what,
            first=first,
            top=top,
        )
    head = t("<b>Coherency, κ = {kappa}</b>: {what}", kappa=coefficient(law["kappa"], 3), what=what)
    peak, peak_rps = law["peak_replicas"], _rps(law["peak_rps"])
    if peak <= top:
        return head + " " + t(
            "The law peaks at <b>{peak} replicas</b> ({rps} req/s): past that, adding a replica "
            "makes the whole slower.",
            peak=num(peak, ".1f"),
            rps=peak_rps,
        )  # fmt: skip
    return head + " " + t(
        "No peak within {first}..{top} replicas: the law puts it at {peak} replicas ({rps} req/s), "
        "beyond what was measured (an extrapolation).",
        first=first,
        top=top,
        peak=num(peak, ".1f"),
        rps=peak_rps,
    )  # fmt: skip


def contrast_paragraph(run, doc: dict) -> str:
    """The budgeted curve against the one measured with no budgets, over the replica counts
    both have."""
    boxed = {p["replicas"]: p["successful_rps"] for p in doc["points"]}
    unboxed = {p["replicas"]: p["successful_rps"] for p in doc["unbudgeted"]["points"]}
    common = sorted(set(boxed) & set(unboxed))
    if len(common) < 2:
        return t(
            "Without CPU budgets: the two curves share fewer than 2 replica counts ({counts}), "
            "so there is no contrast to draw.",
            counts=", ".join(str(n) for n in common) or "–",
        )
    a, b = common[0], common[-1]
    gain, gain_boxed = unboxed[b] / unboxed[a], boxed[b] / boxed[a]
    machine = (
        t("every process sharing the machine's {cores} cores", cores=run.cpu_count)
        if run.cpu_count
        else t("every process sharing the machine")
    )
    said = t(
        "<b>Without CPU budgets</b> ({machine}), {a} → {b} replicas gave <b>{gain}x</b> "
        "({x1} → {x2} req/s), against {gain_boxed}x with a CPU box per replica.",
        machine=machine,
        a=a,
        b=b,
        gain=num(gain, ".2f"),
        x1=_rps(unboxed[a]),
        x2=_rps(unboxed[b]),
        gain_boxed=num(gain_boxed, ".2f"),
    )
    if gain < gain_boxed:
        return said + " " + t(
            "Unboxed, one replica already takes the CPU the machine has, so more processes on "
            "the same box add no CPU: scale-out needs more boxes, not more processes on one box."
        )  # fmt: skip
    return said + " " + t(
        "Here the unbudgeted curve scaled as well: the machine still had idle CPU for the added "
        "processes, so this run does not show that more processes on one box add nothing."
    )  # fmt: skip


SUPERLINEAR = 1.1  # a point this far over the linear line from 1 replica is said


def superlinear_paragraph(doc: dict) -> str | None:
    """When the budgeted curve beats the linear line: say by how much and what the CPU per
    request did (app cores / throughput), which the law (sigma, kappa >= 0) cannot follow."""
    points = {p["replicas"]: p for p in doc["points"]}
    one = points.get(1)
    if not one or not one.get("successful_rps"):
        return None
    x1 = one["successful_rps"]
    over = [n for n, p in points.items() if n > 1 and p["successful_rps"] > SUPERLINEAR * n * x1]
    if not over:
        return None
    n = max(over)
    gain = points[n]["successful_rps"] / x1
    said = t(
        "<b>Above the linear line</b>: {n} replicas served {gain}x one replica's successful "
        "throughput with {n}x its CPU budget.",
        n=n,
        gain=num(gain, ".2f"),
    )
    cores = [points[k].get("app_cores") for k in (1, n)]
    if all(cores):
        per = [1000 * c / points[k]["successful_rps"] for c, k in zip(cores, (1, n), strict=True)]
        said += " " + t(
            "The app's CPU per successful request fell from {one} ms at 1 replica to {many} ms "
            "at {n} (its cores over its throughput): one box holding every user's requests at "
            "once spends more on each (a likely cause, not measured here: its threads queue for "
            "the GIL while the quota throttles the box in nearly every period); spread over more "
            "boxes, each holds fewer. The law (σ and κ at least 0) cannot bend above the line, "
            "so its fit runs under these points.",
            one=num(per[0], ".2f"),
            many=num(per[1], ".2f"),
            n=n,
        )
    return said


def scaling_paragraphs(run) -> list[str]:
    """Return the HTML paragraphs under the scaling chart (none without a scaling curve)."""
    if not run.curves:
        return []
    doc = usl.of_run(run)
    law, counts = doc["usl"], [p["replicas"] for p in doc["points"]]
    if "error" not in law:
        said = [sigma_paragraph(run, law, counts), kappa_paragraph(law, counts)]
    elif len(counts) < 2:
        said = [
            t(
                "No scaling law: it needs throughput at 2 or more replica counts (3 or more to "
                "fit κ), and this curve has {n}.",
                n=len(counts),
            )
        ]
    else:
        said = [t("No scaling law could be fitted: {why}", why=html.escape(law["error"]))]
    settings = run.meta.get("settings") or {}
    asked = set(settings.get("scaling_replicas") or counts)
    borrowed = [n for n in counts if n not in asked]  # results/curve_points.py
    if borrowed:
        said.insert(
            0,
            t(
                "The {n}-replica point is {stage}'s own run (the same closed loop, users and "
                "budgets): this run measured the scaling law's first step only; "
                "<code>--scaling {stage}</code> measures the whole curve, 1 to 4 replicas.",
                n=borrowed[0],
                stage=html.escape(str(settings.get("scaling_stage") or "")),
            ),
        )
    above = superlinear_paragraph(doc)
    if above:
        said.append(above)
    if "unbudgeted" in doc:
        said.append(contrast_paragraph(run, doc))
    return [f"<p class=law>{text}</p>" for text in said]
