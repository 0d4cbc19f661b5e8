"""Time the lab's seeder against a plain sqlite3 executemany of the same rows (target: within 2x).

(a) the seeder: `shared.seed.seed_sqlite_file` into a fresh file, everything included (row
generation, inserts, indexes, the demo user's password hash);
(b) the baseline: the same rows generated beforehand (not timed), then, timed: the same DDL,
`executemany` per table and the same indexes, in one transaction, with the seeder's pragmas
(so the baseline is the fastest plain way, not a strawman).
They alternate, 3 times each; the ratio is median(a) / median(b). Exit 1 above 2x.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.paths import ROOT
from shared.seed import Scale, review_rows, seed_sqlite_file, specialist_rows

TARGET_RATIO = 2.0
# The seeder's own pragmas (shared/seed.py), given to the baseline too.
PRAGMAS = ("journal_mode=off", "synchronous=off", "cache_size=-256000")


def schema_and_user(workdir: Path) -> tuple[list[str], list[str], tuple]:
    """Return the seeder's table DDL, index DDL and demo user row, read from a tiny seeded file."""
    path = seed_sqlite_file(workdir / "schema.sqlite3", Scale(1, 1))
    con = sqlite3.connect(path)
    try:
        ddl = con.execute(
            "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
        ).fetchall()
        user = con.execute("SELECT * FROM users").fetchone()
    finally:
        con.close()
    tables = [sql for kind, sql in ddl if kind == "table"]
    indexes = [sql for kind, sql in ddl if kind == "index"]
    return tables, indexes, user


def baseline(path: Path, tables, indexes, specialists, reviews, user) -> None:
    """Insert pre-built rows with plain sqlite3: tables, executemany, indexes, one commit."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in PRAGMAS:
            con.execute(f"PRAGMA {pragma}")
        con.execute("BEGIN")
        for sql in tables:
            con.execute(sql)
        con.executemany(
            "INSERT INTO specialists (id, crm, name, specialty, email, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            specialists,
        )
        con.executemany(
            "INSERT INTO reviews (id, specialist_id, rating, comment, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            reviews,
        )
        # Indexes after the rows, as the seeder does: the baseline gets the same advantage.
        for sql in indexes:
            con.execute(sql)
        con.execute(f"INSERT INTO users VALUES ({', '.join('?' * len(user))})", user)
        con.execute("COMMIT")
    finally:
        con.close()


def timed(fn, path: Path) -> float:
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    fn(path)
    elapsed = time.perf_counter() - started
    path.unlink(missing_ok=True)
    return elapsed


def describe(times: list[float]) -> dict:
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "runs_s": [round(t, 3) for t in times],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specialists", type=int, default=Scale.specialists)
    parser.add_argument("--reviews-per-specialist", type=int, default=Scale.reviews_per_specialist)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args(argv)
    scale = Scale(args.specialists, args.reviews_per_specialist)

    # Both write into the same folder on the same disk as the lab's own seed files.
    (ROOT / ".lab").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="seedbench-", dir=ROOT / ".lab") as tmp:
        work = Path(tmp)
        tables, indexes, user = schema_and_user(work)
        print(f"generating {scale.label} rows for the baseline (not timed) ...", flush=True)
        rng = random.Random(scale.rng_seed)
        specialists = specialist_rows(scale, rng)
        reviews = list(review_rows([row[0] for row in specialists], scale, rng))
        # A million live tuples would make every GC pass of the seeder's run slower: park them.
        gc.freeze()
        seeder, plain = [], []
        for k in range(1, args.repeats + 1):
            seeder.append(timed(lambda p: seed_sqlite_file(p, scale), work / "seeder.sqlite3"))
            plain.append(
                timed(
                    lambda p: baseline(p, tables, indexes, specialists, reviews, user),
                    work / "plain.sqlite3",
                )
            )
            print(
                f"  run {k}: seeder {seeder[-1]:.2f} s, plain executemany {plain[-1]:.2f} s",
                flush=True,
            )

    ratio = statistics.median(seeder) / statistics.median(plain)
    result = {
        "created_at": datetime.now().astimezone().isoformat(),
        "scale": scale.label,
        "rows": {"specialists": len(specialists), "reviews": len(reviews), "users": 1},
        "seeder": describe(seeder),
        "plain_executemany": describe(plain),
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "ok": ratio <= TARGET_RATIO,
        "baseline": "rows pre-generated (not timed); same DDL, executemany, same indexes after "
        f"the rows, one transaction, pragmas {list(PRAGMAS)}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "git_commit": subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    path = args.out / f"seeding-{stamp}.json"
    n = 1
    while path.exists():  # never overwrite a stored result
        n += 1
        path = args.out / f"seeding-{stamp}-{n}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")

    for label, key in (("seeder", "seeder"), ("plain executemany", "plain_executemany")):
        r = result[key]
        print(
            f"{label:<18} median {r['median_s']:.2f} s (min-max {r['min_s']:.2f}-{r['max_s']:.2f})"
        )
    verdict = "OK" if result["ok"] else "TOO SLOW"
    print(f"ratio {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x): {verdict}")
    print(f"written: {path}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
