"""How a figure's interval is drawn from its units (results/intervals.py: where units come from).

A figure is computed per repeat and then the median over repeats is taken (results/analysis.py).
Its interval follows the same two levels, as issue #11 asks ("bootstrap over repeats and, within
a repeat, over time slices"):

- one repeat: scipy.stats.bootstrap over the repeat's units (its time slices, probe requests...);
- several: a two-level (hierarchical) bootstrap. Each replicate draws the repeats with
  replacement, then each drawn repeat's units with replacement, computes the figure of each
  drawn repeat and takes their median. scipy has no multi-level bootstrap, hence this code; the
  percentile method as above, a fixed seed. So the interval is about the very figure shown beside
  it (the median of the repeats' figures, which it always contains), and a repeat unlike the
  others widens it.

The percentile method is used: with 3-20 units, BCa's jackknife is unstable and fails on ties.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import stats

from benchmarks.results import i18n

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 20261129
BATCH = 200  # replicates computed at once: the histogram statistic holds batch x buckets


@dataclass(frozen=True)
class Interval:
    """A 95 % confidence interval: lo..hi, from `units` resampled units of the given kind (in
    `repeats` repeats, each resampled too when there are several)."""

    lo: float
    hi: float
    units: int
    kind: str  # "hdr slices", "history slices", "repeats", "probe requests", "floor"
    confidence: float = CONFIDENCE
    why: tuple | None = None  # "floor": (request, fastest alone in ms, share of the arrivals)
    repeats: int = 1
    paired: bool = False  # a quotient whose two sides drew the same repeats (quotient(blocked))

    def text(self, unit: str = "") -> str:
        """Say the interval in the report's language (i18n), e.g. "95 % CI 3.1-4.2 ms (...)"."""
        t, u = i18n.t, f" {unit}" if unit else ""
        lo, hi = i18n.num(self.lo, ".4g"), i18n.num(self.hi, ".4g")
        binomial = self.kind.startswith("binomial")
        if self.kind == "floor" and self.why:
            name, alone, share = self.why
            return t(
                "surely {lo}-{hi}{u} ({name} alone took {alone} ms or more and is {share} % of "
                "the arrivals: the p99 is over the SLO at every rate)",
                lo=lo, hi=hi, u=u, name=name, alone=i18n.num(alone, ".4g"),
                share=i18n.num(100 * share, ".2g"),
            )  # fmt: skip
        if self.units == 1 and not binomial:
            return t(
                "no interval (one {kind}: {lo}{u})", kind=t(self.kind.removesuffix("s")), lo=lo, u=u
            )
        if binomial:
            how = t("binomial per step, {n} ladder(s)", n=self.units)
        elif self.repeats > 1 and self.paired:
            how = t("bootstrap over {k} rounds, each drawn for both sides, and their {n} {kind}",
                    k=self.repeats, n=self.units, kind=t(self.kind))  # fmt: skip
        elif self.repeats > 1:
            how = t("bootstrap over {k} repeats and their {n} {kind}", k=self.repeats,
                    n=self.units, kind=t(self.kind))  # fmt: skip
        else:
            how = t("bootstrap over {n} {kind}", n=self.units, kind=t(self.kind))
        return t(
            "{confidence} % CI {lo}-{hi}{u} ({how})",
            lo=lo,
            hi=hi,
            u=u,
            how=how,
            confidence=f"{self.confidence * 100:.0f}",
        )


@dataclass(frozen=True)
class Sample:
    """Resampling units of one figure and the statistic that turns drawn units into the figure.

    `statistic(data, axis=-1)` gets an array of units (or unit indices) along the last axis.
    `data` is a tuple of equally long arrays (paired, e.g. numerator and denominator).
    `groups`, when given, names each unit's repeat: the figure is then the median over repeats.
    """

    data: tuple[np.ndarray, ...]
    statistic: object
    kind: str
    groups: np.ndarray | None = None

    @property
    def units(self) -> int:
        return len(self.data[0])

    @property
    def repeats(self) -> int:
        return 1 if self.groups is None else len(np.unique(self.groups))

    def members(self) -> list[np.ndarray]:
        """Each repeat's unit positions (one repeat: all of them)."""
        if self.groups is None:
            return [np.arange(self.units)]
        return [np.flatnonzero(self.groups == g) for g in np.unique(self.groups)]

    def value(self) -> float:
        """The figure: the median over repeats of each repeat's statistic."""
        per = [float(self.statistic(*(d[m] for d in self.data), axis=-1)) for m in self.members()]
        return float(np.median(per))


