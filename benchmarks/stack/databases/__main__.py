"""The compose files' one-shot `seed` job: seed LAB_DATABASE_URL, make the S3 bucket.

    python -m benchmarks.stack.databases prepare [--specialists N] [--reviews-per-specialist N]

In containers every `up` seeds the database afresh (no template: the database is the stage's
own); embedded runs restore a copy of the seed instead (benchmarks.stack.databases)."""

from __future__ import annotations

import argparse
import os
import time

from shared import db as dbmod
from shared.config import demo_mode
from shared.seed import Scale, remove_demo_user, seed_url


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.stack.databases",
        description="Prepare a stage's data in containers: seed the "
        "database LAB_DATABASE_URL names, create LAB_S3_BUCKET if "
        "LAB_S3_ENDPOINT is set.",
    )
    p.add_argument("command", choices=["prepare"])
    p.add_argument("--specialists", type=int, default=Scale.specialists)
    p.add_argument("--reviews-per-specialist", type=int, default=Scale.reviews_per_specialist)
    args = p.parse_args(argv)
    scale = Scale(args.specialists, args.reviews_per_specialist)
    url = os.environ["LAB_DATABASE_URL"]
    started = time.perf_counter()
    seed_url(url, scale)
    if not demo_mode():
        remove_demo_user(url)
        print("LAB_DEMO=0: no demo user", flush=True)
    print(
        f"seeded {dbmod.redacted(url)} with {scale.label} in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    if os.environ.get("LAB_S3_ENDPOINT"):
        from shared.adapters.report_stores import S3ReportStore
        from shared.config import Settings

        store = S3ReportStore.from_settings(Settings.from_env())
        for attempt in range(30):  # the storage container may still be starting
            try:
                store.ensure_bucket()
                break
            except Exception as exc:  # noqa: BLE001 - any failure: wait and retry, then report
                if attempt == 29:
                    raise SystemExit(f"cannot create bucket {store.bucket}: {exc}") from None
                time.sleep(1)
        print(f"bucket {store.bucket} ready at {os.environ['LAB_S3_ENDPOINT']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
