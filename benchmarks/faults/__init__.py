"""Faults under load on a running stage: replicas, the queue and its worker, services, access."""

from benchmarks.faults.scenarios import *  # noqa: F401,F403 - the room's front
from benchmarks.faults.scenarios import Figure, record_figure  # noqa: F401
