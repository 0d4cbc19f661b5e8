"""A CPU box's counters: scheduler periods, throttled periods and time, CPU used; and whether a
box was full over a window (benchmarks/stack/budgets.py makes the boxes and reads them)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# A box is "full" when it was throttled in this share of its periods over a window, or used this
# share of its quota: then it, not the rest of the stack, was the limit.
SATURATED_THROTTLED_SHARE = 0.2
SATURATED_USAGE_SHARE = 0.9


@dataclass(frozen=True)
class CpuStat:
    """A box's counters (since it was made): scheduler periods, throttled periods and time,
    CPU time used (None where the mechanism does not count it)."""

    nr_periods: int = 0
    nr_throttled: int = 0
    throttled_s: float = 0.0
    usage_s: float | None = None
    at: float = field(default_factory=time.monotonic)

    def since(self, before: CpuStat) -> CpuStat:
        """The counters over the window from `before` to this reading."""
        usage = (
            None
            if self.usage_s is None or before.usage_s is None
            else self.usage_s - before.usage_s
        )
        return CpuStat(
            self.nr_periods - before.nr_periods,
            self.nr_throttled - before.nr_throttled,
            self.throttled_s - before.throttled_s,
            usage,
            self.at - before.at,
        )


def saturated(window: CpuStat, cores: float) -> bool:
    """Did a box hit its limit over a window (a `since()` delta, `at` holding its seconds)?"""
    if window.nr_periods and window.nr_throttled / window.nr_periods >= SATURATED_THROTTLED_SHARE:
        return True
    return (
        window.usage_s is not None
        and window.at > 0
        and window.usage_s / window.at >= SATURATED_USAGE_SHARE * cores
    )
