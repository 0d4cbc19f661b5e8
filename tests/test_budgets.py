"""CPU budgets on real cgroups of this machine: a CPU-bound process in a 0.25-core box is
throttled to about a quarter core; the lab's cgroups go away on close, on SIGTERM, and (through
clean_stale at the next start) after their owner was SIGKILLed; where nothing can enforce a
budget, the record says so. The cgroup tests need root and a cgroup cpu controller: without
them they FAIL, naming what is missing (they never skip silently).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from benchmarks.measure import loadgen
from benchmarks.stack import budgets as B

ROOT = Path(__file__).resolve().parent.parent
BURN = "import time\nwhile True: pass\n"


@pytest.fixture
def lab():
    """Budgets with a real mechanism (cgroup2 or cgroup1), closed after the test."""
    found = B.Budgets.detect(systemd=False)
    if found.mechanism not in ("cgroup1", "cgroup2"):
        pytest.fail(
            f"no writable cgroup cpu controller here ({found.reason}): these tests need "
            "root and /sys/fs/cgroup/cpu (v1) or a cgroup2 mount with the cpu controller"
        )
    yield found
    found.close()


@pytest.fixture
def burner():
    """A CPU-bound child process (killed after the test)."""
    procs = []

    def start(*argv: str, **kw) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", BURN, *argv], **kw)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def lab_dirs(owner: int) -> list[Path]:
    """Every cgroup folder of an owner, in any hierarchy."""
    found = []
    for h in (B.CGROUP_ROOT, B.CGROUP_ROOT / "cpu", B.CGROUP_ROOT / "cpuacct"):
        if h.exists():
            found += list(h.resolve().glob(f"{B.PREFIX}{owner}-*"))
    return found


def cores_used(pid: int, seconds: float) -> float:
    """The CPU rate of a process over a window, measured with psutil."""
    p = psutil.Process(pid)
    before, t0 = sum(p.cpu_times()[:2]), time.monotonic()
    time.sleep(seconds)  # the measured window itself, not a wait for a condition
    return (sum(p.cpu_times()[:2]) - before) / (time.monotonic() - t0)


# --- budgets as data --------------------------------------------------------------------------


def test_default_budgets_fit_two_cores_with_the_largest_scaling_point():
    groups = B.group_budgets()
    stack = sum(v for k, v in groups.items() if k != "app")
    total = B.MAX_SCALING_REPLICAS * groups["app"] + stack + B.LOCUST_CORES
    assert total <= 2.0 + 1e-9, groups


@pytest.mark.parametrize("cores", [0, -1, 0.001, float("nan"), "0.3"])
def test_a_budget_the_kernel_cannot_enforce_is_refused_by_name(cores):
    with pytest.raises(B.BudgetError, match="'app'"):
        B.group_budgets(others={"app": cores})


def test_saturated_reads_throttling_or_usage():
    window = B.CpuStat(100, 50, 1.0, 2.4, at=10.0)
    assert B.saturated(window, 0.25)
    assert not B.saturated(B.CpuStat(100, 2, 0.01, 1.0, at=10.0), 0.25)  # 0.1 of 0.25 core
    assert B.saturated(B.CpuStat(0, 0, 0.0, 2.4, at=10.0), 0.25)  # affinity: usage only


# --- the not-enforced path ----------------------------------------------------------------------


def test_without_a_mechanism_the_record_says_not_enforced(tmp_path):
    found = B.Budgets.detect(root=tmp_path / "no-cgroups", systemd=False)
    assert not found.enforced
    box = found.box("app-1", 0.3)
    box.add(os.getpid())  # a no-op, and no error
    record = found.record()
    assert record["enforced"] is False and record["mechanism"] == "none"
    assert record["groups"] == {"app-1": 0.3}
    assert "cgroup2" in record["why_not"] and "cgroup1" in record["why_not"]
    assert box.stats().nr_throttled == 0 and box.stats().usage_s is None


# --- real cgroups -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.processes
def test_a_cpu_bound_child_in_a_quarter_core_box_is_throttled(lab, burner, poll):
    box = lab.box("burn", 0.25)
    child = burner()
    box.add(child.pid)
    assert child.pid in box.pids()
    before = box.stats()
    rate = cores_used(child.pid, 2.0)
    window = box.stats().since(before)
    assert rate < 0.5, f"{rate:.2f} cores in a 0.25-core box"
    assert window.nr_throttled > 0 and window.throttled_s > 0
    assert B.saturated(window, 0.25)
    if window.usage_s is not None:  # the cgroup's own count agrees with psutil's
        assert window.usage_s / window.at < 0.5
    record = lab.record()
    assert record["enforced"] is True and record["groups"] == {"burn": 0.25}


@pytest.mark.slow
def test_reserved_budgets_weigh_the_lab_above_other_work_and_boxes_by_their_cores(lab):
    box = lab.box("app-1", 0.3)
    assert lab.reserved and lab.record()["reserved"] is True
    if lab.mechanism == "cgroup1":
        assert (lab.parents[0] / "cpu.shares").read_text().strip() == str(B.MAX_SHARES_V1)
        assert (box.dirs[0] / "cpu.shares").read_text().strip() == str(round(0.3 * 1024))
    else:
        assert (lab.parents[0] / "cpu.weight").read_text().strip() == str(B.MAX_WEIGHT_V2)
        assert (box.dirs[0] / "cpu.weight").read_text().strip() == "30"
    plain = B.Budgets.detect(systemd=False, reserve=False)
    try:
        assert not plain.reserved
        weight = "cpu.shares" if lab.mechanism == "cgroup1" else "cpu.weight"
        assert (plain.parents[0] / weight).read_text().strip() in ("1024", "100")
    finally:
        plain.close()


@pytest.fixture
def family():
    """A parent that forks a sleeping child when told to; yields (parent, fork) where fork()
    returns the child's pid."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "sys.stdin.readline()\n"
            "c = subprocess.Popen([sys.executable, '-c', 'import time; "
            "time.sleep(60)'])\nprint(c.pid, flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def fork() -> int:
        parent.stdin.write("go\n")
        parent.stdin.flush()
        return int(parent.stdout.readline())

    yield parent, fork
    for p in psutil.Process(parent.pid).children(recursive=True):
        p.kill()
    parent.kill()
    parent.wait()


