"""Login limits under attack, through a running stage's proxy and replicas (issue 12, items 1-2).

- login-concurrent: 20 wrong passwords for one account sent at once, spread over the replicas:
  how many were verified (401) and how many refused unverified (429 / 503).
- login-spray: a few clients from one address log in with ever new unknown emails (each would
  cost a full argon2id hash): how many hashes ran, how fast the refusals (429 per address, 503
  past the per-replica hash cap) came back, and what it did to other requests meanwhile.

    python -m benchmarks.faults.logins            # both, on token-auth, print the figures

Figures go to LAB_FIGURES_FILE if set (benchmarks/faults/figures.py).
Both leave failures counted against 127.0.0.1 for the throttle's window: run them on a stack
started with a short LAB_LOGIN_WINDOW_SECONDS (LOGIN_ENV), or last.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from collections import Counter

from benchmarks.client import LabClient
from benchmarks.faults.figures import Figure, record_figure
from benchmarks.faults.load import FAULT_ENV, base_url

# A window shorter than the default minute, so the failures the scenarios leave counted against
# 127.0.0.1 do not outlive them for long, yet longer than a spray takes on a busy machine.
LOGIN_ENV = {**FAULT_ENV, "LAB_LOGIN_WINDOW_SECONDS": "30"}


def _at_once(count: int, call) -> list:
    """Run call(i) from `count` threads released together; return the results in order."""
    results = [None] * count
    gate = threading.Barrier(count)

    def run(i):
        gate.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _anonymous(stack) -> LabClient:
    """A client of the stage's front door, not logged in, a connection per request."""
    return LabClient(base_url(stack.options.port))


def login_concurrent(stack, *, guesses: int = 20) -> Figure:
    """`guesses` wrong passwords for one account at once: at most the limit are verified."""
    email = f"victim-{uuid.uuid4().hex[:8]}@example.com"
    replies = _at_once(
        guesses,
        lambda i: _anonymous(stack).post(
            "/api/login", {"email": email, "password": f"guess-{i}"}, auth=False
        ),
    )
    statuses = Counter(r.status for r in replies)
    replicas = sorted({r.headers.get("x-replica", "?") for r in replies})
    limit = int(stack.env.get("LAB_LOGIN_MAX_FAILURES", "5"))
    values = {
        "guesses": guesses,
        "verified_401": statuses.get(401, 0),
        "refused_429": statuses.get(429, 0),
        "busy_503": statuses.get(503, 0),
        "other": {s: n for s, n in statuses.items() if s not in (401, 429, 503)},
        "limit": limit,
        "replicas": replicas,
    }
    summary = (
        f"verified={values['verified_401']} of {guesses} wrong passwords sent at once to "
        f"one account over {len(replicas)} replicas (limit {limit}); refused unverified: "
        f"{values['refused_429']} x 429, {values['busy_503']} x 503"
    )
    met = values["verified_401"] <= limit and not values["other"]
    return record_figure(Figure("login-concurrent", summary, values, f"verified <= {limit}", met))


def login_spray(stack, *, clients: int = 8, per_client: int = 12) -> Figure:
    """`clients` threads from one address each log in `per_client` times with unknown emails,
    while one more thread times GET /api/test: hashes run, refusal latency, collateral."""
    probe: list[float] = []
    stop = threading.Event()
    watcher_client = _anonymous(stack)

    def prober():
        while not stop.is_set():
            reply = watcher_client.get("/api/test", auth=False)
            probe.append(reply.latency if reply.status == 200 else float("inf"))

    baseline = [watcher_client.get("/api/test", auth=False).latency for _ in range(30)]
    watcher = threading.Thread(target=prober, daemon=True)
    watcher.start()
    started = time.monotonic()

    def sprayer(i):
        own = _anonymous(stack)
        return [
            own.post(
                "/api/login",
                {"email": f"spray-{uuid.uuid4().hex[:10]}@example.com", "password": "x"},
                auth=False,
            )
            for _ in range(per_client)
        ]

    replies = [r for batch in _at_once(clients, sprayer) for r in batch]
    took = time.monotonic() - started
    stop.set()
    watcher.join(timeout=10)
    statuses = Counter(r.status for r in replies)
    verified = [r.latency for r in replies if r.status == 401]
    refused = [r.latency for r in replies if r.status in (429, 503)]
    missing_retry_after = sum(
        1 for r in replies if r.status in (429, 503) and not r.headers.get("retry-after")
    )

    def ms(values, q=0.5):
        if not values:
            return None
        ordered = sorted(values)
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    values = {
        "logins": len(replies),
        "verified_401": statuses.get(401, 0),
        "refused_429": statuses.get(429, 0),
        "busy_503": statuses.get(503, 0),
        "other": {s: n for s, n in statuses.items() if s not in (401, 429, 503)},
        "verify_ms_median": ms(verified),
        "refusal_ms_median": ms(refused),
        "refusal_ms_max": ms(refused, 1.0),
        "missing_retry_after": missing_retry_after,
        "test_ms_p95_before": ms(baseline, 0.95),
        "test_ms_p95_during": ms(probe, 0.95),
        "test_failed_during": sum(1 for p in probe if p == float("inf")),
        "duration_s": round(took, 1),
        # The address limit holds per window: a spray longer than one gets it again.
        "windows": 1 + int(took // int(stack.env.get("LAB_LOGIN_WINDOW_SECONDS", "60"))),
        "address_limit": int(stack.env.get("LAB_LOGIN_ADDRESS_MAX_FAILURES", "20")),
        "hash_cap_per_replica": int(stack.env.get("LAB_LOGIN_MAX_HASHES", "2")),
    }
    summary = (
        f"{len(replies)} logins with unknown emails from one address ({clients} at once):"
        f" hashed={values['verified_401']}, refused at once {values['refused_429']} x 429 "
        f"+ {values['busy_503']} x 503 (median {values['refusal_ms_median']} ms vs "
        f"{values['verify_ms_median']} ms for a hash); GET /api/test p95 "
        f"{values['test_ms_p95_before']} ms before, {values['test_ms_p95_during']} ms "
        f"during"
    )
    met = (
        values["verified_401"] <= values["address_limit"] * values["windows"]
        and not values["other"]
        and not missing_retry_after
        and refused
        and statistics.median(refused) < statistics.median(verified or [1.0])
    )
    return record_figure(
        Figure(
            "login-spray", summary, values, "hashes <= address limit; refusals at once", bool(met)
        )
    )


def main(argv: list[str] | None = None) -> int:
    from benchmarks.stack import Options, Stack, free_port
    from shared.seed import Scale

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.faults.logins", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stage", default="token-auth")
    args = parser.parse_args(argv)
    options = Options(
        port=free_port(),
        inbox_port=free_port(),
        smtp_port=free_port(),
        mail_delay_ms=20,
        scale=Scale(20, 20),
        env=dict(LOGIN_ENV),
        quiet=True,
    )
    with Stack(args.stage, options) as stack:
        figures = [login_concurrent(stack), login_spray(stack)]
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
