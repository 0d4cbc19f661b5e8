"""CPU sampling: the CPU seconds of each process group, the load generator's included."""

from __future__ import annotations

import threading
import time

import psutil

SAMPLE_INTERVAL_S = 0.5


def with_budgets(cpu: dict, stack, before: dict, after: dict, loadgen: list) -> dict:
    """Add to cpu.json's groups their CPU budget and throttling over the window (budget_cores,
    nr_throttled, throttled_s: from each box's cpu.stat), and Locust's, with `hit_limit` when
    the load generator, not the app, was the limit. Unbudgeted runs get budgets: none."""
    cpu["budgets"] = stack.boxes.record()
    for group, counters in stack.boxes.window(before, after).items():
        cpu["groups"].setdefault(group, {}).update(counters)
    if loadgen:
        # Its throttling over its whole run; "cores" stays the sampler's, over the window.
        own = {k: v for k, v in loadgen[-1].window().items() if k != "cores"}
        cpu["groups"].setdefault("locust", {}).update(own)
    return cpu


class CpuSampler(threading.Thread):
    """Sample the CPU seconds of each process group, children included, at a fixed interval."""

    def __init__(self):
        super().__init__(daemon=True)
        self.groups = dict  # set before start(): a callable returning {group: [pids]}
        self.procs: dict[int, psutil.Process] = {}
        self.last: dict[int, float] = {}
        self.owner: dict[int, str] = {}
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while True:
            self.sample()
            if self.halt.wait(SAMPLE_INTERVAL_S):
                self.sample()
                return

    def sample(self) -> None:
        for group, pids in self.groups().items():
            for pid in pids:
                self.owner.setdefault(pid, group)
        for pid in self.owner:
            try:
                if pid not in self.procs:
                    self.procs[pid] = psutil.Process(pid)
                times = self.procs[pid].cpu_times()
                self.last[pid] = times.user + times.system
            except psutil.Error:
                pass  # gone: its last reading stands
        totals: dict[str, float] = {}
        for pid, group in self.owner.items():
            totals[group] = totals.get(group, 0.0) + self.last.get(pid, 0.0)
        self.samples.append((time.time(), totals))

    def stop(self) -> None:
        self.halt.set()
        self.join()

    def window(self, start: float | None, end: float | None) -> dict:
        """Return CPU use between the first sample after start and the last before end."""
        inside = [
            s
            for s in self.samples
            if (start is None or s[0] >= start) and (end is None or s[0] <= end)
        ]
        first, last = (
            (inside[0], inside[-1]) if len(inside) >= 2 else (self.samples[0], self.samples[-1])
        )
        seconds = last[0] - first[0]
        groups = {}
        for group, total in last[1].items():
            used = total - first[1].get(group, 0.0)
            groups[group] = {
                "cpu_seconds": round(used, 3),
                "cores": round(used / seconds, 3) if seconds > 0 else None,
            }
        return {
            "window_seconds": round(seconds, 3),
            "window_start": first[0],
            "window_end": last[0],
            "sampling_interval_s": SAMPLE_INTERVAL_S,
            "groups": groups,
        }


def family(pid: int) -> list[int]:
    try:
        return [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []
