"""The running stack's CPU boxes: each process the runner starts, in a box of its spec's budget.

The runner calls four things: `StackBoxes(replica_cpus, say)` when it starts (None: no budgets,
as `--no-budgets` asks), `add(spec, pid)` right after starting each process (its children are
born inside; the box's quota lifted until `cap()`), `cap()` once the stack is up, and `close()`
once every process has stopped. `record()` is what stage.json and
meta.json say of budgets; `snapshot()`/`window()` give each group's throttling over a window,
for cpu.json.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from benchmarks.stack.budgets import (
    DEFAULT_REPLICA_CPUS,
    LOCUST_CORES,
    Box,
    BudgetError,
    Budgets,
    CpuStat,
    check_cores,
    group_budgets,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--replica-cpus and --no-budgets, alike on `up` and `bench`."""
    parser.add_argument(
        "--replica-cpus",
        type=float,
        default=DEFAULT_REPLICA_CPUS,
        metavar="CORES",
        help="CPU budget of each app replica, in cores "
        f"(default {DEFAULT_REPLICA_CPUS}; the other groups get the lab's)",
    )
    parser.add_argument(
        "--no-budgets",
        action="store_true",
        help="run every process without a CPU budget (the contrast)",
    )


def replica_cpus(args: argparse.Namespace, parser: argparse.ArgumentParser) -> float | None:
    """The replica budget the options ask for (None: --no-budgets); a bad one ends the CLI."""
    if args.no_budgets:
        return None
    try:
        return check_cores("--replica-cpus", args.replica_cpus)
    except BudgetError as exc:
        parser.error(str(exc))


def planned(replica_cpus: float | None) -> dict:
    """What a run's meta.json says of budgets before it starts: asked or not, whether this
    machine can enforce them (a real detection: stale boxes of killed runs are cleaned), each
    group's cores and the load generator's."""
    if replica_cpus is None:
        return {"asked": False, "enforced": False, "mechanism": "none", "groups": {}}
    found = Budgets.detect()
    try:
        groups = {**group_budgets(replica_cpus), "locust": LOCUST_CORES}
        return {"asked": True, "replica_cpus": replica_cpus, **found.record(groups)}
    finally:
        found.close()


class StackBoxes:
    """One box per started process (app-1, app-2, caddy, ...), grouped by process group."""

    def __init__(
        self,
        replica_cpus: float | None,
        say: Callable[[str], None] = print,
        detect: Callable[[], Budgets] = Budgets.detect,
    ):
        self.asked = replica_cpus is not None
        self.replica_cpus = replica_cpus
        self.budgets = detect() if self.asked else None
        self.boxes: dict[str, tuple[str, Box]] = {}  # process name -> (group, box)
        # Boxes are made with their quotas lifted and capped by `cap()` once the stack is up
        # (and, in the bench, verified): start-up and checks are not measured.
        self.capped = False
        if self.budgets is not None and not self.budgets.enforced:
            say(
                f"CPU budgets asked for but NOT enforced on this machine, the run goes on "
                f"without: {self.budgets.reason}"
            )

    @property
    def enforced(self) -> bool:
        return self.budgets is not None and self.budgets.enforced

    def add(self, name: str, group: str, cores: float | None, pid: int) -> None:
        """Box a started process (a no-op without budgets)."""
        if self.budgets is None or cores is None:
            return
        box = self.budgets.box(name, cores, capped=self.capped)
        box.add(pid)
        self.boxes[name] = (group, box)

    def cap(self, capped: bool = True) -> None:
        """Give every box its quota (idempotent); boxes added later are capped from the start.
        `capped=False` lifts the quotas again (set-up that is not measured, such as logins)."""
        for _, box in self.boxes.values():
            if box.capped != capped:
                box.cap(capped)
        self.capped = capped

    def record(self) -> dict:
        """{"asked", "enforced", "mechanism", "reserved", "groups": {group: cores}, ...}: each
        group's cores as a process has them ("app": per replica)."""
        if self.budgets is None:
            return {"asked": False, "enforced": False, "mechanism": "none", "groups": {}}
        groups = {group: box.cores for group, box in self.boxes.values()}
        return {"asked": True, "replica_cpus": self.replica_cpus, **self.budgets.record(groups)}

    def summary(self) -> str:
        """One line: enforced by what, or why not."""
        if self.budgets is None:
            return "none (--no-budgets)"
        if not self.enforced:
            return f"NOT enforced (no mechanism here): {self.budgets.reason}"
        return f"enforced by {self.record()['mechanism']}"

    def where(self, name: str) -> str:
        """ ", 0.25 core in /sys/fs/cgroup/cpu/scaling-lab-..." for a boxed process, else ""."""
        if name not in self.boxes:
            return ""
        box = self.boxes[name][1]
        return f", {box.cores} core in {box.dirs[0] if box.dirs else box.unit}"

    def snapshot(self) -> dict[str, CpuStat]:
        """Every box's counters now."""
        return {name: box.stats() for name, (_, box) in self.boxes.items()}

    def window(self, before: dict[str, CpuStat], after: dict[str, CpuStat]) -> dict[str, dict]:
        """Per group, over the window between two snapshots: its budget (all its boxes' cores),
        throttled periods and seconds, and each box's own."""
        out: dict[str, dict] = {}
        for name, (group, box) in self.boxes.items():
            if name not in before or name not in after:
                continue
            w = after[name].since(before[name])
            own = {
                "budget_cores": box.cores,
                "nr_periods": w.nr_periods,
                "nr_throttled": w.nr_throttled,
                "throttled_s": round(w.throttled_s, 3),
            }
            g = out.setdefault(
                group,
                {
                    "budget_cores": 0.0,
                    "nr_periods": 0,
                    "nr_throttled": 0,
                    "throttled_s": 0.0,
                    "boxes": {},
                },
            )
            g["budget_cores"] = round(g["budget_cores"] + box.cores, 3)
            for key in ("nr_periods", "nr_throttled"):
                g[key] += own[key]
            g["throttled_s"] = round(g["throttled_s"] + own["throttled_s"], 3)
            g["boxes"][name] = own
        return out

    def close(self) -> None:
        if self.budgets is not None:
            self.budgets.close()
