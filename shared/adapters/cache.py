"""The top-rated ranking kept in a Redis-protocol server: one recomputation at a time, fail open.

An entry is *fresh* for `ttl` seconds, then *stale* for up to another `ttl` seconds before the
server drops it. When a request finds it stale, the process that wins a short lock
(SET NX PX) recomputes it while every other process and replica keeps serving the stale copy:
no stampede of identical aggregates. With no copy at all (cold start), the others wait for the
winner's result instead of computing it too.

If the server is down or slow, requests are answered from the database: socket timeouts are
short, and after a failure the cache is skipped for a moment so that every request does not pay
the timeout again.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.adapters.top_rated import LiveTopRated
from shared.ports import TopRatedQuery
from shared.timing import timed

log = logging.getLogger("lab.cache")

SOCKET_TIMEOUT_S = 0.15
COMPUTED_COUNTER = "counter:top_rated_computed"
# Compare-and-delete: release the lock only if it is still ours (it may have expired and moved on).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


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
    ):
        self.client = client
        self.ttl = max(1, int(ttl_seconds))
        self.live = live or LiveTopRated()
        self.prefix = prefix
        self.lock_ms = int(lock_seconds * 1000)
        self.bypass_seconds = bypass_seconds
        self._release = client.register_script(_RELEASE)
        self._bypass_until = 0.0
        self._guard = threading.Lock()

    @classmethod
    def from_url(cls, url: str, ttl_seconds: int = 30, **kwargs) -> CachedTopRated:
        return cls(cache_client(url), ttl_seconds, **kwargs)

    @property
    def counter_key(self) -> str:
        return f"{self.prefix}{COMPUTED_COUNTER}"

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
        entry = self._read(key)
        if entry is not None and self._fresh(entry):
            return entry["data"]
        deadline = time.monotonic() + self.lock_ms / 1000
        while True:
            token = secrets.token_hex(8)
            if self.client.set(f"{key}:lock", token, nx=True, px=self.lock_ms):
                try:
                    # Someone may have refreshed it between our read and our lock.
                    latest = self._read(key)
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
            entry = self._read(key)
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

    def _read(self, key: str) -> dict | None:
        raw = self.client.get(key)
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            if isinstance(entry, dict) and isinstance(entry.get("data"), list):
                return entry
        except ValueError:
            pass
        return None  # not ours or corrupt: treat as a miss and overwrite it

    def _fresh(self, entry: dict) -> bool:
        return time.time() - float(entry.get("at", 0)) < self.ttl

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
