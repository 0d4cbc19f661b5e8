"""Reports survive a worker SIGKILLed again and again (issue 12, item 5), on async-reports run for
real (2 replicas behind Caddy, valkey, a 4-thread worker). The scenario is
benchmarks/faults/reports_killed.py; its figure is printed and stored in LAB_FIGURES_FILE when set.
"""

from __future__ import annotations

import pytest

from benchmarks import faults
from benchmarks.faults import reports_killed
from benchmarks.stack import Options, Stack, free_port
from shared.seed import Scale

pytestmark = [pytest.mark.slow, pytest.mark.processes]  # a real stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(
        "async-reports",
        Options(
            port=free_port(),
            inbox_port=free_port(),
            smtp_port=free_port(),
            mail_delay_ms=20,
            scale=Scale(20, 20),
            quiet=True,
            state_dir=tmp_path_factory.mktemp("fault-reports"),
            env=dict(faults.FAULT_ENV),
        ),
    ).start()
    yield stack
    stack.stop()


def test_reports_asked_for_while_the_worker_is_killed_are_all_built_and_mailed(stack):
    figure = reports_killed.reports_worker_killed(stack, reports=120, kills=3)
    v = figure.values
    assert v["kills"] == 3 and v["accepted_202"] == 120, figure.summary
    assert v["stuck"] == 0 and v["failed"] == 0, figure.summary
    assert v["ready_mails_lost"] == 0, figure.summary
    # At least once, not many times: a mail caught between "250 OK" and its row's update goes
    # out again, at most one per worker thread per kill.
    assert v["duplicates"] <= 4 * v["kills"], figure.summary
    assert figure.met
