"""Create the schema and fill it fast: specialists, their reviews and the demo user.

Seeding is one bulk operation per table (executemany on SQLite and MySQL, COPY on PostgreSQL),
never a row-at-a-time ORM loop: a million reviews take seconds, not minutes.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import peewee

from shared import db as dbmod
from shared.config import DEFAULT_DATABASE_URL
from shared.models import ALL_MODELS, Review, Specialist, User
from shared.passwords import hash_password

DEMO_EMAIL = "email@example.com"
DEMO_PASSWORD = "12345678"
SEED_TIME = "2024-01-01 00:00:00"
SPECIALTIES = [
    "Cardiology", "Dermatology", "Endocrinology", "Gastroenterology", "Neurology",
    "Oncology", "Ophthalmology", "Orthopedics", "Pediatrics", "Psychiatry",
]
FIRST = ["Ana", "Bruno", "Carla", "Diego", "Elisa", "Fabio", "Gabriela", "Hugo", "Ines", "Joao",
         "Karina", "Lucas", "Marina", "Nuno", "Olivia", "Paulo", "Rita", "Sergio", "Tania", "Vitor"]
LAST = ["Almeida", "Barros", "Costa", "Dias", "Esteves", "Ferreira", "Gomes", "Lima", "Moura",
        "Nunes", "Oliveira", "Pereira", "Ramos", "Santos", "Teixeira", "Vieira"]
COMMENTS = [None, None, "Great doctor.", "Very attentive.", "Long wait, good care.",
            "Explained everything clearly.", "Would not come back.", "Excellent follow-up."]


@dataclass(frozen=True)
class Scale:
    """How much data to seed."""

    specialists: int = 1000
    reviews_per_specialist: int = 1000
    rng_seed: int = 42

    @property
    def label(self) -> str:
        return f"{self.specialists}x{self.reviews_per_specialist}"


def specialist_rows(scale: Scale, rng: random.Random) -> list[tuple]:
    """Build the specialists' rows: (id, crm, name, specialty, email, created, updated)."""
    rows = []
    for i in range(scale.specialists):
        name = f"Dr. {rng.choice(FIRST)} {rng.choice(LAST)}"
        rows.append((
            "%032x" % rng.getrandbits(128), f"CRM-{i + 1:06d}", name,
            SPECIALTIES[i % len(SPECIALTIES)], f"specialist{i + 1}@example.com",
            SEED_TIME, SEED_TIME,
        ))
    return rows


def review_rows(specialist_ids: list[str], scale: Scale, rng: random.Random) -> Iterator[tuple]:
    """Yield reviews: (id, specialist_id, rating, comment, created, updated).

    Each specialist gets a floor rating of their own, so averages differ and the top-10 is stable.
    """
    bits, rnd, comments = rng.getrandbits, rng.random, COMMENTS
    n_comments = len(comments)
    for sid in specialist_ids:
        floor = 1 + int(rnd() * 6)
        span = 11 - floor
        for _ in range(scale.reviews_per_specialist):
            yield ("%032x" % bits(128), sid, floor + int(rnd() * span),
                   comments[int(rnd() * n_comments)], SEED_TIME, SEED_TIME)


def _copy_rows(cursor, table: str, columns: tuple[str, ...], rows, chunk: int = 100_000) -> None:
    """Stream rows into PostgreSQL with COPY, a chunk at a time."""
    def esc(v):
        if v is None:
            return "\\N"
        return (str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))

    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    buf, count = io.StringIO(), 0
    for row in rows:
        buf.write("\t".join(esc(v) for v in row))
        buf.write("\n")
        count += 1
        if count == chunk:
            buf.seek(0)
            cursor.copy_expert(sql, buf)
            buf, count = io.StringIO(), 0
    if count:
        buf.seek(0)
        cursor.copy_expert(sql, buf)


def _bulk_insert(db: peewee.Database, table: str, columns: tuple[str, ...], rows) -> None:
    backend = "postgresql" if isinstance(db, peewee.PostgresqlDatabase) else "other"
    cursor = db.cursor()
    if backend == "postgresql":
        _copy_rows(cursor, table, columns, rows)
        return
    placeholders = ", ".join([db.param] * len(columns))
    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)


def fill(db: peewee.Database, scale: Scale) -> None:
    """Create the schema in an open database and bulk-load the seed data (drops old tables)."""
    dbmod.database.initialize(db)
    with db.atomic():
        db.drop_tables(list(reversed(ALL_MODELS)), safe=True)
        db.create_tables([m for m in ALL_MODELS if m is not Review])
        Review._schema.create_table()
        rng = random.Random(scale.rng_seed)
        specialists = specialist_rows(scale, rng)
        _bulk_insert(db, "specialists",
                     ("id", "crm", "name", "specialty", "email", "created_at", "updated_at"),
                     specialists)
        _bulk_insert(db, "reviews",
                     ("id", "specialist_id", "rating", "comment", "created_at", "updated_at"),
                     review_rows([row[0] for row in specialists], scale, rng))
        # Indexes after the bulk load: one sort instead of a million B-tree inserts.
        Review._schema.create_indexes()
        User.create(email=DEMO_EMAIL, password_hash=hash_password(DEMO_PASSWORD))


def seed_sqlite_file(path: Path, scale: Scale) -> Path:
    """Write a seeded SQLite file atomically: built beside the target, renamed when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    # A throwaway file being built needs no journal; a crash just leaves a tmp file behind.
    db = peewee.SqliteDatabase(str(tmp), pragmas={"journal_mode": "off", "synchronous": "off",
                                                  "cache_size": -256000})
    try:
        db.connect()
        fill(db, scale)
        db.execute_sql("PRAGMA journal_mode=delete")
    finally:
        db.close()
    os.replace(tmp, path)
    return path


def seed_url(url: str, scale: Scale) -> None:
    """Seed the database a URL names, replacing what was there."""
    if dbmod.backend_of(url) == "sqlite":
        seed_sqlite_file(dbmod.sqlite_path(url), scale)
        return
    db = dbmod.make_database(url)
    db.connect()
    try:
        fill(db, scale)
    finally:
        db.close()


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
