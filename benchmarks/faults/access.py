"""Hostile access to reports: another user's id, forged and expired links, anonymous storage.

`report_access` builds one report, then tries every way a stranger might reach it (another
user's login, a tampered or extended signed link, no token, the bucket without credentials, an
expired link or storage URL) and counts the attempts that were let through.
"""

from __future__ import annotations

from contextlib import closing

from benchmarks.client import LabClient
from benchmarks.faults.figures import Figure, record_figure
from benchmarks.faults.load import Api, base_url, wait_until
from benchmarks.faults.reports import (
    complete_csv,
    fetch,
    fetch_status,
    request_report,
    wait_report_settled,
)
from shared import db as dbmod


def report_access(
    stack,
    *,
    other_email: str = "other-user@example.com",
    other_password: str = "another-password-123",
) -> Figure:
    """Hostile access to reports: another user's id, forged and expired links, an anonymous
    look at the bucket. Needs the stage started with a short LAB_LINK_TTL (a few seconds)."""
    from shared.models import User
    from shared.passwords import hash_password

    database = dbmod.make_database(stack.env["LAB_DATABASE_URL"])
    try:
        with database.bind_ctx([User]):
            User.get_or_create(
                email=other_email, defaults={"password_hash": hash_password(other_password)}
            )
    finally:
        database.close()
    api = Api(stack)
    report_id = request_report(api, limit=5)
    end = wait_report_settled(api, report_id, 60)
    if end["status"] != "ready":
        raise RuntimeError(f"report {report_id} ended {end}")
    link = end["download_url"]
    base, token = link.split("?token=")
    user, expires, signature = token.split(".")
    attempts: dict[str, int] = {}

    with closing(LabClient(base_url(api.port))) as other:
        other.login(other_email, other_password)
        attempts["another user's report id"] = other.get(f"/api/reports/{report_id}").status
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    attempts["tampered signature"] = fetch_status(f"{base}?token={user}.{expires}.{flipped}")
    attempts["later expiry"] = fetch_status(
        f"{base}?token={user}.{int(expires) + 3600}.{signature}"
    )
    attempts["another user in the token"] = fetch_status(
        f"{base}?token={int(user) + 1}.{expires}.{signature}"
    )
    attempts["no token"] = fetch_status(base)
    first = fetch(link)
    presigned = fetch(link, follow=False).header("location")
    s3 = stack.env["LAB_S3_ENDPOINT"]
    bucket = stack.env.get("LAB_S3_BUCKET", "reports")
    attempts["anonymous bucket listing"] = fetch_status(f"{s3}/{bucket}")
    attempts["anonymous object read"] = fetch_status(f"{s3}/{bucket}/{report_id}.csv")
    with closing(LabClient(s3)) as anonymous:
        attempts["anonymous object write"] = anonymous.request(
            "PUT", f"/{bucket}/planted.csv", headers={"Content-Type": "text/csv"}
        ).status
    # The link and the storage URL it redirects to (signed a little later) both stop working
    # once their time is up.
    wait_until(lambda: fetch_status(link) != 200, 30, "the signed link to expire", interval=0.25)
    attempts["expired link"] = fetch_status(link)
    if presigned:
        wait_until(
            lambda: fetch_status(presigned) != 200, 30, "the storage URL to expire", interval=0.25
        )
    attempts["expired storage URL"] = fetch_status(presigned) if presigned else 0
    accepted = {
        name: status
        for name, status in attempts.items()
        if status == 200 or not 400 <= status < 500
    }
    values = {
        "attempts": attempts,
        "accepted": accepted,
        "link_worked_first": first.status,
        "complete_csv": complete_csv(first.body, 5),
    }
    summary = (
        f"hostile report accesses let through={len(accepted)} of {len(attempts)} "
        f"(another user's id, forged/expired links, anonymous bucket list/read/write); "
        f"the genuine link gave {first.status}"
    )
    met = not accepted and first.status == 200 and values["complete_csv"]
    return record_figure(Figure("report-access", summary, values, "let through = 0", met))
