"""gunicorn settings of every app replica (`-c python:benchmarks.stack.gunicorn_conf`).

One thing only: a graceful stop that the load balancer can route around.

On SIGTERM gunicorn finishes the requests it has accepted, but its listening socket stays open
while it does: the kernel keeps completing connections that nobody will ever accept, and resets
them when the replica exits. The proxy sees a connection that worked and then broke; it retries
a GET elsewhere, but not a POST (502). So when the whole server is stopping, the worker shuts
the listening socket at once: new connections are refused, and the proxy sends them to another
replica. On a reload (HUP: new workers share the socket) it is left alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import threading
import time


def _master_still_listening(worker) -> bool:
    """The master closes its listening sockets before it stops the workers (but not on HUP)."""
    ours = {os.fstat(s.fileno()).st_ino for s in worker.sockets}
    try:
        fds = os.listdir(f"/proc/{worker.ppid}/fd")
    except OSError:
        return True  # cannot tell (not Linux): keep gunicorn's own behaviour
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{worker.ppid}/fd/{fd}").st_ino in ours:
                return True
    return False


def _shut(worker) -> None:
    """Refuse new connections: the kernel stops completing them, so the proxy's dial fails."""
    for listener in worker.sockets:
        with contextlib.suppress(OSError):
            getattr(listener, "sock", listener).shutdown(socket.SHUT_RD)


def _shut_when_master_stops(worker) -> None:
    """Shut the listening sockets once the master has closed its copies (a stop, not a reload)."""
    deadline = time.monotonic() + 1.0
    while _master_still_listening(worker):
        if time.monotonic() > deadline:
            return  # a reload, or a worker stopped on its own: the socket is still wanted
        time.sleep(0.01)
    _shut(worker)


def post_worker_init(worker):
    if not hasattr(worker, "set_accept_enabled"):  # only the gthread worker is wired like this
        return
    graceful_exit, accept = worker.handle_exit, worker.accept

    def accept_unless_shut(listener):
        try:
            accept(listener)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # EINVAL: we shut it down ourselves just now
                raise

    def handle_exit(sig, frame):
        if not _master_still_listening(worker):
            # The usual order: the master closed its sockets, then signalled us. Shut them before
            # we stop accepting, so no connection is left waiting in the backlog.
            _shut(worker)
            graceful_exit(sig, frame)
            return
        # Signalled together with the master (kill of the process group): wait for it briefly.
        graceful_exit(sig, frame)
        threading.Thread(target=_shut_when_master_stops, args=(worker,), daemon=True).start()

    worker.accept = accept_unless_shut
    signal.signal(signal.SIGTERM, handle_exit)
