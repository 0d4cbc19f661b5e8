"""Throttle failed logins per account, so a password cannot be guessed at the server's speed.

The limit (LAB_LOGIN_MAX_FAILURES failures per LAB_LOGIN_WINDOW_SECONDS, 5 per 60 s by default)
counts per email address, whether or not an account has it: a throttle that only knew real
accounts would tell an attacker which emails exist. Past the limit the login answers 429 with
Retry-After, without checking the password (a right guess gets the same 429). A successful
login clears the count.

The counters live where every replica sees them: in the stage's Redis-protocol server when it
has one (LAB_REDIS_URL), in this process otherwise (one replica). If that server fails, counting
falls back to this process for a moment: logins keep working, still throttled per replica.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.config import Settings
from shared.timing import timed

log = logging.getLogger("lab.throttle")

SOCKET_TIMEOUT_S = 0.25


def account_key(email: str) -> str:
    """Name an account's counter without putting the address itself in the store."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class MemoryCounters:
    """Fixed-window counters in this process: the first failure opens a window."""

    def __init__(self):
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[int, float]:
        """Return (failures in the current window, seconds until the window ends)."""
        now = time.monotonic()
        with self._lock:
            count, ends = self._counts.get(key, (0, now))
            if ends <= now:
                self._counts.pop(key, None)
                return 0, 0.0
            return count, ends - now

    def incr(self, key: str, window: int) -> None:
        now = time.monotonic()
        with self._lock:
            count, ends = self._counts.get(key, (0, now))
            if ends <= now:
                count, ends = 0, now + window
            self._counts[key] = (count + 1, ends)
            if len(self._counts) > 100_000:  # a spray of made-up emails must not eat the memory
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


class RedisCounters:
    """The same counters in a Redis-protocol server, shared by every replica (their round trips
    are timed as the request's `cache` component: the same server)."""

    def __init__(self, client: redis.Redis, prefix: str = "lab:login-failures:"):
        self.client = client
        self.prefix = prefix

    def get(self, key: str) -> tuple[int, float]:
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.prefix + key)
        pipe.pttl(self.prefix + key)
        with timed("cache"):
            count, ttl_ms = pipe.execute()
        return int(count or 0), max(0, ttl_ms) / 1000

    def incr(self, key: str, window: int) -> None:
        pipe = self.client.pipeline(transaction=True)
        # SET NX EX opens the window; INCR keeps the expiry: no counter is left without one.
        pipe.set(self.prefix + key, 0, ex=window, nx=True)
        pipe.incr(self.prefix + key)
        with timed("cache"):
            pipe.execute()

    def clear(self, key: str) -> None:
        with timed("cache"):
            self.client.delete(self.prefix + key)


class LoginThrottle:
    """Allow at most `max_failures` failed logins per account per `window_seconds`."""

    def __init__(self, max_failures: int = 5, window_seconds: int = 60,
                 counters: MemoryCounters | RedisCounters | None = None):
        self.max_failures = max(1, int(max_failures))
        self.window = max(1, int(window_seconds))
        self.counters = counters or MemoryCounters()
        self._fallback = MemoryCounters()
        self._fallback_until = 0.0

    @classmethod
    def from_env(cls) -> LoginThrottle:
        """Build the throttle the settings ask for: in Redis if LAB_REDIS_URL is set."""
        settings = Settings.from_env()
        counters = None
        if os.environ.get("LAB_REDIS_URL"):
            client = redis.Redis.from_url(settings.redis_url, socket_timeout=SOCKET_TIMEOUT_S,
                                          socket_connect_timeout=SOCKET_TIMEOUT_S,
                                          retry=Retry(NoBackoff(), 0))
            counters = RedisCounters(client)
        return cls(settings.login_max_failures, settings.login_window_seconds, counters)

    def retry_after(self, email: str) -> int:
        """Return how many seconds this account must wait before trying again (0: go ahead)."""
        count, remaining = self._call("get", account_key(email))
        if count >= self.max_failures:
            return max(1, math.ceil(remaining))
        return 0

    def failed(self, email: str) -> None:
        """Count a failed login."""
        self._call("incr", account_key(email), self.window)

    def succeeded(self, email: str) -> None:
        """Forget the failures of an account that just logged in."""
        self._call("clear", account_key(email))

    def _call(self, method: str, *args):
        if time.monotonic() >= self._fallback_until:
            try:
                return getattr(self.counters, method)(*args)
            except redis.RedisError as exc:
                log.warning("login throttle store unavailable (%s); counting in this process "
                            "for 5 s", exc)
                self._fallback_until = time.monotonic() + 5
        return getattr(self._fallback, method)(*args)
