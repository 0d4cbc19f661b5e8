"""Wait, with a deadline, until a started server serves; `check_alive` fails fast on a death."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from benchmarks.client import LabClient
from benchmarks.stack.host import HOST, StackError
from shared.db import redacted


def wait_redis(url: str, check_alive: Callable[[], None], timeout: float = 15) -> None:
    """Poll the Redis-protocol server until it answers PING (with the URL's password)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.AuthenticationError as exc:
                raise StackError(f"valkey at {redacted(url)} refused the password: {exc}") from None
            except (redis.ConnectionError, redis.TimeoutError):
                pass  # not listening yet
            check_alive()
            time.sleep(0.05)
    finally:
        client.close()
    raise StackError(f"valkey did not answer at {redacted(url)} within {timeout:.0f} s")


def wait_tcp(port: int, what: str, check_alive: Callable[[], None], timeout: float = 15) -> None:
    """Poll until something listens on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            pass
        check_alive()
        time.sleep(0.05)
    raise StackError(f"{what} did not listen on port {port} within {timeout:.0f} s")


def wait_http(url: str, what: str, check_alive: Callable[[], None], timeout: float = 30) -> None:
    """Poll until the URL answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_alive()
        if LabClient(url, timeout=2).get("").status == 200:
            return
        time.sleep(0.05)
    raise StackError(f"{what} did not answer {url} within {timeout:.0f} s")
