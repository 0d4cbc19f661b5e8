"""The Redis a run is given by URL (`--redis`): checked to be the lab's own, flushed before the run.

The lab flushes the Redis database it is given before every run (FLUSHDB: no queued task,
cached ranking or counter of a previous run leaks into the next). So it needs a database of its
own: the URL must name one, 1-15 (redis://host:6379/15). It never flushes db 0, the default
everybody shares; and it refuses a database that holds keys it did not write (it marks its own
with the key `scaling-lab:owner`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

from benchmarks.stack.databases.base import BackendError
from shared import db as dbmod

REDIS_MARKER = "scaling-lab:owner"


@dataclass
class RedisPrepared:
    """How a run uses a Redis it was given."""

    url: str
    db: int
    server: str
    isolation: str = "FLUSHDB of the dedicated database before the run"
    keys_flushed: int = 0
    extra: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {
            "mode": "external",
            "url": dbmod.redacted(self.url),
            "db": self.db,
            "server": self.server,
            "isolation": self.isolation,
            "keys_flushed": self.keys_flushed,
        }


def redis_db_number(url: str) -> int:
    """The database a redis:// URL names: its path (/3) or ?db=3; 0 when it names none."""
    import redis

    kwargs = redis.connection.parse_url(url)
    return int(kwargs.get("db") or 0)


def prepare_redis(url: str) -> RedisPrepared:
    """Empty the lab's own Redis database before a run; refuse db 0 and other people's data."""
    import redis

    if urlparse(url).scheme not in ("redis", "rediss", "unix", "valkey", "valkeys"):
        raise BackendError(f"Redis URL {dbmod.redacted(url)!r}: use redis://host:6379/<db>")
    number = redis_db_number(url)
    if number == 0:
        raise BackendError(
            f"Redis URL {dbmod.redacted(url)} names db 0. The lab flushes the database it uses "
            "before every run (FLUSHDB) so that no queued task or cached ranking leaks between "
            "runs, and it never does that to db 0, the default everybody shares. Give it a "
            "database of its own: e.g. redis://127.0.0.1:6379/15"
        )
    client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
    try:
        try:
            info = client.info("server")
            size = client.dbsize()
            ours = client.exists(REDIS_MARKER)
        except redis.RedisError as exc:
            raise BackendError(f"cannot use Redis at {dbmod.redacted(url)}: {exc}") from None
        if size and not ours:
            sample = [k.decode(errors="replace") for k in client.scan(count=20)[1][:5]]
            raise BackendError(
                f"Redis db {number} at {dbmod.redacted(url)} holds {size} keys the lab did not "
                f"write (e.g. {', '.join(sample)}). The lab flushes its database before every "
                "run, so it will not use this one: choose an empty db number, or empty this one "
                f"yourself if it is yours to empty (redis-cli -n {number} FLUSHDB)."
            )
        client.flushdb()
        client.set(REDIS_MARKER, "scaling-lab: this database is flushed before every lab run")
        server = (
            f"valkey {info['valkey_version']}"
            if "valkey_version" in info
            else f"Redis {info.get('redis_version', '?')}"
        )
        return RedisPrepared(url, number, server, keys_flushed=max(0, size - 1) if ours else 0)
    finally:
        client.close()
