"""Where the time went, per request name: Server-Timing headers gathered during a Locust run.

`install(events, path)` (from a locustfile) listens to Locust's `request` event, parses each
response's `Server-Timing` header and, when Locust quits, writes `timing.json`:

    {"<request name>": {"<component>": {"mean_ms": x, "p50_ms": y, "requests": n}, ...}, ...}

(`requests`: how many responses of that name were counted, the same for each of its components:
the weight to pool repeats with.)

A request that did not touch a component counts as 0 ms for it, so the means of a request name
add up to its mean time in the app (a stacked bar), and a cache stage's top-10 shows how little
database time is left on average once most requests are hits. Responses without the header
(a redirect target outside the app, a request that never got an answer) are not counted.

Imports nothing of Locust's (it patches the process with gevent) nor anything heavy.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from hdrh.histogram import HdrHistogram

HEADER = "Server-Timing"
ENV = "LAB_TIMING_FILE"
# name;dur=1.23 (other parameters, such as desc="...", are allowed by the standard and ignored)
_ENTRY = re.compile(r"^\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*(?:;(.*))?$")
_DUR = re.compile(r"(?:^|;)\s*dur\s*=\s*\"?([0-9]+(?:\.[0-9]+)?)\"?\s*(?:;|$)")
# Microseconds, up to an hour, 3 significant digits: p50 exact enough for any request.
_LOWEST_US, _HIGHEST_US, _DIGITS = 1, 3_600_000_000, 3


def parse(header: str | None) -> dict[str, float]:
    """Return {component: ms} from a Server-Timing value; entries without a duration are left out.

    A component named twice (allowed by the standard) is summed."""
    out: dict[str, float] = {}
    for entry in (header or "").split(","):
        match = _ENTRY.match(entry)
        if not match:
            continue
        duration = _DUR.search(match[2] or "")
        if duration:
            out[match[1]] = out.get(match[1], 0.0) + float(duration[1])
    return out


def header_of(response) -> str | None:
    """Return the Server-Timing header of a Locust (FastHttpUser or HttpUser) response, if any."""
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    return headers.get(HEADER) or headers.get(HEADER.lower())


class TimingCollector:
    """Per request name and component: how many requests, exact sums, and an HdrHistogram."""

    def __init__(self):
        self.requests: dict[str, int] = {}
        self.sums: dict[str, dict[str, float]] = {}
        self.histograms: dict[str, dict[str, HdrHistogram]] = {}

    def add(self, name: str, header: str | None) -> bool:
        """Count one response of `name`; return False (not counted) if it had no timing."""
        components = parse(header)
        if not components:
            return False
        self.requests[name] = self.requests.get(name, 0) + 1
        sums = self.sums.setdefault(name, {})
        histograms = self.histograms.setdefault(name, {})
        for component, ms in components.items():
            sums[component] = sums.get(component, 0.0) + ms
            if component not in histograms:
                histograms[component] = HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)
            histograms[component].record_value(min(_HIGHEST_US, max(0, round(ms * 1000))))
        return True

    def restart(self, keep: tuple[str, ...] = ()) -> None:
        """Forget every name but those in `keep` (the logins): the measured window starts now."""
        for table in (self.requests, self.sums, self.histograms):
            for name in [n for n in table if n not in keep]:
                del table[name]

    def on_request(self, name: str, response=None, exception=None, **_ignored) -> None:
        """Locust's `request` event listener."""
        if response is not None:
            self.add(name, header_of(response))

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """Return {name: {component: {"mean_ms", "p50_ms", "requests"}}}; absent components
        count as 0."""
        out = {}
        for name in sorted(self.requests):
            n = self.requests[name]
            out[name] = {
                component: {
                    "mean_ms": round(self.sums[name][component] / n, 3),
                    "p50_ms": round(_median_with_zeros(histogram, n) / 1000, 3),
                    "requests": n,
                }
                for component, histogram in self.histograms[name].items()
            }
        return out

    def write(self, path: str | Path) -> Path:
        """Write the summary as JSON (beside the run's other results)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.summary(), indent=2, sort_keys=True) + "\n")
        return path


def _median_with_zeros(histogram: HdrHistogram, n: int) -> float:
    """The median over n requests, of which those not in the histogram took 0 (microseconds)."""
    present = histogram.get_total_count()
    zeros = n - present
    rank = math.ceil(n / 2)  # the lower median, as HdrHistogram reports percentiles
    if rank <= zeros:
        return 0.0
    value = histogram.get_value_at_percentile(100.0 * (rank - zeros) / present)
    # The bottom of its bucket: a value recorded exactly reads back as itself.
    return float(histogram.get_lowest_equivalent_value(value))


def install(events, path: str | Path | None = None) -> TimingCollector | None:
    """Collect Server-Timing from every request and write it to `path` (or $LAB_TIMING_FILE)
    when Locust quits. With neither, collect nothing and return None."""
    target = path or os.environ.get(ENV)
    if not target:
        return None
    collector = TimingCollector()
    events.request.add_listener(collector.on_request)
    events.quitting.add_listener(lambda **_: collector.write(target))
    return collector
