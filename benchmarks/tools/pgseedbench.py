"""Seeding speed on PostgreSQL: the lab's seeder vs `pgbench -i`, side by side, same row count.

    python -m benchmarks.tools.pgseedbench                 # 1,000,000 reviews vs pgbench -s 10
    python -m benchmarks.tools.pgseedbench --repeats 7 --url postgresql://user@host:5432/postgres

The lab seeds 1,000 specialists x 1,000 reviews (its real entry point, `shared.seed.seed_url`:
drop, create, binary COPY, keys and indexes, the demo user, ANALYZE); pgbench seeds the same
number of rows into pgbench_accounts (100,000 rows per scale unit: scale 10 = 1,000,000 rows;
drop, create, COPY, VACUUM ANALYZE, primary keys). Each repeat runs both, alternating which goes
first, each in a database of its own made for the bench and dropped afterwards. The lab is timed
around the seed_url() call (no interpreter start-up), pgbench around its process.

Prints every time, the medians and the ratio (the lab's target: within 3x of pgbench), and writes
results/pgseed-<timestamp>.json. A benchmark, not a test: it always exits 0 once it has measured.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from benchmarks.stack import ROOT
from shared import db as dbmod
from shared.seed import Scale, seed_url

TARGET_RATIO = 3.0
ROWS_PER_PGBENCH_SCALE = 100_000
LAB_DB, PGBENCH_DB = "lab_pgseed_lab", "lab_pgseed_pgbench"


def pgbench_binary() -> str:
    """Find pgbench: on PATH, else in the server's own bin folder (Debian keeps it there)."""
    found = shutil.which("pgbench") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)), None
    )
    if not found:
        sys.exit(
            "pgbench not found: it ships with the PostgreSQL server (package "
            "postgresql-client or postgresql-contrib); put it on PATH"
        )
    return found


def admin(url: str):
    import psycopg2

    _, params = dbmod.server_params(url)
    conn = psycopg2.connect(dbname="postgres", **params)
    conn.autocommit = True
    return conn


