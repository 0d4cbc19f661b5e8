"""What a run measures, by name: stages, request names, metrics and their units, the headline.

A figure across repeats is a `Stat` (median and min–max); `unit_of` names a metric's unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from benchmarks.results.i18n import later  # labels: English now, translated where shown

# The course's order; a run may hold only some of them.
STAGE_ORDER = ("legacy", "async-mail", "load-balanced", "token-auth", "cache", "async-reports",
               "external-storage")  # fmt: skip

# Request names of the Locust scenario (the `Name` column), the same in every stage.
LOGIN = "POST /api/login"
LIST = "GET /api/specialists"
SPECIALIST = "GET /api/specialists/{id}"
REVIEWS = "GET /api/specialists/{id}/reviews"
POST_REVIEW = "POST /api/specialists/{id}/reviews"
HIGHEST_RATED = "GET /api/specialists/highest_rated"
POST_REPORTS = "POST /api/reports"
DOWNLOAD = "GET report download"
CAPACITY = "capacity_at_slo"  # the open-loop ladder's figure (results/ladders.py)
E2E_MAIL = "E2E report: request -> mail"
E2E_CSV = "E2E report: request -> csv"
AGGREGATED = "Aggregated"
E2E_TYPE = "E2E"
ENDPOINT_ORDER = (LOGIN, LIST, SPECIALIST, REVIEWS, POST_REVIEW, HIGHEST_RATED, POST_REPORTS)
ENDPOINT_ORDER += (DOWNLOAD, E2E_MAIL, E2E_CSV)

# Server-Timing's components (shared/timing.py), in the order the report stacks them.
COMPONENTS = ("db", "cache", "queue", "smtp", "hash", "storage", "app")
CPU_GROUPS = ("app", "worker", "proxy", "redis", "mail", "storage", "locust")
EXACT_METRICS = ("p50", "p95", "p99", "p999", "max")  # latency.json's (measure/latency.py)
WIDE_SPREAD = 0.25  # (max - min) / median above this: the repeats disagree too much to compare
LOCUST_CORE_LIMIT = 0.8  # above this, the load generator itself may be what limits throughput
LOCUST_THROTTLED_PCT = 20  # ...or, in its own CPU box, throttled in this share of its periods


@dataclass(frozen=True)
class Focus:
    """What a stage is about: its key endpoint and the headline columns that tell its story."""

    key: str | None
    shows: tuple[str, ...]
    expect: str


KEY = object()  # stands for "the stage's key endpoint" in HEADLINE_COLUMNS
# fmt: off
FOCUS = {
    "legacy": Focus(POST_REVIEW, ("key_p50",), later("the baseline")),
    "async-mail": Focus(POST_REVIEW, ("key_p50", "lag_p50"),
                        later("POST review falls by the mail latency; queue lag")),
    "load-balanced": Focus(None, ("ok_throughput", "auth_failure_rate"),
                           later("throughput up, and logins break")),
    "token-auth": Focus(None, ("auth_failure_rate",), later("auth failures back to 0")),
    "cache": Focus(HIGHEST_RATED, ("key_alone_p50", "key_p50"),
                   later("top-10 latency falls ~100x")),
    "async-reports": Focus(POST_REPORTS, ("key_p95", "download_success"),
                           later("report returns at once; downloads fail")),
    "external-storage": Focus(POST_REPORTS, ("key_p95", "download_success"),
                              later("download success back to 100 %")),
}
# fmt: on


@dataclass(frozen=True)
class Column:
    """One headline column: where its figure comes from and how to label it."""

    name: str
    label: str
    metric: str
    endpoint: object = ""  # a request name, "" for stage-level figures, or KEY

    @property
    def unit(self) -> str:
        return unit_of(self.metric)


HEADLINE_COLUMNS = (
    Column("throughput", later("throughput"), "throughput"),
    Column("ok_throughput", later("successful"), "ok_throughput"),
    Column("capacity_at_slo", later("capacity at SLO"), "capacity_at_slo"),  # the open-loop ladder
    Column("key_alone_p50", later("key p50 alone"), "alone_p50", KEY),
    Column("key_p50", later("key p50"), "p50", KEY),
    Column("key_p95", later("key p95"), "p95", KEY),
    Column("key_p99", later("key p99"), "p99", KEY),
    Column("failure_rate", later("failures"), "failure_rate"),
    Column("auth_failure_rate", later("auth failures"), "auth_failure_rate"),
    Column("lag_p50", later("mail lag p50"), "review_lag_p50"),
    Column("lag_p95", later("mail lag p95"), "review_lag_p95"),
    Column("report_e2e_p50", later("report e2e p50"), "p50", E2E_CSV),
    Column("report_e2e_p95", later("report e2e p95"), "p95", E2E_CSV),
    Column("download_success", later("downloads ok"), "download_success"),
)


def unit_of(metric: str) -> str:
    """Return the unit of a metric name."""
    if metric in EXACT_METRICS or re.search(r"(^|_)(lag|alone)_(p\d+|max)$", metric):
        return "ms"
    if metric.endswith(("_rate", "_success")):
        return "%"
    if metric in ("throughput", "ok_throughput", "rps", "capacity_at_slo"):
        return "req/s"
    if metric.startswith("cpu_"):
        return "cores"
    return ""


@dataclass(frozen=True)
class Stat:
    """A figure across repeats: median with its min-max spread."""

    median: float
    lo: float
    hi: float
    n: int
    unit: str = ""

    @property
    def spread(self) -> float:
        """Return (max - min) / median; infinite when the median is 0 but the repeats differ."""
        width = self.hi - self.lo
        if width == 0:
            return 0.0
        return width / abs(self.median) if self.median else float("inf")

    @property
    def wide(self) -> bool:
        """Tell whether the repeats disagree too much for this figure to be compared."""
        # Locust stores whole milliseconds: 1 ms apart is rounding, not spread.
        if self.n < 2 or (self.unit == "ms" and self.hi - self.lo <= 1):
            return False
        return self.spread > WIDE_SPREAD


def locust_bound(run) -> dict[str, float]:
    """Return {stage: cores} where Locust used enough CPU to be the limit itself: over
    LOCUST_CORE_LIMIT, or (in its own budget box) throttled in LOCUST_THROTTLED_PCT % of its
    periods or more."""
    out = {}
    for s in run.stages:
        cores, throttled = run.stat(s, "cpu_locust"), run.stat(s, "throttled_locust")
        if cores and (
            cores.median > LOCUST_CORE_LIMIT
            or (throttled and throttled.median >= LOCUST_THROTTLED_PCT)
        ):
            out[s] = cores.median
    return out


def failure_message(error: str) -> str:
    """Unwrap Locust's repr of a failure, e.g. "CatchResponseError('auth: 401')" -> "auth: 401"."""
    found = re.fullmatch(r"\w+\((['\"])(.*)\1\)", str(error), flags=re.S)
    return found.group(2) if found else str(error)
