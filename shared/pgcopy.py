"""Stream rows into PostgreSQL with one COPY: the binary format's encoder (text format as the
fallback), a file over the row generator so making and loading rows overlap, and the keys
dropped before a bulk load and added back after it."""

from __future__ import annotations

import io
import itertools
import operator
import struct
import uuid
from collections.abc import Iterator
from datetime import datetime

_PG_EPOCH = datetime(2000, 1, 1)
_INT = {21: "!ih", 23: "!ii", 20: "!iq"}  # int2, int4, int8: length + value
_TEXT_TYPES = {25, 1043, 1042}  # text, varchar, bpchar


def _binary_encoder(type_oid: int):
    """Return a function encoding one value as a binary COPY field, or None if unsupported."""
    null = struct.pack("!i", -1)
    if type_oid in _INT:
        pack = struct.Struct(_INT[type_oid]).pack
        size = struct.calcsize(_INT[type_oid]) - 4
        return lambda v: null if v is None else pack(size, int(v))
    if type_oid == 16:  # bool
        return lambda v: null if v is None else b"\x00\x00\x00\x01" + (b"\x01" if v else b"\x00")
    if type_oid == 701:  # float8
        return lambda v: null if v is None else struct.pack("!id", 8, float(v))
    if type_oid in _TEXT_TYPES:

        def text(v):
            if v is None:
                return null
            data = str(v).encode()
            return struct.pack("!i", len(data)) + data

        return text
    if type_oid == 2950:  # uuid: 32 hex digits or any UUID form
        head = struct.pack("!i", 16)

        fromhex = bytes.fromhex

        def uuid_field(v):
            if v.__class__ is str and len(v) == 32:  # the seed's own form: 32 hex digits
                return head + fromhex(v)
            if v is None:
                return null
            return head + (v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))).bytes

        return uuid_field
    if type_oid == 1114:  # timestamp: microseconds since 2000

        def timestamp(v):
            if v is None:
                return null
            moment = datetime.fromisoformat(v) if isinstance(v, str) else v
            delta = moment - _PG_EPOCH
            return struct.pack(
                "!iq", 8, (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
            )

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


def column_types(cursor, table: str, columns: tuple[str, ...]) -> list[int]:
    cursor.execute(
        "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass "
        "AND attnum > 0 AND NOT attisdropped",
        (table,),
    )
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
        return (
            str(v)
            .replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )

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


def copy_rows(
    cursor, table: str, columns: tuple[str, ...], rows, chunk: int = 100_000, freeze: bool = False
) -> None:
    """Stream rows into PostgreSQL with one COPY: binary format when every column type has an
    encoder (no text parsing on the server: the fastest path), else the text format.

    `freeze` (COPY FREEZE) writes the rows already frozen and visible, with no VACUUM pass
    afterwards; PostgreSQL allows it only into a table created or truncated in the same
    transaction."""
    types = column_types(cursor, table, columns)
    freeze_option = ", FREEZE" if freeze else ""
    if all(_binary_encoder(t) for t in types):
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary{freeze_option})"
        stream = _Stream(_binary_chunks(types, rows))
    else:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT text{freeze_option})"
        stream = _Stream(_text_chunks(rows, chunk))
    cursor.copy_expert(sql, stream, size=1 << 20)


def defer_constraints(cursor, table: str) -> list[str]:
    """Drop a table's primary and foreign keys before a bulk load; return the statements that
    add them back. Rebuilding the key index once and checking the foreign key in one join is far
    faster than maintaining them row by row (pgbench -i also adds its keys after the load)."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('p', 'f') "
        "ORDER BY contype DESC",
        (table,),
    )  # p before f
    restore = []
    for name, definition in cursor.fetchall():
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return restore
