"""95 % confidence intervals of a run's figures: where their resampling units come from.

A figure's resampling units are the time slices of each repeat's measured window, labelled with
their repeat (results/resample.py resamples the repeats, then each drawn repeat's slices, and
takes the median over repeats, as the figure itself), in this order of preference:

- latency.json (benchmarks/measure/latency.py writes it; read here as docs/RESULTS.md says): one
  HdrHistogram per request name and slice; a resample merges the drawn slices' histograms and
  takes the percentile of the merge (exact);
- Locust's locust_stats_history.csv (older runs): its percentile columns cover the last 10 s
  (Locust's CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW), so every 10th row is one non-overlapping
  slice; a resample takes the median of the drawn slices' values;
- else the per-repeat values themselves (bootstrap over repeats only).

Rates (auth failures, download success) resample (numerator, denominator) slices in pairs;
alone_* figures resample the probe's single requests. `quotient` gives the interval of one
figure divided by another (stage vs its reference stage), resampling both independently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram

from benchmarks.results import analysis as an
from benchmarks.results import ladders
from benchmarks.results.resample import Interval, Sample, bootstrap, quotient

__all__ = ["Interval", "Sample", "bootstrap", "quotient", "sample", "curve_sample"]

HISTORY_WINDOW_S = 10  # Locust's CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW
PERCENTILE_METRICS = {"p50": 50.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}
WINDOW_KEY = "_window"  # latency.json's window entry (docs/RESULTS.md), not a request name


# --- where the units come from ---------------------------------------------------------------


def _repeats(run_path: Path, stage: str) -> list[Path]:
    folder = run_path / stage
    found = [p for p in folder.glob("r*") if re.fullmatch(r"r\d+", p.name)]
    return sorted((p for p in found if (p / "locust_stats.csv").exists()), key=lambda p: p.name)


def _latency_files(folders: list[Path]) -> list[dict] | None:
    """Return every repeat's latency.json, or None unless all repeats have one."""
    if not folders or not all((f / "latency.json").exists() for f in folders):
        return None
    return [_latency_entries(f / "latency.json") for f in folders]


def repeat_latencies(run_path: Path, stage: str) -> list[dict] | None:
    """Return each repeat's latency.json entries of a stage (None unless every repeat has one)."""
    return _latency_files(_repeats(Path(run_path), stage))


def _latency_entries(path: Path) -> dict:
    """Return a latency.json's per-request-name entries (without the window)."""
    return {k: v for k, v in _read_json(path).items() if k != WINDOW_KEY}


def _histogram_sample(slices: list[dict], q: float, groups: np.ndarray | None = None) -> Sample:
    """Units: slice indices; statistic: the q-th percentile of the drawn slices' merged counts."""
    hists = [HdrHistogram.decode(s["hdr"]) for s in slices]
    counts = np.array([np.asarray(h.counts[: h.counts_len], dtype=float) for h in hists])
    used = np.flatnonzero(counts.sum(axis=0))
    counts = counts[:, used]
    h0 = hists[0]
    values = [h0.get_highest_equivalent_value(h0.get_value_from_index(int(i))) for i in used]
    values = np.array(values) / 1000  # µs -> ms
    n = len(slices)

    def percentile(idx, axis=-1):
        idx = np.moveaxis(np.asarray(idx, dtype=int), axis, -1)
        weights = (idx[..., :, None] == np.arange(n)).sum(axis=-2)  # (..., n): draws per slice
        merged = weights @ counts  # (..., buckets)
        cum = np.cumsum(merged, axis=-1)
        # HdrHistogram's rule: the first value whose cumulative count reaches q % (rounded).
        target = np.maximum(np.floor(q / 100 * cum[..., -1:] + 0.5), 1)
        return values[np.argmax(cum >= target, axis=-1)]

    return Sample((np.arange(n),), percentile, "hdr slices", groups)


