"""Where each ⚠ figure's spread comes from, measured: one line that sorts them by source.

The other caveats (benchmarks/results/noise.py) each say one source; this one counts, for every
headline figure whose repeats spread over WIDE_SPREAD, which source its own run's data points
to, and names the figures none of them explains. A figure takes the first source that fits:

- a tail percentile resting on fewer than TAIL_FEW requests beyond it in every repeat;
- a rate counted over so few trials that one repeat's binomial 95 % interval (scipy's exact
  Clopper-Pearson) is wider than WIDE_SPREAD of the rate: sampling alone spreads it that much;
- a mail lag, or a report's time (its task queues behind the mails), of a queue that kept growing
  through the window (noise.growing);
- a throughput of app boxes full at their CPU budget in every repeat: with the CPU fixed, what
  moved it is the CPU each request cost, which follows the machine's speed (noise.full_repeats);
- a percentile on an edge between two heaps of requests (or of review mails' lags: legacy mails
  inside the request): in some repeat, the values a few percentile points either side of it
  (EDGES) are EDGE times apart or more, or over WIDE_SPREAD apart with an empty stretch covering
  GAP of the way between them. Under CPU budgets a
  full box's requests either ran within its quota or waited out the period (a 100 ms period:
  ~10 ms or ~80-100 ms), and a p50 on that edge jumps with a small shift in the share that waited;
- a capacity at SLO whose repeats landed on neighbouring rates of the ladder: a capacity is one
  of its rates (10, 20, 40, 80, 160 req/s by default), so one step is the smallest spread it can
  show (measured: async-reports at 160, 80 and 160 req/s in run 20261207-155310);
- a latency, or a throughput of boxes not full in every repeat, of a stage whose windows ran at
  machine speeds over WIDE_SPREAD apart (the fixed loop timed around and inside each window,
  benchmarks/measure/hostload.py): the same work took
  that much longer in the slower window. A figure alone comes from the probe, before the window:
  it is judged by the loop timed just before and after its endpoint's samples in each probe
  (before those were timed: around the whole probe, where the loop moved 23 -> 38 ms in one
  repeat), where every repeat has it (measured: async-mail's POST alone at 2.3 ms [1.9-4.1] in
  one run, its windows' speeds steady);
  a capacity at SLO comes from the ladder, after the window: it is judged by the loop timed inside
  each repeat's ladder, and by nothing where some repeat has none (measured: external-storage at
  115, 160 and 115 req/s in the committed reference, the 160 in the one repeat whose window ran
  fast, 16 ms against 23-24, but its ladder was not timed then);
- a latency under load whose request's own time in the app (the sum of its Server-Timing
  components' p50s, timing.json) moved over WIDE_SPREAD between repeats, by at least APP_SHARE of
  the figure's own move: the work, not only the wait for the box, changed (measured: the cache's
  top-10 p50 at 7.8, 6.2 and 17 ms in the committed reference, its time in the app 1.6, 1.7 and
  4.0 ms, with no edge and the speed loop steady).
"""

from __future__ import annotations

import json
import statistics

import numpy as np
from hdrh.histogram import HdrHistogram
from scipy import stats

from benchmarks.results import intervals, noise
from benchmarks.results.catalog import CAPACITY, DOWNLOAD, E2E_CSV, E2E_MAIL, WIDE_SPREAD
from benchmarks.results.i18n import num, t
from benchmarks.results.timing import TIMING_FILE, read_timing

RATES = {"download_success": DOWNLOAD, "failure_rate": "", "auth_failure_rate": ""}
THROUGHPUTS = ("throughput", "ok_throughput")
LATENCIES = ("alone_p50", "alone_p95", "p50", "p95", "p99", "p999", "max")
SOURCES = ("tail", "trials", "queue", "speed", "ladder", "edge", "machine", "app")
# Under load the app's own time is a share of a latency (the rest is the wait for the box): a move
# in it under a tenth of the figure's own cannot be what moved the figure.
APP_SHARE = 0.1
# A percentile and the points either side of it that say whether it sits on an edge; EDGE: how
# far apart their values must be. Measured: the cache's top-10 p50 under load at 11, 35 and 24 ms
# in three repeats had p45-p55 of 9.6-14, 20-67 and 18-62 ms; steady p50s had 1.0-1.4x.
EDGES = {"p50": (45.0, 55.0), "p95": (92.5, 97.5)}
EDGE = 2.0
# Heaps closer than EDGE: the values either side are over WIDE_SPREAD apart and one empty
# stretch (no request) covers GAP of the way between them. Measured: async-mail's POST review p50
# at 212, 290 and 292 ms in the committed reference (heaps at ~200 and ~300 ms, one or two 100 ms
# periods waited, 1.4x apart) had no request between 220 and 280 ms. Drawn at random between two
# ends, 9 values leave such a gap in 0.3 % of draws (ten percentile points of 100+ requests hold 9
# or more).
GAP = 0.6


