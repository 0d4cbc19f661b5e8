"""Check a run against each stage's expected effect: `python -m benchmarks.results.check [RUN]`."""

from __future__ import annotations

import argparse
import operator
import sys
from dataclasses import dataclass

from benchmarks.results import analysis as an


@dataclass(frozen=True)
class Rel:
    """A threshold relative to another stage's figure (the same metric and endpoint)."""

    stage: str
    factor: float


@dataclass(frozen=True)
class Expectation:
    """A stage's expected effect: its figure (median across repeats) compared with a threshold."""

    stage: str
    metric: str
    endpoint: str
    op: str
    threshold: float | Rel
    says: str


# The effects each stage exists to show (DESIGN.md, "What we are building").
# fmt: off
EXPECTATIONS = (
    Expectation("async-mail", "p50", an.POST_REVIEW, "<=", Rel("legacy", 1 / 3),
                "POST review p50 at most 1/3 of legacy's"),
    Expectation("load-balanced", "auth_failure_rate", "", ">", 0,
                "sessions on one replica's disk break logins"),
    Expectation("token-auth", "auth_failure_rate", "", "==", 0,
                "JWT brings auth failures back to 0"),
    Expectation("cache", "p50", an.HIGHEST_RATED, "<=", Rel("token-auth", 1 / 100),
                "top-10 p50 under load at least 100x lower than token-auth's"),
    Expectation("cache", "alone_p50", an.HIGHEST_RATED, "<=", Rel("token-auth", 1 / 100),
                "top-10 p50 alone (one request at a time) at least 100x lower than token-auth's"),
    Expectation("async-reports", "download_success", "", "<", 100,
                "reports on one replica's disk make downloads fail"),
    Expectation("external-storage", "download_success", "", "==", 100,
                "object storage brings download success back to 100 %"),
    Expectation("async-reports", "p95", an.POST_REPORTS, "<", 50,
                "the report request returns at once (p95 < 50 ms)"),
    Expectation("external-storage", "p95", an.POST_REPORTS, "<", 50,
                "the report request returns at once (p95 < 50 ms)"),
)
# fmt: on

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, "==": operator.eq}


@dataclass(frozen=True)
class Outcome:
    """What a check found: "pass", "fail" or "skip", and a line saying so with the figures."""

    expectation: Expectation
    status: str
    detail: str

    def line(self) -> str:
        e = self.expectation
        return f"{self.status.upper():4}  {e.stage}: {e.says} - {self.detail}"


def _fmt(stat: an.Stat) -> str:
    text = f"{stat.median:.4g} {stat.unit}".strip()
    return text + (f" ({stat.lo:.4g}-{stat.hi:.4g}, {stat.n} repeats)" if stat.n > 1 else "")


def evaluate(run: an.Run, e: Expectation) -> Outcome:
    """Evaluate one expectation on a run."""
    needed = [e.stage] + ([e.threshold.stage] if isinstance(e.threshold, Rel) else [])
    missing = [s for s in needed if s not in run.stages]
    if missing:
        return Outcome(e, "skip", f"skipped (stage not in run: {', '.join(missing)})")
    what = f"{e.endpoint} {e.metric}".strip()
    stat = run.stat(e.stage, e.metric, e.endpoint)
    if stat is None:
        return Outcome(e, "fail", f"no {what} measured in {e.stage}")
    threshold, against = e.threshold, ""
    if isinstance(threshold, Rel):
        ref = run.stat(threshold.stage, e.metric, e.endpoint)
        if ref is None:
            return Outcome(e, "fail", f"no {what} measured in {threshold.stage}")
        threshold = ref.median * threshold.factor
        against = f" ({e.threshold.factor:.3g} x {e.threshold.stage}'s {_fmt(ref)})"
    # An exact claim ("== 0 auth failures") is about every repeat, not only the median.
    values = run.values(e.stage, e.metric, e.endpoint) if e.op == "==" else [stat.median]
    held = all(OPS[e.op](v, threshold) for v in values)
    detail = f"{what} = {_fmt(stat)}, expected {e.op} {threshold:.4g}{against}"
    return Outcome(e, "pass" if held else "fail", detail)


def check_run(run: an.Run) -> list[Outcome]:
    """Evaluate every expectation on a run."""
    return [evaluate(run, e) for e in EXPECTATIONS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", nargs="?", help="a results/<run_id> folder (default: newest)")
    args = parser.parse_args(argv)
    run = an.load_cli_run(args.run_dir)
    outcomes = check_run(run)
    print(f"run {run.run_id}: expected effects")
    if run.meta.get("quick"):
        print("note: a quick run (short, small data) may be too small to show every effect")
    for outcome in outcomes:
        print(outcome.line())
    failed = [o for o in outcomes if o.status == "fail"]
    if failed:
        names = "; ".join(f"{o.expectation.stage} ({o.expectation.says})" for o in failed)
        print(f"{len(failed)} expected effect(s) did not hold: {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
