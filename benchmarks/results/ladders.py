"""The offered-load ladders of a run (<stage>/r<k>/ladder.json): curves and capacity at SLO.

Capacity at SLO of one ladder: the highest offered rate up to which every step kept p99 under
the SLO and failures under 1 %, climbing from the lowest rate; a step the generator could not
offer on time (behind_schedule) stops the climb (it proves nothing); none held: 0 req/s.
(The same rule as benchmarks/measure/ladder.py prints; results/ imports no other room.)

Its 95 % interval: a step's p99 is under the SLO exactly when under 1 % of its answers took the
SLO or longer, a binomial proportion. A step is "surely held" when the Wilson interval of that
proportion (and of its failures) lies under 1 %, "surely broken" when it lies over 1 % (or the
generator fell behind schedule). Assuming the ladder is monotonic (more load, no better p99):
low end, the highest surely-held rate with no surely-broken step under it; high end, the rate
just under the first surely-broken step; the point capacity always lies in between. Repeats:
each rate's answers are pooled over them, and the interval also spans every repeat's own
capacity (a repeat unlike the others widens it). Requests
under load are not independent, so this is the least the uncertainty is. A p99 needs about 400
answers per rate (all repeats) with none over the SLO to be decided at all: 2 s steps at
160 req/s give 320 a repeat, so one repeat leaves the low end at 0 there, honestly; longer steps
(--ladder-step-s) or more repeats narrow it.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram
from scipy import stats

from benchmarks import slo
from benchmarks.slo import MAX_FAILURES_PCT, SLO_MS

CONFIDENCE = 0.95


def slo_of(meta: dict) -> float:
    """Return the run's SLO (meta.json settings.slo_ms, else 500 ms)."""
    return float((meta.get("settings") or {}).get("slo_ms") or SLO_MS)


def read(folder: Path) -> list[dict] | None:
    """Return a repeat folder's ladder points, lowest rate first; None without ladder.json."""
    path = folder / "ladder.json"
    if not path.exists():
        return None
    return sorted(json.loads(path.read_text()), key=lambda p: p["offered_rps"])


def _meta_near(folder: Path) -> dict:
    for parent in folder.parents:  # <run>/<stage>/r<k> or <run>/scaling/<n>/r<k>
        if (parent / "meta.json").exists():
            return json.loads((parent / "meta.json").read_text())
    return {}


def capacity(points: list[dict], slo_ms: float = SLO_MS) -> float:
    """Return the capacity at SLO of one ladder (0 when not even the lowest rate held).

    The climb stops at the first step whose p99 is over the SLO; but a step surely held higher
    up (enough answers, none over: see pooled_verdict) holds every rate under it too (the
    monotonic assumption), so the capacity is at least that rate: a 2 s step of 20 answers with
    one slow (the cache's entry recomputed, ~2.5 s, once per TTL) says less than 400 answers at
    a higher rate with none."""
    return max(_climb(points, slo_ms), _bounds([points], slo_ms)[0])


def _climb(points: list[dict], slo_ms: float) -> float:
    best = 0.0
    for p in points:
        fails = p["failures_pct"]
        ok = not p["behind_schedule"] and p["p99"] is not None and p["p99"] < slo_ms
        ok = ok and fails is not None and fails < MAX_FAILURES_PCT
        if not ok:
            break
        best = float(p["offered_rps"])
    return best


def _over_slo(point: dict, slo_ms: float) -> tuple[int, int] | None:
    """Return (answers at or over the SLO + unanswered, all sent) of a step, from its histogram."""
    if not point.get("hdr"):
        return None
    over, total = _hdr_over(point["hdr"], slo_ms)
    unanswered = int(point.get("unanswered") or 0)
    return over + unanswered, total + unanswered


@functools.lru_cache(maxsize=4096)
def _hdr_over(hdr: str, slo_ms: float) -> tuple[int, int]:
    """(answers at or over the SLO, answers) of an encoded histogram: decoding is the slow part,
    and a report and its check ask for the same steps many times."""
    h = HdrHistogram.decode(hdr)
    counts = np.asarray(h.counts[: h.counts_len])
    used = np.flatnonzero(counts)
    values = np.array([h.get_value_from_index(int(i)) for i in used]) / 1000  # µs -> ms
    return int(counts[used][values >= slo_ms].sum()), int(h.get_total_count())


