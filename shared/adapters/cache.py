"""The top-rated ranking kept in a Redis-protocol server: one recomputation at a time, fail open.

An entry is *fresh* for `ttl` seconds, then *stale* for up to another `ttl` seconds before the
server drops it. When a request finds it stale, the process that wins a short lock
(SET NX PX) recomputes it while every other process and replica keeps serving the stale copy:
no stampede of identical aggregates. With no copy at all (cold start), the others wait for the
winner's result instead of computing it too. A reader built with `refresh_stale=False` (the queue
worker, for a report's CSV) serves a stale copy and leaves the refresh to the API's next request:
won by the worker, the aggregate took its small box for ~2 s and stalled the mails behind it.

If the server is down or slow, requests are answered from the database: socket timeouts are
short, and after a failure the cache is skipped for a moment so that every request does not pay
the timeout again.

An entry is checked before it is trusted: one that does not parse, has the wrong shape, or is out
of range (a timestamp that is not a number, or in the future: it would be served as fresh
forever) is a miss: dropped, counted once in `lab:counter:cache_entries_rejected`, and replaced
by the next computation. Whoever can write to the server can still change the ranking, but no
longer break the API.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.adapters.top_rated import LiveTopRated
from shared.ports import TopRatedQuery
from shared.services import RANKING_FIELDS
from shared.timing import timed

log = logging.getLogger("lab.cache")

SOCKET_TIMEOUT_S = 0.15
COMPUTED_COUNTER = "counter:top_rated_computed"
REJECTED_COUNTER = "counter:cache_entries_rejected"
# How far ahead of this process's clock an entry may be dated: replicas' clocks differ a little.
CLOCK_SKEW_S = 5.0
# Compare-and-delete: release the lock only if it is still ours (it may have expired and moved on).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"
# Drop a rejected entry and count it, unless someone replaced it meanwhile: each bad entry is
# counted once, however many readers saw it.
_REJECT = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]); "
    "return redis.call('incr', KEYS[2]) end return 0"
)


def cache_client(url: str, timeout: float = SOCKET_TIMEOUT_S) -> redis.Redis:
    """Return a client that gives up fast: short socket timeouts and no retries."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


