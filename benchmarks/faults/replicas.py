"""Faults of the app replicas behind the proxy: one killed (SIGKILL), one drained (SIGTERM).

`replica_killed` counts the GETs that fail while a replica dies under steady load and how long
the proxy kept sending to it; `replica_drained` checks that a SIGTERMed replica finishes the
requests it had accepted before it exits. Each puts the replica back and returns a `Figure`.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import threading
import time

import psutil

from benchmarks.client import Reply
from benchmarks.faults.figures import Figure, record_figure
from benchmarks.faults.kill import kill, relaunch, replica_back
from benchmarks.faults.ledger import Ledger, utc_now_naive
from benchmarks.faults.load import Api, Load, wait_until
from shared import db as dbmod


def cut_mid_response(reply: Reply) -> bool:
    """The answer had begun (status and headers came) when the connection broke: requests
    reports a body cut short as ChunkedEncodingError, whatever the transfer encoding."""
    return reply.error.startswith("ChunkedEncodingError")


def replica_killed(
    stack,
    *,
    victim: str = "app-2",
    kill_after: int = 150,
    observe_seconds: float = 3.0,
    threads: int = 3,
) -> Figure:
    """SIGKILL one replica under steady GETs: how many GETs fail, how long the proxy sends to it.

    The proxy waits lb_try_interval (100 ms) before retrying a request on another replica, so a
    GET that took 100 ms or more after the kill is one the proxy first sent to the dead replica.
    """
    api = Api(stack)
    index = int(victim.split("-")[1]) - 1
    port = stack.replica_ports[index]
    paths = ["/api/test"] + [f"/api/specialists/{sid}" for sid in api.specialists[:5]]
    with Load(api, paths, threads=threads) as load:
        load.wait_for(kill_after)
        killed_at = time.monotonic()
        spec = kill(stack, victim)
        load.wait_for(1)
        time.sleep(observe_seconds)  # the fixed observation window after the fault
    replies = load.replies
    failed = [r for r in replies if r.status != 200]
    # A response the dead replica had begun (headers sent, body not) cannot be retried by any
    # proxy: the client sees it cut short. Everything else would be the proxy's failure.
    cut = [r for r in failed if cut_mid_response(r)]
    after = [r for r in replies if r.started + r.latency >= killed_at]
    retried = [r for r in after if r.latency >= 0.095]
    last_sent = max((r.started - killed_at for r in retried), default=0.0)
    relaunch(spec)
    replica_back(stack, api, victim, port)
    values = {
        "gets": len(replies),
        "failed": len(failed),
        "cut_mid_response": len(cut),
        "failed_by_proxy": len(failed) - len(cut),
        "retried_by_proxy": len(retried),
        "proxy_stopped_after_s": round(max(0.0, last_sent), 3),
        "errors": sorted({r.error or str(r.status) for r in failed})[:5],
    }
    summary = (
        f"failed GETs={len(failed)} of {len(replies)} ({len(cut)} cut mid-response by "
        f"the kill, {len(failed) - len(cut)} refused or 5xx); the proxy stopped sending to "
        f"the killed replica after {values['proxy_stopped_after_s']:.2f} s "
        f"({len(retried)} GETs retried on the other one)"
    )
    return record_figure(Figure("replica-killed", summary, values, "failed GETs = 0", not failed))


@contextlib.contextmanager
def sqlite_write_lock(database_url: str):
    """Hold the database's write lock: writers wait (busy_timeout), readers go on (WAL)."""
    if dbmod.backend_of(database_url) != "sqlite":
        raise RuntimeError("the drain scenario holds requests in flight with SQLite's write lock")
    conn = sqlite3.connect(str(dbmod.sqlite_path(database_url)), timeout=10, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


def accepted_connections(pid: int, port: int) -> int:
    """Count the connections a gunicorn replica (master or workers) has accepted on its port."""
    count = 0
    try:
        family = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    for p in family:
        with contextlib.suppress(psutil.Error):
            count += sum(
                1
                for c in p.net_connections("tcp")
                if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
            )
    return count


def replica_drained(
    stack, *, victim: str = "app-2", in_flight: int = 3, hold_seconds: float = 1.0, threads: int = 2
) -> Figure:
    """SIGTERM a replica while POSTs are in flight on it: they complete (graceful drain).

    To keep the POSTs in flight for certain, the scenario holds the SQLite write lock: each POST
    waits inside its transaction until the lock is released, `hold_seconds` after the SIGTERM.
    Meanwhile GETs and more POSTs keep coming through the proxy.
    """
    api = Api(stack)
    index = int(victim.split("-")[1]) - 1
    port = stack.replica_ports[index]
    proc = next(p for p in stack.procs if p.name == victim)
    since = utc_now_naive()
    results: list[Reply] = []
    via_proxy: list[Reply] = []
    paths = ["/api/test"] + [f"/api/specialists/{sid}" for sid in api.specialists[:5]]
    with Load(api, paths, threads=threads) as load:
        load.wait_for(20)
        with sqlite_write_lock(stack.env["LAB_DATABASE_URL"]):
            posters = [
                threading.Thread(
                    target=lambda: results.extend(
                        api.post_reviews(1, threads=1, tag="in-flight", port=port)
                    )
                )
                for _ in range(in_flight)
            ]
            for t in posters:
                t.start()
            wait_until(
                lambda: accepted_connections(proc.popen.pid, port) >= in_flight,
                10,
                f"{in_flight} POSTs accepted by {victim}",
            )
            spec = kill(stack, victim, signal.SIGTERM)
            terminated_at = time.monotonic()
            proxy_poster = threading.Thread(
                target=lambda: via_proxy.extend(api.post_reviews(6, threads=2, tag="during-drain"))
            )
            proxy_poster.start()
            time.sleep(hold_seconds)  # how long the in-flight requests outlive the SIGTERM
        # Lock released: the in-flight POSTs can commit now.
        for t in posters:
            t.join(timeout=30)
        proxy_poster.join(timeout=30)
        exit_code = proc.popen.wait(timeout=30)
        drained_in = time.monotonic() - terminated_at
        load.wait_for(5)
    gets = load.replies
    after = [r for r in gets if r.started + r.latency >= terminated_at]
    failed_gets = [r for r in gets if r.status != 200]
    created = {r.json["id"] for r in results + via_proxy if r.status == 201}
    saved = Ledger(stack).reviews_since(since)
    relaunch(spec)
    replica_back(stack, api, victim, port)
    values = {
        "in_flight_posts": in_flight,
        "in_flight_completed": sum(1 for r in results if r.status == 201),
        "posts_via_proxy_during_drain": len(via_proxy),
        "posts_via_proxy_failed": sum(1 for r in via_proxy if r.status != 201),
        "gets": len(gets),
        "gets_during_drain": len(after),
        "gets_failed": len(failed_gets),
        "exit_code": exit_code,
        "drained_in_s": round(drained_in, 2),
        "slowest_get_during_drain_s": round(max((r.latency for r in after), default=0), 2),
        "acknowledged_not_saved": len(created - saved),
        "saved_not_acknowledged": len(saved - created),
        "errors": sorted(
            {
                f"{r.status} {r.error}"
                for r in failed_gets + [r for r in via_proxy if r.status != 201]
            }
        )[:5],
    }
    # New POSTs sent through the proxy while a replica drains are reported, not required to
    # pass: one can race the replica closing an idle keep-alive connection, and a proxy must not
    # retry a POST. Such a POST fails cleanly (502, nothing saved: checked below), never half-done.
    met = (
        values["in_flight_completed"] == in_flight
        and not failed_gets
        and exit_code == 0
        and created <= saved
        and not values["saved_not_acknowledged"]
    )
    summary = (
        f"in-flight POSTs completed={values['in_flight_completed']} of {in_flight}; "
        f"POSTs via the proxy during the drain failed={values['posts_via_proxy_failed']} "
        f"of {len(via_proxy)}; failed GETs={len(failed_gets)} of {len(gets)}; "
        f"replica exited {exit_code} after {drained_in:.1f} s"
    )
    return record_figure(
        Figure("replica-drained", summary, values, "every in-flight request completes", met)
    )
