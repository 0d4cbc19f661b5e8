"""The stage's own counters (lab:counter:* keys in its Redis), read before and after a run."""

from __future__ import annotations

from benchmarks.stack import Stack


def redis_counters(stack: Stack) -> dict[str, int]:
    """Read the stage's lab:counter:* keys ({} when it has no Redis)."""
    url = stack.env.get("LAB_REDIS_URL")
    if not url:
        return {}
    import redis

    client = redis.Redis.from_url(url, socket_timeout=10)
    try:
        out = {}
        for key in client.scan_iter(match="lab:counter:*"):
            value = client.get(key)
            try:
                out[key.decode().removeprefix("lab:counter:")] = int(value)
            except (TypeError, ValueError):
                pass
        return out
    finally:
        client.close()