class CachedTopRated:
    """Serve the ranking from the cache; recompute it in one process at a time when it ages."""

    def __init__(
        self,
        client: redis.Redis,
        ttl_seconds: int = 30,
        *,
        live: TopRatedQuery | None = None,
        prefix: str = "lab:",
        lock_seconds: float = 10.0,
        bypass_seconds: float = 1.0,
        refresh_stale: bool = True,
    ):
        self.client = client
        self.refresh_stale = refresh_stale
        self.ttl = max(1, int(ttl_seconds))
        self.live = live or LiveTopRated()
        self.prefix = prefix
        self.lock_ms = int(lock_seconds * 1000)
        self.bypass_seconds = bypass_seconds
        self._release = client.register_script(_RELEASE)
        self._reject = client.register_script(_REJECT)
        self._bypass_until = 0.0
        self._guard = threading.Lock()

    @classmethod
    def from_url(cls, url: str, ttl_seconds: int = 30, **kwargs) -> CachedTopRated:
        return cls(cache_client(url), ttl_seconds, **kwargs)

    @property
    def counter_key(self) -> str:
        return f"{self.prefix}{COMPUTED_COUNTER}"

    @property
    def rejected_key(self) -> str:
        return f"{self.prefix}{REJECTED_COUNTER}"

    def key(self, limit: int) -> str:
        return f"{self.prefix}top_rated:{limit}"

    # --- the port ------------------------------------------------------------------------------

    def top(self, limit: int) -> list[dict]:
        """Return the ranking: fresh from the cache, stale while another refreshes, or computed."""
        if time.monotonic() < self._bypass_until:
            return self.live.top(limit)
        try:
            # The cache's time, waits for another's recomputation included; a recomputation's
            # own queries are timed as db (nested timers are exclusive).
            with timed("cache"):
                return self._cached(limit)
        except redis.RedisError as exc:
            self._trip(exc)
            return self.live.top(limit)

    # --- how -----------------------------------------------------------------------------------

    def _cached(self, limit: int) -> list[dict]:
        key = self.key(limit)
        entry = self._read(limit)
        if entry is not None and (self._fresh(entry) or not self.refresh_stale):
            return entry["data"]
        deadline = time.monotonic() + self.lock_ms / 1000
        while True:
            token = secrets.token_hex(8)
            if self.client.set(f"{key}:lock", token, nx=True, px=self.lock_ms):
                try:
                    # Someone may have refreshed it between our read and our lock.
                    latest = self._read(limit)
                    if latest is not None and self._fresh(latest):
                        return latest["data"]
                    return self._recompute(limit)
                finally:
                    self._release(keys=[f"{key}:lock"], args=[token])
            if entry is not None:
                return entry["data"]  # stale, but another process is already refreshing it
            if time.monotonic() > deadline:
                # The lock holder is stuck or gone: answer rather than wait longer.
                return self._recompute(limit)
            time.sleep(0.02)
            entry = self._read(limit)
            if entry is not None:
                return entry["data"]

    def _recompute(self, limit: int) -> list[dict]:
        """Compute the ranking from the database, store it and count the computation."""
        data = self.live.top(limit)
        value = json.dumps({"at": time.time(), "data": data})
        try:
            pipe = self.client.pipeline(transaction=False)
            # The server keeps it twice the TTL: the second half is the stale-while-refresh window.
            pipe.set(self.key(limit), value, ex=2 * self.ttl)
            pipe.incr(self.counter_key)
            pipe.execute()
        except redis.RedisError as exc:
            self._trip(exc)
        return data

    def _read(self, limit: int) -> dict | None:
        """The entry for `limit` if it is one we can trust, else None (a miss)."""
        key = self.key(limit)
        raw = self.client.get(key)
        if raw is None:
            return None
        problem = entry_problem(raw, limit=limit, now=time.time())
        if problem is None:
            return json.loads(raw)
        # Fail open: a miss (the database answers and a good entry replaces it); said and counted.
        if self._reject(keys=[key, self.rejected_key], args=[raw]):
            log.warning("cache entry %s rejected and dropped: %s", key, problem)
        return None

    def _fresh(self, entry: dict) -> bool:
        return time.time() - entry["at"] < self.ttl

    def _trip(self, exc: Exception) -> None:
        """Skip the cache for a moment: the database answers while the server is unwell."""
        with self._guard:
            if time.monotonic() >= self._bypass_until:
                log.warning(
                    "cache unavailable (%s); answering from the database for %.1f s",
                    exc,
                    self.bypass_seconds,
                )
            self._bypass_until = time.monotonic() + self.bypass_seconds


def entry_problem(raw: bytes | str, *, limit: int, now: float) -> str | None:
    """Say what is wrong with a stored entry (None: it is a ranking of at most `limit` rows,
    dated by a finite timestamp no later than now plus the clock skew)."""
    try:
        entry = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "not JSON"
    if not isinstance(entry, dict) or set(entry) != {"at", "data"}:
        return "not an object with exactly 'at' and 'data'"
    at, data = entry["at"], entry["data"]
    if not _number(at):
        return f"'at' is not a timestamp: {str(at)[:40]!r}"
    if at > now + CLOCK_SKEW_S:
        return f"'at' is {at - now:.0f} s in the future"
    if not isinstance(data, list) or len(data) > limit:
        return f"'data' is not a list of at most {limit} rows"
    for row in data:
        if not isinstance(row, dict) or set(row) != set(RANKING_FIELDS):
            return f"a row of 'data' does not have exactly the fields {', '.join(RANKING_FIELDS)}"
        if not all(isinstance(row[k], str) for k in ("id", "name", "specialty")) or not (
            _number(row["average_rating"]) and _number(row["reviews_count"])
        ):
            return f"a row of 'data' has a value of the wrong type: {str(row)[:80]}"
    return None


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
