"""Offered-load ladder (open loop): schedules, per-step accounting, ladder.json and capacity at SLO.

The closed loop (10 users back to back) lets a slow stage lower its own load. The ladder instead
offers fixed request rates, one step after another: requests arrive on a schedule (constant
spacing or Poisson) whatever the answers do, each is timed from its SCHEDULED send time (no
coordinated omission, as wrk2, k6's constant-arrival-rate and Vegeta do), and the achieved rate is
recorded beside the offered one. When the generator cannot send on time (its in-flight limit, its
CPU), the step is marked behind_schedule instead of hidden.

This module has no Locust import (analysis code may import it); the Locust side is
benchmarks/measure/ladderfile.py. `python -m benchmarks.measure.ladder --host URL --rates 10,20`
runs a ladder against a running stage (e.g. `python -m benchmarks.stack.up legacy --port N`) and
prints the table; `--show ladder.json` prints a stored one.

ladder.json: [{"offered_rps", "achieved_rps", "p50", "p99", "failures_pct", "behind_schedule",
               "requests", "late_pct", "max_late_ms", "unanswered", "blocked", "hdr"}, ...] (ms, %).
The bench runs one per stage and repeat (benchmarks/measure/stage_ladder.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.measure import latency
from benchmarks.paths import ROOT
from benchmarks.slo import MAX_FAILURES_PCT, SLO_MS

LADDERFILE = Path(__file__).resolve().parent / "ladderfile.py"
# The generator is behind schedule in a step when an arrival found every in-flight slot taken (k6
# calls these "dropped iterations"), or when more than LATE_LIMIT_PCT of its sends left LATE_MS
# or more after their scheduled time (a starved generator CPU). A few late sends on a busy
# machine are not a fall behind: their lateness is in the latency anyway (timed from schedule).
LATE_MS = 50.0
LATE_LIMIT_PCT = 10.0
DECIDABLE = 400  # arrivals: with none over the SLO, the Wilson 95 % bound on their share is < 1 %


@dataclass(frozen=True)
class Config:
    """A ladder: the offered rates (req/s), each held step_s seconds; the arrival process."""

    rates: tuple[float, ...]
    step_s: float = 10.0
    arrivals: str = "poisson"  # or "constant"
    max_in_flight: int = 200  # greenlets (and HTTP connections) of the generator
    drain_s: float = 10.0  # after the last step, wait this long for answers
    seed: int = 1
    # A step is lengthened, up to this many seconds, to offer DECIDABLE arrivals: a p99 under
    # the SLO can only be told from ~400 answers with none over it (results/ladders.py). 0: off.
    long_step_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.rates or any(not (r > 0) for r in self.rates):
            raise ValueError(f"rates must be positive req/s, got {self.rates}")
        if self.step_s <= 0 or self.drain_s < 0 or self.max_in_flight < 1:
            raise ValueError("step_s > 0, drain_s >= 0 and max_in_flight >= 1 are required")
        if self.arrivals not in ("poisson", "constant"):
            raise ValueError(f"arrivals must be 'poisson' or 'constant', got {self.arrivals!r}")

    def step_seconds(self, rate: float) -> float:
        """Return how long the step at `rate` lasts: step_s, or long enough to offer DECIDABLE
        arrivals where that takes at most long_step_s (a lower rate could not give them in a
        step worth its time: its p99 stays undecided, and the report says so)."""
        needed = DECIDABLE / rate
        return needed if self.step_s < needed <= self.long_step_s else self.step_s

    @property
    def seconds(self) -> float:
        return sum(self.step_seconds(r) for r in self.rates) + self.drain_s

    def env(self) -> dict[str, str]:
        return {"LAB_LADDER": json.dumps(self.__dict__)}

    @classmethod
    def from_env(cls) -> Config:
        raw = os.environ.get("LAB_LADDER")
        if not raw:
            raise ValueError("LAB_LADDER is not set (a JSON Config, see benchmarks/ladder.py)")
        data = json.loads(raw)
        return cls(**{**data, "rates": tuple(data["rates"])})


def parse_rates(text: str) -> tuple[float, ...]:
    """Parse "10,20,40" into rates; a clear error naming the bad item."""
    try:
        rates = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"--rates: expected req/s like 10,20,40, got {text!r}") from None
    if not rates or any(r <= 0 for r in rates):
        raise ValueError(f"--rates: every rate must be > 0 req/s, got {text!r}")
    return rates


def arrivals(rate: float, seconds: float, kind: str, rng: np.random.Generator) -> list[float]:
    """Return send offsets (s) within one step: evenly spaced, or a Poisson process given its
    count.

    Both offer exactly rate x seconds requests. A free Poisson count would wander +-5 % around
    it (sd sqrt(n)), so a step meant to offer the 400 arrivals that decide a p99 (DECIDABLE)
    got 379 half the time and stayed undecided. Given their count, the arrival times of a
    Poisson process are independent and uniform over the step: the same bursts and gaps
    (exponential gaps), the count fixed."""
    n = math.ceil(rate * seconds - 1e-9)
    if kind == "constant":
        return [i / rate for i in range(n)]
    return sorted(float(t) for t in rng.uniform(0.0, seconds, n))


class Step:
    """What happened to the requests scheduled in one step."""

    def __init__(self, rate: float, start: float, seconds: float) -> None:
        self.rate, self.start, self.seconds = rate, start, seconds
        self.counts = latency.Counts()  # time from scheduled send to answer
        self.scheduled = 0
        self.late = 0
        self.max_late_ms = 0.0
        self.without_request = 0  # tasks that ended before their first request
        self.blocked = 0  # arrivals dropped: the in-flight limit was reached (unanswered)

    @property
    def unanswered(self) -> int:
        """Scheduled arrivals whose first request never got an answer (or a failure)."""
        return max(0, self.scheduled - self.counts.hist.get_total_count() - self.without_request)


class Recorder:
    """Collects the ladder's requests (tagged with their step and scheduled time) into steps."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.ends: list[float] = []  # answer times of tagged requests (for the achieved rate)

    def begin(self, rate: float, start: float, seconds: float) -> int:
        self.steps.append(Step(rate, start, seconds))
        return len(self.steps) - 1

    def scheduled(self, step: int) -> None:
        self.steps[step].scheduled += 1

    def on_request(self, response_time, start_time=None, exception=None, context=None, **_):
        tag = (context or {}).get("ladder")
        if not tag or response_time is None or start_time is None:
            return
        index, scheduled = tag
        step = self.steps[index]
        late_ms = max(0.0, (start_time - scheduled) * 1000)
        step.late += late_ms > LATE_MS
        step.max_late_ms = max(step.max_late_ms, late_ms)
        step.counts.add(late_ms + response_time, exception)
        self.ends.append(start_time + response_time / 1000)

    def no_request(self, step: int) -> None:
        self.steps[step].without_request += 1

    def blocked(self, step: int) -> None:
        self.steps[step].blocked += 1

    def points(self) -> list[dict]:
        ends = np.array(self.ends)
        out = []
        for s in self.steps:
            answered = int(((ends >= s.start) & (ends < s.start + s.seconds)).sum())
            figs = latency.figures(s.counts.hist)
            sent = figs["count"] + s.unanswered
            failed = s.counts.failures + s.unanswered
            late_pct = 100 * s.late / figs["count"] if figs["count"] else 0.0
            out.append(
                {
                    "offered_rps": s.rate,
                    "achieved_rps": round(answered / s.seconds, 3),
                    "p50": _ms(figs["p50"]),
                    "p99": _ms(figs["p99"]),
                    "failures_pct": round(100 * failed / sent, 3) if sent else None,
                    "behind_schedule": bool(s.blocked or late_pct > LATE_LIMIT_PCT),
                    "requests": sent,
                    "late_pct": round(late_pct, 3),
                    "max_late_ms": round(s.max_late_ms, 1),
                    "unanswered": s.unanswered,
                    "blocked": s.blocked,
                    # Every answer's time from schedule (failures too): the report decides
                    # p99 < SLO for any SLO, with a binomial interval (results/ladders.py).
                    "hdr": s.counts.hist.encode().decode("ascii"),
                }
            )
        return out


