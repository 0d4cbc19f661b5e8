"""What the bench prints while it runs: a line per phase, the time left, a table at the end."""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

from benchmarks.measure.stage_ladder import seconds as ladder_seconds

# Start-up, verification, probe, Locust start-up and logins, the mail drain, shutdown of one
# stage: 10-14 s measured on a quiet 2-core machine (a live top-10's probe is the most of it),
# and ~2 s more since the probe paces its requests under the app box's budget (probe.PACE).
OVERHEAD_GUESS_S = 14.0
POINT_SAVES_S = 7.0  # a scaling point has no probe (4-14 s) and no ladder
WRK_GUESS_S = 25.0  # benchmarks/measure/wrk.py: a stage started, wrk 5 s, Locust 5 s


def summary(run_dir: Path, stage_names: list[str], repeats: int) -> str:
    """Return a terminal table straight from each locust_stats.csv."""
    review, top = "POST /api/specialists/{id}/reviews", "GET /api/specialists/highest_rated"
    lines = [
        f"{'stage':<18}{'rep':<5}{'req/s':>8}{'fail %':>8}{'review p50/p95 ms':>20}"
        f"{'top-10 p50/p95 ms':>20}"
    ]
    for stage in stage_names:
        for k in range(1, repeats + 1):
            path = run_dir / stage / f"r{k}" / "locust_stats.csv"
            if not path.exists():
                lines.append(f"{stage:<18}r{k:<4}{'not measured':>16}")
                continue
            with path.open() as f:
                rows = {r["Name"]: r for r in csv.DictReader(f)}
            http = [r for n, r in rows.items() if n != "Aggregated" and r["Type"] != "E2E"]
            count = sum(int(r["Request Count"]) for r in http)
            fails = sum(int(r["Failure Count"]) for r in http)
            rps = sum(float(r["Requests/s"]) for r in http)

            pct = [
                f"{rows[n]['50%']}/{rows[n]['95%']}" if n in rows else "-" for n in (review, top)
            ]
            lines.append(
                f"{stage:<18}r{k:<4}{rps:>8.1f}{100 * fails / max(count, 1):>8.2f}"
                f"{pct[0]:>20}{pct[1]:>20}"
            )
    return "\n".join(lines)


class Progress:
    """Print one line per phase, with an estimate of the time left while measuring."""

    def __init__(self, args, units: int, detail: str = "", points: int = 0):
        self.args, self.units, self.finished, self.label = args, units, 0, ""
        self.detail = detail  # what the runs are, e.g. "7 stage run(s) + 4 scaling point(s)"
        self.points = points  # of the units, scaling points: closed loop only (measure/stage.py)
        self.started = time.monotonic()

    def guess(self) -> float:
        """Return the guessed seconds of one stage run: warm-up, window, ladder, overhead."""
        a = self.args
        return a.warmup + a.duration + ladder_seconds(a) + OVERHEAD_GUESS_S

    def plan(self) -> str:
        """Return the up-front estimate of the whole bench."""
        a = self.args
        ladder = ladder_seconds(a)
        what = f"warm-up {a.warmup} s + closed loop {a.duration} s"
        what += f" + ladder ~{ladder:.0f} s" if ladder else " (no ladder)"
        wrk = shutil.which("wrk") and not getattr(a, "quick", False)  # measure/wrk.py
        total = self.units * self.guess() + (WRK_GUESS_S if wrk else 0)
        total -= self.points * (ladder + POINT_SAVES_S)  # no probe, no ladder
        runs = f"{self.units} stage run(s)" + (f" ({self.detail})" if self.detail else "")
        return (
            f"plan: {runs}, each {what} + ~{OVERHEAD_GUESS_S:.0f} s "
            f"start-up{', then the wrk cross-check' if wrk else ''}: "
            f"about {fmt_duration(total)} in all"
        )

    def say(self, phase: str, estimate: bool = False) -> None:
        extra = ""
        if estimate:
            # Until a stage has finished, guess the overhead; then use the real average.
            per_unit = (
                (time.monotonic() - self.started) / self.finished if self.finished else self.guess()
            )
            left = self.args.duration + ladder_seconds(self.args) + 5
            left += (self.units - self.finished - 1) * per_unit
            extra = f" (est. {fmt_duration(left)} left)"
        print(f"{self.label} {phase}{extra}", flush=True)


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
