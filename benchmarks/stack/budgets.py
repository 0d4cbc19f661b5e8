"""CPU budgets per process group, enforced by the operating system: one box of cores per group.

In production a replica is a box (a VM, a container) with a CPU limit; on one laptop every process
shares the same cores, so adding a replica adds no capacity. A budget puts each process group in a
box with a CPU quota the kernel enforces: at most `cores` CPU-seconds per second, throttled (made
to wait) for the rest of a period once used.

Enforcement, the first that works on this machine (`Budgets.detect()`):
  cgroup2   `cpu.max` under /sys/fs/cgroup (a cgroup2 mount, writable, cpu controller available);
  cgroup1   `cpu.cfs_quota_us` / `cpu.cfs_period_us` under /sys/fs/cgroup/cpu (and cpuacct for the
            CPU time used, where mounted apart);
  systemd   a transient scope per box with CPUQuota= in the user's systemd (`systemd-run --user
            --scope` on a desktop that delegates the cpu controller to the user);
  none      nothing can enforce a budget: the run goes on unbudgeted and `record()` says so.
The lab's cgroups live under one parent per owning process, `scaling-lab-<pid>`; `close()` (also
run at exit, on Ctrl-C and on SIGTERM) moves the processes back out and removes every cgroup it
made, and `clean_stale()` removes the parents of owners that died without closing (SIGKILL).

Default budgets fit a 2-core machine at the scaling experiment's largest point, 4 replicas:
4 x 0.25 (DEFAULT_REPLICA_CPUS) = 1.0 core of app, 0.7 for the rest of the stack, 0.3 for Locust.
At 137 req/s (token-auth) Caddy used 0.06 core, the worker 0.07, the mail simulator 0.06, valkey
0.005, Locust 0.06: 2-3x headroom, and only the app's box filled. At the cache's 4 replicas the
others come near their budgets, and their counters say so. Every number can be overridden. Boxes
are capped once the stack is up and verified (StackBoxes.cap; a systemd scope from its start):
start-up is not measured, and importing the app at 0.25 core took 4x as long."""

from __future__ import annotations

import atexit
import math
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import psutil

from benchmarks.stack.cgroup_tree import (  # noqa: F401 - the budgets' own front
    CGROUP_ROOT,
    MAX_SHARES_V1,
    MAX_WEIGHT_V2,
    PREFIX,
    BudgetError,
    clean_stale,
    make_v1_parents,
    make_v2_parent,
    remove_tree,
)
from benchmarks.stack.cpu_stat import (  # noqa: F401 - the budgets' own front
    SATURATED_THROTTLED_SHARE,
    SATURATED_USAGE_SHARE,
    CpuStat,
    saturated,
)

PERIOD_US = 100_000  # the scheduler's accounting period (the kernel's default)
MIN_QUOTA_US = 1_000  # the smallest quota the kernel accepts
DEFAULT_REPLICA_CPUS = 0.25
MAX_SCALING_REPLICAS = 4
# The worker and the mail simulator get 0.2 each: at 0.15, with 4 worker threads, the cache stage's
# ~45 mails/s outran the worker (its lag grew 0.6 -> 14 s over one window) and async-reports' users
# waited ~2.8 s for every report mail; with 8 threads and 0.2 the lag held at ~0.12 s (README,
# "The mail queue keeps up"). Locust's 0.3 is still above the 0.23 it used at 4 replicas.
DEFAULT_CORES = {"proxy": 0.2, "worker": 0.2, "redis": 0.05, "storage": 0.05, "mail": 0.2}
LOCUST_CORES = 0.3


def group_budgets(
    replica_cpus: float = DEFAULT_REPLICA_CPUS, others: dict[str, float] | None = None
) -> dict[str, float]:
    """Return the cores of each process group: "app" is per replica, every other group whole."""
    cores = {"app": replica_cpus, **DEFAULT_CORES, **(others or {})}
    for group, value in cores.items():
        check_cores(group, value)
    return cores


def check_cores(group: str, cores: float) -> float:
    """Refuse a budget the kernel cannot enforce, saying which and why."""
    if not isinstance(cores, int | float) or math.isnan(cores) or cores * PERIOD_US < MIN_QUOTA_US:
        raise BudgetError(
            f"budget of {group!r}: {cores!r} cores; it must be at least "
            f"{MIN_QUOTA_US / PERIOD_US} (1 ms per {PERIOD_US // 1000} ms period)"
        )
    return float(cores)


