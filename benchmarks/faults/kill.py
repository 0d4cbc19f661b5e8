"""Kill a process of a running stack and bring it back exactly as it was started.

`kill` signals one of the stack's processes (its whole process group for SIGKILL) and returns
what it takes to start it again; `relaunch` starts it again in the stack's place (so
`stack.stop()` still stops it). `port_open`, `redis_up` and `replica_back` tell when a part has
really stopped or really come back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from contextlib import closing
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psutil

from benchmarks.client import LabClient
from benchmarks.faults.load import Api, base_url, wait_until
from benchmarks.stack import HOST


@dataclass
class Relaunchable:
    """What it takes to start a process of the stack again exactly as it was started."""

    proc: object  # benchmarks.stack.processes.Proc
    argv: list[str]
    env: dict
    cwd: str


def capture(stack, name: str) -> Relaunchable:
    """Remember how a running process of the stack was started (argv, environment, directory)."""
    proc = next(p for p in stack.procs if p.name == name)
    info = psutil.Process(proc.popen.pid)
    return Relaunchable(proc, list(proc.popen.args), info.environ(), info.cwd())


def kill(stack, name: str, sig: int = signal.SIGKILL) -> Relaunchable:
    """Signal a process of the stack (its whole process group for SIGKILL) and wait for it."""
    spec = capture(stack, name)
    if sig == signal.SIGKILL:
        os.killpg(spec.proc.popen.pid, sig)
        spec.proc.popen.wait(timeout=10)
    else:
        spec.proc.popen.send_signal(sig)
    return spec


def relaunch(spec: Relaunchable) -> None:
    """Start the process again, in the stack's place of the old one (so stack.stop stops it)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(spec.proc.popen.pid, signal.SIGKILL)  # leftovers, e.g. a drained worker
    spec.proc.popen.wait(timeout=15)
    log = open(spec.proc.log, "ab")  # noqa: SIM115 - the child owns it from here
    spec.proc.popen = subprocess.Popen(
        spec.argv,
        cwd=spec.cwd,
        env=spec.env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def redis_up(url: str) -> bool:
    """Whether the queue/cache server at a redis:// URL answers PING (a raw socket: no client
    library to reconnect or retry behind our back), after AUTH when the URL has a password."""
    parts = urlsplit(url)
    commands = [["PING"]]
    if parts.password:
        commands.insert(0, ["AUTH", unquote(parts.password)])
    wire = b"".join(
        b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in c)
        for c in commands
    )
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=0.5) as s:
            s.sendall(wire)
            answer = b""
            while answer.count(b"\r\n") < len(commands):
                chunk = s.recv(256)
                if not chunk:
                    return False
                answer += chunk
            return answer.split(b"\r\n")[len(commands) - 1].startswith(b"+PONG")
    except OSError:
        return False


def replica_back(stack, api: Api, replica: str, port: int, timeout: float = 30) -> None:
    """Wait until a relaunched replica answers /health and the proxy sends it traffic again."""
    with (
        closing(LabClient(base_url(port), timeout=2)) as direct,
        closing(LabClient(base_url(api.port))) as front,
    ):
        wait_until(lambda: direct.get("/health").status == 200, timeout, f"{replica} /health")
        wait_until(
            lambda: front.get("/api/test").header("x-replica") == replica,
            timeout,
            f"the proxy to send requests to {replica} again",
            interval=0.02,
        )
