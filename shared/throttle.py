"""Throttle logins before they cost a password hash: per account, per client address, per replica.

Three limits, checked in this order before the argon2id hash runs (every one answers at once,
nothing is queued):

- Per account and client address (LAB_LOGIN_MAX_FAILURES per LAB_LOGIN_WINDOW_SECONDS, 5 per
  60 s): a password cannot be guessed at the server's speed. Counted per email whether or not an
  account has it (no user enumeration). Past the limit: 429 with Retry-After, without checking
  the password, so a right guess gets the same 429.
- Per client address (LAB_LOGIN_ADDRESS_MAX_FAILURES per window, 20 by default), whatever the
  email: one client cannot spray made-up emails, each costing a full hash. 429 with Retry-After.
- Hashes running at once in this replica (LAB_LOGIN_MAX_HASHES, 2 by default): beyond it 503
  with Retry-After: 1, so logins cannot take every thread of a replica.

Counting comes FIRST, atomically (INCR in the stage's Redis-protocol server when it has one,
LAB_REDIS_URL; a lock in this process otherwise), then the password is verified: a counter holds
the failures of the window plus the checks in flight, so concurrent guesses cannot all slip in
before the first failure is written. A check that is refused (429/503) or succeeds gives its
slot back; a success also clears the account's count for that address.

The lockout is keyed by account AND client address (OWASP Authentication Cheat Sheet, "Account
Lockout": a lockout an attacker can trigger is a denial of service against the owner). Failures
from other addresses never lock the owner out; an attacker gets 5 guesses per account per window
per address, each address at most 20 failures in all, and every replica at most LAB_LOGIN_MAX_HASHES
hashes at once. See README "Login limits" for the trade-off.

If the counting server fails, counting falls back to this process for a moment: logins keep
working, still throttled per replica.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
import unicodedata
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.config import Settings
from shared.timing import timed

log = logging.getLogger("lab.throttle")

SOCKET_TIMEOUT_S = 0.25


def account_key(email: str) -> str:
    """Name an account's counter without putting the address itself in the store.

    Unicode NFKC then casefold: "ＥＭＡＩＬ@…" (full width), "Email@…" and "email@…" are one
    counter. The login passes the address as the database stored it when the database finds an
    account for it (services.account_email): that is what makes "émail@…", which MariaDB's
    accent-insensitive collation matches to "email@…", count against the same account."""
    normal = unicodedata.normalize("NFKC", email.strip()).casefold()
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _hashed(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


class MemoryCounters:
    """Fixed-window counters in this process: the first increment opens a window."""

    def __init__(self):
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[int, float]:
        """Return (count in the current window, seconds until the window ends)."""
        now = time.monotonic()
        with self._lock:
            count, ends = self._counts.get(key, (0, now))
            if ends <= now:
                self._counts.pop(key, None)
                return 0, 0.0
            return count, ends - now

    def incr(self, key: str, window: int) -> tuple[int, float]:
        """Add one and return (the new count, seconds until the window ends), atomically."""
        now = time.monotonic()
        with self._lock:
            count, ends = self._counts.get(key, (0, now))
            if ends <= now:
                count, ends = 0, now + window
            self._counts[key] = (count + 1, ends)
            if len(self._counts) > 100_000:  # a spray of made-up emails must not eat the memory
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            return count + 1, ends - now

    def decr(self, key: str) -> None:
        """Give one back, if the window is still open (an ended window is not reopened)."""
        now = time.monotonic()
        with self._lock:
            count, ends = self._counts.get(key, (0, now))
            if ends > now and count > 0:
                self._counts[key] = (count - 1, ends)

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


class RedisCounters:
    """The same counters in a Redis-protocol server, shared by every replica (their round trips
    are timed as the request's `cache` component: the same server)."""

    # DECR only while the key exists: a bare DECR after expiry would leave a key without TTL.
    _DECR = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end"

    def __init__(self, client: redis.Redis, prefix: str = "lab:login-failures:"):
        self.client = client
        self.prefix = prefix
        self._decr = client.register_script(self._DECR)

    def get(self, key: str) -> tuple[int, float]:
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.prefix + key)
        pipe.pttl(self.prefix + key)
        with timed("cache"):
            count, ttl_ms = pipe.execute()
        return int(count or 0), max(0, ttl_ms) / 1000

    def incr(self, key: str, window: int) -> tuple[int, float]:
        pipe = self.client.pipeline(transaction=True)
        # SET NX EX opens the window; INCR keeps the expiry: no counter is left without one.
        pipe.set(self.prefix + key, 0, ex=window, nx=True)
        pipe.incr(self.prefix + key)
        pipe.pttl(self.prefix + key)
        with timed("cache"):
            _, count, ttl_ms = pipe.execute()
        return int(count), max(0, ttl_ms) / 1000

    def decr(self, key: str) -> None:
        with timed("cache"):
            self._decr(keys=[self.prefix + key])

    def clear(self, key: str) -> None:
        with timed("cache"):
            self.client.delete(self.prefix + key)


