"""The machine's own load around a measured window: CPU steal, other busy time, load average.

The lab runs on shared machines: a figure that moves between repeats may be the neighbours, not
the stage. Two /proc snapshots (start and end of a window) cost nothing and say how much CPU the
hypervisor took away (steal), how busy the whole machine was, and the load average, so the
report can put numbers on that noise. On a system without /proc the figures are absent.

Steal is not the whole story on a cloud VM: a core shared with a busy neighbour (SMT, memory
bandwidth, frequency) runs slower with no steal recorded. Measured on the lab's 2-core VM, idle:
a fixed Python loop took 14.6-25.8 ms over 150 s. So each snapshot also times such a loop (the
machine's speed now, in the bench's own process: ~50 ms at most), and the report says how it
moved between windows.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PROC_STAT = Path("/proc/stat")
FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


SPEED_LOOPS = 300_000  # ~15 ms on the lab's machine


def speed_ms(loops: int = SPEED_LOOPS) -> float:
    """Return the best of 3 timings of a fixed pure-Python loop, in ms: the machine's speed now
    (lower is faster; the same loop, so runs and windows compare)."""
    best = float("inf")
    for _ in range(3):
        started, acc = time.perf_counter(), 0
        for i in range(loops):
            acc += i * i % 7
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 2)


def snapshot() -> dict:
    """Return the machine's CPU tick counters (all cores), load average and speed now."""
    out: dict = {"t": time.time(), "speed_ms": speed_ms()}
    try:
        first = PROC_STAT.read_text().splitlines()[0].split()
        out["ticks"] = dict(zip(FIELDS, (int(x) for x in first[1 : len(FIELDS) + 1]), strict=False))
    except (OSError, IndexError, ValueError):
        pass
    try:
        out["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return out


def window(start: dict, end: dict) -> dict:
    """Return steal %, busy % and iowait % of all cores between two snapshots, and both loads."""
    out = {"load1_start": _load1(start), "load1_end": _load1(end)}
    a, b = start.get("ticks"), end.get("ticks")
    if a and b:
        delta = {k: b.get(k, 0) - a.get(k, 0) for k in FIELDS}
        total = sum(delta.values())
        if total > 0:
            idle = delta["idle"] + delta["iowait"]
            out["steal_pct"] = round(100 * delta["steal"] / total, 2)
            out["iowait_pct"] = round(100 * delta["iowait"] / total, 2)
            out["busy_pct"] = round(100 * (total - idle - delta["steal"]) / total, 2)
    speeds = [x for x in (start.get("speed_ms"), end.get("speed_ms")) if x]
    if speeds:
        out["speed_ms"] = speeds  # the fixed loop's time at the window's start and end
    out["cpu_count"] = os.cpu_count()
    return out


def _load1(snap: dict) -> float | None:
    load = snap.get("loadavg")
    return load[0] if load else None
