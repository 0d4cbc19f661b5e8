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
import threading
import time
from pathlib import Path

PROC_STAT = Path("/proc/stat")
FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


SPEED_LOOPS = 300_000  # ~15 ms on the lab's machine
# Inside a window the loop is timed every SPEED_EVERY_S on a third of its length (best of 3:
# ~15 ms of one core every 3 s, 0.25 % of the machine), in the same units as the ends': the
# machine's speed through the window, not only at its two ends (it swung 22 -> 38 ms inside one).
SPEED_EVERY_S = 3.0
SPEED_SHORT = SPEED_LOOPS // 3


def speed_ms(loops: int = SPEED_LOOPS) -> float:
    """Return the best of 3 timings of a fixed pure-Python loop, in ms per SPEED_LOOPS loops: the
    machine's speed now (lower is faster; the same loop, so runs and windows compare)."""
    best = float("inf")
    for _ in range(3):
        started, acc = time.perf_counter(), 0
        for i in range(loops):
            acc += i * i % 7
        best = min(best, time.perf_counter() - started)
    return round(best * 1000 * SPEED_LOOPS / loops, 2)


class SpeedSampler(threading.Thread):
    """Time the speed loop every SPEED_EVERY_S while a window runs (a thread of the bench)."""

    def __init__(self, every_s: float = SPEED_EVERY_S):
        super().__init__(daemon=True)
        self.every_s, self.halt = every_s, threading.Event()
        self.samples: list[tuple[float, float]] = []  # (time, ms)

    def run(self) -> None:
        while not self.halt.wait(self.every_s):
            self.samples.append((time.time(), speed_ms(SPEED_SHORT)))

    def stop(self) -> None:
        self.halt.set()
        self.join()

    def window(self, start: float, end: float) -> list[float]:
        """Return the loop's times (ms) taken between start and end."""
        return [ms for t, ms in self.samples if start <= t <= end]


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
