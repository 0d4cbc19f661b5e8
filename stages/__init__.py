"""The seven stages, in order. Each is a composition root over the `shared` package."""

from __future__ import annotations

import importlib

from shared.topology import Topology

# CLI name -> package; the order is the course's order.
STAGES = {
    "legacy": "stages.legacy",
    "async-mail": "stages.async_mail",
    "load-balanced": "stages.load_balanced",
    "token-auth": "stages.token_auth",
    "cache": "stages.cache",
    "async-reports": "stages.async_reports",
    "external-storage": "stages.external_storage",
}


def names() -> list[str]:
    """Return the stage names, in the course's order."""
    return list(STAGES)


def topology(name: str) -> Topology:
    """Return the declared topology of a stage, by CLI name."""
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; choose one of: {', '.join(STAGES)}")
    return importlib.import_module(STAGES[name]).TOPOLOGY
