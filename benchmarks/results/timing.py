"""Where the time goes: each stage's timing.json files (one per repeat) pooled into one table.

A repeat's timing.json (docs/RESULTS.md) gives, per request name and component, the mean and
p50 of the time the app spent in it, over `requests` responses. Repeats are pooled weighted by
`requests`: the pooled mean is exact (the mean over every response of every repeat); the
pooled p50 is the requests-weighted mean of the repeats' p50s, an approximation (a median
cannot be pooled from medians), which is why the charts draw means.

Runs measured before timing.json existed have no such file: `where_time` is then empty and
the report leaves its section out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from benchmarks.results.catalog import (
    COMPONENTS,
    HIGHEST_RATED,
    LOGIN,
    POST_REPORTS,
    POST_REVIEW,
    STAGE_ORDER,
)

TIMING_FILE = "timing.json"
# The request each chart is about: the key endpoints of the stages, and login (the hash).
WHERE_ENDPOINTS = (POST_REVIEW, HIGHEST_RATED, POST_REPORTS, LOGIN)
WHERE = "where: "  # build_charts' key prefix for these charts: "where: POST /api/login"
COLUMNS = ["stage", "endpoint", "component", "mean_ms", "p50_ms", "requests", "repeats"]


def read_timing(path: Path) -> pd.DataFrame:
    """Return one repeat's timing.json as rows: endpoint, component, mean_ms, p50_ms, requests.

    A file that is not the documented shape is an error naming the file and the entry.
    """
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected {{request name: {{component: ...}}}}, got {data!r:.60}")
    rows = []
    for endpoint, components in data.items():
        for component, figures in (components or {}).items():
            try:
                row = [float(figures[k]) for k in ("mean_ms", "p50_ms", "requests")]
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"{path}: {endpoint!r} / {component!r} needs numeric mean_ms, p50_ms and "
                    f"requests ({exc!r})"
                ) from None
            rows.append([endpoint, component, *row])
    return pd.DataFrame(rows, columns=["endpoint", "component", "mean_ms", "p50_ms", "requests"])


def _repeats(stage_dir: Path) -> list[Path]:
    return sorted(p for p in stage_dir.glob("r*") if re.fullmatch(r"r\d+", p.name))


def load_timing(run_path: Path) -> pd.DataFrame:
    """Return every stage's timing pooled over its repeats (COLUMNS; empty if there is none).

    `repeats` counts the repeats that had a timing.json for that stage.
    """
    parts = []
    for stage_dir in sorted(p for p in Path(run_path).iterdir() if p.is_dir()):
        for repeat in _repeats(stage_dir):
            if (repeat / TIMING_FILE).is_file():
                frame = read_timing(repeat / TIMING_FILE)
                parts.append(frame.assign(stage=stage_dir.name, repeat=repeat.name))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    rows = pd.concat(parts, ignore_index=True)
    rows = rows[rows["requests"] > 0]
    rows = rows.assign(mean_w=rows["mean_ms"] * rows["requests"],
                       p50_w=rows["p50_ms"] * rows["requests"])  # fmt: skip
    g = rows.groupby(["stage", "endpoint", "component"], as_index=False)
    out = g.agg(mean_w=("mean_w", "sum"), p50_w=("p50_w", "sum"), requests=("requests", "sum"),
                repeats=("repeat", "nunique"))  # fmt: skip
    out["mean_ms"] = out["mean_w"] / out["requests"]
    out["p50_ms"] = out["p50_w"] / out["requests"]
    return out[COLUMNS]


def where_time(run) -> pd.DataFrame:
    """Return the run's pooled timing for its measured stages (not the scaling experiment)."""
    timing = load_timing(run.path)
    return timing[timing["stage"].isin(run.stages)].reset_index(drop=True)


def components_of(timing: pd.DataFrame) -> list[str]:
    """Return the components present, the known ones in their fixed order, then any others."""
    present = set(timing["component"])
    return [c for c in COMPONENTS if c in present] + sorted(present - set(COMPONENTS))


def breakdown(timing: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """Return mean ms by component for one request name: one row per stage (course order),
    one column per component (0 where the stage's requests never touched it)."""
    part = timing[timing["endpoint"] == endpoint]
    if part.empty:
        return pd.DataFrame()
    table = part.pivot_table(index="stage", columns="component", values="mean_ms", aggfunc="sum")
    order = [s for s in STAGE_ORDER if s in table.index]
    order += sorted(set(table.index) - set(order))
    return table.reindex(index=order, columns=components_of(part)).fillna(0.0)


def main_component(row: pd.Series) -> tuple[str, float]:
    """Return the component that took the largest share of a stage's time, and that share (%)."""
    total = row.sum()
    if not total:
        return "", 0.0
    return str(row.idxmax()), 100 * row.max() / total