def recreate(conn, name: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')


def drop(conn, name: str) -> None:
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')


def count(url: str, table: str) -> int:
    import psycopg2

    name, params = dbmod.server_params(url)
    with psycopg2.connect(dbname=name, **params) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        n = cur.fetchone()[0]
    conn.close()
    return n


def run_lab(url: str, scale: Scale) -> float:
    started = time.perf_counter()
    seed_url(url, scale)
    return time.perf_counter() - started


def run_pgbench(binary: str, url: str, pg_scale: int) -> tuple[float, str]:
    name, params = dbmod.server_params(url)
    cmd = [
        binary,
        "-i",
        "-s",
        str(pg_scale),
        "-q",
        "-h",
        params["host"],
        "-p",
        str(params["port"]),
        "-U",
        params["user"] or os.environ.get("USER", "postgres"),
        name,
    ]
    env = {**os.environ, **({"PGPASSWORD": params["password"]} if params["password"] else {})}
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"pgbench failed ({done.returncode}): {done.stderr[-2000:]}")
    # Its own account of the phases: "done in 2.22 s (drop tables 0.00 s, create tables ...)."
    phases = next((line for line in done.stderr.splitlines() if line.startswith("done in")), "")
    return seconds, phases


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="the PostgreSQL server (its database part is ignored; the bench makes "
        f"{LAB_DB} and {PGBENCH_DB} and drops them at the end)",
    )
    p.add_argument("--specialists", type=int, default=1000)
    p.add_argument("--reviews-per-specialist", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5, help="runs of each (default 5)")
    p.add_argument("--out", type=Path, default=ROOT / "results", help="results folder")
    args = p.parse_args(argv)
    if dbmod.backend_of(args.url) != "postgresql":
        p.error("--url must be a postgresql:// URL")
    scale = Scale(args.specialists, args.reviews_per_specialist)
    rows = scale.specialists * scale.reviews_per_specialist
    if rows % ROWS_PER_PGBENCH_SCALE:
        p.error(
            f"{rows} reviews is not a whole pgbench scale ({ROWS_PER_PGBENCH_SCALE:,} rows "
            "per unit): choose a multiple"
        )
    pg_scale = rows // ROWS_PER_PGBENCH_SCALE
    binary = pgbench_binary()
    lab_url = dbmod.with_database(args.url, LAB_DB)
    pgbench_url = dbmod.with_database(args.url, PGBENCH_DB)
    conn = admin(args.url)
    with conn.cursor() as cur:
        cur.execute("SHOW server_version")
        server = cur.fetchone()[0]
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    print(
        f"seeding {rows:,} rows: the lab ({scale.specialists:,} specialists x "
        f"{scale.reviews_per_specialist:,} reviews) vs `pgbench -i -s {pg_scale}`, "
        f"{args.repeats} repeats, PostgreSQL {server} at {dbmod.redacted(args.url)}",
        flush=True,
    )
    load_before = os.getloadavg()
    lab, pgbench, phases = [], [], []
    try:
        recreate(conn, LAB_DB)
        recreate(conn, PGBENCH_DB)
        for k in range(1, args.repeats + 1):
            order = ("lab", "pgbench") if k % 2 else ("pgbench", "lab")
            for who in order:
                if who == "lab":
                    lab.append(run_lab(lab_url, scale))
                else:
                    seconds, phase = run_pgbench(binary, pgbench_url, pg_scale)
                    pgbench.append(seconds)
                    phases.append(phase)
            print(
                f"  repeat {k}: lab {lab[-1]:6.2f} s   pgbench {pgbench[-1]:6.2f} s   "
                f"({' then '.join(order)})",
                flush=True,
            )
        # Both really loaded the rows (checked outside the timings).
        got = {
            "lab reviews": count(lab_url, "reviews"),
            "pgbench_accounts": count(pgbench_url, "pgbench_accounts"),
        }
        if set(got.values()) != {rows}:
            raise SystemExit(f"row counts differ from {rows}: {got}")
    finally:
        drop(conn, LAB_DB)
        drop(conn, PGBENCH_DB)
        conn.close()
    med_lab, med_pgbench = statistics.median(lab), statistics.median(pgbench)
    ratio = med_lab / med_pgbench
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(
        f"\nmedian  lab {med_lab:.2f} s (min {min(lab):.2f}, max {max(lab):.2f})   "
        f"pgbench {med_pgbench:.2f} s (min {min(pgbench):.2f}, max {max(pgbench):.2f})"
    )
    print(f"ratio   {ratio:.2f}x  ({verdict} the {TARGET_RATIO:.0f}x target)")
    print(f"rows/s  lab {rows / med_lab:,.0f}   pgbench {rows / med_pgbench:,.0f}")
    load_after = os.getloadavg()
    if max(load_before[0], load_after[0]) > (os.cpu_count() or 1):
        print(
            f"note: the machine was busy (load average {load_before[0]:.1f} -> "
            f"{load_after[0]:.1f} on {os.cpu_count()} CPUs): absolute times are inflated; "
            "the ratio of interleaved runs is the number to read"
        )
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"pgseed-{stamp}.json"
    n = 1
    while out.exists():  # results are never overwritten
        n += 1
        out = args.out / f"pgseed-{stamp}-{n}.json"
    result = {
        "kind": "pgseed",
        "started_at": datetime.now().astimezone().isoformat(),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "server": f"PostgreSQL {server}",
        "server_url": dbmod.redacted(args.url),
        "pgbench": version,
        "rows": rows,
        "lab": {
            "scale": scale.label,
            "command": "shared.seed.seed_url(url, Scale(...))",
            "seconds": [round(s, 4) for s in lab],
            "median_s": round(med_lab, 4),
        },
        "pgbench_i": {
            "scale": pg_scale,
            "command": f"pgbench -i -s {pg_scale} -q",
            "seconds": [round(s, 4) for s in pgbench],
            "median_s": round(med_pgbench, 4),
            "phases": phases,
        },
        "ratio_of_medians": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "within_target": ratio <= TARGET_RATIO,
        "order": "interleaved; odd repeats lab first, even repeats pgbench first",
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
