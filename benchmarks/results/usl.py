"""Fit the Universal Scalability Law to a scaling curve, and write the run's scaling.json.

    X(N) = lambda * N / (1 + sigma * (N - 1) + kappa * N * (N - 1))

N is the number of app replicas, X the successful throughput. lambda is one replica's throughput
with nothing shared; sigma (contention) is the share of the work that waits in line for something
all replicas share (the one SQLite file, the proxy): it bends the curve towards the ceiling
lambda / sigma; kappa (coherency) is the cost of keeping replicas in agreement, paid per pair of
replicas: with kappa > 0 the curve has a peak at sqrt((1 - sigma) / kappa) replicas and then goes
down (adding a replica makes it slower). Fitted with scipy.optimize.curve_fit, sigma and kappa
bounded at 0 (a negative one is no physics, only noise).

scaling.json (docs/RESULTS.md) holds the curve measured with the run's CPU budgets and, when the
bench measured its contrast (--scaling-contrast: the same replica counts with no budgets at all),
the same shape for that one under "unbudgeted".

Degenerate curves: three parameters need 3+ distinct replica counts. With exactly 2 the fit is
partial and says so: kappa is held at 0 ("fitted": ["lambda", "sigma"]); with fewer, or with a
throughput that is not positive, `fit` raises USLError naming the problem.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

# A term adding less than this to the law's denominator at the largest N measured is 0 within
# any measurement's precision (else a linear curve would "peak" at 18 000 replicas).
NEGLIGIBLE = 1e-6


class USLError(ValueError):
    """The points cannot be fitted; the message says what is missing."""


def usl(n, lam: float, sigma: float, kappa: float):
    """Throughput at n replicas (n may be an array)."""
    n = np.asarray(n, dtype=float)
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


@dataclass(frozen=True)
class USLFit:
    """The fitted law, how well it fits, and where it peaks."""

    lam: float
    sigma: float
    kappa: float
    r2: float | None  # over every sample given (repeats included); None: no spread
    peak_replicas: float | None  # None when kappa is 0: no peak, throughput only flattens
    peak_rps: float | None
    ceiling_rps: float | None  # lambda / sigma: Amdahl's ceiling (None when sigma is 0)
    fitted: tuple[str, ...]  # the parameters fitted; the others are held at 0
    samples: int

    def to_json(self) -> dict:
        fields = asdict(self)
        out = {"lambda": fields.pop("lam"), **fields, "fitted": list(self.fitted)}
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}

    def predict(self, n):
        return usl(n, self.lam, self.sigma, self.kappa)


def fit(replicas: Sequence[float], rps: Sequence[float]) -> USLFit:
    """Fit the law to samples (replicas[i], rps[i]); repeats of one N are separate samples."""
    n = np.asarray(replicas, dtype=float)
    x = np.asarray(rps, dtype=float)
    if n.shape != x.shape or n.ndim != 1:
        raise USLError(
            f"replicas and rps must be two lists of one length (got {n.shape} and {x.shape})"
        )
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise USLError(
            f"every throughput must be a positive number (got {list(x)}): a "
            "point with no successful request cannot be fitted; rerun it"
        )
    if not np.all(np.isfinite(n)) or np.any(n < 1):
        raise USLError(f"replica counts must be 1 or more (got {list(n)})")
    distinct = sorted(set(n.tolist()))
    if len(distinct) < 2:
        raise USLError(
            f"the scaling law needs throughput at 2+ distinct replica counts (3+ "
            f"for a full fit); got N = {distinct}: run --scaling over 1..4 replicas"
        )
    # One replica's throughput, from the smallest N, starts the search.
    lam0 = float(np.mean(x[n == distinct[0]] / distinct[0]))
    with warnings.catch_warnings():  # the covariance is not used (and with 2 points, none)
        warnings.simplefilter("ignore", OptimizeWarning)
        if len(distinct) >= 3:
            names = ("lambda", "sigma", "kappa")
            (lam, sigma, kappa), _ = curve_fit(
                usl, n, x, p0=(lam0, 0.05, 0.001), bounds=([0, 0, 0], [np.inf] * 3), maxfev=20_000
            )
        else:
            names = ("lambda", "sigma")
            (lam, sigma), _ = curve_fit(
                lambda m, a, s: usl(m, a, s, 0.0),
                n,
                x,
                p0=(lam0, 0.05),
                bounds=([0, 0], [np.inf] * 2),
                maxfev=20_000,
            )
            kappa = 0.0
    top = distinct[-1]
    lam = float(lam)
    sigma = 0.0 if sigma * (top - 1) < NEGLIGIBLE else float(sigma)
    kappa = 0.0 if kappa * top * (top - 1) < NEGLIGIBLE else float(kappa)
    predicted = usl(n, lam, sigma, kappa)
    total = float(np.sum((x - x.mean()) ** 2))
    r2 = None if total == 0 else 1 - float(np.sum((x - predicted) ** 2)) / total
    peak_n = peak_x = None
    if kappa > 0:
        peak_n = math.sqrt(max(1 - sigma, 0) / kappa) if sigma < 1 else 1.0
        peak_n = max(peak_n, 1.0)
        peak_x = float(usl(peak_n, lam, sigma, kappa))
    ceiling = lam / sigma if sigma > 0 else None
    return USLFit(lam, sigma, kappa, r2, peak_n, peak_x, ceiling, names, int(n.size))


# --- scaling.json ------------------------------------------------------------------------------


def scaling_document(points: Sequence[dict]) -> dict:
    """Return scaling.json's content: the points as given (each with "replicas" and
    "successful_rps", the median of its repeats; "successful_rps_runs", every repeat, when there
    were several) and the fitted law over every repeat ({"error": ...} when it cannot be fitted:
    the points are kept either way)."""
    for i, p in enumerate(points):
        missing = [k for k in ("replicas", "successful_rps") if k not in p]
        if missing:
            raise USLError(f"scaling point {i} has no {' or '.join(missing)}: {p}")
    points = sorted(points, key=lambda p: p["replicas"])
    ns, xs = [], []
    for p in points:
        runs = p.get("successful_rps_runs") or [p["successful_rps"]]
        ns += [p["replicas"]] * len(runs)
        xs += list(runs)
    try:
        law = fit(ns, xs).to_json()
    except (USLError, RuntimeError) as exc:  # RuntimeError: curve_fit did not converge
        law = {"error": str(exc)}
    return {"points": list(points), "usl": law}


def points_of(figures) -> list[dict]:
    """Scaling points from a run's per-repeat figures (results.analysis.load_tree of its
    scaling/ folder: columns replicas, repeat, endpoint, metric, value): per replica count, the
    successful throughput (median and every repeat), the raw throughput, the app's cores."""
    out = []
    for replicas, rows in figures[figures["endpoint"] == ""].groupby("replicas"):
        runs = {
            m: [float(v) for v in values.dropna()] for m, values in rows.groupby("metric")["value"]
        }
        ok = runs.get("ok_throughput")
        if not ok:
            continue
        point = {
            "replicas": int(replicas),
            "successful_rps": round(float(np.median(ok)), 2),
            "successful_rps_runs": [round(v, 2) for v in ok],
        }
        for key, metric in (("rps", "throughput"), ("app_cores", "cpu_app")):
            if runs.get(metric):
                point[key] = round(float(np.median(runs[metric])), 3)
        out.append(point)
    return out


