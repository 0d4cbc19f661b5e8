"""The command line of the fault scenarios: start token-auth, run them, print their figures.

    python -m benchmarks.faults                   # every scenario on token-auth, print figures
    python -m benchmarks.faults worker-killed     # one of them
    python -m benchmarks.faults --table FILE      # the figures stored in FILE, as a table

With LAB_FIGURES_FILE set, each figure is also stored in that file (see figures.py). The cache
and storage scenarios need their own stages: tests/test_faults.py runs them.
"""

from __future__ import annotations

import argparse

from benchmarks.faults.figures import figures_table
from benchmarks.faults.load import FAULT_ENV
from benchmarks.faults.queue import provider_down, queue_down, worker_killed
from benchmarks.faults.replicas import replica_drained, replica_killed

# The scenarios the token-auth stage can play, in the order they run by default.
SCENARIOS = {
    "replica-killed": replica_killed,
    "replica-drained": replica_drained,
    "worker-killed": worker_killed,
    "provider-down": provider_down,
    "queue-down": queue_down,
}


def main(argv: list[str] | None = None) -> int:
    from benchmarks.stack import Options, Stack, free_port
    from shared.seed import Scale

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.faults",
        description="Faults under load on a running stage: kill a replica, a worker, the queue; "
        "refuse mail. Prints one FIGURE line per scenario; exits 1 if a target "
        "was missed.",
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"any of {', '.join(SCENARIOS)} (default: all, in this order)",
    )
    parser.add_argument(
        "--stage", default="token-auth", help="the stage to start and break (default: %(default)s)"
    )
    parser.add_argument(
        "--table",
        metavar="FIGURES_FILE",
        help="print the figures stored in FIGURES_FILE as a Markdown table",
    )
    args = parser.parse_args(argv)
    if args.table:
        print(figures_table(args.table))
        return 0
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    options = Options(
        port=free_port(),
        inbox_port=free_port(),
        smtp_port=free_port(),
        mail_delay_ms=20,
        scale=Scale(20, 20),
        env=dict(FAULT_ENV),
        quiet=True,
    )
    failed = 0
    with Stack(args.stage, options) as stack:
        for name in args.scenarios or SCENARIOS:
            figure = SCENARIOS[name](stack)
            failed += not figure.met
    return 1 if failed else 0
