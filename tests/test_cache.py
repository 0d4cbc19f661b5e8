"""The cached ranking: one recomputation under a stampede, fail open, and the stage end to end."""

from __future__ import annotations

import json
import multiprocessing
import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import falcon.testing
import pytest
import redis

from benchmarks.stack import host
from shared import db, services
from shared.adapters.cache import CachedTopRated, cache_client
from shared.config import Settings
from shared.seed import DEMO_EMAIL, DEMO_PASSWORD, Scale, seed_sqlite_file

SECRET = "test-secret-" + "x" * 40
THREADS = 24


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    return seed_sqlite_file(tmp_path_factory.mktemp("cache") / "seed.sqlite3", Scale(20, 20))


@pytest.fixture
def database_url(seeded) -> str:
    """The small seeded database (read only here), connected for this test."""
    url = f"sqlite:///{seeded}"
    db.connect(url)
    return url


@pytest.fixture
def shared_redis(redis_server) -> str:
    """Database 0 of the suite's Redis server (lab_servers.py); tests keep to their own prefix."""
    return f"{redis_server}/0"


@pytest.fixture
def prefix(shared_redis):
    """A key prefix of our own in the shared Redis, removed afterwards."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(shared_redis)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


class SlowRanking:
    """The live ranking, slow like the aggregate over a million reviews, counting its calls."""

    def __init__(self, seconds: float = 0.3, gate: threading.Event | None = None):
        self.seconds, self.gate = seconds, gate
        self.calls = 0
        self._lock = threading.Lock()

    def top(self, limit: int) -> list[dict]:
        with self._lock:
            self.calls += 1
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        else:
            time.sleep(self.seconds)
        return services.highest_rated(limit)


def counter(url: str, prefix: str) -> int:
    return int(redis.Redis.from_url(url).get(f"{prefix}counter:top_rated_computed") or 0)


def all_at_once(call, n: int = THREADS) -> list:
    barrier = threading.Barrier(n)

    def go(_):
        barrier.wait(5)
        return call()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


# --- stampede -----------------------------------------------------------------------------------


def test_cold_key_under_a_stampede_is_computed_once(database_url, shared_redis, prefix):
    ranking = SlowRanking()
    cache = CachedTopRated(cache_client(shared_redis), 30, live=ranking, prefix=prefix)
    results = all_at_once(lambda: cache.top(10))
    expected = services.highest_rated(10)
    assert ranking.calls == 1
    assert counter(shared_redis, prefix) == 1
    assert results == [expected] * THREADS


def test_stale_entry_is_served_while_one_thread_refreshes(database_url, shared_redis, prefix):
    gate = threading.Event()
    ranking = SlowRanking(gate=gate)
    client = cache_client(shared_redis)
    cache = CachedTopRated(client, 30, live=ranking, prefix=prefix)
    stale = [
        {
            "id": "stale",
            "name": "Old ranking",
            "specialty": "x",
            "average_rating": 1.0,
            "reviews_count": 1,
        }
    ]
    # An entry that aged past its TTL but is still kept (the stale-while-refresh window).
    client.set(cache.key(10), json.dumps({"at": time.time() - 31, "data": stale}), ex=60)

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(cache.top, 10) for _ in range(THREADS)]
        # The refreshing thread is held at the gate: everyone else must answer meanwhile.
        deadline = time.monotonic() + 10
        while sum(f.done() for f in futures) < THREADS - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        answered = [f.result() for f in futures if f.done()]
        assert answered == [stale] * (THREADS - 1)
        gate.set()
        results = [f.result(10) for f in futures]
    assert ranking.calls == 1 and counter(shared_redis, prefix) == 1
    assert results.count(services.highest_rated(10)) == 1
    assert cache.top(10) == services.highest_rated(10)  # fresh now, without another computation
    assert ranking.calls == 1


def test_a_reader_that_does_not_refresh_serves_stale_and_computes_only_when_missing(
    database_url, shared_redis, prefix
):
    """The worker's reader: a stale entry is served as is (the API refreshes it); no entry at
    all is computed, stored and counted, as any reader does."""
    ranking = SlowRanking(seconds=0)
    client = cache_client(shared_redis)
    worker = CachedTopRated(client, 30, live=ranking, prefix=prefix, refresh_stale=False)
    stale = [{"id": "s", "name": "Old", "specialty": "x", "average_rating": 1, "reviews_count": 1}]
    client.set(worker.key(10), json.dumps({"at": time.time() - 31, "data": stale}), ex=60)
    assert worker.top(10) == stale
    assert ranking.calls == 0 and counter(shared_redis, prefix) == 0
    # The API's reader, on the same entry, refreshes it: the worker then reads the fresh one.
    api = CachedTopRated(client, 30, live=ranking, prefix=prefix)
    assert api.top(10) == services.highest_rated(10) and ranking.calls == 1
    assert worker.top(10) == services.highest_rated(10) and ranking.calls == 1
    client.delete(worker.key(10))
    assert worker.top(10) == services.highest_rated(10)
    assert ranking.calls == 2 and counter(shared_redis, prefix) == 2


def _hammer(database_url: str, shared_redis: str, prefix: str, barrier, results) -> None:
    """One process of the cross-process stampede: several threads ask at the same moment."""
    db.connect(database_url)
    ranking = SlowRanking(0.5)
    cache = CachedTopRated(cache_client(shared_redis), 30, live=ranking, prefix=prefix)
    barrier.wait(30)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: cache.top(10), range(6)))
    results.put((ranking.calls, answers))


@pytest.mark.processes
def test_processes_share_one_recomputation(database_url, shared_redis, prefix):
    context = multiprocessing.get_context("spawn")
    processes = 4
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=_hammer, args=(database_url, shared_redis, prefix, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        outcomes = [results.get(timeout=60) for _ in workers]
    finally:
        for worker in workers:
            worker.join(10)
    expected = services.highest_rated(10)
    assert sum(calls for calls, _ in outcomes) == 1
    assert counter(shared_redis, prefix) == 1
    assert all(answer == expected for _, answers in outcomes for answer in answers)


# --- fail open ----------------------------------------------------------------------------------


def free_port() -> int:
    return host.free_port()  # below the ephemeral range: no client socket takes it


def start_valkey(port: int, workdir: Path) -> subprocess.Popen:
    from benchmarks.stack import valkey_binary

    proc = subprocess.Popen(
        [
            valkey_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=0.5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return proc
        except redis.RedisError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"valkey did not start on port {port}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(10)


def timed(call):
    started = time.perf_counter()
    value = call()
    return value, time.perf_counter() - started


@pytest.mark.processes
def test_fails_open_when_the_cache_server_stops_and_recovers(database_url, tmp_path):
    port = free_port()
    valkey = start_valkey(port, tmp_path)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        cache = CachedTopRated.from_url(url, 30, bypass_seconds=0.5)
        expected = services.highest_rated(10)
        assert cache.top(10) == expected
        stop(valkey)

        for _ in range(5):  # the first pays a refused connection, the rest skip the cache
            value, seconds = timed(lambda: cache.top(10))
            assert value == expected
            assert seconds < 1.0

        valkey = start_valkey(port, tmp_path)
        deadline = time.monotonic() + 5
        while not redis.Redis(port=port).get("lab:counter:top_rated_computed"):
            assert time.monotonic() < deadline, "the cache was never used again"
            assert cache.top(10) == expected
            time.sleep(0.1)
    finally:
        stop(valkey)


class Blackhole:
    """A server that accepts connections and never answers: a hung cache server."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def test_fails_open_when_the_cache_server_hangs(database_url):
    hole = Blackhole()
    try:
        cache = CachedTopRated.from_url(f"redis://127.0.0.1:{hole.port}/0", 30)
        value, seconds = timed(lambda: cache.top(10))
        assert value == services.highest_rated(10)
        assert seconds < 1.0  # one short socket timeout, not a hang
    finally:
        hole.close()


