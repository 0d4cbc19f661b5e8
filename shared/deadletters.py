"""List the outbox's dead letters, and put one back to be tried again: a small admin tool.

    python -m shared.deadletters              # the dead letters of LAB_DATABASE_URL, newest first
    python -m shared.deadletters --retry ID   # back to pending, tries reset: the sweeper queues it

A dead letter is a mail (or a report) the outbox gave up on: refused for good by the provider, or
LAB_OUTBOX_MAX_ATTEMPTS tries failed (shared.outbox). It is kept, with its last error, for a person.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from shared import db, outbox
from shared.config import Settings
from shared.models import MailOutbox


def dead_letters(limit: int = 100) -> list[dict]:
    """The newest dead letters: kind, ref, tries, last error, when it was last tried."""
    outbox.ensure_table()
    rows = (
        MailOutbox.select()
        .where(MailOutbox.status == outbox.DEAD)
        .order_by(MailOutbox.queued_at.desc())
        .limit(limit)
    )
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "ref": r.ref,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "last_try": r.queued_at,
        }
        for r in rows
    ]


def retry(row_id: int) -> bool:
    """Put a dead letter back to pending, its tries reset; False if there is no such dead letter."""
    outbox.ensure_table()
    return bool(
        MailOutbox.update(
            status=outbox.PENDING, attempts=0, claimed_until=None, queued_at=datetime(2000, 1, 1)
        )  # overdue: the next sweep
        .where((MailOutbox.id == row_id) & (MailOutbox.status == outbox.DEAD))
        .execute()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retry", type=int, metavar="ID", help="put dead letter ID back")
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args(argv)
    db.connect(Settings.from_env().database_url)
    if args.retry is not None:
        if not retry(args.retry):
            parser.error(f"no dead letter with id {args.retry} (see the list without --retry)")
        print(f"dead letter {args.retry} is pending again; the worker's sweeper will queue it")
        return 0
    rows = dead_letters(args.limit)
    print(f"{len(rows)} dead letter(s)")
    for r in rows:
        print(
            f"{r['id']:>6}  {r['kind']:<7} {r['ref']}  tries={r['attempts']}  "
            f"last try {r['last_try']:%Y-%m-%d %H:%M:%S}Z  {r['last_error'] or ''}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
