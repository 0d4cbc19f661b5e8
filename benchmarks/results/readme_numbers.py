"""The README's numbers, generated from the committed reference runs: one source, no pasting.

The README marks each generated part with a pair of comments,

    <!-- numbers:NAME (generated ...) -->
    ...
    <!-- /numbers:NAME -->

and this module renders what goes between them from reports/reference/run (the headline table
with its caveats and the course comparison; the findings paragraph with its figures) and
reports/reference-postgresql/run (the PostgreSQL paragraph). `nox -s reference` rewrites them;
tests/test_readme.py fails when the README and the reference runs disagree.

    python -m benchmarks.results.readme_numbers          # check: exit 1 naming what differs
    python -m benchmarks.results.readme_numbers --write    # rewrite them
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from benchmarks.paths import ROOT
from benchmarks.results import analysis as an
from benchmarks.results import usl
from benchmarks.results.formatting import fmt
from benchmarks.results.summary import summary_markdown

README = ROOT / "README.md"
RUNS = {
    "reference": ROOT / "reports" / "reference" / "run",
    "reference-postgresql": ROOT / "reports" / "reference-postgresql" / "run",
}
BLOCK = re.compile(
    r"(<!-- numbers:(?P<name>[\w-]+)[^\n]*-->\n)(?P<body>.*?)(<!-- /numbers:(?P=name) -->)", re.S
)
WIDTH = 100  # the README's prose is wrapped at 100 columns


class Runs:
    """The reference runs, loaded once, with the few look-ups the prose needs."""

    def __init__(self, paths: dict[str, Path] = RUNS):
        self.paths, self._loaded = paths, {}

    def __getitem__(self, name: str) -> an.Run:
        if name not in self._loaded:
            self._loaded[name] = an.load_run(self.paths[name])
        return self._loaded[name]


def median(run: an.Run, stage: str, metric: str, endpoint: str = "") -> float:
    stat = run.stat(stage, metric, endpoint)
    if stat is None:
        raise ValueError(f"{run.path}: no {metric} {endpoint!r} for {stage}: the README needs it")
    return stat.median


def times(before: float, after: float) -> str:
    """A speed-up factor, to two significant figures: 198 -> "200", 55.6 -> "56"."""
    return f"{float(f'{before / after:.2g}'):,.0f}"


def seconds(ms: float) -> str:
    return f"{ms / 1000:.0f} s"


def wrap(text: str) -> str:
    return textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False) + "\n"


def table(runs: Runs) -> str:
    """The headline table, its caveats and the course comparison, as summary.md has them."""
    lines = summary_markdown(runs["reference"]).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| stage"))
    return "\n".join(lines[start:]) + "\n"


def _budgeted(run: an.Run) -> bool:
    return bool((run.meta.get("budgets") or {}).get("enforced"))


def _curve(points: list[dict]) -> str:
    return " -> ".join(f"{p['successful_rps']:.0f}" for p in points) + (
        f" req/s for {points[0]['replicas']} -> {points[-1]['replicas']} replicas"
    )


def findings(runs: Runs) -> str:
    """What the numbers say: the reference run's figures in the lab's words."""
    if _budgeted(runs["reference"]):
        return budgeted_findings(runs)
    r, top = runs["reference"], an.HIGHEST_RATED
    alone = times(median(r, "token-auth", "alone_p50", top), median(r, "cache", "alone_p50", top))
    loaded = times(median(r, "token-auth", "p50", top), median(r, "cache", "p50", top))
    curve = r.scaling[(r.scaling["endpoint"] == "") & (r.scaling["metric"] == "ok_throughput")]
    curve = curve.sort_values("replicas")
    replicas = curve["replicas"].tolist()
    return wrap(
        "What the numbers say, in short: the async mail takes the provider's latency out of the "
        "POST and shows it again as queue lag; the load balancer breaks "
        f"{fmt(median(r, 'load-balanced', 'auth_failure_rate'), '%')} % of all logins and, "
        f"**on {r.cpu_count} cores, buys no throughput** (one replica already uses "
        f"~{median(r, 'async-mail', 'cpu_app'):.1f} cores because SQLite's work runs outside "
        "the GIL, and Locust needs the rest: the scaling curve of the cache stage goes "
        + " -> ".join(f"{v:.0f}" for v in curve["median"])
        + f" req/s for {replicas[0]} -> {replicas[-1]} replicas); token auth fixes the logins; "
        "the cache cuts the top-10 by "
        f"~{alone}x alone and ~{loaded}x "
        "under load, and the higher throughput it allows then overruns the mail worker (review "
        f"mail lag {seconds(median(r, 'cache', 'review_lag_p50'))}: add workers); async reports "
        f"answer at once but lose {100 - median(r, 'async-reports', 'download_success'):.0f} % "
        "of the downloads to the replica without the file; object storage brings them back to "
        f"{fmt(median(r, 'external-storage', 'download_success'), '%')} %."
    )


def budgeted_findings(runs: Runs) -> str:
    """The same, for a reference measured with CPU budgets (a box per replica)."""
    r, top = runs["reference"], an.HIGHEST_RATED
    cores = (r.meta.get("budgets") or {}).get("replica_cpus")
    ok = {s: median(r, s, "ok_throughput") for s in ("async-mail", "token-auth")}
    raw = median(r, "load-balanced", "throughput")
    doc = usl.of_run(r)
    law, contrast = doc.get("usl") or {}, (doc.get("unbudgeted") or {}).get("points") or []
    scaling = ""
    if doc.get("points"):
        stage = r.meta.get("settings", {}).get("scaling_stage") or "?"
        scaling = f"; the {stage} stage's scaling curve goes {_curve(doc['points'])}"
        if "sigma" in law:
            scaling += f" (USL sigma {law['sigma']:.2f}, kappa {law['kappa']:.3f})"
        if contrast:
            scaling += f", against {_curve(contrast)} without budgets (every process sharing "
            scaling += "the machine's cores)"
    return wrap(
        "What the numbers say, in short: with each app replica a box of "
        f"{fmt(cores, 'cores')} core, the async mail takes the provider's latency out of the "
        "POST (alone: "
        f"{fmt(median(r, 'legacy', 'alone_p50', an.POST_REVIEW), 'ms')} -> "
        f"{fmt(median(r, 'async-mail', 'alone_p50', an.POST_REVIEW), 'ms')} ms) and shows it "
        "again as queue lag; the load balancer's second box answers "
        f"{raw / ok['async-mail']:.1f}x async-mail's requests but breaks "
        f"{fmt(median(r, 'load-balanced', 'auth_failure_rate'), '%')} % of them; token auth "
        f"fixes the logins and serves {ok['token-auth'] / ok['async-mail']:.1f}x async-mail's "
        "successful throughput (the course saw 1.6x)" + scaling + "; the cache cuts the top-10 by "
        f"~{times(median(r, 'token-auth', 'alone_p50', top), median(r, 'cache', 'alone_p50', top))}"
        "x alone and "
        f"~{times(median(r, 'token-auth', 'p50', top), median(r, 'cache', 'p50', top))}x under "
        "load; async reports answer at once but lose "
        f"{100 - median(r, 'async-reports', 'download_success'):.0f} % of the downloads to the "
        "replica without the file; object storage brings them back to "
        f"{fmt(median(r, 'external-storage', 'download_success'), '%')} %."
    )


def postgresql(runs: Runs) -> str:
    """The PostgreSQL reference beside the SQLite one, in figures."""
    pg, sq, top = runs["reference-postgresql"], runs["reference"], an.HIGHEST_RATED
    if _budgeted(pg):
        pg_top, sq_top = median(pg, "token-auth", "p50", top), median(sq, "token-auth", "p50", top)
        return wrap(
            "There (the database and Redis servers run outside the lab's CPU budgets: only the "
            "stack's own processes are boxed) the live top-10 under load takes "
            f"{seconds(pg_top) if pg_top >= 1000 else fmt(pg_top, 'ms') + ' ms'} in token-auth "
            f"against {seconds(sq_top) if sq_top >= 1000 else fmt(sq_top, 'ms') + ' ms'} on "
            "SQLite, so the cache's gain under load is "
            f"~{times(pg_top, median(pg, 'cache', 'p50', top))}x "
            f"(~{times(sq_top, median(sq, 'cache', 'p50', top))}x on SQLite; the course's 5 s -> "
            "90 ms is 56x); review mail lag p50 in async-mail: "
            f"{fmt(median(pg, 'async-mail', 'review_lag_p50'), 'ms')} ms."
        )
    return wrap(
        "There PostgreSQL computes the live top-10 faster than SQLite under load, so the cache's "
        f"gain is ~{times(median(pg, 'token-auth', 'p50', top), median(pg, 'cache', 'p50', top))}x "
        "under load (the course's 5 s -> 90 ms is 56x), not the "
        f"{times(median(sq, 'token-auth', 'p50', top), median(sq, 'cache', 'p50', top))}x it "
        "reaches on SQLite: `nox -s check` says so for that run; and every commit waits for the "
        "log write, so the mail worker falls behind sooner (review mail lag p50 "
        f"{seconds(median(pg, 'async-mail', 'review_lag_p50'))} in async-mail)."
    )


RENDER: dict[str, tuple[str, Callable[[Runs], str]]] = {
    "headline": ("reports/reference/run", table),
    "findings": ("reports/reference/run", findings),
    "postgresql": ("reports/reference-postgresql/run", postgresql),
}


def render(text: str, runs: Runs) -> tuple[str, list[str]]:
    """Return the README with every generated part rendered anew, and the parts that changed."""
    changed, seen = [], set()

    def one(m: re.Match) -> str:
        name = m["name"]
        if name not in RENDER:
            raise ValueError(
                f"README: unknown generated part numbers:{name}; known: {', '.join(RENDER)}"
            )
        seen.add(name)
        source, make = RENDER[name]
        body = make(runs)
        if body != m["body"]:
            changed.append(name)
        opening = (
            f"<!-- numbers:{name} (generated from {source} by "
            "`python -m benchmarks.results.readme_numbers --write`: do not edit by "
            "hand) -->\n"
        )
        return opening + body + m.group(4)

    out = BLOCK.sub(one, text)
    missing = sorted(set(RENDER) - seen)
    if missing:
        raise ValueError(
            f"README: no <!-- numbers:NAME --> ... <!-- /numbers:NAME --> markers "
            f"for {', '.join(missing)}"
        )
    return out, changed


def main(argv: list[str] | None = None, runs: Runs | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help="rewrite the README's generated parts")
    p.add_argument("--readme", type=Path, default=README)
    args = p.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    try:
        new, changed = render(text, runs or Runs())
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.write:
        args.readme.write_text(new, encoding="utf-8")
        print(f"{args.readme}: rewrote {', '.join(changed) or 'nothing (already current)'}")
        return 0
    if changed:
        sys.stdout.writelines(
            difflib.unified_diff(
                text.splitlines(True), new.splitlines(True), "README.md", "from the reference runs"
            )
        )
        print(
            f"\nREADME numbers differ from the reference runs: {', '.join(changed)}; "
            "run `python -m benchmarks.results.readme_numbers --write`",
            file=sys.stderr,
        )
        return 1
    print("README numbers match the reference runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
