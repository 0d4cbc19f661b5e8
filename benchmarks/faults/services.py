"""Faults of the services a stage leans on: the cache server and object storage.

`cache_down` stops the cache server under top-10 load and measures the latency healthy,
degraded (answered from the database) and recovered, with no 5xx allowed; `cache_corrupt` keeps
writing corrupt entries over the cached ranking while top-10 GETs and reports run, and counts
5xx, wrong answers and failed reports (all must be 0); `storage_down` stops
object storage while reports are built and checks that each report ends ready or failed and that
no mailed or listed link points at a missing or partial file.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time

from benchmarks.client import Reply
from benchmarks.faults.figures import Figure, record_figure
from benchmarks.faults.kill import kill, port_open, redis_up, relaunch
from benchmarks.faults.ledger import Ledger
from benchmarks.faults.load import Api, Load, wait_until
from benchmarks.faults.reports import (
    complete_csv,
    fetch,
    request_report,
    wait_report_settled,
)


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank q-quantile (0 < q < 1) of the values, None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cache_down(stack, *, window_seconds: float = 3.0, threads: int = 3) -> Figure:
    """Stop the cache server under top-10 load: no 5xx, and what the latency becomes meanwhile."""
    api = Api(stack)
    url = stack.env["LAB_REDIS_URL"]
    with Load(api, ["/api/specialists/highest_rated"], threads=threads) as load:
        load.wait_for(50)  # warm: the entry is cached
        healthy_from = time.monotonic()
        time.sleep(window_seconds)  # the measuring windows: healthy, degraded, recovered
        spec = kill(stack, "valkey")
        degraded_from = time.monotonic()
        time.sleep(window_seconds)
        relaunch(spec)
        wait_until(lambda: redis_up(url), 15, "the cache server to come back")
        recovered_from = time.monotonic()
        time.sleep(window_seconds)
    replies = load.replies

    def window(start: float, end: float) -> list[Reply]:
        return [r for r in replies if start <= r.started < end]

    healthy = window(healthy_from, degraded_from)
    degraded = window(degraded_from, recovered_from)
    recovered = window(recovered_from, float("inf"))
    errors = [r for r in replies if r.status >= 500 or r.status == 0]

    def p95_ms(rs):
        value = percentile([r.latency for r in rs if r.status == 200], 0.95)
        return round(value * 1000, 1) if value is not None else None

    values = {
        "gets": len(replies),
        "5xx": len(errors),
        "5xx_while_degraded": sum(1 for r in degraded if r in errors),
        "non_200": sum(1 for r in replies if r.status != 200),
        "p95_ms_healthy": p95_ms(healthy),
        "p95_ms_degraded": p95_ms(degraded),
        "p95_ms_recovered": p95_ms(recovered),
        "gets_healthy": len(healthy),
        "gets_degraded": len(degraded),
        "gets_recovered": len(recovered),
    }
    summary = (
        f"5xx={len(errors)} of {len(replies)} top-10 GETs; p95 {values['p95_ms_healthy']} "
        f"ms cached, {values['p95_ms_degraded']} ms with the cache server down (answered "
        f"from the database), {values['p95_ms_recovered']} ms once it was back"
    )
    return record_figure(
        Figure("cache-down", summary, values, "5xx = 0", not errors and values["non_200"] == 0)
    )


# A made-up ranking dated ten years ahead: trusted, it would be served as fresh for ten years.
FORGED = {
    "id": "forged",
    "name": "Forged ranking",
    "specialty": "x",
    "average_rating": 10.0,
    "reviews_count": 1,
}


def corrupt_entries() -> list[bytes | str]:
    """What the scenario writes over the cached ranking, in turn: each a shape the cache must
    reject (not JSON; a timestamp that is text; far in the future; rows that are not rows)."""
    now = time.time()
    return [
        b"{not json",
        json.dumps({"at": "x", "data": []}),
        json.dumps({"at": now + 10 * 365 * 86400, "data": [FORGED]}),
        json.dumps({"at": now, "data": [1, 2, 3]}),
    ]


def cache_corrupt(
    stack,
    *,
    window_seconds: float = 4.0,
    threads: int = 3,
    reports: int = 4,
    every_s: float = 0.05,
    timeout: float = 60,
) -> Figure:
    """Write corrupt entries over the cached top-10 every `every_s` under top-10 load while
    reports are asked for: no 5xx, every answer the real ranking, every report ready and right,
    each corrupt entry counted (lab:counter:cache_entries_rejected)."""
    import redis

    api = Api(stack)
    server = redis.Redis.from_url(stack.env["LAB_REDIS_URL"], socket_timeout=5)
    key, counter = "lab:top_rated:10", "lab:counter:cache_entries_rejected"
    truth = api.call("GET", "/api/specialists/highest_rated").json["data"]
    rejected_before = int(server.get(counter) or 0)
    planted = 0
    stop = threading.Event()

    def corrupt() -> None:
        nonlocal planted
        entries = corrupt_entries()
        while not stop.is_set():
            server.set(key, entries[planted % len(entries)], ex=60)
            planted += 1
            stop.wait(every_s)

    corruptor = threading.Thread(target=corrupt, daemon=True)
    with Load(api, ["/api/specialists/highest_rated"], threads=threads) as load:
        load.wait_for(20)
        corruptor.start()
        asked = []
        for _ in range(reports):  # spread over the window
            asked.append(request_report(api, limit=10))
            time.sleep(window_seconds / reports)
        stop.set()
        corruptor.join()
    server.delete(key)  # put the stack back as it was
    replies = load.replies
    ends = {rid: wait_report_settled(api, rid, timeout) for rid in asked}
    wrong_reports, report_problems = 0, []
    for end in ends.values():
        if end["status"] == "ready":
            got = fetch(end["download_url"])
            rows = list(csv.DictReader(io.StringIO(got.body.decode(errors="replace"))))
            if [r.get("id") for r in rows] != [row["id"] for row in truth]:
                wrong_reports += 1
                report_problems.append(f"{got.status} {got.body[:300]!r}")
    errors = [r for r in replies if r.status >= 500 or r.status == 0]
    answered = [r.json_or_none() for r in replies if r.status == 200]
    wrong = [a for a in answered if not isinstance(a, dict) or a.get("data") != truth]
    forged = [a for a in wrong if isinstance(a, dict) and FORGED in (a.get("data") or [])]
    rejected = int(server.get(counter) or 0) - rejected_before
    server.close()
    failed = sum(1 for e in ends.values() if e["status"] != "ready")
    values = {
        "gets": len(replies),
        "5xx": len(errors),
        "non_200": sum(1 for r in replies if r.status != 200),
        "wrong_answers": len(wrong),
        "forged_served": len(forged),
        "corrupt_entries_written": planted,
        "entries_rejected": rejected,
        "reports": len(asked),
        "reports_failed": failed,
        "reports_wrong": wrong_reports,
        "report_problems": report_problems[:2],
    }
    summary = (
        f"5xx={len(errors)} of {len(replies)} top-10 GETs while {planted} corrupt entries "
        f"were written over the cached ranking; wrong answers={len(wrong)} (forged "
        f"ranking served {len(forged)}); {rejected} entries rejected and counted; reports "
        f"failed={failed}, wrong={wrong_reports} of {len(asked)}"
    )
    met = (
        not errors
        and values["non_200"] == 0
        and not wrong
        and not failed
        and not wrong_reports
        and rejected > 0
    )
    return record_figure(
        Figure("cache-corrupt", summary, values, "5xx = 0, wrong answers = 0", met)
    )


def storage_down(stack, *, short_outage_seconds: float = 2.0, timeout: float = 60) -> Figure:
    """Object storage stops while reports are built: each ends ready (retried) or failed, and
    no mailed or listed link points at a missing or partial file."""
    api = Api(stack)
    ledger = Ledger(stack)
    s3_port = int(stack.env["LAB_S3_ENDPOINT"].rsplit(":", 1)[1])

    spec = kill(stack, "s3")
    wait_until(lambda: not port_open(s3_port), 10, "the storage server to stop")
    retried = request_report(api, limit=7)
    time.sleep(short_outage_seconds)  # back within the build task's retries
    relaunch(spec)
    wait_until(lambda: port_open(s3_port), 15, "the storage server to come back")
    retried_end = wait_report_settled(api, retried, timeout)
    limits = {retried: 7}
    bad_links: list[tuple[str, int]] = []
    checked = 0

    def check_links(rid: str, end: dict) -> None:
        """Fetch every link to this report, mailed or listed, at once (links expire)."""
        nonlocal checked
        links = [end["download_url"]] if "download_url" in end else []
        if end["status"] == "ready":
            mail = wait_until(
                lambda: next(
                    (m for m in ledger.mails() if m["headers"].get("X-Lab-Report-Id") == rid), None
                ),
                20,
                "the report mail",
            )
            links.append(mail["headers"]["X-Lab-Link"])
        for link in links:
            got = fetch(link)
            checked += 1
            if got.status != 200 or not complete_csv(got.body, limits[rid]):
                bad_links.append((rid, got.status))

    check_links(retried, retried_end)
    spec = kill(stack, "s3")
    wait_until(lambda: not port_open(s3_port), 10, "the storage server to stop")
    try:
        abandoned = request_report(api, limit=9)
        limits[abandoned] = 9
        abandoned_end = wait_report_settled(api, abandoned, timeout)  # down for all its retries
    finally:
        relaunch(spec)
        wait_until(lambda: port_open(s3_port), 15, "the storage server to come back")
    check_links(abandoned, abandoned_end)
    ends = {retried: retried_end, abandoned: abandoned_end}
    mails = [m for m in ledger.mails() if m["headers"].get("X-Lab-Report-Id") in limits]
    statuses = {rid: ends[rid]["status"] for rid in limits}
    mailed_failed = [m for m in mails if statuses[m["headers"]["X-Lab-Report-Id"]] != "ready"]
    values = {
        "storage_back_within_retries": statuses[retried],
        "storage_down_throughout": statuses[abandoned],
        "error_of_the_failed": ends[abandoned].get("error", "")[:200],
        "links_checked": checked,
        "bad_links": len(bad_links),
        "mails_for_failed_reports": len(mailed_failed),
    }
    summary = (
        f"report with storage back after {short_outage_seconds:.0f} s: "
        f"{statuses[retried]}; with storage down throughout: {statuses[abandoned]}; "
        f"links to a missing or partial file={len(bad_links)} of {checked} checked"
    )
    met = (
        not bad_links
        and not mailed_failed
        and statuses[retried] == "ready"
        and statuses[abandoned] == "failed"
    )
    return record_figure(
        Figure("storage-down", summary, values, "no link to a missing or partial file", met)
    )