@pytest.mark.slow
@pytest.mark.processes
def test_children_born_in_a_box_stay_in_it(lab, family):
    parent, fork = family
    box = lab.box("family", 0.5)
    box.add(parent.pid)
    assert {parent.pid, fork()} <= set(box.pids())


@pytest.mark.slow
@pytest.mark.processes
def test_children_forked_before_the_box_are_moved_with_their_parent(lab, family):
    parent, fork = family
    box = lab.box("family", 0.5)
    child = fork()  # a gunicorn master that has forked its worker already
    box.add(parent.pid)
    assert {parent.pid, child} <= set(box.pids())


@pytest.mark.slow
@pytest.mark.processes
def test_close_moves_processes_out_and_removes_every_cgroup(lab, burner):
    box = lab.box("app-1", 0.3)
    child = burner()
    box.add(child.pid)
    assert lab_dirs(os.getpid())
    lab.close()
    assert lab_dirs(os.getpid()) == []
    assert child.poll() is None  # moved out, not killed
    lab.close()  # twice is fine


OWNER = """
import os, subprocess, sys, time
from benchmarks.stack import budgets as B
from benchmarks.measure import loadgen
lab = B.Budgets.detect(systemd=False)
assert lab.enforced, lab.reason
box = lab.box("app-1", 0.3)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                         start_new_session=True)
box.add(child.pid)
print(child.pid, flush=True)
time.sleep(60)
"""