def _history_values(folder: Path, endpoint: str, metric: str) -> list[float]:
    """Return one value per non-overlapping 10 s slice of Locust's history (older runs)."""
    column = {"p50": "50%", "p95": "95%", "p99": "99%"}.get(metric)
    path = folder / "locust_stats_history.csv"
    if column is None or not path.exists():
        return []
    rows = pd.read_csv(path, na_values=["N/A"], keep_default_na=False)
    rows = rows[(rows["Name"] == endpoint) & (rows["Timestamp"] >= _first_busy(rows))]
    if rows.empty:
        return []
    rows = rows.assign(t=rows["Timestamp"].max() - rows["Timestamp"])
    picked = rows[(rows["t"] % HISTORY_WINDOW_S) == 0].sort_values("Timestamp")
    # A slice in which nothing of this name finished has no new information.
    total = picked["Total Request Count"].diff().fillna(picked["Total Request Count"])
    return picked.loc[total > 0, column].dropna().astype(float).tolist()


def _first_busy(rows: pd.DataFrame) -> float:
    # As benchmarks.analysis.repeat_history: the rows before any rps are Locust starting up.
    busy = rows.loc[(rows["Name"] == an.AGGREGATED) & (rows["Requests/s"] > 0), "Timestamp"]
    return float(busy.min()) if len(busy) else float("inf")


def _median(values, axis=-1):
    return np.median(values, axis=axis)


def _mean(values, axis=-1):
    return np.mean(values, axis=axis)


def _rate(num, den, axis=-1):
    return 100 * np.sum(num, axis=axis) / np.sum(den, axis=axis)


def sample(run: an.Run, stage: str, metric: str, endpoint: str = "") -> Sample | None:
    """Return the resampling units of a figure of a stage, or None when it was not measured."""
    folders = _repeats(run.path, stage)
    lat = _latency_files(folders)
    if metric in PERCENTILE_METRICS and endpoint:
        if lat is not None:
            slices, groups = _labelled(
                [[s for s in d.get(endpoint, {}).get("slices", []) if s["count"]] for d in lat]
            )
            if slices:
                return _histogram_sample(slices, PERCENTILE_METRICS[metric], groups)
        values, groups = _labelled([_history_values(f, endpoint, metric) for f in folders])
        if len(values) >= 2:
            return Sample((np.array(values),), _median, "history slices", groups)
    if metric.startswith("alone_") and endpoint:
        q = {"p50": 50, "p95": 95, "p99": 99}.get(metric.removeprefix("alone_"))
        probes = [_read_json(f / "probe.json").get(endpoint, {}).get("ms", []) for f in folders]
        ms, groups = _labelled(probes)
        if q is not None and len(ms):
            pick = lambda x, axis=-1: np.percentile(x, q, axis=axis)  # noqa: E731
            return Sample((np.array(ms, dtype=float),), pick, "probe requests", groups)
    if metric in ("throughput", "ok_throughput") and lat is not None:
        found = _throughput_sample(folders, metric == "ok_throughput")
        if found is not None:
            return found
    if metric in ("auth_failure_rate", "download_success") and lat is not None:
        rate = _rate_slices(lat, metric)
        if rate is not None:
            return rate
    values = run.values(stage, metric, endpoint)
    if not values:
        return None
    return Sample((np.array(values, dtype=float),), _median, "repeats")


def curve_sample(run: an.Run, replicas: int, metric: str = "ok_throughput") -> Sample | None:
    """Return the resampling units of a point of the budgeted scaling curve (a throughput): its
    slices from scaling/<n>/r*/latency.json, or from the scaling stage's own run where that run is
    the point (results/curve_points.py); else its repeats' values."""
    curve = run.curves.get(an.SCALING)
    if curve is None:
        return None
    rows = curve[(curve["replicas"] == replicas) & (curve["metric"] == metric)]
    values = rows.loc[rows["endpoint"] == "", "value"].dropna().to_numpy(dtype=float)
    if not len(values):
        return None
    folders = _repeats(run.path, curve_folder(run, replicas))
    if metric in ("throughput", "ok_throughput") and _latency_files(folders) is not None:
        found = _throughput_sample(folders, metric == "ok_throughput")
        if found is not None:
            return found
    return Sample((values,), _median, "repeats")


def _labelled(per_repeat: list[list]) -> tuple[list, np.ndarray | None]:
    """Pool each repeat's units; label each with its repeat (None: one repeat, no levels)."""
    pooled = [u for units in per_repeat for u in units]
    groups = np.repeat(np.arange(len(per_repeat)), [len(units) for units in per_repeat])
    return pooled, (groups if len({g for g in groups}) > 1 else None)


