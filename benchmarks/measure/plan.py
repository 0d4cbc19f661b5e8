"""What the bench will measure, in order: every stage run, then the scaling curve's points.

One `Unit` per stage run. Repeats interleave the stages (slow drift of the machine spreads over
all of them); the scaling curve (`--scaling STAGE`) comes after, with CPU budgets as the run asks
(the default bench's single 1-replica point comes right after the stage run it is compared with);
with `--scaling-contrast` the same replica counts come once more with no budgets at all (every
process unboxed, Locust unconfined), into <run>/scaling-unbudgeted/: the contrast curve.
"""

from __future__ import annotations

from typing import NamedTuple

SCALING_DIR = "scaling"
UNBUDGETED_DIR = "scaling-unbudgeted"


class Unit(NamedTuple):
    """One stage run: repeat k, the stage's place i in its list, the stage, and for a point of
    the scaling curve its replica count and whether it runs with the run's CPU budgets."""

    k: int
    i: int
    stage: str
    replicas: int | None = None
    budgets: bool = True

    def folder(self) -> str:
        """Its folder in the run: <stage>, scaling/<n> or scaling-unbudgeted/<n> (then r<k>)."""
        if not self.replicas:
            return self.stage
        return f"{SCALING_DIR if self.budgets else UNBUDGETED_DIR}/{self.replicas}"

    def label(self, stages: int) -> str:
        """How the bench's progress lines name it."""
        if not self.replicas:
            return f"[{self.i}/{stages} {self.stage} r{self.k}]"
        unboxed = "" if self.budgets else " no budgets"
        return f"[scaling {self.stage} x{self.replicas}{unboxed} r{self.k}]"

    def name(self) -> str:
        """How meta.json's "failed" names it."""
        return f"{self.stage}{f' x{self.replicas}' if self.replicas else ''}" + (
            "" if self.budgets else " (no budgets)"
        ) + f" r{self.k}"  # fmt: skip


def make_plan(args) -> list[Unit]:
    """Every stage run of the bench, in the order it measures them."""
    plan = [Unit(k, i, s) for k in range(1, args.repeats + 1) for i, s in enumerate(args.stages, 1)]
    if getattr(args, "scaling_defaulted", False):
        # The stage's own run is the curve's other point: each 1-replica run right after it, so
        # both windows see the same machine (this VM's speed drifts by tens of % in minutes).
        points = {k: [Unit(k, i, args.scaling, n) for i, n in enumerate(args.scaling_replicas, 1)]
                  for k in range(1, args.scaling_repeats + 1)}  # fmt: skip
        after = [[u] + (points.pop(u.k, []) if u.stage == args.scaling else []) for u in plan]
        return [u for units in after + list(points.values()) for u in units]
    if args.scaling:
        curves = (True, False) if getattr(args, "scaling_contrast", False) else (True,)
        plan += [
            Unit(k, i, args.scaling, n, budgets)
            for budgets in curves  # the whole budgeted curve first, then the contrast
            for k in range(1, args.scaling_repeats + 1)
            for i, n in enumerate(args.scaling_replicas, 1)
        ]
    return plan


def describe(plan: list[Unit]) -> str:
    """What the plan holds beyond plain stage runs, for the bench's up-front estimate."""
    boxed = sum(1 for u in plan if u.replicas and u.budgets)
    unboxed = sum(1 for u in plan if u.replicas and not u.budgets)
    if not boxed and not unboxed:
        return ""
    return f"{boxed} scaling point(s)" + (f" + {unboxed} without budgets" if unboxed else "")