def start_owner() -> tuple[subprocess.Popen, int]:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = owner.stdout.readline()
    assert line.strip().isdigit(), f"owner failed to box its child (exit {owner.poll()})"
    return owner, int(line)


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_owner_stopped_by_a_signal_leaves_no_cgroup(sig, poll):
    owner, child = start_owner()
    try:
        assert lab_dirs(owner.pid)
        owner.send_signal(sig)
        owner.wait(timeout=10)
        assert lab_dirs(owner.pid) == []
    finally:
        os.kill(child, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.processes
def test_a_killed_owners_cgroups_are_cleaned_at_the_next_start(lab):
    owner, child = start_owner()
    try:
        owner.kill()
        owner.wait()
        stale = lab_dirs(owner.pid)
        assert stale, "SIGKILL gives no chance to clean: the cgroups must still be there"
        B.Budgets.detect(systemd=False).close()  # the next start cleans
        assert lab_dirs(owner.pid) == []
        assert psutil.pid_exists(child)  # its process was moved out, not killed
        assert lab_dirs(os.getpid()), "a live owner's cgroups are left alone"
    finally:
        os.kill(child, signal.SIGKILL)


# --- the load generator, kept apart --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.processes
def test_a_boxed_load_generator_that_hits_its_limit_says_so(lab, burner, poll):
    gen = loadgen.confine_load_generator(burner().pid, lab, cores=0.2)
    poll(lambda: gen.stats().since(gen.start).nr_throttled >= 5, 10, what="throttling")
    window = gen.window()
    assert window["how"] == "box" and window["hit_limit"] is True
    assert window["nr_throttled"] >= 5


@pytest.mark.slow
@pytest.mark.processes
def test_without_budgets_the_load_generator_is_pinned_by_affinity(tmp_path, burner, poll):
    unenforced = B.Budgets.detect(root=tmp_path / "none", systemd=False)
    child = burner()
    gen = loadgen.confine_load_generator(child.pid, unenforced, cores=0.4)
    assert gen.how == "affinity" and len(gen.cpus) == 1
    assert os.sched_getaffinity(child.pid) == set(gen.cpus)
    poll(lambda: (gen.stats().usage_s or 0) - gen.start.usage_s > 0.3, 10, what="CPU use")
    window = gen.window()
    # Pinned to one CPU it cannot use more than one; it hit its limit when it used (nearly)
    # all of it (on a busy shared machine it may get less: the verdict follows the usage).
    assert 0 < window["cores"] <= 1.1
    assert window["hit_limit"] is (window["cores"] >= B.SATURATED_USAGE_SHARE)


# --- the stack's boxes ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_stack_with_budgets_boxes_every_process_and_leaves_no_cgroup(launch):
    stack = launch("load-balanced", replica_cpus=0.3)
    record = stack.describe()["budgets"]
    # The embedded proxy follows the stage's balancing, as the compose file does.
    assert "lb_policy round_robin\n" in Path(stack.site.caddyfile).read_text()
    assert record["asked"] and record["enforced"], record
    assert {g: record["groups"][g] for g in stack.pids()} == {
        g: (0.3 if g == "app" else B.DEFAULT_CORES[g]) for g in stack.pids()
    }
    for group, pids in stack.pids().items():  # every process, gunicorn's workers included
        boxed = {
            p for name, (g, box) in stack.boxes.boxes.items() if g == group for p in box.pids()
        }
        assert set(pids) <= boxed, group
    quota = stack.boxes.boxes["app-1"][1].dirs[0] / "cpu.cfs_quota_us"
    if quota.exists():  # cgroup v1
        assert quota.read_text().strip() == "30000"
    before = stack.boxes.snapshot()
    window = stack.boxes.window(before, stack.boxes.snapshot())
    assert window["app"]["budget_cores"] == 0.6 and set(window["app"]["boxes"]) == {
        "app-1",
        "app-2",
    }
    stack.stop()
    assert lab_dirs(os.getpid()) == []
    assert stack.describe()["budgets"]["groups"]["app"] == 0.3  # the record outlives the boxes


@pytest.mark.slow
def test_a_stack_without_budgets_says_so(launch):
    stack = launch("legacy")  # the library default: no budgets unless asked
    try:
        record = stack.describe()["budgets"]
        assert record == {"asked": False, "enforced": False, "mechanism": "none", "groups": {}}
        assert stack.boxes.summary() == "none (--no-budgets)"
    finally:
        stack.stop()
