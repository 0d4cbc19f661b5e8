"""What the bench prints while it runs: a line per phase, the time left, a table at the end."""

from __future__ import annotations

import csv
import time
from pathlib import Path

OVERHEAD_GUESS_S = 20.0  # start-up, verification, Locust start-ups and shutdown of one stage


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

    def __init__(self, args, units: int):
        self.args, self.units, self.finished, self.label = args, units, 0, ""
        self.started = time.monotonic()

    def say(self, phase: str, estimate: bool = False) -> None:
        extra = ""
        if estimate:
            # Until a stage has finished, guess the overhead; then use the real average.
            per_unit = (
                (time.monotonic() - self.started) / self.finished
                if self.finished
                else self.args.warmup + self.args.duration + OVERHEAD_GUESS_S
            )
            left = self.args.duration + 5 + (self.units - self.finished - 1) * per_unit
            extra = f" (est. {fmt_duration(left)} left)"
        print(f"{self.label} {phase}{extra}", flush=True)


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"