def bootstrap(sample: Sample, confidence: float = CONFIDENCE) -> Interval:
    """Return the interval of one figure."""
    if sample.repeats > 1:
        return _interval(_replicates(sample, _rng()), sample.value(), sample, confidence)
    return _ci(sample.data, sample.statistic, True, sample.units, sample.kind, confidence)


def quotient(
    top: Sample, bottom: Sample, confidence: float = CONFIDENCE, blocked: bool = False
) -> Interval:
    """Return the interval of top / bottom, each resampled independently within its own units.

    `blocked`: repeat k of both was measured in one block of time (the scaling curve's round k:
    its points one after the other), so each replicate draws the same repeats for both and a
    machine faster in one round than the next moves both sides alike, not the quotient. Each
    drawn repeat's units are still resampled independently on each side."""
    if len(top.data) != 1 or len(bottom.data) != 1:
        raise ValueError("quotient of paired samples (rates) is not supported")
    kind = top.kind if top.kind == bottom.kind else f"{top.kind} / {bottom.kind}"
    if top.repeats > 1 or bottom.repeats > 1:
        rng = _rng()
        chosen = None
        if blocked and top.repeats == bottom.repeats:
            k = top.repeats
            chosen = rng.integers(0, k, size=(RESAMPLES, k, 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = _replicates(top, rng, chosen) / _replicates(bottom, rng, chosen)
            point = top.value() / bottom.value()
        deeper = top if top.repeats >= bottom.repeats else bottom  # say the most repeats
        shape = Sample(deeper.data, deeper.statistic, kind, deeper.groups)
        found = _interval(ratios, point, shape, confidence)
        return dataclasses.replace(found, paired=chosen is not None)
    nt = len(top.data)

    def ratio(*arrays, axis=-1):
        return top.statistic(*arrays[:nt], axis=axis) / bottom.statistic(*arrays[nt:], axis=axis)

    # Two independent samples: scipy resamples each within itself.
    units = min(top.units, bottom.units)
    return _ci(top.data + bottom.data, ratio, False, units, kind, confidence)


def _rng() -> np.random.Generator:
    return np.random.default_rng(SEED)  # the same run always prints the same interval


def _replicates(
    sample: Sample, rng: np.random.Generator, chosen: np.ndarray | None = None
) -> np.ndarray:
    """Return RESAMPLES two-level replicates of the figure (see the module's docstring);
    `chosen`: the repeats each replicate's slots take (drawn here when not given)."""
    members = sample.members()
    k = len(members)
    per = np.empty((RESAMPLES, k, k))  # [replicate, slot, repeat]: repeat's figure, drawn anew
    for r, idx in enumerate(members):
        draws = idx[rng.integers(0, len(idx), size=(RESAMPLES, k, len(idx)))]
        for start in range(0, RESAMPLES, BATCH):
            part = draws[start : start + BATCH]
            per[start : start + BATCH, :, r] = sample.statistic(
                *(d[part] for d in sample.data), axis=-1
            )
    if chosen is None:
        chosen = rng.integers(0, k, size=(RESAMPLES, k, 1))  # which repeat fills each slot
    return np.median(np.take_along_axis(per, chosen, axis=-1)[..., 0], axis=-1)


def _interval(values: np.ndarray, point: float, sample: Sample, confidence: float) -> Interval:
    """The percentile interval of two-level replicates, widened to hold the figure itself."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return Interval(point, point, sample.units, sample.kind, confidence)
    tail = 100 * (1 - confidence) / 2
    lo, hi = (float(x) for x in np.percentile(finite, [tail, 100 - tail]))
    return Interval(
        min(lo, point), max(hi, point), sample.units, sample.kind, confidence,
        repeats=sample.repeats,
    )  # fmt: skip


def _ci(data, statistic, paired: bool, units: int, kind: str, confidence: float) -> Interval:
    if units == 0:
        raise ValueError("no units to resample")
    point = float(statistic(*data, axis=-1))
    if all(len(np.unique(d)) <= 1 for d in data) or units == 1:
        return Interval(point, point, units, kind, confidence)  # nothing varies: no spread
    res = stats.bootstrap(
        data,
        statistic,
        paired=paired,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=RESAMPLES,
        batch=BATCH,
        method="percentile",
        random_state=np.random.default_rng(SEED),
    )
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return Interval(min(lo, point), max(hi, point), units, kind, confidence)
