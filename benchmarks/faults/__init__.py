"""Faults under load, on a running stage: kill a replica, a worker, the queue; refuse mail.

Each scenario takes a started `Stack` (embedded mode, everything on 127.0.0.1), injects one
fault with real signals and real processes, measures what a client and the inbox saw, puts the
stack back as it found it, and returns a `Figure`: the numbers, a one-line summary and whether
the target was met. Every load loop is bounded in count and in time.

    figures.py   a scenario's result (Figure), stored for the README's Reliability table
    load.py      driving a stage: the logged-in Api, steady GET Load, wait_until; FAULT_ENV
    ledger.py    what the database saved against what the mail inbox received
    kill.py      kill a process of the stack and relaunch it as it was started
    reports.py   ask for a report, wait for it, fetch its links anonymously
    replicas.py  replica_killed, replica_drained
    queue.py     worker_killed, provider_down, queue_down
    services.py  cache_down, cache_corrupt, storage_down
    access.py    report_access
    reports_killed.py  reports_worker_killed (async-reports; its own `python -m`)
    logins.py    login_concurrent, login_spray (token-auth; its own `python -m`)
    cli.py       `python -m benchmarks.faults`
"""

from benchmarks.faults.access import report_access
from benchmarks.faults.cli import SCENARIOS, main
from benchmarks.faults.figures import Figure, figures_table, record_figure
from benchmarks.faults.ledger import Ledger, mail_config
from benchmarks.faults.load import FAULT_ENV, Api, Load, wait_until
from benchmarks.faults.queue import provider_down, queue_down, worker_killed
from benchmarks.faults.replicas import replica_drained, replica_killed
from benchmarks.faults.services import cache_corrupt, cache_down, storage_down

__all__ = [
    "FAULT_ENV",
    "SCENARIOS",
    "Api",
    "Figure",
    "Ledger",
    "Load",
    "cache_corrupt",
    "cache_down",
    "figures_table",
    "mail_config",
    "main",
    "provider_down",
    "queue_down",
    "record_figure",
    "replica_drained",
    "replica_killed",
    "report_access",
    "storage_down",
    "wait_until",
    "worker_killed",
]
