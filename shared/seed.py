"""Create the schema and fill it fast: specialists, their reviews and the demo user.

Seeding is one bulk operation per table (executemany on SQLite and MySQL; on PostgreSQL one
binary COPY streamed while the rows are made, into tables created in the same transaction, with
keys added after the load), never a row-at-a-time ORM loop: a million reviews take seconds.
"""

from __future__ import annotations

import argparse
import contextvars
import hashlib
import io
import itertools
import json
import operator
import os
import random
import struct
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import peewee

from shared import db as dbmod
from shared.config import DEFAULT_DATABASE_URL
from shared.models import ALL_MODELS, Review, User
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


# Bump when the generated rows change in a way the constants above do not show.
SEED_FORMAT = 1


def fingerprint(scale: Scale) -> str:
    """Identify a seed: the generator (format, constants), the scale and the schema of every
    table. A stored seed whose fingerprint differs from the code's is stale and is reseeded."""
    schema = [(m._meta.table_name,
               [(f.column_name, f.field_type, f.null, bool(f.unique), bool(f.index))
                for f in m._meta.sorted_fields],
               m._meta.indexes) for m in ALL_MODELS]
    ident = [SEED_FORMAT, scale.specialists, scale.reviews_per_specialist, scale.rng_seed,
             SEED_TIME, SPECIALTIES, FIRST, LAST, COMMENTS, DEMO_EMAIL, schema]
    return hashlib.sha256(json.dumps(ident, default=str).encode()).hexdigest()[:16]


def specialist_rows(scale: Scale, rng: random.Random) -> list[tuple]:
    """Build the specialists' rows: (id, crm, name, specialty, email, created, updated)."""
    rows = []
    for i in range(scale.specialists):
        name = f"Dr. {rng.choice(FIRST)} {rng.choice(LAST)}"
        rows.append((
            rng.getrandbits(128).to_bytes(16, "big").hex(), f"CRM-{i + 1:06d}", name,
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
            yield (bits(128).to_bytes(16, "big").hex(), sid, floor + int(rnd() * span),
                   comments[int(rnd() * n_comments)], SEED_TIME, SEED_TIME)


# --- PostgreSQL: COPY -------------------------------------------------------------------------

# COPY FREEZE writes the rows already frozen and visible (no VACUUM pass needed afterwards), but
# only into a table created or truncated in the same transaction: fill() turns it on for its own.
_COPY_FREEZE: contextvars.ContextVar[bool] = contextvars.ContextVar("copy_freeze", default=False)
_PG_EPOCH = datetime(2000, 1, 1)
_INT = {21: "!ih", 23: "!ii", 20: "!iq"}              # int2, int4, int8: length + value
_TEXT_TYPES = {25, 1043, 1042}                         # text, varchar, bpchar


def _binary_encoder(type_oid: int):
    """Return a function encoding one value as a binary COPY field, or None if unsupported."""
    null = struct.pack("!i", -1)
    if type_oid in _INT:
        pack = struct.Struct(_INT[type_oid]).pack
        size = struct.calcsize(_INT[type_oid]) - 4
        return lambda v: null if v is None else pack(size, int(v))
    if type_oid == 16:                                   # bool
        return lambda v: null if v is None else b"\x00\x00\x00\x01" + (b"\x01" if v else b"\x00")
    if type_oid == 701:                                  # float8
        return lambda v: null if v is None else struct.pack("!id", 8, float(v))
    if type_oid in _TEXT_TYPES:
        def text(v):
            if v is None:
                return null
            data = str(v).encode()
            return struct.pack("!i", len(data)) + data
        return text
    if type_oid == 2950:                                 # uuid: 32 hex digits or any UUID form
        head = struct.pack("!i", 16)

        fromhex = bytes.fromhex

        def uuid_field(v):
            if v.__class__ is str and len(v) == 32:  # the seed's own form: 32 hex digits
                return head + fromhex(v)
            if v is None:
                return null
            return head + (v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))).bytes
        return uuid_field
    if type_oid == 1114:                                 # timestamp: microseconds since 2000
        def timestamp(v):
            if v is None:
                return null
            moment = datetime.fromisoformat(v) if isinstance(v, str) else v
            delta = moment - _PG_EPOCH
            return struct.pack("!iq", 8, (delta.days * 86400 + delta.seconds) * 1_000_000
                               + delta.microseconds)
        return timestamp
    return None


class _Memo(dict):
    """Cache the encoding of repeated values (ratings, comments, timestamps): a hit is one dict
    lookup in C, no Python call."""

    def __init__(self, encode):
        super().__init__()
        self.encode = encode

    def __missing__(self, value):
        out = self.encode(value)
        if len(self) < 100_000:
            self[value] = out
        return out