def thin_tail(run, stage: str, endpoint: str, metric: str) -> bool:
    """Tell whether a percentile rests on fewer than TAIL_FEW requests beyond it in every repeat
    (noise.thin, the rule of the thin-tails caveat)."""
    return noise.thin(noise.per_repeat(run, stage, endpoint, "requests"), noise.TAILS.get(metric))


def few_trials(run, stage: str, metric: str) -> bool:
    """Tell whether a rate's binomial 95 % interval, over its smallest repeat's trials, is wider
    than WIDE_SPREAD of the rate: then sampling alone spreads the repeats past the ⚠ line."""
    if metric not in RATES:
        return False
    endpoint = RATES[metric]
    counts = noise.per_repeat(run, stage, endpoint, "requests" if endpoint else "http_requests")
    values = run.values(stage, metric)
    if not counts or not values or min(counts) < 1:
        return False
    n, p = min(counts), (run.stat(stage, metric).median or max(values)) / 100
    if p <= 0:
        return False
    ci = stats.binomtest(min(n, round(p * n)), n).proportion_ci(confidence_level=0.95)
    return (ci.high - ci.low) > WIDE_SPREAD * p


def source(run, stage: str, endpoint: str, metric: str, growing: set[str]) -> str | None:
    """Return the measured source of one ⚠ figure's spread (one of SOURCES), or None."""
    if thin_tail(run, stage, endpoint, metric):
        return "tail"
    if few_trials(run, stage, metric):
        return "trials"
    # A report's task waits in the same queue as the mails (FIFO), behind their backlog.
    if stage in growing and (metric.startswith("review_lag") or endpoint in (E2E_MAIL, E2E_CSV)):
        return "queue"
    if metric in THROUGHPUTS and noise.full_repeats(run.path, stage):
        return "speed"
    if metric == CAPACITY and one_step(run, stage):
        return "ladder"
    if metric == CAPACITY and ladder_speed_moved(run, stage):
        return "machine"
    if on_an_edge(run, stage, endpoint, metric):
        return "edge"
    # Boxes not full (a replica idle while the other queues) still do what the machine lets them.
    if metric in LATENCIES + THROUGHPUTS and speed_moved(
        run, stage, alone=endpoint if metric.startswith("alone_") else None
    ):
        return "machine"
    if (
        metric in LATENCIES
        and not metric.startswith("alone_")
        and app_time_moved(run, stage, endpoint, metric)
    ):
        return "app"
    return None


def app_time_moved(run, stage: str, endpoint: str, metric: str) -> bool:
    """Tell whether a request's own time in the app (the sum of its Server-Timing components'
    p50s, each repeat's timing.json) moved over WIDE_SPREAD between repeats, and by at least
    APP_SHARE of the figure's own move. False where some repeat has no such record."""
    sums = []
    for folder in sorted((run.path / stage).glob("r*")):
        if not folder.name[1:].isdigit():
            continue
        path = folder / TIMING_FILE
        rows = read_timing(path) if path.exists() else None
        mine = rows[rows["endpoint"] == endpoint] if rows is not None else None
        if mine is None or mine.empty:
            return False
        sums.append(float(mine["p50_ms"].sum()))
    values = run.values(stage, metric, endpoint)
    if len(sums) < 2 or len(values) < 2:
        return False
    moved = max(sums) - min(sums)
    return moved > WIDE_SPREAD * statistics.median(sums) and moved >= APP_SHARE * (
        max(values) - min(values)
    )


