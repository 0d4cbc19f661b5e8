"""Drive a running stage for a fault scenario: log in, post reviews, keep GETs flowing, wait.

`Api` is the stage's API through its front door, logged in as the demo user (cookie or token,
whichever the stage answers with); `Load` keeps a few client threads GETting until stopped; and
`wait_until` polls with a deadline. Every HTTP call goes through benchmarks/client.py: a failed
connection is a `Reply` with status 0, never an exception, and each reply keeps its start time,
latency and wall-clock time.
"""

from __future__ import annotations

import threading
import time

from benchmarks.client import LabClient, Reply
from benchmarks.stack import HOST

# Fast outbox settings for fault runs: sweep twice a second, re-queue after 3 s. The lease of a
# claimed mail is max(grace, SMTP timeout + 1 s), so the SMTP timeout is shortened as well.
FAULT_ENV = {
    "LAB_OUTBOX_SWEEP_SECONDS": "0.5",
    "LAB_OUTBOX_GRACE_SECONDS": "3",
    "LAB_SMTP_TIMEOUT": "2",
}


def base_url(port: int) -> str:
    """The base URL of a server of the stack (they all listen on 127.0.0.1)."""
    return f"http://{HOST}:{port}"


class Api:
    """The stage's API through its front door (the proxy when there is one), logged in."""

    def __init__(self, stack, port: int | None = None):
        self.stack = stack
        self.port = port or stack.options.port
        self.client = LabClient(base_url(self.port)).login()
        self.specialists = [
            s["id"] for s in self.call("GET", "/api/specialists?per_page=100").json["data"]
        ]

    def call(self, method: str, path: str, payload=None, **kw) -> Reply:
        """One request as the logged-in user, from the calling thread's (the main) client."""
        return self.client.request(method, path, payload, **kw)

    def post_reviews(
        self, count: int, threads: int = 4, tag: str = "", port: int | None = None
    ) -> list[Reply]:
        """POST `count` reviews round the specialists from `threads` clients; return the replies.

        `port` sends them straight to that server (one replica, past the proxy) instead.
        """
        base = base_url(port) if port else ""  # LabClient takes a full URL as it is
        replies: list[Reply | None] = [None] * count
        next_index = iter(range(count))
        lock = threading.Lock()

        def client():
            own = self.client.clone()  # a connection pool per thread
            try:
                while True:
                    with lock:
                        i = next(next_index, None)
                    if i is None:
                        break
                    sid = self.specialists[i % len(self.specialists)]
                    replies[i] = own.post(
                        f"{base}/api/specialists/{sid}/reviews",
                        {"rating": 1 + i % 10, "comment": f"{tag} #{i}"},
                    )
            finally:
                own.close()

        workers = [threading.Thread(target=client) for _ in range(max(1, threads))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return [r for r in replies if r is not None]


class Load:
    """Steady GETs from a few client threads until stopped (or max_seconds), every reply kept."""

    def __init__(self, api: Api, paths: list[str], threads: int = 3, max_seconds: float = 30):
        self.api, self.paths, self.threads = api, paths, threads
        self.deadline = time.monotonic() + max_seconds
        self.replies: list[Reply] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = [
            threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> Load:
        for w in self._workers:
            w.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> list[Reply]:
        self._stop.set()
        for w in self._workers:
            w.join()
        return self.replies

    def _client(self, i: int) -> None:
        own = self.api.client.clone()  # keep-alive; a broken connection is replaced by requests
        n = i
        try:
            while not self._stop.is_set() and time.monotonic() < self.deadline:
                path = self.paths[n % len(self.paths)]
                n += 1
                reply = own.get(path, timeout=10)
                with self._lock:
                    self.replies.append(reply)
        finally:
            own.close()

    def count(self) -> int:
        with self._lock:
            return len(self.replies)

    def wait_for(self, replies: int, timeout: float = 10) -> None:
        """Wait until the load has made `replies` more requests (it is really running)."""
        goal = self.count() + replies
        wait_until(lambda: self.count() >= goal, timeout, f"{replies} GETs of steady load")


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll predicate until it returns something truthy; return it, or raise at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)
