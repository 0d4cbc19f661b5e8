"""Fault scenario: reports asked for while the worker is SIGKILLed, again and again.

Every report asked for must end built and announced: 0 reports stuck (still pending, or failed
for no reason of their own), 0 ready mails lost. Reports go through the outbox (shared.reports,
shared.outbox): the worker's sweeper re-queues the ones whose task died with the worker.

    python -m benchmarks.faults.reports_killed    # on async-reports, print the figure

Built on the room's helpers (Figure, Api, Ledger, kill/relaunch, wait_until, FAULT_ENV); the
figure is stored in LAB_FIGURES_FILE when that is set.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter

from benchmarks.faults.figures import Figure, record_figure
from benchmarks.faults.kill import kill, relaunch
from benchmarks.faults.ledger import Ledger
from benchmarks.faults.load import FAULT_ENV, Api, wait_until


def _report_mail_counts(ledger: Ledger) -> Counter:
    """How many "report ready" mails arrived for each report id."""
    return Counter(
        m["headers"].get("X-Lab-Report-Id")
        for m in ledger.mails()
        if m["headers"].get("X-Lab-Report-Id")
    )


def _ask(api: Api, count: int, threads: int = 4) -> list:
    """POST /api/reports `count` times from a few clients; return the replies."""
    replies: list = []
    lock = threading.Lock()
    left = iter(range(count))

    def client():
        own = api.client.clone()  # a connection pool per thread
        try:
            while True:
                with lock:
                    i = next(left, None)
                if i is None:
                    return
                reply = own.post("/api/reports", {"limit": 1 + i % 10})
                with lock:
                    replies.append(reply)
        finally:
            own.close()

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return replies


def reports_worker_killed(
    stack,
    *,
    reports: int = 120,
    kills: int = 3,
    mailed_between_kills: int = 15,
    timeout: float = 90,
) -> Figure:
    """Ask for `reports` reports with the worker stopped, then SIGKILL it `kills` times while it
    builds and mails them; count the reports left pending and the ready mails never sent."""
    api = Api(stack)
    ledger = Ledger(stack)
    before = _report_mail_counts(ledger)
    spec = kill(stack, "worker")  # stopped: every report is asked for before the drain
    replies = _ask(api, reports)
    asked = {r.json["id"] for r in replies if r.status == 202}
    killed = 0
    for _ in range(kills):
        relaunch(spec)
        floor = sum((_report_mail_counts(ledger) - before).values())
        wait_until(
            lambda f=floor: (
                sum((_report_mail_counts(ledger) - before).values()) >= f + mailed_between_kills
            ),
            30,
            "the worker to mail reports again",
        )
        spec = kill(stack, "worker")
        killed += 1
    relaunch(spec)
    killed_at = time.monotonic()

    def settled():
        counts = _report_mail_counts(ledger) - before
        return counts if all(counts[i] for i in asked) else None

    try:
        wait_until(
            settled, timeout, f"a ready mail for each of {len(asked)} reports", interval=0.25
        )
    except TimeoutError:
        pass  # counted below: the figure says how many are missing
    drained_in = time.monotonic() - killed_at
    counts = _report_mail_counts(ledger) - before
    statuses = Counter(api.call("GET", f"/api/reports/{i}").json.get("status") for i in asked)
    lost = sorted(i for i in asked if not counts[i])
    duplicates = sum(n - 1 for i, n in counts.items() if i in asked and n > 1)
    values = {
        "asked": reports,
        "accepted_202": len(asked),
        "kills": killed,
        "statuses": dict(statuses),
        "stuck": statuses.get("pending", 0),
        "failed": statuses.get("failed", 0),
        "ready_mails_lost": len(lost),
        "duplicates": duplicates,
        "drained_after_last_kill_s": round(drained_in, 1),
        "other_answers": sorted({r.status for r in replies if r.status != 202}),
    }
    summary = (
        f"reports stuck={values['stuck']} failed={values['failed']} ready mails "
        f"lost={len(lost)} duplicates={duplicates} of {len(asked)} reports (worker "
        f"SIGKILLed {killed} times while building and mailing them; all mailed "
        f"{drained_in:.1f} s after the last restart)"
    )
    met = not lost and not values["stuck"] and not values["failed"] and len(asked) == reports
    return record_figure(
        Figure("reports-worker-killed", summary, values, "stuck = 0, ready mails lost = 0", met)
    )


def main(argv: list[str] | None = None) -> int:
    from benchmarks.stack import Options, Stack, free_port
    from shared.seed import Scale

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.faults.reports_killed", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stage", default="async-reports")
    parser.add_argument("--reports", type=int, default=120)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args(argv)
    options = Options(
        port=free_port(),
        inbox_port=free_port(),
        smtp_port=free_port(),
        mail_delay_ms=20,
        scale=Scale(20, 20),
        env=dict(FAULT_ENV),
        quiet=True,
    )
    with Stack(args.stage, options) as stack:
        figure = reports_worker_killed(stack, reports=args.reports, kills=args.kills)
    return 0 if figure.met else 1


if __name__ == "__main__":
    raise SystemExit(main())