def _throughput_sample(folders: list[Path], ok_only: bool) -> Sample | None:
    """Units: each repeat's slices' request rates; the figure: their mean (the repeat's rate)."""
    rates, groups = _labelled([_throughput_slices([f], ok_only) for f in folders])
    if len(rates) < 2:
        return None
    return Sample((np.array(rates),), _mean, "hdr slices", groups)


def curve_folder(run: an.Run, replicas: int) -> str:
    """Return the folder holding a point of the budgeted curve: scaling/<n>, or the scaling
    stage's own where its run is the point."""
    folder = f"{an.SCALING}/{replicas}"
    if _repeats(run.path, folder):
        return folder
    meta = run.meta
    return str((meta.get("settings") or {}).get("scaling_stage") or meta.get("scaling_stage"))


def _rate_slices(lat: list[dict], metric: str) -> Sample | None:
    """Pair (numerator, denominator) per slice and repeat from latency.json's slices."""
    num, den, groups = [], [], []
    for r, data in enumerate(lat):
        per_t: dict[float, list[float]] = {}
        for name, entry in data.items():
            if metric == "download_success" and name != an.DOWNLOAD:
                continue
            if metric == "auth_failure_rate" and (name == an.LOGIN or name.startswith("E2E")):
                continue  # authenticated HTTP requests only (as in benchmarks.analysis)
            for s in entry.get("slices", []):
                good = s["count"] - s["failures"]
                top = s["auth_failures"] if metric == "auth_failure_rate" else good
                acc = per_t.setdefault(s["t"], [0.0, 0.0])
                acc[0] += top
                acc[1] += s["count"]
        for t in sorted(per_t):
            if per_t[t][1]:
                num.append(per_t[t][0])
                den.append(per_t[t][1])
                groups.append(r)
    if not den:
        return None
    labels = np.array(groups) if len(set(groups)) > 1 else None
    return Sample((np.array(num), np.array(den)), _rate, "hdr slices", labels)


def _throughput_slices(folders: list[Path], ok_only: bool) -> list[float]:
    """Return HTTP requests per second in each slice of each repeat (E2E entries left out)."""
    rates = []
    for folder in folders:
        data = _read_json(folder / "latency.json")
        window = data.get(WINDOW_KEY) or {}
        start, stop, width = window.get("start"), window.get("stop"), window.get("slice_s")
        if start is None or stop is None or not width:
            continue
        per_t: dict[float, float] = {}
        for name, entry in data.items():
            if name == WINDOW_KEY or name.startswith("E2E"):
                continue
            for s in entry.get("slices", []):
                done = s["count"] - (s["failures"] if ok_only else 0)
                t = round(s["t"], 6)
                per_t[t] = per_t.get(t, 0) + done
        for t in np.arange(0, stop - start, width):
            seconds = min(width, stop - start - t)  # the last slice may be shorter
            if seconds >= width / 2:  # a sliver of a slice says little about a rate
                rates.append(per_t.get(round(float(t), 6), 0) / seconds)
    return rates


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def figure_interval(run: an.Run, stage: str, metric: str, endpoint: str = "") -> Interval | None:
    """Return the 95 % interval of a figure of a stage (to show beside its median)."""
    if metric == "capacity_at_slo":  # not a bootstrap: binomial per ladder step (ladders.py)
        found = ladders.stage_interval(run.path, stage, ladders.slo_of(run.meta))
        if found is None:
            return None
        why = ladders.stage_floor(run.path, stage, ladders.slo_of(run.meta))
        if why:  # surely 0: a request slower than the SLO alone is over 1 % of the arrivals
            return Interval(0.0, 0.0, found[2], "floor", why=why)
        return Interval(found[0], found[1], found[2], f"binomial per step, {found[2]} ladder(s)")
    s = sample(run, stage, metric, endpoint)
    return bootstrap(s) if s is not None else None


def headline_intervals(run: an.Run) -> dict[tuple[str, str], Interval]:
    """Return {(stage, column name): interval} for every cell of an.headline(run) with a figure."""
    out = {}
    for stage in run.stages:
        key = an.key_endpoint(stage)
        for col in an.HEADLINE_COLUMNS:
            endpoint = key if col.endpoint is an.KEY else col.endpoint
            if endpoint is None:
                continue
            interval = figure_interval(run, stage, col.metric, endpoint)
            if interval is not None:
                out[(stage, col.name)] = interval
    return out