def one_step(run, stage: str) -> bool:
    """Tell whether a stage's capacities at SLO lie on two neighbouring rates of the run's ladder
    (0 counts as the step below its first rate)."""
    settings = (getattr(run, "meta", None) or {}).get("settings", {})
    rates = (settings.get("ladder") or {}).get("rates") or []
    steps = [0.0, *sorted(float(r) for r in rates)]
    found = {float(v) for v in run.values(stage, CAPACITY)}
    if len(found) != 2 or not found <= set(steps):
        return False
    low, high = sorted(found)
    return steps.index(high) - steps.index(low) == 1


def on_an_edge(run, stage: str, endpoint: str, metric: str) -> bool:
    """Tell whether, in some repeat, a percentile sits on an edge of its request's latencies (its
    exact histogram) or of its review mails' lags (each mail's): the values EDGES either side of
    it are EDGE times apart or more, or over WIDE_SPREAD apart with nothing in most of the way
    between."""
    point = metric.removeprefix("review_lag_")
    lag = point != metric
    if point not in EDGES or not (endpoint or lag):
        return False
    below, above = EDGES[point]
    for at, seen in _mail_lags(run, stage) if lag else _histograms(run, stage, endpoint):
        low, high = at(below), at(above)
        if low > 0 and (high >= EDGE * low or _gap_between(seen, low, high)):
            return True
    return False


def _histograms(run, stage: str, endpoint: str):
    """Yield each repeat's (percentile -> value, values recorded) of one request's latencies."""
    for entries in intervals.repeat_latencies(run.path, stage) or []:
        encoded = entries.get(endpoint, {}).get("hdr")
        if encoded:
            h = HdrHistogram.decode(encoded)
            seen = [v.value_iterated_to for v in h.get_recorded_iterator()]
            yield h.get_value_at_percentile, seen


def _mail_lags(run, stage: str):
    """Yield each repeat's (percentile -> value, values) of its review mails' lags (ms)."""
    for group in noise.review_mails(run, stage):
        values = np.sort(group["lag_ms"].to_numpy(dtype=float))
        # A value some mail had, as the histogram's are: interpolated, it could fall in a gap.
        yield (lambda q, v=values: float(np.percentile(v, q, method="inverted_cdf"))), list(values)


def _gap_between(seen: list, low: float, high: float) -> bool:
    """Tell whether two values over WIDE_SPREAD apart have an empty stretch between them (no
    value of `seen`) that covers GAP of the way: two heaps, not one spread out."""
    if high <= (1 + WIDE_SPREAD) * low:
        return False
    inside = [low, *(v for v in seen if low < v < high), high]
    return max(b - a for a, b in zip(inside, inside[1:], strict=False)) >= GAP * (high - low)


def speed_moved(run, stage: str, alone: str | None = None) -> bool:
    """Tell whether a stage's windows ran at machine speeds over WIDE_SPREAD apart (each window's
    speed: noise.window_speed). Not single samples: inside one window they jump by 2x from
    second to second, and a window averages that out (measured: r = 0.05 with throughput).
    `alone`: the request name of a figure alone, the probe's: its repeats' probe speeds decide
    where every repeat has them (runs before they were timed fall back on the windows)."""
    ms = probe_speeds(run.path, stage, alone) if alone is not None else None
    if ms is None:
        ms = [v for r in noise.windows(run.path, [stage]) if (v := noise.window_speed(r))]
    return _apart(ms)


def ladder_speed_moved(run, stage: str) -> bool:
    """Tell whether a stage's ladders ran at machine speeds over WIDE_SPREAD apart: each repeat's
    median of the loop timed inside its ladder (stage.json ladder.host.speed_ms_during). False
    where some repeat has none: the window's speed says nothing of the ladder's, seconds later."""

    def inside(info: dict):
        return ((info.get("ladder") or {}).get("host") or {}).get("speed_ms_during")

    ms = _per_repeat(run.path, stage, inside, statistics.median)
    return ms is not None and _apart(ms)


