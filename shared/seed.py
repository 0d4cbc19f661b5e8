"""Create the schema and fill it fast: specialists, their reviews and the demo user.

Seeding is one bulk operation per table (executemany on SQLite and MySQL; on PostgreSQL one
binary COPY streamed while the rows are made, into tables created in the same transaction, with
keys added after the load: shared.pgcopy), never a row-at-a-time ORM loop: a million reviews take
seconds. The rows themselves are made by shared.seed_data.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import peewee

from shared import db as dbmod
from shared import pgcopy
from shared.config import DEFAULT_DATABASE_URL
from shared.models import ALL_MODELS, Review, User
from shared.passwords import hash_password
from shared.seed_data import (  # noqa: F401 - the seed's data, re-exported for its callers
    DEMO_EMAIL,
    DEMO_PASSWORD,
    Scale,
    fingerprint,
    review_rows,
    specialist_rows,
)


def _bulk_insert(
    db: peewee.Database, table: str, columns: tuple[str, ...], rows, freeze: bool = False
) -> None:
    backend = "postgresql" if isinstance(db, peewee.PostgresqlDatabase) else "other"
    cursor = db.cursor()
    if backend == "postgresql":
        pgcopy.copy_rows(cursor, table, columns, rows, freeze=freeze)
        return
    placeholders = ", ".join([db.param] * len(columns))
    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)


def fill(db: peewee.Database, scale: Scale) -> None:
    """Create the schema in an open database and bulk-load the seed data (drops old tables)."""
    dbmod.database.initialize(db)
    postgres = isinstance(db, peewee.PostgresqlDatabase)
    # The demo password's hash (a deliberately slow KDF) is computed while the rows load.
    hasher = ThreadPoolExecutor(1)
    demo_hash = hasher.submit(hash_password, DEMO_PASSWORD)
    hasher.shutdown(wait=False)
    with db.atomic():
        if postgres:
            # A seed can always be redone: no need to wait for the WAL flush at commit; and
            # more memory for the index builds after the load.
            db.execute_sql("SET LOCAL synchronous_commit = off")
            db.execute_sql("SET LOCAL maintenance_work_mem = '256MB'")
        db.drop_tables(list(reversed(ALL_MODELS)), safe=True)
        db.create_tables([m for m in ALL_MODELS if m is not Review])
        Review._schema.create_table()
        deferred = pgcopy.defer_constraints(db.cursor(), "reviews") if postgres else []
        rng = random.Random(scale.rng_seed)
        specialists = specialist_rows(scale, rng)
        # COPY FREEZE on PostgreSQL: the tables were created in this transaction.
        _bulk_insert(
            db,
            "specialists",
            ("id", "crm", "name", "specialty", "email", "created_at", "updated_at"),
            specialists,
            freeze=postgres,
        )
        _bulk_insert(
            db,
            "reviews",
            ("id", "specialist_id", "rating", "comment", "created_at", "updated_at"),
            review_rows([row[0] for row in specialists], scale, rng),
            freeze=postgres,
        )
        for statement in deferred:
            db.execute_sql(statement)
        # Indexes after the bulk load: one sort instead of a million B-tree inserts.
        Review._schema.create_indexes()
        User.create(email=DEMO_EMAIL, password_hash=demo_hash.result())
    if postgres:
        # The planner's statistics, as a long-lived database has them (pgbench -i does it too).
        db.execute_sql("ANALYZE specialists, reviews, users")


def remove_demo_user(url: str) -> int:
    """Delete the demo user from a run's copy of the seed (outside demo mode nobody may log in
    with a password printed in the README); return how many rows went."""
    db = dbmod.make_database(url)
    db.connect()
    try:
        with db.bind_ctx([User]):
            return User.delete().where(User.email == DEMO_EMAIL).execute()
    finally:
        db.close()


def seed_sqlite_file(path: Path, scale: Scale) -> Path:
    """Write a seeded SQLite file atomically: built beside the target, renamed when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    # A throwaway file being built needs no journal; a crash just leaves a tmp file behind.
    db = peewee.SqliteDatabase(
        str(tmp), pragmas={"journal_mode": "off", "synchronous": "off", "cache_size": -256000}
    )
    try:
        db.connect()
        fill(db, scale)
        db.execute_sql("PRAGMA journal_mode=delete")
    finally:
        db.close()
    os.replace(tmp, path)
    return path


def seed_url(url: str, scale: Scale) -> None:
    """Seed the database a URL names, replacing the lab's tables there (created if missing)."""
    if dbmod.backend_of(url) == "sqlite":
        seed_sqlite_file(dbmod.sqlite_path(url), scale)
        return
    db = dbmod.make_database(url)
    try:
        db.connect()
    except peewee.OperationalError as exc:
        if "does not exist" not in str(exc) and "Unknown database" not in str(exc):
            raise
        create_database(url)
        db.connect()
    try:
        fill(db, scale)
    finally:
        db.close()


def create_database(url: str) -> None:
    """Create the (missing) PostgreSQL or MySQL database a URL names, on its server."""
    name, params = dbmod.server_params(url)
    if dbmod.backend_of(url) == "postgresql":
        import psycopg2

        conn = psycopg2.connect(dbname="postgres", **params)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return
    import pymysql

    conn = pymysql.connect(autocommit=True, **{k: v for k, v in params.items() if v is not None})
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_DATABASE_URL, help="database URL")
    parser.add_argument("--specialists", type=int, default=Scale.specialists)
    parser.add_argument("--reviews-per-specialist", type=int, default=Scale.reviews_per_specialist)
    args = parser.parse_args(argv)
    scale = Scale(args.specialists, args.reviews_per_specialist)
    started = time.perf_counter()
    seed_url(args.url, scale)
    print(f"seeded {args.url} with {scale.label} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
