"""The probe: each endpoint alone, one request at a time, before any load."""

from __future__ import annotations

import time

from benchmarks.client import LabClient
from benchmarks.measure import hostload
from benchmarks.measure import inbox as mailbox
from benchmarks.measure.timing import HEADER, parse
from benchmarks.stack import Stack
from benchmarks.stack.budgets import PERIOD_US

PROBE_SAMPLES = 20  # fast endpoints: 20 x ~10 ms; slow ones stop at PROBE_SECONDS
# A slow endpoint (a live top-10 in a 0.25-core box takes ~1.5 s) stops after this many seconds
# in its requests (the pauses between them not counted) once it has PROBE_MIN_SAMPLES: one request
# at a time, its spread is small.
PROBE_SECONDS = 2.0
PROBE_MIN_SAMPLES = 3
SLOW_MS = 500.0  # a first call this slow, filling no cache, is kept as a sample
# With CPU budgets, back-to-back probe requests spent the app box's quota (25 ms per 100 ms period
# at 0.25 core) and about every 10th request waited out the period: 60-73 ms for a 3 ms endpoint,
# the p95 alone ~65 ms and the p50 moving between repeats (measured: 3 repeats of async-mail,
# external-storage). Pausing after each request keeps the box under this share of its budget,
# so "alone" is the endpoint's own cost, not the box's throttling. At 0.8 of it, 1 in 20-60
# samples of GET /api/test (2 ms) still waited out a period (52-73 ms): the per-request cost varies
# and the app's own threads spend CPU between requests; at half of it, the pauses between 20
# samples of a 2 ms endpoint add ~0.2 s.
PACE = 0.5
# A POST owes one mail (a review mails its specialist, a report its link), sent by the worker in
# the asynchronous stages after the answer: the next sample waits for it (up to this long), so a
# request alone does not meet the worker still busy with the previous one (see _window_pause).
MAIL_WAIT_S = 3.0
MAIL_LATE_MAX = 2  # mails that did not come before the probe stops waiting for that endpoint's


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


def _app_names(boxes) -> list[str]:
    """The names of the app's boxes (app-1, app-2, ...); none where there are no boxes."""
    return [n for n, (group, _) in getattr(boxes, "boxes", {}).items() if group == "app"]


def _app_used(boxes, before: dict | None, after: dict | None) -> float | None:
    """The app boxes' CPU seconds between two readings (None: no app box, or not counted)."""
    names = _app_names(boxes)
    if not (before and after and names):
        return None
    pairs = [(before[n].usage_s, after[n].usage_s) for n in names]
    if any(None in pair for pair in pairs):
        return None
    return max(0.0, sum(b - a for a, b in pairs))


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
    if cores:  # the boxes were capped just now: verification's last work is not the probe's
        _quiet(boxes)
    for name, method, url, body in endpoints:
        times, misses, by_box, server = [], 0, {}, []
        # The machine's speed just before and after this endpoint's samples: around the whole
        # probe, the loop moved by 68 % in one repeat (23 -> 38 ms) and said nothing of the
        # speed during one endpoint's second (results/noise_sources.py reads these).
        speed = [hostload.speed_ms(hostload.SPEED_SHORT)]
        mails = _Mails(stack.urls.get("inbox"), method == "POST")
        before = cores and _readings(boxes)  # read before the clock starts: not timed
        started = time.perf_counter()
        first = c.request(method, url, body)  # fills the cache where there is one, as in use
        first_ms = (time.perf_counter() - started) * 1000
        used = _app_used(boxes, before, cores and _readings(boxes))
        mails.settle(200 <= first.status < 300)
        time.sleep(pause_s(first_ms / 1000, cores, used))
        # Where it filled no cache (no cache part in its Server-Timing) and is slow (a live
        # top-10 in a quarter-core box: ~2 s), it is a sample like the next ones: one slow call
        # less per stage. A fast endpoint's first call stays untimed (a cold start shows there).
        if (
            200 <= first.status < 300
            and first_ms >= SLOW_MS
            and "cache" not in (first.header("Server-Timing") or "")
        ):
            times.append(round(first_ms, 2))
            server.append(parse(first.header(HEADER)))
        spent, previous = 0.0, None  # seconds in requests; the previous sample's start
        while len(times) < samples and misses < 3 * samples:
            if len(times) >= min(samples, PROBE_MIN_SAMPLES) and spent > PROBE_SECONDS:
                break
            before = cores and _readings(boxes)
            started = time.perf_counter()
            reply = c.request(method, url, body)
            elapsed, status = (time.perf_counter() - started) * 1000, reply.status
            answered = cores and _readings(boxes)  # the request's own span, not the mail's
            spent += elapsed / 1000
            if 200 <= status < 300 and before:
                for box in (b for b in answered if answered[b].throttled_s > before[b].throttled_s):
                    by_box.setdefault(box, []).append(len(times))  # made to wait in this one
            mails.settle(200 <= status < 300)  # the worker's part done before the next one
            pause = pause_s(elapsed / 1000, cores, _app_used(boxes, before, answered))
            if previous:  # the worker's and the store's work for a request follows its answer
                pause = max(pause, _window_pause(boxes, *previous, _readings(boxes)))
            previous = (started, before) if before else None
            time.sleep(pause)
            if 200 <= status < 300:
                times.append(round(elapsed, 2))
                server.append(parse(reply.header(HEADER)))
            else:
                misses += 1
        # Each sample's Server-Timing ({component: ms}, {} without the header): a slow sample
        # whose components stay small took its time outside the app (proxy, host, client).
        speed.append(hostload.speed_ms(hostload.SPEED_SHORT))
        result[name] = {"ms": times, "non_2xx": misses, "server": server, "speed_ms": speed}
        result[name].update(mails.record())
        if cores:  # which samples (indices into "ms") an app box was throttled in: the box's
            # wait, not the endpoint's own cost; and every box by name (the worker's, throttled
            # while it held SQLite's write lock, made a POST wait ~80 ms in "db").
            app = _app_names(boxes)
            result[name]["throttled"] = sorted({i for b in app for i in by_box.get(b, [])})
            result[name]["throttled_boxes"] = dict(sorted(by_box.items()))
    return result