def probe_speeds(run_path, stage: str, endpoint: str = "") -> list[float] | None:
    """Return each repeat's speed loop around the probe (the mean of before and after), or None
    where some repeat has none: around the endpoint's own samples (probe.json) where every
    repeat timed it there, else around the whole probe (stage.json), as runs before did."""

    def own(probe: dict):
        return (probe.get(endpoint) or {}).get("speed_ms")

    if endpoint and (ms := _per_repeat(run_path, stage, own, statistics.mean, "probe.json")):
        return ms
    return _per_repeat(run_path, stage, lambda info: info.get("probe_speed_ms"), statistics.mean)


def _per_repeat(run_path, stage: str, pick, reduce, name: str = "stage.json") -> list | None:
    """Return reduce(pick(<name>)) for each repeat of a stage (its stage.json, or another of its
    files), or None where some repeat's pick is empty (or the stage has no repeats)."""
    out = []
    for folder in sorted((run_path / stage).glob("r*")):
        if folder.name[1:].isdigit():
            info = folder / name
            ms = pick(json.loads(info.read_text()) if info.exists() else {})
            if not ms:
                return None
            out.append(reduce(ms))
    return out or None


def _apart(ms: list[float]) -> bool:
    return len(ms) >= 2 and (max(ms) - min(ms)) > WIDE_SPREAD * statistics.median(ms)


def sorted_by_source(run, cells: list[tuple[str, str, str, str]]) -> str | None:
    """Say how many of the ⚠ figures each measured source accounts for, and name the rest.

    `cells`: (stage, endpoint, metric, label) of every ⚠ headline figure."""
    if not cells:
        return None
    growing = set(noise.growing(run, run.stages))
    found: dict[str, int] = dict.fromkeys(SOURCES, 0)
    rest = []
    for stage, endpoint, metric, label in cells:
        kind = source(run, stage, endpoint or "", metric, growing)
        if kind:
            found[kind] += 1
        else:
            rest.append(t("{stage} {label}", stage=stage, label=t(label)))
    parts = [_words(kind, n) for kind, n in found.items() if n]
    parts.append(
        t("not attributed: {rest}", rest=", ".join(rest)) if rest else t("none left unattributed")
    )
    return t(
        "Where the {n} ⚠ figures' spread comes from, as this run measured it: {parts}.",
        n=len(cells),
        parts="; ".join(parts),
    )


def _words(kind: str, n: int) -> str:
    if kind == "tail":
        return t("{n} tail percentiles resting on fewer than {few} requests per repeat", n=n,
                 few=noise.TAIL_FEW)  # fmt: skip
    if kind == "trials":
        return t("{n} rates counted over so few trials that one repeat's binomial 95 % interval "
                 "is wider than {wide} of the rate", n=n, wide=f"{WIDE_SPREAD:.0%}")  # fmt: skip
    if kind == "queue":
        return t("{n} waits in mail queues that kept growing (mail lags, report times)", n=n)
    if kind == "speed":
        return t("{n} throughputs of app boxes full at their CPU budget, where the CPU per "
                 "request moved with the machine's speed", n=n)  # fmt: skip
    if kind == "ladder":
        return t("{n} capacities at SLO one step of the ladder apart (a capacity is one of its "
                 "rates, so one step is the smallest spread it can show)", n=n)  # fmt: skip
    if kind == "edge":
        return t("{n} percentiles on an edge between two heaps of requests (in some repeat the "
                 "values {points} percentile points either side of them are {edge}x apart or "
                 "more, or {wide} apart with no request in {gap} of the way between), such as "
                 "those that ran within a full box's quota and those that waited out its period: "
                 "a small shift between the heaps moves them far", n=n,
                 points=num(EDGES["p50"][1] - 50, "g"), edge=num(EDGE, "g"),
                 wide=f"{WIDE_SPREAD:.0%}", gap=f"{GAP:.0%}")  # fmt: skip
    if kind == "app":
        return t("{n} latencies under load whose request's own time in the app (its Server-Timing "
                 "components, p50) moved by more than {wide} between repeats as well: the work "
                 "itself, not only the wait for a full box, changed", n=n,
                 wide=f"{WIDE_SPREAD:.0%}")  # fmt: skip
    return t("{n} latencies, throughputs or capacities measured at machine speeds (its fixed "
             "loop, timed around each window, each probe for a figure alone, or inside each "
             "ladder for a capacity) more than {wide} apart", n=n,
             wide=f"{WIDE_SPREAD:.0%}")  # fmt: skip