def run_document(budgeted: Sequence[dict], unbudgeted: Sequence[dict] | None = None) -> dict:
    """Return a run's scaling.json: the curve measured with the run's CPU budgets, and under
    "unbudgeted" the same shape for its contrast (the same replica counts with no budgets at
    all, `bench --scaling-contrast`) when the run has one."""
    doc = scaling_document(budgeted)
    if unbudgeted is not None:
        doc["unbudgeted"] = scaling_document(unbudgeted)
    return doc


def of_run(run) -> dict:
    """Return scaling.json's content for a loaded run (analysis.Run, from its curves' figures per
    repeat): what the report charts and explains, computed as the bench's file is."""
    from benchmarks.results import analysis as an  # pandas: a loaded run has it already

    points = {name: points_of(figures) for name, figures in run.curves.items()}
    return run_document(points.get(an.SCALING, []), points.get(an.UNBUDGETED))


def write_scaling(
    folder: Path, points: Sequence[dict], unbudgeted: Sequence[dict] | None = None
) -> dict:
    """Write folder/scaling.json; return what was written."""
    doc = run_document(points, unbudgeted)
    (folder / "scaling.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def said(law: dict) -> str:
    """One line on a fitted law (or why there is none), for the command line."""
    if "error" in law:
        return f"USL fit failed: {law['error']}"
    r2 = law["r2"] if law["r2"] is None else round(law["r2"], 3)
    return (
        f"lambda {law['lambda']:.4g} req/s, sigma {law['sigma']:.4g}, kappa {law['kappa']:.4g}, "
        f"r2 {r2}"
    )


def main(argv: list[str] | None = None) -> int:
    """Fit a run's scaling curve and write <run>/scaling.json (the bench calls this after its
    scaling points, as it calls the report builder)."""
    from benchmarks.results import analysis as an  # pandas: only for the command line

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a results/<run_id> folder with a scaling/ curve")
    run = Path(parser.parse_args(argv).run_dir)
    if not (run / an.SCALING).is_dir():
        parser.error(f"{run} has no scaling/ folder: measure one with `bench --scaling STAGE`")
    # The contrast (--scaling-contrast), when measured: the same replica counts, no budgets;
    # the budgeted curve also has the scaling stage's own run as a point (load_run).
    points = {name: points_of(figures) for name, figures in an.load_run(run).curves.items()}
    doc = write_scaling(run, points[an.SCALING], points.get(an.UNBUDGETED))
    print(f"{run / 'scaling.json'}: {said(doc['usl'])}")
    if "unbudgeted" in doc:
        print(f"  without CPU budgets: {said(doc['unbudgeted']['usl'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