def _ms(value: float) -> float | None:
    return None if value != value else round(value, 3)  # NaN: no answer in this step


def capacity_at_slo(
    points: list[dict], slo_ms: float = SLO_MS, max_failures_pct: float = MAX_FAILURES_PCT
) -> float | None:
    """Return the highest offered rate up to which every step kept p99 < slo_ms and failures < 1 %.

    A step the generator could not offer on time (behind_schedule) proves nothing either way:
    the climb stops there. None: not even the lowest rate held.
    """
    best = None
    for p in sorted(points, key=lambda p: p["offered_rps"]):
        ok = (
            not p["behind_schedule"]
            and p["p99"] is not None
            and p["p99"] < slo_ms
            and p["failures_pct"] is not None
            and p["failures_pct"] < max_failures_pct
        )
        if not ok:
            break
        best = p["offered_rps"]
    return best


def table(points: list[dict], slo_ms: float = SLO_MS) -> str:
    """Return the ladder as a terminal table with its capacity at SLO."""
    lines = [f"{'offered':>8} {'achieved':>9} {'p50 ms':>9} {'p99 ms':>9} {'fail %':>7}  note"]
    for p in points:
        note = "behind schedule" if p["behind_schedule"] else ""
        lines.append(
            f"{p['offered_rps']:>8g} {p['achieved_rps']:>9.1f} {_num(p['p50']):>9} "
            f"{_num(p['p99']):>9} {_num(p['failures_pct']):>7}  {note}"
        )
    cap = capacity_at_slo(points, slo_ms)
    said = f"{cap:g} req/s" if cap is not None else "none of the offered rates"
    lines.append(f"capacity at SLO (p99 < {slo_ms:g} ms, failures < 1 %): {said}")
    return "\n".join(lines)


