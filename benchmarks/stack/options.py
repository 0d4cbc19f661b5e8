"""How to run a stage: ports, data, replicas, budgets, demo mode (one `Options` per stack)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shared.config import demo_mode
from shared.seed import Scale


@dataclass
class Options:
    """How to run a stage; the defaults are the course's ports and the lab's embedded parts."""

    port: int = 8123
    inbox_port: int = 8025
    smtp_port: int = 1025
    mail_delay_ms: int = 100
    database_url: str | None = None  # None: embedded SQLite restored from the seed template
    redis_url: str | None = None  # None: embedded valkey, if the stage needs one
    replicas: int | None = None  # None: the stage's declared count
    workers: int | None = None
    threads: int = 4  # threads per app replica (one process each: one GIL)
    scale: Scale = field(default_factory=Scale)
    state_dir: Path | None = None
    demo: bool = field(default_factory=demo_mode)  # LAB_DEMO, on unless set to 0
    env: dict[str, str] = field(default_factory=dict)  # extra LAB_* settings
    quiet: bool = False
    # CPU budget of each app replica in cores (each process in a box: stack/budgets.py), the
    # other groups get the lab's defaults. None: no budgets. `up` and `bench` default to
    # budgets.DEFAULT_REPLICA_CPUS; the library stays unbudgeted unless asked.
    replica_cpus: float | None = None
