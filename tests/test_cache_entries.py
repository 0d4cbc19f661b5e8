"""A cache entry is checked before it is trusted: corrupt or out of range is a counted miss.

Each corrupt shape is planted in the shared Redis under the ranking's key; the ranking must
still come from the database (fail open), the rejection be counted in
lab:counter:cache_entries_rejected, and the entry be overwritten by a good one. The same through
the cache stage's API (200, not 500) and through a report build (ready, not failed).
"""

# ruff: noqa: F811 - the fixtures imported from test_cache are parameters here
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
import redis
from test_cache import (  # noqa: F401 - fixtures
    database_url,
    free_port,
    prefix,
    seeded,
    shared_redis,
    stage_client,
    start_valkey,
    stop,
)

from shared import db, services
from shared.adapters.cache import CachedTopRated, cache_client
from shared.adapters.report_stores import LocalReportStore
from shared.models import Report, User
from shared.seed import DEMO_EMAIL

ROW = {"id": "0b1c", "name": "Dr A", "specialty": "x", "average_rating": 9.5, "reviews_count": 3}

CORRUPT = {
    "not JSON": b"{not json",
    "not UTF-8": b"\xff\xfe\x00",
    "a JSON list": json.dumps([ROW]),
    "a JSON string": json.dumps("ranking"),
    "at is text": json.dumps({"at": "x", "data": [ROW]}),
    "at is null": json.dumps({"at": None, "data": [ROW]}),
    "at is a boolean": json.dumps({"at": True, "data": [ROW]}),
    "at is NaN": '{"at": NaN, "data": []}',
    "at is Infinity": '{"at": Infinity, "data": []}',
    "at far in the future": json.dumps({"at": time.time() + 10 * 365 * 86400, "data": [ROW]}),
    "no at": json.dumps({"data": [ROW]}),
    "an extra field": json.dumps({"at": time.time(), "data": [ROW], "more": 1}),
    "data is an object": json.dumps({"at": time.time(), "data": {"0": ROW}}),
    "data rows are numbers": json.dumps({"at": time.time(), "data": [1, 2, 3]}),
    "a row lacks fields": json.dumps({"at": time.time(), "data": [{"id": "1", "name": "n"}]}),
    "a row has a text rating": json.dumps(
        {"at": time.time(), "data": [{**ROW, "average_rating": "9"}]}
    ),
    "a row's name is a list": json.dumps({"at": time.time(), "data": [{**ROW, "name": ["="]}]}),
    "more rows than asked": json.dumps({"at": time.time(), "data": [ROW] * 11}),
}


def rejected(url: str, prefix: str) -> int:
    return int(redis.Redis.from_url(url).get(f"{prefix}counter:cache_entries_rejected") or 0)


@pytest.mark.parametrize("shape", list(CORRUPT))
def test_a_corrupt_entry_is_a_counted_miss_and_is_overwritten(
    database_url,
    shared_redis,  # noqa: F811
    prefix,
    shape,
):
    client = cache_client(shared_redis)
    cache = CachedTopRated(client, 30, prefix=prefix)
    client.set(cache.key(10), CORRUPT[shape], ex=60)
    assert cache.top(10) == services.highest_rated(10)
    assert rejected(shared_redis, prefix) == 1
    entry = json.loads(client.get(cache.key(10)))  # overwritten by the computation
    assert entry["data"] == services.highest_rated(10) and entry["at"] <= time.time()
    assert cache.top(10) == services.highest_rated(10)
    assert rejected(shared_redis, prefix) == 1  # the good entry is trusted


def test_a_good_entry_is_served_as_is(database_url, shared_redis, prefix):  # noqa: F811
    client = cache_client(shared_redis)
    cache = CachedTopRated(client, 30, prefix=prefix)
    client.set(cache.key(10), json.dumps({"at": time.time() + 1, "data": [ROW]}), ex=60)
    assert cache.top(10) == [ROW]  # a second ahead: another replica's clock, within the skew
    assert rejected(shared_redis, prefix) == 0


@pytest.mark.processes
def test_the_stage_answers_200_over_a_corrupt_entry(database_url, tmp_path):  # noqa: F811
    """Through the cache stage's composition root, over a cache server of its own."""
    port = free_port()
    valkey = start_valkey(port, tmp_path)
    try:
        client, headers = stage_client(database_url, port)
        server = redis.Redis(port=port)
        for shape in ("at is text", "at far in the future", "data rows are numbers"):
            server.set("lab:top_rated:10", CORRUPT[shape], ex=60)
            got = client.simulate_get("/api/specialists/highest_rated", headers=headers)
            assert got.status_code == 200, (shape, got.text)
            assert got.json["data"] == services.highest_rated(10)
        assert int(server.get("lab:counter:cache_entries_rejected")) == 3
    finally:
        stop(valkey)


def test_a_report_is_built_over_a_corrupt_entry(
    seeded,
    shared_redis,
    prefix,  # noqa: F811
    tmp_path,
):
    from shared.reports import build_report

    path = tmp_path / "lab.sqlite3"  # a copy: the build writes the report's status
    path.write_bytes(Path(seeded).read_bytes())
    db.connect(f"sqlite:///{path}")
    client = cache_client(shared_redis)
    cache = CachedTopRated(client, 30, prefix=prefix)
    client.set(cache.key(5), CORRUPT["at is text"], ex=60)
    report = Report.create(user=User.get(User.email == DEMO_EMAIL).id, limit=5)
    assert build_report(report.id, cache, LocalReportStore(tmp_path / "reports"))
    report = Report.get_by_id(report.id)
    assert report.status == "ready"
    rows = list(csv.DictReader(io.StringIO((tmp_path / "reports" / report.location).read_text())))
    assert [r["id"] for r in rows] == [r["id"] for r in services.highest_rated(5)]
    assert rejected(shared_redis, prefix) == 1