def _num(v) -> str:
    return "-" if v is None else f"{v:.4g}"


def run(
    host: str,
    config: Config,
    out: Path,
    inbox: str = "",
    features: str = "",
    on_start=None,
    window_file: Path | None = None,
) -> list[dict]:
    """Run one ladder with Locust (headless, one scheduling user) and return its points.

    on_start(pid), when given, is called once Locust runs (the bench keeps it in its CPU box);
    `window_file`: where the locustfile says when its user has logged in."""
    cmd = [sys.executable, "-m", "locust", "-f", str(LADDERFILE), "--headless", "-u", "1",
           "-r", "1", "-t", f"{math.ceil(config.seconds + 30)}s", "--host", host,
           "--only-summary", "--exit-code-on-error", "0"]  # fmt: skip
    env = {**os.environ, **config.env(), "LAB_LADDER_FILE": str(out), "LAB_FEATURES": features}
    if inbox:
        env["LAB_INBOX_URL"] = inbox
    if window_file:
        window_file.unlink(missing_ok=True)
        env["LAB_WINDOW_FILE"] = str(window_file)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)  # fmt: skip
        try:
            if on_start is not None:
                on_start(proc.pid)
            code = proc.wait(timeout=config.seconds + 120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if code != 0 or not out.exists():
            log.seek(0)
            tail = log.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"locust exited {code} without {out.name}:\n{tail}")
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="the stage's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--rates", default="10,20,40,80", help="offered req/s, comma separated")
    parser.add_argument("--step-s", type=float, default=10.0, help="seconds per rate")
    parser.add_argument("--arrivals", choices=("poisson", "constant"), default="poisson")
    parser.add_argument("--max-in-flight", type=int, default=200)
    parser.add_argument("--slo-ms", type=float, default=SLO_MS)
    parser.add_argument("--inbox", default="", help="mail simulator URL (report flow only)")
    parser.add_argument("--features", default="", help="LAB_FEATURES, e.g. reports")
    parser.add_argument("--out", type=Path, default=Path("ladder.json"))
    parser.add_argument("--show", type=Path, help="print a stored ladder.json and exit")
    args = parser.parse_args(argv)
    if args.show:
        print(table(json.loads(args.show.read_text()), args.slo_ms))
        return 0
    if not args.host:
        parser.error("--host is required (or --show FILE)")
    try:
        config = Config(parse_rates(args.rates), args.step_s, args.arrivals, args.max_in_flight)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"ladder {args.rates} req/s, {args.step_s:g} s each ({args.arrivals}): "
          f"about {config.seconds:.0f} s", flush=True)  # fmt: skip
    points = run(args.host, config, args.out.resolve(), args.inbox, args.features)
    print(table(points, args.slo_ms))
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