class Box:
    """One process group's cgroup (one folder per hierarchy it needs) with a CPU quota."""

    def __init__(self, budgets: Budgets, name: str, cores: float):
        self.budgets, self.name, self.cores = budgets, name, cores
        self.dirs = [parent / name for parent in budgets.parents]
        self.unit = f"{PREFIX}{budgets.owner}-{name}.scope"  # systemd only
        self.capped = True

    @property
    def quota_us(self) -> int:
        return round(self.cores * PERIOD_US)

    def make(self, capped: bool = True) -> None:
        mech = self.budgets.mechanism
        for d in self.dirs:
            d.mkdir()
        # The quota caps a box; its weight, in proportion to its cores, shares the lab's parent
        # among the boxes (the parent's own weight is what reserves the lab its CPU).
        if mech == "cgroup2":
            (self.dirs[0] / "cpu.weight").write_text(str(max(1, round(self.cores * 100))))
        elif mech == "cgroup1":
            (self.dirs[0] / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.dirs[0] / "cpu.shares").write_text(str(max(2, round(self.cores * 1024))))
        self.cap(capped)

    def cap(self, capped: bool = True) -> None:
        """Write the box's quota, or lift it (`capped=False`: start-up, which is not measured)."""
        mech = self.budgets.mechanism
        if mech == "cgroup2":
            quota = self.quota_us if capped else "max"
            (self.dirs[0] / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        elif mech == "cgroup1":
            (self.dirs[0] / "cpu.cfs_quota_us").write_text(str(self.quota_us if capped else -1))
        self.capped = capped or mech not in ("cgroup1", "cgroup2")

    def add(self, pid: int) -> None:
        """Move a process into the box with its current children (a gunicorn master may have
        forked its worker already); the children it forks later are born inside."""
        mech = self.budgets.mechanism
        if mech == "systemd":
            self._adopt_in_scope([pid, *_descendants(pid)])
        elif mech != "none":
            # The parent first, its children listed after: a child forked meanwhile is born
            # inside or is in the list (listing first left one forked in between outside).
            self._move(pid)
            for kid in _descendants(pid):
                self._move(kid)

    def _move(self, pid: int) -> None:
        for d in self.dirs:
            try:
                (d / "cgroup.procs").write_text(str(pid))
            except ProcessLookupError:
                pass  # exited in between: nothing to box

    def _adopt_in_scope(self, pids: list[int]) -> None:
        """Start a transient scope holding running pids, as `systemd-run --scope` does for its
        own pid (org.freedesktop.systemd1.Manager.StartTransientUnit with PIDs)."""
        quota = round(self.cores * 1_000_000)  # CPUQuotaPerSecUSec: microseconds per second
        cmd = [
            "busctl",
            "--user",
            "call",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StartTransientUnit",
            "ssa(sv)a(sa(sv))",
            self.unit,
            "fail",
            "2",
            "PIDs",
            "au",
            str(len(pids)),
            *map(str, pids),
            "CPUQuotaPerSecUSec",
            "t",
            str(quota),
            "0",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        if done.returncode:
            raise BudgetError(f"systemd would not box {self.name!r}: {done.stderr.strip()}")

    def pids(self) -> list[int]:
        """The processes in the box now."""
        try:
            return [int(p) for p in (self.dirs[0] / "cgroup.procs").read_text().split()]
        except (FileNotFoundError, IndexError):  # gone, or a mechanism without folders
            return []

    def stats(self) -> CpuStat:
        """Read the box's counters (v1 throttled_time is in ns, v2 throttled_usec in us)."""
        mech = self.budgets.mechanism
        if mech not in ("cgroup1", "cgroup2"):
            return CpuStat(usage_s=None)
        values = _keyed((self.dirs[0] / "cpu.stat").read_text())
        if mech == "cgroup2":
            return CpuStat(
                values.get("nr_periods", 0),
                values.get("nr_throttled", 0),
                values.get("throttled_usec", 0) / 1e6,
                values.get("usage_usec", 0) / 1e6,
            )
        usage = None
        acct = [d / "cpuacct.usage" for d in self.dirs if (d / "cpuacct.usage").exists()]
        if acct:
            usage = int(acct[0].read_text()) / 1e9
        return CpuStat(
            values.get("nr_periods", 0),
            values.get("nr_throttled", 0),
            values.get("throttled_time", 0) / 1e9,
            usage,
        )


def _descendants(pid: int) -> list[int]:
    return [c.pid for c in psutil.Process(pid).children(recursive=True)]


def _keyed(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in text.splitlines() if line.strip())}


class Budgets:
    """The boxes of one owning process, made with the first mechanism that works here."""

    def __init__(
        self,
        mechanism: str,
        parents: list[Path],
        reason: str = "",
        owner: int | None = None,
        reserved: bool = False,
    ):
        self.mechanism, self.parents, self.reason = mechanism, parents, reason
        self.reserved = reserved and mechanism in ("cgroup1", "cgroup2")
        self.owner = owner or os.getpid()
        self.boxes: dict[str, Box] = {}
        self.closed = False
        if mechanism != "none":
            _OPEN.append(self)
            _close_on_sigterm()

    @property
    def enforced(self) -> bool:
        return self.mechanism != "none"

    @classmethod
    def detect(
        cls, root: Path | str = CGROUP_ROOT, systemd: bool = True, reserve: bool = True
    ) -> Budgets:
        """Use the first mechanism that can enforce a quota here; stale boxes of killed runs are
        removed first. `root` is the cgroup mount (tests point it elsewhere).

        A quota is a cap, not a promise: on a machine busy with other work a box may get less
        than its cores, and then the experiment measures the machine's load, not the box. With
        `reserve`, the lab's parent cgroup gets the highest weight the kernel allows, so the
        boxes get their cores first (never more: the quotas still cap them)."""
        root, owner, tried = Path(root), os.getpid(), []
        clean_stale(root)
        if (root / "cgroup.controllers").exists():
            try:
                return cls(
                    "cgroup2",
                    [make_v2_parent(root, owner, reserve)],
                    owner=owner,
                    reserved=reserve,
                )
            except (OSError, BudgetError) as exc:
                tried.append(f"cgroup2 at {root}: {exc}")
        else:
            tried.append(f"cgroup2: {root} is not a cgroup2 mount")
        if (root / "cpu" / "cpu.cfs_quota_us").exists():
            try:
                return cls(
                    "cgroup1", make_v1_parents(root, owner, reserve), owner=owner, reserved=reserve
                )
            except OSError as exc:
                tried.append(f"cgroup1 at {root / 'cpu'}: {exc}")
        else:
            tried.append(f"cgroup1: no cpu controller at {root / 'cpu'}")
        if systemd:
            found = _systemd_scopes_work()
            if found is True:
                return cls("systemd", [], owner=owner)
            tried.append(f"systemd: {found}")
        return cls("none", [], reason="; ".join(tried), owner=owner)

    def box(self, name: str, cores: float, capped: bool = True) -> Box:
        """Make the box of a group ("app-1", "proxy", "locust"), capped unless `capped=False`."""
        if self.closed:
            raise BudgetError("these budgets are closed: detect() again")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or name in self.boxes:
            raise BudgetError(f"box name {name!r}: use letters, digits, '-', '_', once each")
        box = Box(self, name, check_cores(name, cores))
        if self.mechanism in ("cgroup1", "cgroup2"):
            box.make(capped)
        self.boxes[name] = box
        return box

    def record(self, groups: dict[str, float] | None = None) -> dict:
        """What meta.json says of budgets: enforced or not, how, and each group's cores."""
        out = {
            "enforced": self.enforced,
            "mechanism": MECHANISM_NAMES[self.mechanism],
            "reserved": self.reserved,
            "groups": groups
            if groups is not None
            else {name: box.cores for name, box in self.boxes.items()},
        }
        if not self.enforced:
            out["why_not"] = self.reason
        return out

    def close(self) -> None:
        """Move every boxed process back out and remove every cgroup made here (idempotent).
        A systemd scope is left to systemd: it goes when its last process exits (stopping it
        would kill the processes)."""
        if self.closed:
            return
        self.closed = True
        if self in _OPEN:
            _OPEN.remove(self)
        for parent in self.parents:
            remove_tree(parent)
        self.boxes.clear()


MECHANISM_NAMES = {
    "cgroup2": "cgroup v2 cpu.max",
    "cgroup1": "cgroup v1 cpu.cfs_quota_us",
    "systemd": "systemd-run --user --scope CPUQuota",
    "none": "none",
}


def _systemd_scopes_work() -> bool | str:
    """True when the user's systemd can make a scope with a CPU quota, else why not."""
    if not shutil.which("systemd-run"):
        return "systemd-run not found"
    try:
        done = subprocess.run(
            ["systemd-run", "--user", "--scope", "--quiet", "-p", "CPUQuota=50%", "true"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except subprocess.TimeoutExpired:
        return "systemd-run --user timed out"
    return True if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


_OPEN: list[Budgets] = []  # closed at exit, and on SIGTERM


def _close_all() -> None:
    for budgets in list(_OPEN):
        budgets.close()


atexit.register(_close_all)


def _close_on_sigterm() -> None:
    """On SIGTERM, close before dying, if nobody else handles SIGTERM (a handler of the
    program's own, such as up's, unwinds to its `finally`, and atexit closes the budgets)."""
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _die_after_closing)
    except ValueError:
        pass  # not the main thread: atexit and clean_stale remain


def _die_after_closing(signum, frame) -> None:
    _close_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