class Refused(Exception):
    """A login refused before its password is checked: 429 (too many) or 503 (busy)."""

    def __init__(self, status: int, retry_after: int, reason: str):
        super().__init__(reason)
        self.status, self.retry_after, self.reason = status, retry_after, reason


@dataclass
class Attempt:
    """One login let through the limits: report its outcome exactly once."""

    throttle: LoginThrottle
    keys: tuple[str, str]  # (account + address, address)
    done: bool = False

    def failed(self) -> None:
        """Keep the counted slots: the failure stays counted for the window."""
        self.done = True

    def succeeded(self) -> None:
        """Clear the account's failures from this address and give the address its slot back."""
        if not self.done:
            self.done = True
            self.throttle._call("clear", self.keys[0])
            self.throttle._call("decr", self.keys[1])

    def abandoned(self) -> None:
        """The check never ran to a verdict (an error): give both slots back."""
        if not self.done:
            self.done = True
            for key in self.keys:
                self.throttle._call("decr", key)


class LoginThrottle:
    """Count a login first, then let the caller verify it: see the module's docstring."""

    def __init__(
        self,
        max_failures: int = 5,
        window_seconds: int = 60,
        counters: MemoryCounters | RedisCounters | None = None,
        *,
        address_max_failures: int = 20,
        max_hashes: int = 2,
    ):
        self.max_failures = max(1, int(max_failures))
        self.address_max_failures = max(1, int(address_max_failures))
        self.window = max(1, int(window_seconds))
        self.counters = counters or MemoryCounters()
        self.max_hashes = max(1, int(max_hashes))
        self._hashes = threading.BoundedSemaphore(self.max_hashes)
        self._fallback = MemoryCounters()
        self._fallback_until = 0.0

    @classmethod
    def from_env(cls) -> LoginThrottle:
        """Build the throttle the settings ask for: in Redis if LAB_REDIS_URL is set."""
        settings = Settings.from_env()
        counters = None
        if os.environ.get("LAB_REDIS_URL"):
            client = redis.Redis.from_url(
                settings.redis_url,
                socket_timeout=SOCKET_TIMEOUT_S,
                socket_connect_timeout=SOCKET_TIMEOUT_S,
                retry=Retry(NoBackoff(), 0),
            )
            counters = RedisCounters(client)
        return cls(
            settings.login_max_failures,
            settings.login_window_seconds,
            counters,
            address_max_failures=settings.login_address_max_failures,
            max_hashes=settings.login_max_hashes,
        )

    def attempt(self, email: str, client: str) -> Attempt:
        """Count a login from `client` for `email`; raise Refused if a limit is reached.

        The caller must hold `hashing()` around the verification and report the outcome on the
        returned Attempt (`failed()` or `succeeded()`).
        """
        account = _hashed("account", account_key(email), client)
        address = _hashed("address", client)
        count, remaining = self._call("incr", account, self.window)
        if count > self.max_failures:
            self._call("decr", account)
            raise Refused(
                429,
                max(1, math.ceil(remaining)),
                f"Too many failed logins for this account; try again in "
                f"{max(1, math.ceil(remaining))} s.",
            )
        count, remaining = self._call("incr", address, self.window)
        if count > self.address_max_failures:
            self._call("decr", address)
            self._call("decr", account)
            raise Refused(
                429,
                max(1, math.ceil(remaining)),
                f"Too many failed logins from this address; try again in "
                f"{max(1, math.ceil(remaining))} s.",
            )
        return Attempt(self, (account, address))

    def hashing(self, attempt: Attempt) -> _HashSlot:
        """Hold one of this replica's hash slots, or raise Refused(503) at once (not queued)."""
        return _HashSlot(self, attempt)

    def retry_after(self, email: str, client: str = "") -> int:
        """Seconds this account must wait from this client before trying again (0: go ahead)."""
        count, remaining = self._call("get", _hashed("account", account_key(email), client))
        return max(1, math.ceil(remaining)) if count >= self.max_failures else 0

    def _call(self, method: str, *args):
        if time.monotonic() >= self._fallback_until:
            try:
                return getattr(self.counters, method)(*args)
            except redis.RedisError as exc:
                log.warning(
                    "login throttle store unavailable (%s); counting in this process for 5 s", exc
                )
                self._fallback_until = time.monotonic() + 5
        return getattr(self._fallback, method)(*args)


class _HashSlot:
    def __init__(self, throttle: LoginThrottle, attempt: Attempt):
        self.throttle, self.attempt = throttle, attempt

    def __enter__(self) -> Attempt:
        if not self.throttle._hashes.acquire(blocking=False):
            self.attempt.abandoned()
            raise Refused(
                503,
                1,
                f"This server is checking {self.throttle.max_hashes} "
                "passwords already; try again in 1 s.",
            )
        return self.attempt

    def __exit__(self, exc_type, *exc) -> None:
        self.throttle._hashes.release()
        if exc_type is not None:
            self.attempt.abandoned()