def stage_client(database_url: str, redis_port: int):
    """The cache stage's own app (its composition root), logged in, over a given cache server."""
    from stages.cache.app import create_app

    settings = Settings(
        database_url=database_url, jwt_secret=SECRET, redis_url=f"redis://127.0.0.1:{redis_port}/0"
    )
    client = falcon.testing.TestClient(create_app(settings))
    login = client.simulate_post(
        "/api/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    return client, {"Authorization": f"Bearer {login.json['token']}"}


def assert_served_from_the_database(client, headers) -> None:
    for _ in range(3):
        result, seconds = timed(
            lambda: client.simulate_get("/api/specialists/highest_rated", headers=headers)
        )
        assert result.status_code == 200
        assert result.json["data"] == services.highest_rated(10)
        assert seconds < 1.0


@pytest.mark.processes
def test_the_stage_answers_200_when_its_cache_server_stops(database_url, tmp_path):
    port = free_port()
    valkey = start_valkey(port, tmp_path)
    try:
        client, headers = stage_client(database_url, port)
        cached = client.simulate_get("/api/specialists/highest_rated", headers=headers)
        assert cached.status_code == 200
        assert redis.Redis(port=port).get("lab:counter:top_rated_computed") == b"1"
    finally:
        stop(valkey)
    assert_served_from_the_database(client, headers)


def test_the_stage_answers_200_when_its_cache_server_hangs(database_url):
    hole = Blackhole()
    try:
        client, headers = stage_client(database_url, hole.port)
        assert_served_from_the_database(client, headers)
    finally:
        hole.close()


# --- freshness ----------------------------------------------------------------------------------


def test_freshness_rule_is_ttl_only(database_url, shared_redis, prefix, tmp_path):
    """A new review does not invalidate the ranking; it shows once the entry ages past the TTL."""
    path = tmp_path / "lab.sqlite3"  # a copy: this test writes reviews
    path.write_bytes(Path(database_url.removeprefix("sqlite:///")).read_bytes())
    db.connect(f"sqlite:///{path}")
    client = cache_client(shared_redis)
    cache = CachedTopRated(client, 30, prefix=prefix)
    before = cache.top(3)
    last = services.get_specialist(uuid.UUID(before[-1]["id"]))
    for _ in range(50):
        services.create_review(last.id, {"rating": 10})
    assert services.highest_rated(3) != before  # the database moved on
    assert cache.top(3) == before  # the cache, within its TTL, did not
    entry = json.loads(client.get(cache.key(3)))
    client.set(cache.key(3), json.dumps({**entry, "at": entry["at"] - 31}), ex=60)
    assert cache.top(3) == services.highest_rated(3)
    assert counter(shared_redis, prefix) == 2


# --- the real stage -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.processes
def test_cache_stage_counts_one_computation_per_ttl(tmp_path):
    from test_reports import http

    from benchmarks.stack import Options, Stack

    options = Options(
        port=free_port(),
        inbox_port=free_port(),
        smtp_port=free_port(),
        scale=Scale(20, 20),
        state_dir=tmp_path / "stack",
        quiet=True,
        env={"LAB_CACHE_TTL": "30"},
    )
    with Stack("cache", options) as stack:
        api = stack.urls["api"]
        _, _, body = http("POST", f"{api}/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {json.loads(body)['token']}"}
        answers = [
            http("GET", f"{api}/specialists/highest_rated", headers=headers) for _ in range(20)
        ]
        assert {status for status, _, _ in answers} == {200}
        assert {h["X-Replica"] for _, h, _ in answers} == {"app-1", "app-2"}
        assert len({body for _, _, body in answers}) == 1
        valkey = redis.Redis.from_url(stack.urls["redis"])
        assert int(valkey.get("lab:counter:top_rated_computed")) == 1
        assert 30 < valkey.ttl("lab:top_rated:10") <= 60
