"""The lab's cgroups on disk: where they live, removing a tree, a killed run's leftovers."""

from __future__ import annotations

import re
import time
from pathlib import Path

import psutil

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "scaling-lab-"  # <PREFIX><owner pid>-<n>/<box>: the owner tells a live run from a dead one


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