class _BinaryTuples:
    """Encodes rows as binary COPY tuples, a block at a time, with the loops in C.

    The first column (a key: its values are unique) is encoded value by value; the rest of a row
    (values that repeat: a parent id, a rating, a comment, timestamps) is encoded once per
    distinct combination and then found in a dict.
    """

    UUID_HEAD = struct.pack("!i", 16)

    def __init__(self, types: list[int]):
        self.count = struct.pack("!h", len(types))
        self.first_is_uuid = types[0] == 2950
        self.first = _binary_encoder(types[0])
        fields = [_Memo(_binary_encoder(t)).__getitem__ for t in types[1:]]

        def encode_rest(values: tuple) -> bytes:
            return b"".join([field(v) for field, v in zip(fields, values, strict=True)])

        self.rest = _Memo(encode_rest).__getitem__

    def block(self, rows: list[tuple]) -> bytes:
        keys = list(map(operator.itemgetter(0), rows))
        if self.first_is_uuid and set(map(type, keys)) == {str} and set(map(len, keys)) == {32}:
            # The seed's own ids, 32 hex digits: the length word, then the 16 bytes.
            heads = itertools.repeat(self.count + self.UUID_HEAD, len(rows))
            firsts = map(bytes.fromhex, keys)
        else:
            heads = itertools.repeat(self.count, len(rows))
            firsts = map(self.first, keys)
        rests = map(self.rest, map(operator.itemgetter(slice(1, None)), rows))
        return b"".join(itertools.chain.from_iterable(zip(heads, firsts, rests, strict=True)))


def _column_types(cursor, table: str, columns: tuple[str, ...]) -> list[int]:
    cursor.execute("SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass "
                   "AND attnum > 0 AND NOT attisdropped", (table,))
    types = dict(cursor.fetchall())
    return [types[c] for c in columns]


def _binary_chunks(types: list[int], rows, batch: int = 10_000) -> Iterator[bytes]:
    """Yield PostgreSQL's binary COPY stream: header, tuples (a block of rows at a time),
    trailer."""
    encoder = _BinaryTuples(types)
    yield b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
    rows = iter(rows)
    while block := list(itertools.islice(rows, batch)):
        yield encoder.block(block)
    yield struct.pack("!h", -1)


def _text_chunks(rows, chunk_rows: int) -> Iterator[bytes]:
    """Yield COPY's text format: tab-separated, \\N for NULL, backslash escapes."""
    def esc(v):
        if v is None:
            return "\\N"
        return (str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))

    buf, count = [], 0
    for row in rows:
        buf.append("\t".join(esc(v) for v in row))
        count += 1
        if count == chunk_rows:
            yield ("\n".join(buf) + "\n").encode()
            buf, count = [], 0
    if buf:
        yield ("\n".join(buf) + "\n").encode()


class _Stream(io.RawIOBase):
    """A file over an iterator of byte chunks: COPY reads it while the rows are still made, so
    generating rows (this process) and loading them (the server) overlap."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks, self.pending = chunks, b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return b""
        if size is None or size < 0:
            size = len(self.pending)
        out, self.pending = self.pending[:size], self.pending[size:]
        return out


def _copy_rows(cursor, table: str, columns: tuple[str, ...], rows, chunk: int = 100_000) -> None:
    """Stream rows into PostgreSQL with one COPY: binary format when every column type has an
    encoder (no text parsing on the server: the fastest path), else the text format."""
    types = _column_types(cursor, table, columns)
    freeze = ", FREEZE" if _COPY_FREEZE.get() else ""
    if all(_binary_encoder(t) for t in types):
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary{freeze})"
        stream = _Stream(_binary_chunks(types, rows))
    else:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT text{freeze})"
        stream = _Stream(_text_chunks(rows, chunk))
    cursor.copy_expert(sql, stream, size=1 << 20)


def _defer_constraints(cursor, table: str) -> list[str]:
    """Drop a table's primary and foreign keys before a bulk load; return the statements that
    add them back. Rebuilding the key index once and checking the foreign key in one join is far
    faster than maintaining them row by row (pgbench -i also adds its keys after the load)."""
    cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE conrelid = %s::regclass AND contype IN ('p', 'f') "
                   "ORDER BY contype DESC", (table,))  # p before f
    restore = []
    for name, definition in cursor.fetchall():
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return restore


# --- every backend ----------------------------------------------------------------------------


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
        deferred = _defer_constraints(db.cursor(), "reviews") if postgres else []
        rng = random.Random(scale.rng_seed)
        specialists = specialist_rows(scale, rng)
        token = _COPY_FREEZE.set(postgres)  # the tables were created in this transaction
        try:
            _bulk_insert(db, "specialists",
                         ("id", "crm", "name", "specialty", "email", "created_at", "updated_at"),
                         specialists)
            _bulk_insert(db, "reviews",
                         ("id", "specialist_id", "rating", "comment", "created_at", "updated_at"),
                         review_rows([row[0] for row in specialists], scale, rng))
        finally:
            _COPY_FREEZE.reset(token)
        for statement in deferred:
            db.execute_sql(statement)
        # Indexes after the bulk load: one sort instead of a million B-tree inserts.
        Review._schema.create_indexes()
        User.create(email=DEMO_EMAIL, password_hash=demo_hash.result())
    if postgres:
        # The planner's statistics, as a long-lived database has them (pgbench -i does it too).
        db.execute_sql("ANALYZE specialists, reviews, users")


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
