"""The lab's cgroups on disk: making a run's parent, removing a tree, a killed run's leftovers."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

import psutil

CGROUP_ROOT = Path("/sys/fs/cgroup")
MAX_SHARES_V1, MAX_WEIGHT_V2 = 262_144, 10_000  # the kernel's highest weights (reserve=True)
PREFIX = "scaling-lab-"  # <PREFIX><owner pid>-<n>/<box>: the owner tells a live run from a dead one


class BudgetError(ValueError):
    """A budget that cannot be set: the message names the group, the value and the limit."""


def remove_tree(parent: Path, timeout: float = 5.0) -> None:
    """Move the processes of a lab parent's boxes to the parent's own parent (where the lab's
    processes came from), then remove the boxes and the parent. A box whose process is forking
    right now may refuse (EBUSY) once: retry until the deadline."""
    if not parent.exists():
        return
    home = parent.parent / "cgroup.procs"
    deadline = time.monotonic() + timeout
    while True:
        try:
            for box in [d for d in parent.iterdir() if d.is_dir()]:
                for pid in (box / "cgroup.procs").read_text().split():
                    try:
                        home.write_text(pid)
                    except ProcessLookupError:
                        pass
                box.rmdir()
            parent.rmdir()
            return
        except FileNotFoundError:
            if not parent.exists():
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.05)


def clean_stale(root: Path | str = CGROUP_ROOT) -> list[Path]:
    """Remove the lab parents whose owner is dead (a killed run), or whose pid now belongs to a
    newer process; return what was removed. Live owners' boxes are left alone."""
    root, removed = Path(root), []
    hierarchies = [root] + [root / n for n in ("cpu", "cpuacct")]
    for h in hierarchies:
        if not (h / "cgroup.procs").exists():
            continue
        for parent in h.resolve().glob(f"{PREFIX}*"):
            m = re.fullmatch(rf"{PREFIX}(\d+)-\d+", parent.name)
            if m and parent.is_dir() and not _alive_since(int(m.group(1)), parent):
                remove_tree(parent)
                removed.append(parent)
    return removed


def _alive_since(pid: int, made: Path) -> bool:
    try:
        return psutil.Process(pid).create_time() <= made.stat().st_ctime + 1
    except psutil.Error:
        return False


_SERIAL = itertools.count(1)


def _parent_name(owner: int) -> str:
    """scaling-lab-<owner pid>-<n>: the pid says whose it is, n tells two Budgets of one
    process apart."""
    return f"{PREFIX}{owner}-{next(_SERIAL)}"


def make_v2_parent(root: Path, owner: int, reserve: bool) -> Path:
    if "cpu" not in (root / "cgroup.controllers").read_text().split():
        raise BudgetError("the cpu controller is not available in cgroup.controllers")
    if "cpu" not in (root / "cgroup.subtree_control").read_text().split():
        (root / "cgroup.subtree_control").write_text("+cpu")
    parent = root / _parent_name(owner)
    parent.mkdir()
    (parent / "cgroup.subtree_control").write_text("+cpu")
    if reserve:
        (parent / "cpu.weight").write_text(str(MAX_WEIGHT_V2))
    return parent


def make_v1_parents(root: Path, owner: int, reserve: bool) -> list[Path]:
    """The lab's parent in the cpu hierarchy, and in cpuacct where it is mounted apart (the cpu
    controller alone does not count CPU time in v1)."""
    cpu = (root / "cpu").resolve()
    name = _parent_name(owner)
    parents = [cpu / name]
    acct = root / "cpuacct"
    if (acct / "cpuacct.usage").exists() and acct.resolve() != cpu:
        parents.append(acct.resolve() / name)
    made = []
    try:
        for p in parents:
            p.mkdir()
            made.append(p)
        if reserve:
            (parents[0] / "cpu.shares").write_text(str(MAX_SHARES_V1))
    except OSError:
        for p in made:
            p.rmdir()
        raise
    return parents
