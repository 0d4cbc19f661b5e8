"""A run's mails read into queue lags: how long after the work was created its mail arrived."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def _read_json(path: Path, default):
    return json.loads(path.read_text()) if path.exists() else default


def mail_lags(folder: Path) -> pd.DataFrame:
    """Return a repeat's mails as rows: kind (review/report), t (s into the window), lag_ms.

    Queue lag = received_at - X-Lab-Created-At; only work created in the measured window counts.
    """
    stage = _read_json(folder / "stage.json", {})
    start, end = stage.get("measure_start"), stage.get("measure_end")
    mails = _read_json(folder / "mails.json", [])
    rows = []
    for m in mails.get("messages", []) if isinstance(mails, dict) else mails:
        headers = {k.lower(): v for k, v in (m.get("headers") or {}).items()}
        created = headers.get("x-lab-created-at")
        if created is None or m.get("received_at") is None:
            continue
        created = float(created)
        # The simulator keeps warm-up mails too: count only work created in the measured window.
        if (start is not None and created < start) or (end is not None and created > end):
            continue
        kind = "review" if "x-lab-review-id" in headers else "report"
        if kind == "report" and "x-lab-report-id" not in headers:
            continue
        rows.append((kind, created, (float(m["received_at"]) - created) * 1000))
    lags = pd.DataFrame(rows, columns=["kind", "t", "lag_ms"])
    lags["t"] -= start if start is not None else (lags["t"].min() if rows else 0)
    return lags


def lag_over_time(run, kind: str = "review", bin_s: float = 1.0) -> pd.DataFrame:
    """Return (stage, t, lag_ms): the median queue lag of mails for work created in each bin
    (`run`: an analysis.Run, whose `mails` holds every repeat's mail_lags)."""
    m = run.mails
    if m.empty:
        return pd.DataFrame(columns=["stage", "t", "lag_ms"])
    m = m[m["kind"] == kind].assign(t=lambda d: (d["t"] // bin_s) * bin_s)
    return m.groupby(["stage", "t"], as_index=False)["lag_ms"].median()
