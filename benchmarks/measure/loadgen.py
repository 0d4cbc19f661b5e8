"""Keep the load generator apart: Locust in a CPU box of its own (or pinned to its own CPU where
no box can be made), and a verdict on whether it hit its limit, when it, not the app, was the
bottleneck of a run.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import psutil

from benchmarks.stack.budgets import LOCUST_CORES, Box, Budgets, CpuStat, saturated


@dataclass
class LoadGenerator:
    """How the load generator was kept apart: its box, or CPU affinity where no box exists."""

    pid: int
    how: str  # "box" or "affinity"
    cores: float
    box: Box | None = None
    cpus: tuple[int, ...] = ()
    start: CpuStat | None = None

    def stats(self) -> CpuStat:
        if self.box is not None:
            return self.box.stats()
        return CpuStat(usage_s=_family_cpu_s(self.pid))

    def mark(self) -> None:
        """Start its window now (the measured window opens after Locust's logins)."""
        self.start = self.stats()

    def window(self) -> dict:
        """Its CPU over the window since it was confined (or marked), and whether it hit its
        limit."""
        w = self.stats().since(self.start)
        return {
            "how": self.how,
            "budget_cores": self.cores,
            "cpus": list(self.cpus),
            "nr_periods": w.nr_periods,
            "nr_throttled": w.nr_throttled,
            "throttled_s": round(w.throttled_s, 3),
            "cores": None if w.usage_s is None else round(w.usage_s / w.at, 3),
            "hit_limit": saturated(w, self.cores),
        }


def confine_load_generator(
    pid: int, budgets: Budgets, cores: float = LOCUST_CORES, name: str | None = None
) -> LoadGenerator:
    """Keep the load generator (Locust's pid) from taking the app's share: a box of its own where
    budgets are enforced (named `name`, else locust-1, locust-2, ... one per run of Locust),
    else pinned to the last CPU(s) (whole CPUs: ceil(cores))."""
    if budgets.enforced:
        n = sum(1 for b in budgets.boxes if b.startswith("locust"))
        box = budgets.box(name or f"locust-{n + 1}", cores)
        box.add(pid)
        out = LoadGenerator(pid, "box", cores, box=box)
    else:
        mine = sorted(os.sched_getaffinity(pid))
        cpus = tuple(mine[-max(1, math.ceil(cores)) :])
        for p in [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]:
            os.sched_setaffinity(p, cpus)
        out = LoadGenerator(pid, "affinity", float(len(cpus)), cpus=cpus)
    out.start = out.stats()
    return out


def _family_cpu_s(pid: int) -> float | None:
    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
        return sum(sum(p.cpu_times()[:2]) for p in procs)
    except psutil.Error:
        return None