@functools.lru_cache(maxsize=4096)
def _ci(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return 0.0, 100.0
    ci = stats.binomtest(k, n).proportion_ci(CONFIDENCE, method="wilson")
    return 100 * ci.low, 100 * ci.high


def step_verdict(point: dict, slo_ms: float = SLO_MS) -> str:
    """Return "held", "broken" or "unsure" for one step, on binomial intervals."""
    return pooled_verdict([point], slo_ms)


def pooled_verdict(points: list[dict], slo_ms: float = SLO_MS) -> str:
    """Return the verdict of one rate's steps, their answers pooled (the repeats' ladders)."""
    if any(p["behind_schedule"] for p in points):
        return "broken"  # the climb stops: nothing above it was really offered
    counts = [(_over_slo(p, slo_ms), int(p.get("requests") or 0), p["failures_pct"])
              for p in points]  # fmt: skip
    if any(over is None or fails is None for over, _, fails in counts):
        # An older ladder.json (no histogram): its point only.
        return "held" if all(_climb([p], slo_ms) for p in points) else "broken"
    over = sum(o[0] for o, _, _ in counts), sum(o[1] for o, _, _ in counts)
    failed = sum(round(fails * sent / 100) for _, sent, fails in counts)
    limits = [_ci(*over), _ci(failed, sum(sent for _, sent, _ in counts))]
    if all(hi < MAX_FAILURES_PCT for _, hi in limits):
        return "held"
    if any(lo > MAX_FAILURES_PCT for lo, _ in limits):
        return "broken"
    return "unsure"


def capacity_interval(points: list[dict], slo_ms: float = SLO_MS) -> tuple[float, float]:
    """Return (low, high) of one ladder's capacity at SLO (see the module's docstring)."""
    return pooled_interval([points], slo_ms)


def pooled_interval(ladders: list[list[dict]], slo_ms: float = SLO_MS) -> tuple[float, float]:
    """Return (low, high) of the capacity at SLO over ladders of the same stage (its repeats).

    Each rate's steps are pooled; the interval then also spans every repeat's own capacity.
    """
    lo, hi = _bounds(ladders, slo_ms)
    points = [capacity(p, slo_ms) for p in ladders]
    return min([lo, *points]), max([hi, *points])


def _bounds(ladders: list[list[dict]], slo_ms: float) -> tuple[float, float]:
    """(highest surely-held rate, rate just under the first surely-broken one), steps pooled."""
    by_rate: dict[float, list[dict]] = {}
    for points in ladders:
        for p in points:
            by_rate.setdefault(float(p["offered_rps"]), []).append(p)
    lo = hi = 0.0
    for rate in sorted(by_rate):
        verdict = pooled_verdict(by_rate[rate], slo_ms)
        if verdict == "broken":
            break
        hi = rate
        if verdict == "held":  # the ladder is monotonic: the lower steps held too
            lo = rate
    return lo, hi


def floor(folder: Path, slo_ms: float = SLO_MS) -> tuple[str, float, float] | None:
    """Return (request, its fastest answer alone in ms, its share of the arrivals) when that
    request puts the p99 over the SLO at every offered rate (benchmarks/slo.py), else None."""
    shares = _read(folder / "stage.json").get("ladder", {}).get("mix") or {}
    return slo.floor(shares, _read(folder / "probe.json"), slo_ms)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def repeat_figures(folder: Path) -> list[tuple[str, str, float]]:
    """Return (endpoint, metric, value) figures of a repeat's ladder: capacity at SLO."""
    points = read(folder)
    if not points:
        return []
    slo = slo_of(_meta_near(folder))
    return [("", "capacity_at_slo", 0.0 if floor(folder, slo) else capacity(points, slo))]


def _repeat_folders(run_path: Path, stage: str) -> list[Path]:
    found = [p for p in (run_path / stage).glob("r*") if re.fullmatch(r"r\d+", p.name)]
    return sorted(found, key=lambda p: int(p.name[1:]))


def stage_interval(run_path: Path, stage: str, slo_ms: float) -> tuple[float, float, int] | None:
    """Return (low, high, repeats) of a stage's capacity at SLO over its repeats' ladders:
    (0, 0) when every repeat has a floor (see floor())."""
    folders = [f for f in _repeat_folders(run_path, stage) if read(f)]
    if not folders:
        return None
    if all(floor(f, slo_ms) for f in folders):
        return 0.0, 0.0, len(folders)
    return (*pooled_interval([read(f) for f in folders], slo_ms), len(folders))


def stage_floor(run_path: Path, stage: str, slo_ms: float) -> tuple[str, float, float] | None:
    """Return the floor (see floor()) every repeat of a stage has, the slowest alone, or None."""
    found = [floor(f, slo_ms) for f in _repeat_folders(run_path, stage) if read(f)]
    if not found or not all(found):
        return None
    return min(found, key=lambda f: f[1])


def curves(run_path: Path, stages: list[str]) -> pd.DataFrame:
    """Return one row per stage, repeat and step: offered_rps, achieved_rps, p50, p99, behind."""
    rows = []
    for stage in stages:
        for folder in _repeat_folders(run_path, stage):
            for p in read(folder) or []:
                rows.append(
                    (
                        stage,
                        int(folder.name[1:]),
                        p["offered_rps"],
                        p["achieved_rps"],
                        p["p50"],
                        p["p99"],
                        p["failures_pct"],
                        bool(p["behind_schedule"]),
                    )
                )
    cols = ["stage", "repeat", "offered_rps", "achieved_rps", "p50", "p99", "failures_pct",
            "behind"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def median_curves(run_path: Path, stages: list[str]) -> pd.DataFrame:
    """Return per stage and offered rate: median p99/achieved across repeats, behind in any."""
    c = curves(run_path, stages)
    if c.empty:
        return c
    g = c.groupby(["stage", "offered_rps"], as_index=False, sort=False)
    return g.agg(p99=("p99", "median"), achieved_rps=("achieved_rps", "median"),
                 failures_pct=("failures_pct", "median"), behind=("behind", "any"))  # fmt: skip
