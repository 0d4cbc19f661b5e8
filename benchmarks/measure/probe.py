"""The probe: each endpoint alone, one request at a time, before any load."""

from __future__ import annotations

import time

from benchmarks.client import LabClient
from benchmarks.stack import Stack
from benchmarks.stack.budgets import PERIOD_US

PROBE_SAMPLES = 20  # fast endpoints: 20 x ~10 ms; slow ones stop at PROBE_SECONDS
# A slow endpoint (a live top-10 in a 0.25-core box takes ~1.5 s) stops after this many seconds
# once it has PROBE_MIN_SAMPLES: one request at a time, its spread is small.
PROBE_SECONDS = 2.0
PROBE_MIN_SAMPLES = 3
SLOW_MS = 500.0  # a first call this slow, filling no cache, is kept as a sample
# With CPU budgets, back-to-back probe requests spent the app box's quota (25 ms per 100 ms period
# at 0.25 core) and about every 10th request waited out the period: 60-73 ms for a 3 ms endpoint,
# the p95 alone ~65 ms and the p50 moving between repeats (measured: 3 repeats of async-mail,
# external-storage). Pausing after each request keeps the box under this share of its budget,
# so "alone" is the endpoint's own cost, not the box's throttling.
PACE = 0.8


def pause_s(elapsed_s: float, cores: float | None, cpu_s: float | None = None) -> float:
    """Seconds to wait after a request that took elapsed_s (and cpu_s of the app boxes' CPU,
    where the boxes count it; else elapsed_s is its upper bound) so that, one at a time, the
    app's box (`cores` per replica; None: no budget) stays under PACE of its budget; at most one
    period (after it the quota is whole again). A request waiting on I/O (legacy's SMTP send:
    ~100 ms, little CPU) needs none."""
    if not cores:
        return 0.0
    cpu = elapsed_s if cpu_s is None else cpu_s
    return max(0.0, min(PERIOD_US / 1e6, cpu / (PACE * cores) - elapsed_s))


def _app_stats(boxes) -> list | None:
    """The app boxes' counters now (None where there are none, or they do not count CPU)."""
    stats = [box.stats() for group, box in getattr(boxes, "boxes", {}).values() if group == "app"]
    return None if not stats or any(s.usage_s is None for s in stats) else stats


def _app_cpu_s(boxes) -> float | None:
    """CPU seconds used so far by the app's boxes (None where they do not count it)."""
    stats = _app_stats(boxes)
    return None if stats is None else sum(s.usage_s for s in stats)


def probe(stack: Stack, features: list[str], samples: int = PROBE_SAMPLES) -> dict:
    """Time each endpoint alone, one request at a time, before any load: its intrinsic cost.

    Under the closed-loop load every request also waits for the others (Little's law: with 10
    users, latency is about 10 / throughput), so a cheap endpoint looks as slow as the saturated
    box. This probe gives the like-for-like figure the course quoted (one request, no queue).
    Only 2xx answers count; a 401 from the replica that does not know the session is retried.
    """
    c = LabClient(stack.urls["api"].removesuffix("/api"), timeout=60).login()
    boxes = getattr(stack, "boxes", None)
    cores = boxes.replica_cpus if boxes is not None and boxes.enforced else None
    sid = None
    for _ in range(12 * stack.replicas):  # a replica that does not know the session says 401
        page = c.get("/api/specialists").json_or_none()
        if isinstance(page, dict) and page.get("data"):
            sid = page["data"][0]["id"]
            break
    endpoints = [
        ("GET /api/test", "GET", "/api/test", None),
        ("GET /api/specialists", "GET", "/api/specialists", None),
        ("GET /api/specialists/{id}", "GET", f"/api/specialists/{sid}", None),
        ("GET /api/specialists/{id}/reviews", "GET", f"/api/specialists/{sid}/reviews", None),
        (
            "POST /api/specialists/{id}/reviews",
            "POST",
            f"/api/specialists/{sid}/reviews",
            {"rating": 8, "comment": "Probe review."},
        ),
        ("GET /api/specialists/highest_rated", "GET", "/api/specialists/highest_rated", None),
    ]
    if "reports" in features:
        endpoints.append(("POST /api/reports", "POST", "/api/reports", {"limit": 10}))
    result = {}
    for name, method, url, body in endpoints:
        times, misses, throttled = [], 0, []
        cpu = cores and _app_cpu_s(boxes)  # read before the clock starts: not timed
        started = time.perf_counter()
        first = c.request(method, url, body)  # fills the cache where there is one, as in use
        first_ms = (time.perf_counter() - started) * 1000
        time.sleep(pause_s(first_ms / 1000, cores, _used(boxes, cpu)))
        # Where it filled no cache (no cache part in its Server-Timing) and is slow (a live
        # top-10 in a quarter-core box: ~2 s), it is a sample like the next ones: one slow call
        # less per stage. A fast endpoint's first call stays untimed (a cold start shows there).
        if (
            200 <= first.status < 300
            and first_ms >= SLOW_MS
            and "cache" not in (first.header("Server-Timing") or "")
        ):
            times.append(round(first_ms, 2))
        deadline = time.perf_counter() + PROBE_SECONDS
        while len(times) < samples and misses < 3 * samples:
            if len(times) >= min(samples, PROBE_MIN_SAMPLES) and time.perf_counter() > deadline:
                break
            cpu, waited = cores and _app_cpu_s(boxes), cores and _app_throttled_s(boxes)
            started = time.perf_counter()
            status = c.request(method, url, body).status
            elapsed = (time.perf_counter() - started) * 1000
            if 200 <= status < 300 and waited is not None and _app_throttled_s(boxes) > waited:
                throttled.append(len(times))  # an app box was made to wait during this sample
            time.sleep(pause_s(elapsed / 1000, cores, _used(boxes, cpu)))
            if 200 <= status < 300:
                times.append(round(elapsed, 2))
            else:
                misses += 1
        result[name] = {"ms": times, "non_2xx": misses}
        if cores:  # which samples (indices into "ms") an app box was throttled in: the box's
            result[name]["throttled"] = throttled  # wait, not the endpoint's own cost
    return result


def _app_throttled_s(boxes) -> float | None:
    """Seconds the app's boxes have been throttled so far (None where they do not count it)."""
    stats = _app_stats(boxes)
    return None if stats is None else sum(s.throttled_s for s in stats)


def _used(boxes, before: float | None) -> float | None:
    """The app boxes' CPU seconds since `before` (None: not counted, or no budget)."""
    now = _app_cpu_s(boxes) if before is not None else None
    return None if now is None else max(0.0, now - before)
