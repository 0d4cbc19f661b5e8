"""Exact latencies: each Locust request's time into an HdrHistogram per request name: latency.json.

Locust's own percentiles are rounded (two significant digits above 1 s); these keep three
significant digits from 1 µs to 1 h. Recording happens only between Locust's test_start and
test_stop (the measured window). Besides the whole-window figures, each request name keeps one
histogram per time slice of the window (LAB_SLICE_S seconds, default 5), so
benchmarks.results.intervals can bootstrap confidence intervals over slices. The file
(LAB_LATENCY_FILE) is written at test_stop:

    {"<request name>": {"count": n, "failures": f, "auth_failures": a, "p50": ms, "p95": ms,
                        "p99": ms, "p999": ms, "max": ms, "hdr": "<encoded histogram>",
                        "slices": [{"t": s, "count": n, "failures": f, "auth_failures": a,
                                    "hdr": "..."}, ...]},
     "_window": {"start": epoch, "stop": epoch, "slice_s": s}}

Times are in milliseconds; "t" is the slice's start in seconds from the window's start. An
"auth failure" is a failure whose message starts with "auth:" (docs/RESULTS.md). Imports only
hdrh and the standard library: it runs inside the Locust process (gevent-patched).
"""

from __future__ import annotations

import json
import os
import time

from hdrh.histogram import HdrHistogram

LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 3  # 1 µs .. 1 h, 3 significant digits
PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}
WINDOW_KEY = "_window"


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def record(hist: HdrHistogram, ms: float) -> None:
    """Record one latency given in ms (clamped into the histogram's range, never dropped)."""
    hist.record_value(min(max(round(ms * 1000), LOWEST_US), HIGHEST_US))


def figures(hist: HdrHistogram) -> dict[str, float]:
    """Return count, p50, p95, p99, p999 and max (ms) of a histogram."""
    out: dict[str, float] = {"count": hist.get_total_count()}
    for key, q in PERCENTILES.items():
        out[key] = hist.get_value_at_percentile(q) / 1000 if out["count"] else float("nan")
    out["max"] = hist.get_max_value() / 1000 if out["count"] else float("nan")
    return out


def decode(encoded: str) -> HdrHistogram:
    """Return the histogram stored in latency.json's "hdr" field."""
    return HdrHistogram.decode(encoded)


class Counts:
    """One request name's histogram with its failure counts (whole window or one slice)."""

    def __init__(self) -> None:
        self.hist = new_histogram()
        self.failures = 0
        self.auth_failures = 0

    def add(self, ms: float, exception) -> None:
        record(self.hist, ms)
        if exception is not None:
            self.failures += 1
            self.auth_failures += _message(exception).startswith("auth:")

    def as_dict(self) -> dict:
        return {
            **figures(self.hist),
            "failures": self.failures,
            "auth_failures": self.auth_failures,
            "hdr": self.hist.encode().decode("ascii"),
        }


def _message(exception) -> str:
    # CatchResponseError("auth: 401 ...") carries the message the locustfile gave resp.failure().
    args = getattr(exception, "args", None)
    return str(args[0]) if args else str(exception)


class Recorder:
    """Collects request latencies during the measured window and writes latency.json."""

    def __init__(self, path: str | None, slice_s: float = 5.0, clock=time.time) -> None:
        if slice_s <= 0:
            raise ValueError(f"LAB_SLICE_S must be > 0 seconds, got {slice_s}")
        self.path, self.slice_s, self.clock = path, slice_s, clock
        self.start: float | None = None
        self.stop: float | None = None
        self.names: dict[str, Counts] = {}
        self.slices: dict[str, dict[int, Counts]] = {}

    @property
    def recording(self) -> bool:
        return self.start is not None and self.stop is None

    def on_start(self, **_) -> None:
        self.start, self.stop = self.clock(), None
        self.names.clear()
        self.slices.clear()

    def restart(self, keep: tuple[str, ...] = ()) -> None:
        """Start the window again now, forgetting all but the names in `keep` (the logins)."""
        self.start, self.stop = self.clock(), None
        for name in list(self.names):
            if name not in keep:
                del self.names[name]
                self.slices.pop(name, None)
        for name in keep:  # their slices were counted from the old start
            self.slices.pop(name, None)

    def on_request(self, name: str, response_time: float, exception=None, **_) -> None:
        if not self.recording or response_time is None:
            return
        index = int((self.clock() - self.start) // self.slice_s)
        self.names.setdefault(name, Counts()).add(response_time, exception)
        if index >= 0:
            self.slices.setdefault(name, {}).setdefault(index, Counts()).add(
                response_time, exception
            )

    def on_stop(self, **_) -> None:
        if self.recording:
            self.stop = self.clock()
            if self.path:
                write(self.path, self.result())

    def result(self) -> dict:
        out = {}
        for name, counts in self.names.items():
            per_slice = sorted(self.slices.get(name, {}).items())
            slices = [{"t": i * self.slice_s, **_slice_dict(c)} for i, c in per_slice]
            out[name] = {**counts.as_dict(), "slices": slices}
        out[WINDOW_KEY] = {"start": self.start, "stop": self.stop, "slice_s": self.slice_s}
        return out


def _slice_dict(counts: Counts) -> dict:
    d = counts.as_dict()
    return {k: d[k] for k in ("count", "failures", "auth_failures", "hdr")}


def write(path: str, data: dict) -> None:
    # NaN is not JSON: a name without requests has no percentiles.
    clean = {
        name: {k: (None if isinstance(v, float) and v != v else v) for k, v in entry.items()}
        for name, entry in data.items()
    }
    with open(path, "w") as f:
        json.dump(clean, f, indent=1)


def install(events) -> Recorder:
    """Hook a Recorder into Locust's events (LAB_LATENCY_FILE, LAB_SLICE_S from the environment)."""
    recorder = Recorder(os.environ.get("LAB_LATENCY_FILE"), float(os.environ.get("LAB_SLICE_S", 5)))
    events.test_start.add_listener(recorder.on_start)
    events.request.add_listener(recorder.on_request)
    events.test_stop.add_listener(recorder.on_stop)
    return recorder


def load(path) -> dict:
    """Read a latency.json (the per-name entries, without the window)."""
    with open(path) as f:
        data = json.load(f)
    return {name: entry for name, entry in data.items() if name != WINDOW_KEY}