def _readings(boxes) -> dict:
    """Each box's counters now (CpuStat), by its name ({} where there are no boxes)."""
    return {name: box.stats() for name, (_, box) in getattr(boxes, "boxes", {}).items()}


def _quiet(boxes, deadline_s: float = 3.0) -> bool:
    """Wait until every box used under PACE of its budget over a whole period (False if
    not within deadline_s): a box capped mid-period after busy work starts out throttled."""
    end = time.perf_counter() + deadline_s
    while getattr(boxes, "boxes", None) and time.perf_counter() < end:
        before, started = _readings(boxes), time.perf_counter()
        time.sleep(PERIOD_US / 1e6)
        if not _window_pause(boxes, started, before, _readings(boxes)):
            return True
    return not getattr(boxes, "boxes", None)


def _window_pause(boxes, started: float, before: dict, after: dict) -> float:
    """Seconds to wait so that every box stays under PACE of its budget since `started` (when
    the previous sample was sent, its counters `before`): the work a POST leaves to the worker
    and the store runs after its answer, and an app's own threads work between requests.

    Measured: sent every ~25 ms, POST /api/reports outran the worker's 0.2 core; its box was
    throttled while a thread held SQLite's write lock, and the API's insert waited ~80-105 ms
    in "db" (the busy handler's 1, 2, 5, 10, 15, 20, 25 ms sleeps) in 2 of 20 samples."""
    span, pause = time.perf_counter() - started, 0.0
    for name, (_, box) in getattr(boxes, "boxes", {}).items():
        old, new = before.get(name), after.get(name)
        if old is None or new is None or None in (old.usage_s, new.usage_s):
            continue
        pause = max(pause, pause_s(span, box.cores, new.usage_s - old.usage_s))
    return pause


class _Mails:
    """The mail a POST owes, awaited after each of its samples (one long poll on the simulator's
    inbox): the worker's part of a request alone (build, send, the outbox row's update) is over
    before the next sample is sent. Where the mail does not come, the probe stops waiting."""

    def __init__(self, inbox: str | None, owed: bool):
        self.inbox = inbox.rstrip("/") if inbox and owed else None
        self.newest = mailbox.newest_id(self.inbox) if self.inbox else 0
        self.late = 0  # answers whose mail did not come within MAIL_WAIT_S

    def settle(self, answered: bool) -> None:
        if not (self.inbox and answered) or self.late >= MAIL_LATE_MAX:
            return
        newest = mailbox.wait_past(self.inbox, self.newest, MAIL_WAIT_S)
        if newest is None:
            self.late += 1
        else:
            self.newest = newest

    def record(self) -> dict:
        """{"mail_waited": true, "mail_late": n} for a POST with an inbox, else {}."""
        return {"mail_waited": True, "mail_late": self.late} if self.inbox else {}
