"""Faults on the way a review's mail goes out: the worker, the mail provider, the queue server.

Each scenario posts reviews, breaks one link of the chain (SIGKILL the worker while it drains,
make the provider refuse mail, stop the queue server), puts it back and then counts, review by
review, what the database saved against what the inbox received: lost and duplicated mails.
"""

from __future__ import annotations

import statistics
import time

from benchmarks.faults.figures import Figure, record_figure
from benchmarks.faults.kill import kill, redis_up, relaunch
from benchmarks.faults.ledger import Ledger, mail_config, utc_now_naive
from benchmarks.faults.load import Api, wait_until


def worker_killed(
    stack, *, reviews: int = 500, kills: int = 3, sent_between_kills: int = 60, timeout: float = 90
) -> Figure:
    """Queue `reviews` mails, then SIGKILL the worker `kills` times while it drains them.

    Lost = reviews committed with no mail; duplicates = extra copies of a review's mail.
    """
    api = Api(stack)
    ledger = Ledger(stack)
    since = utc_now_naive()
    before = ledger.mail_counts()
    spec = kill(stack, "worker")  # stopped, so all of them are queued before it drains
    replies = api.post_reviews(reviews, tag="worker-killed")
    accepted = {r.json["id"] for r in replies if r.status == 201}
    killed = 0
    for _ in range(kills):
        relaunch(spec)
        floor = sum((ledger.mail_counts() - before).values())
        wait_until(
            lambda f=floor: sum((ledger.mail_counts() - before).values()) >= f + sent_between_kills,
            30,
            "the worker to send mail again",
        )
        spec = kill(stack, "worker")
        killed += 1
    relaunch(spec)
    saved = ledger.reviews_since(since)
    counts = ledger.wait_all_mailed(saved, timeout) - before
    lost = sorted(i for i in saved if not counts[i])
    duplicates = sum(n - 1 for i, n in counts.items() if i in saved and n > 1)
    # A row is marked sent just after the provider's "250 OK": give the last ones a moment.
    deadline = time.monotonic() + 15
    outbox = ledger.outbox(saved)
    while not lost and outbox.get("sent", 0) < len(saved) and time.monotonic() < deadline:
        time.sleep(0.2)
        outbox = ledger.outbox(saved)
    values = {
        "reviews_accepted": len(accepted),
        "reviews_saved": len(saved),
        "kills": killed,
        "mails_lost": len(lost),
        "duplicates": duplicates,
        "outbox": dict(outbox),
        "post_failures": sum(1 for r in replies if r.status != 201),
    }
    summary = (
        f"mails lost={len(lost)} duplicates={duplicates} of {len(saved)} reviews "
        f"(worker SIGKILLed {killed} times while draining)"
    )
    return record_figure(
        Figure(
            "worker-killed",
            summary,
            values,
            "mails lost = 0",
            not lost and accepted <= saved and len(saved) >= reviews,
        )
    )


def provider_down(
    stack, *, reviews: int = 30, outage_seconds: float = 5.0, timeout: float = 60
) -> Figure:
    """The mail provider answers 451 for a while, then recovers: nothing lost, how late."""
    api = Api(stack)
    ledger = Ledger(stack)
    since = utc_now_naive()
    before = ledger.mail_counts()
    rejected_before = mail_config(stack)["rejected"]
    mail_config(stack, reject=True)
    down_at = time.time()
    try:
        replies = api.post_reviews(reviews, tag="provider-down")
        time.sleep(max(0.0, down_at + outage_seconds - time.time()))  # the outage's length
    finally:
        mail_config(stack, reject=False)
    up_at = time.time()
    posted_at = {r.json["id"]: r.at for r in replies if r.status == 201}
    saved = ledger.reviews_since(since)
    counts = ledger.wait_all_mailed(saved, timeout) - before
    received = {
        m["headers"]["X-Lab-Review-Id"]: m["received_at"]
        for m in ledger.mails()
        if m["headers"].get("X-Lab-Review-Id") in saved
    }
    lost = sorted(i for i in saved if not counts[i])
    delays = sorted(received[i] - posted_at[i] for i in received if i in posted_at)
    after_recovery = max((t - up_at for t in received.values()), default=0.0)
    rejected = mail_config(stack)["rejected"] - rejected_before
    values = {
        "reviews": len(saved),
        "outage_s": outage_seconds,
        "mails_lost": len(lost),
        "duplicates": sum(n - 1 for i, n in counts.items() if i in saved and n > 1),
        "delay_median_s": round(statistics.median(delays), 2) if delays else None,
        "delay_max_s": round(delays[-1], 2) if delays else None,
        "last_mail_after_recovery_s": round(after_recovery, 2),
        "smtp_attempts_refused": rejected,
        "refused_per_mail": round(rejected / max(1, len(saved)), 1),
    }
    summary = (
        f"mails lost={len(lost)} of {len(saved)} during a {outage_seconds:.0f} s outage; "
        f"delay until delivered median {values['delay_median_s']} s, max "
        f"{values['delay_max_s']} s (last one {after_recovery:.1f} s after recovery); "
        f"{values['refused_per_mail']} refused attempts per mail (no hot loop)"
    )
    return record_figure(
        Figure(
            "provider-down", summary, values, "mails lost = 0", not lost and len(saved) == reviews
        )
    )


def queue_down(stack, *, reviews: int = 10, timeout: float = 60) -> Figure:
    """Stop the queue server, post reviews, bring it back (empty): no saved review loses its mail.

    A review is either saved (201) and mailed once the server is back, or refused (503) and not
    saved. The server comes back without its data, as an embedded one without persistence does.
    """
    api = Api(stack)
    ledger = Ledger(stack)
    since = utc_now_naive()
    before = ledger.mail_counts()
    url = stack.env["LAB_REDIS_URL"]
    spec = kill(stack, "valkey")
    wait_until(lambda: not redis_up(url), 10, "the queue server to stop")
    replies = api.post_reviews(reviews, threads=2, tag="queue-down")
    relaunch(spec)
    back_at = time.time()
    wait_until(lambda: redis_up(url), 15, "the queue server to come back")
    saved = ledger.reviews_since(since)
    created = {r.json["id"] for r in replies if r.status == 201}
    refused = [r for r in replies if r.status == 503]
    other = [r for r in replies if r.status not in (201, 503)]
    counts = ledger.wait_all_mailed(saved, timeout) - before
    received = [
        m["received_at"] for m in ledger.mails() if m["headers"].get("X-Lab-Review-Id") in saved
    ]
    lost = sorted(i for i in saved if not counts[i])
    values = {
        "posted": len(replies),
        "saved": len(saved),
        "answered_201": len(created),
        "answered_503": len(refused),
        "other_answers": len(other),
        "saved_but_not_acknowledged": len(saved - created),
        "mails_lost": len(lost),
        "mailed_after_return_s": round(max(received) - back_at, 2) if received else None,
        "post_latency_max_s": round(max((r.latency for r in replies), default=0), 3),
    }
    summary = (
        f"reviews saved={len(saved)} (201: {len(created)}, 503: {len(refused)}) while the "
        f"queue server was down; mails lost={len(lost)}; all delivered "
        f"{values['mailed_after_return_s']} s after it came back"
    )
    met = not lost and not other and created <= saved and not (saved - created)
    return record_figure(Figure("queue-down", summary, values, "mails lost = 0", met))
