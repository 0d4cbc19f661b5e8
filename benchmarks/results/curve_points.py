"""The scaling curve's points beyond its own folder: the scaling stage's run is one of them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def with_stage_point(path: Path, meta: dict, figures: pd.DataFrame, curve: pd.DataFrame):
    """Return the curve's figures per repeat, with the scaling stage's own run as the point at
    its replica count when the curve did not measure that count (the same closed loop, users
    and budgets): the default bench measures the cache at 1 replica only, and its stage run, at
    the cache's 2 replicas, is the curve's second point."""
    stage = (meta.get("settings") or {}).get("scaling_stage") or meta.get("scaling_stage")
    try:
        own = json.loads((path / str(stage) / "r1" / "stage.json").read_text()).get("replicas")
    except (OSError, ValueError):
        return curve
    rows = figures[figures["stage"] == stage]
    if not own or rows.empty or int(own) in set(curve["replicas"]):
        return curve
    point = rows.rename(columns={"stage": "replicas"}).assign(replicas=int(own))
    return pd.concat([curve, point], ignore_index=True)
