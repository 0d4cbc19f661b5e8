"""Faults under load, on a running stage: kill a replica, a worker, the queue; refuse mail.

Each scenario takes a started `Stack` (embedded mode, everything on 127.0.0.1), injects one
fault with real signals and real processes, measures what a client and the inbox saw, puts
the stack back as it found it, and returns a `Figure`: the numbers, a one-line summary and
whether the target was met. Every load loop here is bounded in count and in time.

    python -m benchmarks.faults                   # every scenario on token-auth, print figures
    python -m benchmarks.faults worker-killed     # one of them
    python -m benchmarks.faults --table FILE      # the figures stored in FILE, as a table

`record_figure` prints `FIGURE name: summary` and, if LAB_FIGURES_FILE is set, stores the figure
in that JSON file (an object keyed by figure name), for the README's Reliability table.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import http.client
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from shared import db as dbmod

HOST = "127.0.0.1"
DEMO = {"email": "email@example.com", "password": "12345678"}

# Fast outbox settings for fault runs: sweep twice a second, re-queue after 3 s. The lease of a
# claimed mail is max(grace, SMTP timeout + 1 s), so the SMTP timeout is shortened as well.
FAULT_ENV = {"LAB_OUTBOX_SWEEP_SECONDS": "0.5", "LAB_OUTBOX_GRACE_SECONDS": "3",
             "LAB_SMTP_TIMEOUT": "2"}


# --- figures -----------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured result of a fault scenario."""

    name: str
    summary: str
    values: dict
    target: str
    met: bool

    def line(self) -> str:
        return f"FIGURE {self.name}: {self.summary}"


def record_figure(figure: Figure) -> Figure:
    """Print the figure and, if LAB_FIGURES_FILE is set, store it there (keyed by name)."""
    print(figure.line(), flush=True)
    path = os.environ.get("LAB_FIGURES_FILE")
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # several pytest processes may write at once
            f.seek(0)
            try:
                data = json.loads(f.read() or "{}")
            except ValueError:
                data = {}
            data[figure.name] = {"summary": figure.summary, "values": figure.values,
                                 "target": figure.target, "met": figure.met,
                                 "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
            f.seek(0)
            f.truncate()
            f.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return figure


# --- a tiny HTTP client ------------------------------------------------------------------------


@dataclass
class Reply:
    status: int          # 0: no HTTP answer at all (refused, reset, timed out)
    body: bytes
    headers: dict
    started: float       # time.monotonic()
    latency: float
    error: str = ""
    at: float = field(default_factory=time.time)  # wall clock when the answer (or failure) came

    @property
    def json(self):
        return json.loads(self.body)


def request(port: int, method: str, path: str, payload=None, headers=None,
            timeout: float = 15, conn: http.client.HTTPConnection | None = None) -> Reply:
    """Send one request to 127.0.0.1:port; never raises, a failure is a Reply with status 0."""
    body = json.dumps(payload).encode() if payload is not None else None
    all_headers = {"Content-Type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    own = conn is None
    conn = conn or http.client.HTTPConnection(HOST, port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=all_headers)
        resp = conn.getresponse()
        data = resp.read()
        return Reply(resp.status, data, {k.lower(): v for k, v in resp.getheaders()}, started,
                     time.monotonic() - started)
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        return Reply(0, b"", {}, started, time.monotonic() - started,
                     f"{type(exc).__name__}: {exc}")
    finally:
        if own:
            conn.close()


class Api:
    """The stage's API through its front door (the proxy when there is one), logged in."""

    def __init__(self, stack, port: int | None = None):
        self.stack = stack
        self.port = port or stack.options.port
        reply = request(self.port, "POST", "/api/login", DEMO)
        if reply.status != 200:
            raise RuntimeError(f"login failed: {reply.status} {reply.body[:200]!r} {reply.error}")
        token = reply.json.get("token")
        cookie = reply.headers.get("set-cookie", "").split(";", 1)[0]
        self.headers = {"Authorization": f"Bearer {token}"} if token else {"Cookie": cookie}
        self.specialists = [s["id"] for s in self.call(
            "GET", "/api/specialists?per_page=100").json["data"]]

    def call(self, method: str, path: str, payload=None, port: int | None = None,
             **kw) -> Reply:
        return request(port or self.port, method, path, payload, self.headers, **kw)

    def post_reviews(self, count: int, threads: int = 4, tag: str = "",
                     port: int | None = None) -> list[Reply]:
        """POST `count` reviews round the specialists from `threads` clients; return the replies."""
        replies: list[Reply | None] = [None] * count
        next_index = iter(range(count))
        lock = threading.Lock()

        def client():
            conn = http.client.HTTPConnection(HOST, port or self.port, timeout=15)
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    break
                sid = self.specialists[i % len(self.specialists)]
                replies[i] = request(port or self.port, "POST", f"/api/specialists/{sid}/reviews",
                                     {"rating": 1 + i % 10, "comment": f"{tag} #{i}"},
                                     self.headers, conn=conn)
                if replies[i].status == 0:
                    conn = http.client.HTTPConnection(HOST, port or self.port, timeout=15)
            conn.close()

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
        self._workers = [threading.Thread(target=self._client, args=(i,), daemon=True)
                         for i in range(threads)]

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
        conn = http.client.HTTPConnection(HOST, self.api.port, timeout=10)
        n = i
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            path = self.paths[n % len(self.paths)]
            n += 1
            reply = request(self.api.port, "GET", path, headers=self.api.headers, conn=conn)
            if reply.status == 0:
                conn = http.client.HTTPConnection(HOST, self.api.port, timeout=10)
            with self._lock:
                self.replies.append(reply)
        conn.close()

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


# --- processes: kill and bring back ------------------------------------------------------------


@dataclass
class Relaunchable:
    """What it takes to start a process of the stack again exactly as it was started."""

    proc: object      # benchmarks.stack.Proc
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
    spec.proc.popen = subprocess.Popen(spec.argv, cwd=spec.cwd, env=spec.env,
                                       stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
    log.close()


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def replica_back(stack, api: Api, replica: str, port: int, timeout: float = 30) -> None:
    """Wait until a relaunched replica answers /health and the proxy sends it traffic again."""
    wait_until(lambda: request(port, "GET", "/health", timeout=2).status == 200, timeout,
               f"{replica} /health")
    wait_until(lambda: request(api.port, "GET", "/api/test").headers.get("x-replica") == replica,
               timeout, f"the proxy to send requests to {replica} again", interval=0.02)


def redis_up(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# --- what was saved and what was mailed --------------------------------------------------------


class Ledger:
    """Compare the reviews in the database with the mails the simulator received."""

    def __init__(self, stack):
        self.stack = stack
        self.url = stack.env["LAB_DATABASE_URL"]
        self.inbox_port = stack.options.inbox_port

    def reviews_since(self, since: datetime) -> set[str]:
        """Ids of the reviews committed at or after `since` (naive UTC)."""
        from shared.models import Review

        database = dbmod.make_database(self.url)
        try:
            with database.bind_ctx([Review]):
                rows = Review.select(Review.id).where(Review.created_at >= since).tuples()
                return {str(uuid.UUID(str(r[0]))) for r in rows}
        finally:
            database.close()

    def outbox(self, refs: set[str]) -> Counter:
        """How many of these reviews' outbox rows are pending, sent or dropped."""
        from shared.models import MailOutbox

        database = dbmod.make_database(self.url)
        try:
            with database.bind_ctx([MailOutbox]):
                rows = MailOutbox.select(MailOutbox.ref, MailOutbox.status).tuples()
                return Counter(status for ref, status in rows if ref in refs)
        finally:
            database.close()

    def mails(self) -> list[dict]:
        reply = request(self.inbox_port, "GET", "/api/messages")
        if reply.status != 200:
            raise RuntimeError(f"mail simulator: {reply.status} {reply.error}")
        return reply.json["messages"]

    def mail_counts(self) -> Counter:
        """How many review mails arrived for each review id."""
        return Counter(m["headers"].get("X-Lab-Review-Id") for m in self.mails()
                       if m["headers"].get("X-Lab-Review-Id"))

    def wait_all_mailed(self, ids: set[str], timeout: float) -> Counter:
        """Wait (up to timeout) until every review id has a mail; return the counts seen."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.mail_counts()
            if all(counts[i] for i in ids) or time.monotonic() >= deadline:
                return counts
            time.sleep(0.2)


def utc_now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def mail_config(stack, **changes) -> dict:
    """Read (and change) the simulator's delay/reject settings and counters."""
    port = stack.options.inbox_port
    if changes:
        reply = request(port, "PUT", "/api/config", changes)
    else:
        reply = request(port, "GET", "/api/config")
    if reply.status != 200:
        raise RuntimeError(f"mail simulator config: {reply.status} {reply.body[:200]!r}")
    return reply.json


# --- the scenarios -----------------------------------------------------------------------------


def replica_killed(stack, *, victim: str = "app-2", kill_after: int = 150,
                   observe_seconds: float = 3.0, threads: int = 3) -> Figure:
    """SIGKILL one replica under steady GETs: how many GETs fail, how long the proxy sends to it.

    The proxy waits lb_try_interval (100 ms) before retrying a request on another replica, so a
    GET that took 100 ms or more after the kill is one the proxy first sent to the dead replica.
    """
    api = Api(stack)
    index = int(victim.split("-")[1]) - 1
    port = stack.replica_ports[index]
    paths = ["/api/test"] + [f"/api/specialists/{sid}" for sid in api.specialists[:5]]
    with Load(api, paths, threads=threads) as load:
        load.wait_for(kill_after)
        killed_at = time.monotonic()
        spec = kill(stack, victim)
        load.wait_for(1)
        time.sleep(observe_seconds)  # the fixed observation window after the fault
    replies = load.replies
    failed = [r for r in replies if r.status != 200]
    # A response the dead replica had begun (headers sent, body not) cannot be retried by any
    # proxy: the client sees it cut short. Everything else would be the proxy's failure.
    cut = [r for r in failed if r.error.startswith("IncompleteRead")]
    after = [r for r in replies if r.started + r.latency >= killed_at]
    retried = [r for r in after if r.latency >= 0.095]
    last_sent = max((r.started - killed_at for r in retried), default=0.0)
    relaunch(spec)
    replica_back(stack, api, victim, port)
    values = {"gets": len(replies), "failed": len(failed), "cut_mid_response": len(cut),
              "failed_by_proxy": len(failed) - len(cut), "retried_by_proxy": len(retried),
              "proxy_stopped_after_s": round(max(0.0, last_sent), 3),
              "errors": sorted({r.error or str(r.status) for r in failed})[:5]}
    summary = (f"failed GETs={len(failed)} of {len(replies)} ({len(cut)} cut mid-response by "
               f"the kill, {len(failed) - len(cut)} refused or 5xx); the proxy stopped sending to "
               f"the killed replica after {values['proxy_stopped_after_s']:.2f} s "
               f"({len(retried)} GETs retried on the other one)")
    return record_figure(Figure("replica-killed", summary, values, "failed GETs = 0",
                                not failed))


@contextlib.contextmanager
def sqlite_write_lock(database_url: str):
    """Hold the database's write lock: writers wait (busy_timeout), readers go on (WAL)."""
    if dbmod.backend_of(database_url) != "sqlite":
        raise RuntimeError("the drain scenario holds requests in flight with SQLite's write lock")
    conn = sqlite3.connect(str(dbmod.sqlite_path(database_url)), timeout=10,
                           isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


def _accepted_connections(pid: int, port: int) -> int:
    """Count the connections a gunicorn replica (master or workers) has accepted on its port."""
    count = 0
    try:
        family = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    for p in family:
        with contextlib.suppress(psutil.Error):
            count += sum(1 for c in p.net_connections("tcp")
                         if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
    return count


def replica_drained(stack, *, victim: str = "app-2", in_flight: int = 3, hold_seconds: float = 1.0,
                    threads: int = 2) -> Figure:
    """SIGTERM a replica while POSTs are in flight on it: they complete (graceful drain).

    To keep the POSTs in flight for certain, the scenario holds the SQLite write lock: each POST
    waits inside its transaction until the lock is released, `hold_seconds` after the SIGTERM.
    Meanwhile GETs and more POSTs keep coming through the proxy.
    """
    api = Api(stack)
    index = int(victim.split("-")[1]) - 1
    port = stack.replica_ports[index]
    proc = next(p for p in stack.procs if p.name == victim)
    since = utc_now_naive()
    results: list[Reply] = []
    via_proxy: list[Reply] = []
    paths = ["/api/test"] + [f"/api/specialists/{sid}" for sid in api.specialists[:5]]
    with Load(api, paths, threads=threads) as load:
        load.wait_for(20)
        with sqlite_write_lock(stack.env["LAB_DATABASE_URL"]):
            posters = [threading.Thread(target=lambda: results.extend(
                api.post_reviews(1, threads=1, tag="in-flight", port=port)))
                for _ in range(in_flight)]
            for t in posters:
                t.start()
            wait_until(lambda: _accepted_connections(proc.popen.pid, port) >= in_flight, 10,
                       f"{in_flight} POSTs accepted by {victim}")
            spec = kill(stack, victim, signal.SIGTERM)
            terminated_at = time.monotonic()
            proxy_poster = threading.Thread(target=lambda: via_proxy.extend(
                api.post_reviews(6, threads=2, tag="during-drain")))
            proxy_poster.start()
            time.sleep(hold_seconds)  # how long the in-flight requests outlive the SIGTERM
        # Lock released: the in-flight POSTs can commit now.
        for t in posters:
            t.join(timeout=30)
        proxy_poster.join(timeout=30)
        exit_code = proc.popen.wait(timeout=30)
        drained_in = time.monotonic() - terminated_at
        load.wait_for(5)
    gets = load.replies
    after = [r for r in gets if r.started + r.latency >= terminated_at]
    failed_gets = [r for r in gets if r.status != 200]
    created = {r.json["id"] for r in results + via_proxy if r.status == 201}
    saved = Ledger(stack).reviews_since(since)
    relaunch(spec)
    replica_back(stack, api, victim, port)
    values = {"in_flight_posts": in_flight,
              "in_flight_completed": sum(1 for r in results if r.status == 201),
              "posts_via_proxy_during_drain": len(via_proxy),
              "posts_via_proxy_failed": sum(1 for r in via_proxy if r.status != 201),
              "gets": len(gets), "gets_during_drain": len(after),
              "gets_failed": len(failed_gets), "exit_code": exit_code,
              "drained_in_s": round(drained_in, 2),
              "slowest_get_during_drain_s": round(max((r.latency for r in after), default=0), 2),
              "acknowledged_not_saved": len(created - saved),
              "saved_not_acknowledged": len(saved - created),
              "errors": sorted({f"{r.status} {r.error}" for r in
                                failed_gets + [r for r in via_proxy if r.status != 201]})[:5]}
    # New POSTs sent through the proxy while a replica drains are reported, not required to
    # pass: one can race the replica closing an idle keep-alive connection, and a proxy must not
    # retry a POST. Such a POST fails cleanly (502, nothing saved: checked below), never half-done.
    met = (values["in_flight_completed"] == in_flight and not failed_gets and exit_code == 0
           and created <= saved and not values["saved_not_acknowledged"])
    summary = (f"in-flight POSTs completed={values['in_flight_completed']} of {in_flight}; "
               f"POSTs via the proxy during the drain failed={values['posts_via_proxy_failed']} "
               f"of {len(via_proxy)}; failed GETs={len(failed_gets)} of {len(gets)}; "
               f"replica exited {exit_code} after {drained_in:.1f} s")
    return record_figure(Figure("replica-drained", summary, values,
                                "every in-flight request completes", met))


def worker_killed(stack, *, reviews: int = 500, kills: int = 3, sent_between_kills: int = 60,
                  timeout: float = 90) -> Figure:
    """Queue `reviews` mails, then SIGKILL the worker `kills` times while it drains them.

    Lost = reviews committed with no mail; duplicates = extra copies of a review's mail.
    """
    api = Api(stack)
    ledger = Ledger(stack)
    since = utc_now_naive()
    before = ledger.mail_counts()
    spec = kill(stack, "worker")  # stopped, so all of them are queued before it drains
    replies = api.post_reviews(reviews, tag="worker-killed")
    accepted = {r.json["id"] for r in replies if r.status == 201}
    killed = 0
    for _ in range(kills):
        relaunch(spec)
        floor = sum((ledger.mail_counts() - before).values())
        wait_until(lambda f=floor: sum((ledger.mail_counts() - before).values())
                   >= f + sent_between_kills, 30, "the worker to send mail again")
        spec = kill(stack, "worker")
        killed += 1
    relaunch(spec)
    saved = ledger.reviews_since(since)
    counts = ledger.wait_all_mailed(saved, timeout) - before
    lost = sorted(i for i in saved if not counts[i])
    duplicates = sum(n - 1 for i, n in counts.items() if i in saved and n > 1)
    # A row is marked sent just after the provider's "250 OK": give the last ones a moment.
    deadline = time.monotonic() + 15
    outbox = ledger.outbox(saved)
    while not lost and outbox.get("sent", 0) < len(saved) and time.monotonic() < deadline:
        time.sleep(0.2)
        outbox = ledger.outbox(saved)
    values = {"reviews_accepted": len(accepted), "reviews_saved": len(saved), "kills": killed,
              "mails_lost": len(lost), "duplicates": duplicates,
              "outbox": dict(outbox), "post_failures": sum(1 for r in replies if r.status != 201)}
    summary = (f"mails lost={len(lost)} duplicates={duplicates} of {len(saved)} reviews "
               f"(worker SIGKILLed {killed} times while draining)")
    return record_figure(Figure("worker-killed", summary, values, "mails lost = 0",
                                not lost and accepted <= saved and len(saved) >= reviews))


def provider_down(stack, *, reviews: int = 30, outage_seconds: float = 5.0,
                  timeout: float = 60) -> Figure:
    """The mail provider answers 451 for a while, then recovers: nothing lost, how late."""
    api = Api(stack)
    ledger = Ledger(stack)
    since = utc_now_naive()
    before = ledger.mail_counts()
    rejected_before = mail_config(stack)["rejected"]
    mail_config(stack, reject=True)
    down_at = time.time()
    try:
        replies = api.post_reviews(reviews, tag="provider-down")
        time.sleep(max(0.0, down_at + outage_seconds - time.time()))  # the outage's length
    finally:
        mail_config(stack, reject=False)
    up_at = time.time()
    posted_at = {r.json["id"]: r.at for r in replies if r.status == 201}
    saved = ledger.reviews_since(since)
    counts = ledger.wait_all_mailed(saved, timeout) - before
    received = {m["headers"]["X-Lab-Review-Id"]: m["received_at"] for m in ledger.mails()
                if m["headers"].get("X-Lab-Review-Id") in saved}
    lost = sorted(i for i in saved if not counts[i])
    delays = sorted(received[i] - posted_at[i] for i in received if i in posted_at)
    after_recovery = max((t - up_at for t in received.values()), default=0.0)
    rejected = mail_config(stack)["rejected"] - rejected_before
    values = {"reviews": len(saved), "outage_s": outage_seconds, "mails_lost": len(lost),
              "duplicates": sum(n - 1 for i, n in counts.items() if i in saved and n > 1),
              "delay_median_s": round(statistics.median(delays), 2) if delays else None,
              "delay_max_s": round(delays[-1], 2) if delays else None,
              "last_mail_after_recovery_s": round(after_recovery, 2),
              "smtp_attempts_refused": rejected,
              "refused_per_mail": round(rejected / max(1, len(saved)), 1)}
    summary = (f"mails lost={len(lost)} of {len(saved)} during a {outage_seconds:.0f} s outage; "
               f"delay until delivered median {values['delay_median_s']} s, max "
               f"{values['delay_max_s']} s (last one {after_recovery:.1f} s after recovery); "
               f"{values['refused_per_mail']} refused attempts per mail (no hot loop)")
    return record_figure(Figure("provider-down", summary, values, "mails lost = 0",
                                not lost and len(saved) == reviews))


def queue_down(stack, *, reviews: int = 10, timeout: float = 60) -> Figure:
    """Stop the queue server, post reviews, bring it back (empty): no saved review loses its mail.

    A review is either saved (201) and mailed once the server is back, or refused (503) and not
    saved. The server comes back without its data, as an embedded one without persistence does.
    """
    api = Api(stack)
    ledger = Ledger(stack)
    since = utc_now_naive()
    before = ledger.mail_counts()
    url = stack.env["LAB_REDIS_URL"]
    spec = kill(stack, "valkey")
    wait_until(lambda: not redis_up(url), 10, "the queue server to stop")
    replies = api.post_reviews(reviews, threads=2, tag="queue-down")
    relaunch(spec)
    back_at = time.time()
    wait_until(lambda: redis_up(url), 15, "the queue server to come back")
    saved = ledger.reviews_since(since)
    created = {r.json["id"] for r in replies if r.status == 201}
    refused = [r for r in replies if r.status == 503]
    other = [r for r in replies if r.status not in (201, 503)]
    counts = ledger.wait_all_mailed(saved, timeout) - before
    received = [m["received_at"] for m in ledger.mails()
                if m["headers"].get("X-Lab-Review-Id") in saved]
    lost = sorted(i for i in saved if not counts[i])
    values = {"posted": len(replies), "saved": len(saved), "answered_201": len(created),
              "answered_503": len(refused), "other_answers": len(other),
              "saved_but_not_acknowledged": len(saved - created), "mails_lost": len(lost),
              "mailed_after_return_s": round(max(received) - back_at, 2) if received else None,
              "post_latency_max_s": round(max((r.latency for r in replies), default=0), 3)}
    summary = (f"reviews saved={len(saved)} (201: {len(created)}, 503: {len(refused)}) while the "
               f"queue server was down; mails lost={len(lost)}; all delivered "
               f"{values['mailed_after_return_s']} s after it came back")
    met = not lost and not other and created <= saved and not (saved - created)
    return record_figure(Figure("queue-down", summary, values, "mails lost = 0", met))


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cache_down(stack, *, window_seconds: float = 3.0, threads: int = 3) -> Figure:
    """Stop the cache server under top-10 load: no 5xx, and what the latency becomes meanwhile."""
    api = Api(stack)
    url = stack.env["LAB_REDIS_URL"]
    with Load(api, ["/api/specialists/highest_rated"], threads=threads) as load:
        load.wait_for(50)  # warm: the entry is cached
        healthy_from = time.monotonic()
        time.sleep(window_seconds)  # the measuring windows: healthy, degraded, recovered
        spec = kill(stack, "valkey")
        degraded_from = time.monotonic()
        time.sleep(window_seconds)
        relaunch(spec)
        wait_until(lambda: redis_up(url), 15, "the cache server to come back")
        recovered_from = time.monotonic()
        time.sleep(window_seconds)
    replies = load.replies

    def window(start: float, end: float) -> list[Reply]:
        return [r for r in replies if start <= r.started < end]

    healthy = window(healthy_from, degraded_from)
    degraded = window(degraded_from, recovered_from)
    recovered = window(recovered_from, float("inf"))
    errors = [r for r in replies if r.status >= 500 or r.status == 0]

    def p95_ms(rs):
        value = _percentile([r.latency for r in rs if r.status == 200], 0.95)
        return round(value * 1000, 1) if value is not None else None

    values = {"gets": len(replies), "5xx": len(errors),
              "5xx_while_degraded": sum(1 for r in degraded if r in errors),
              "non_200": sum(1 for r in replies if r.status != 200),
              "p95_ms_healthy": p95_ms(healthy), "p95_ms_degraded": p95_ms(degraded),
              "p95_ms_recovered": p95_ms(recovered),
              "gets_healthy": len(healthy), "gets_degraded": len(degraded),
              "gets_recovered": len(recovered)}
    summary = (f"5xx={len(errors)} of {len(replies)} top-10 GETs; p95 {values['p95_ms_healthy']} "
               f"ms cached, {values['p95_ms_degraded']} ms with the cache server down (answered "
               f"from the database), {values['p95_ms_recovered']} ms once it was back")
    return record_figure(Figure("cache-down", summary, values, "5xx = 0",
                                not errors and values["non_200"] == 0))


def _fetch(url: str, timeout: float = 10) -> tuple[int, bytes]:
    """GET a URL, following redirects (the 303 to storage); 4xx/5xx are returned, not raised."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:
        return 0, str(exc).encode()


def _complete_csv(body: bytes, rows: int) -> bool:
    lines = body.decode(errors="replace").strip().splitlines()
    return bool(lines) and lines[0].startswith("rank,id") and len(lines) == rows + 1


def _report(api: Api, limit: int) -> str:
    reply = api.call("POST", "/api/reports", {"limit": limit})
    if reply.status != 202:
        raise RuntimeError(f"POST /api/reports: {reply.status} {reply.body[:200]!r}")
    return reply.json["id"]


def _report_status(api: Api, report_id: str) -> dict:
    return api.call("GET", f"/api/reports/{report_id}").json


def _settled(api: Api, report_id: str, timeout: float) -> dict:
    return wait_until(lambda: (lambda r: r if r["status"] != "pending" else None)(
        _report_status(api, report_id)), timeout, f"report {report_id} to be ready or failed",
        interval=0.2)


def storage_down(stack, *, short_outage_seconds: float = 2.0, timeout: float = 60) -> Figure:
    """Object storage stops while reports are built: each ends ready (retried) or failed, and
    no mailed or listed link points at a missing or partial file."""
    api = Api(stack)
    ledger = Ledger(stack)
    s3_port = int(stack.env["LAB_S3_ENDPOINT"].rsplit(":", 1)[1])

    spec = kill(stack, "s3")
    wait_until(lambda: not port_open(s3_port), 10, "the storage server to stop")
    retried = _report(api, limit=7)
    time.sleep(short_outage_seconds)  # back within the build task's retries
    relaunch(spec)
    wait_until(lambda: port_open(s3_port), 15, "the storage server to come back")
    retried_end = _settled(api, retried, timeout)
    limits = {retried: 7}
    bad_links: list[tuple[str, int]] = []
    checked = 0

    def check_links(rid: str, end: dict) -> None:
        """Fetch every link to this report, mailed or listed, at once (links expire)."""
        nonlocal checked
        links = [end["download_url"]] if "download_url" in end else []
        if end["status"] == "ready":
            mail = wait_until(lambda: next((m for m in ledger.mails()
                                            if m["headers"].get("X-Lab-Report-Id") == rid),
                                           None), 20, "the report mail")
            links.append(mail["headers"]["X-Lab-Link"])
        for link in links:
            status, body = _fetch(link)
            checked += 1
            if status != 200 or not _complete_csv(body, limits[rid]):
                bad_links.append((rid, status))

    check_links(retried, retried_end)
    spec = kill(stack, "s3")
    wait_until(lambda: not port_open(s3_port), 10, "the storage server to stop")
    try:
        abandoned = _report(api, limit=9)
        limits[abandoned] = 9
        abandoned_end = _settled(api, abandoned, timeout)  # down for all of its retries
    finally:
        relaunch(spec)
        wait_until(lambda: port_open(s3_port), 15, "the storage server to come back")
    check_links(abandoned, abandoned_end)
    ends = {retried: retried_end, abandoned: abandoned_end}
    mails = [m for m in ledger.mails() if m["headers"].get("X-Lab-Report-Id") in limits]
    statuses = {rid: ends[rid]["status"] for rid in limits}
    mailed_failed = [m for m in mails if statuses[m["headers"]["X-Lab-Report-Id"]] != "ready"]
    values = {"storage_back_within_retries": statuses[retried],
              "storage_down_throughout": statuses[abandoned],
              "error_of_the_failed": ends[abandoned].get("error", "")[:200],
              "links_checked": checked, "bad_links": len(bad_links),
              "mails_for_failed_reports": len(mailed_failed)}
    summary = (f"report with storage back after {short_outage_seconds:.0f} s: "
               f"{statuses[retried]}; with storage down throughout: {statuses[abandoned]}; "
               f"links to a missing or partial file={len(bad_links)} of {checked} checked")
    met = (not bad_links and not mailed_failed and statuses[retried] == "ready"
           and statuses[abandoned] == "failed")
    return record_figure(Figure("storage-down", summary, values,
                                "no link to a missing or partial file", met))


def report_access(stack, *, other_email: str = "other-user@example.com",
                  other_password: str = "another-password-123") -> Figure:
    """Hostile access to reports: another user's id, forged and expired links, an anonymous
    look at the bucket. Needs the stage started with a short LAB_LINK_TTL (a few seconds)."""
    from shared.models import User
    from shared.passwords import hash_password

    database = dbmod.make_database(stack.env["LAB_DATABASE_URL"])
    try:
        with database.bind_ctx([User]):
            User.get_or_create(email=other_email,
                               defaults={"password_hash": hash_password(other_password)})
    finally:
        database.close()
    api = Api(stack)
    report_id = _report(api, limit=5)
    end = _settled(api, report_id, 60)
    if end["status"] != "ready":
        raise RuntimeError(f"report {report_id} ended {end}")
    link = end["download_url"]
    base, token = link.split("?token=")
    user, expires, signature = token.split(".")
    attempts: dict[str, int] = {}

    login = request(api.port, "POST", "/api/login", {"email": other_email,
                                                     "password": other_password})
    other = {"Authorization": f"Bearer {login.json['token']}"}
    attempts["another user's report id"] = request(api.port, "GET", f"/api/reports/{report_id}",
                                                   headers=other).status
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    attempts["tampered signature"] = _fetch(f"{base}?token={user}.{expires}.{flipped}")[0]
    attempts["later expiry"] = _fetch(f"{base}?token={user}.{int(expires) + 3600}.{signature}")[0]
    attempts["another user in the token"] = _fetch(
        f"{base}?token={int(user) + 1}.{expires}.{signature}")[0]
    attempts["no token"] = _fetch(base)[0]
    first_status, first_body = _fetch(link)
    parts = urlsplit(link)
    presigned = request(parts.port, "GET", f"{parts.path}?{parts.query}").headers.get("location")
    s3 = stack.env["LAB_S3_ENDPOINT"]
    bucket = stack.env.get("LAB_S3_BUCKET", "reports")
    attempts["anonymous bucket listing"] = _fetch(f"{s3}/{bucket}")[0]
    attempts["anonymous object read"] = _fetch(f"{s3}/{bucket}/{report_id}.csv")[0]
    unsigned_put = request(int(s3.rsplit(":", 1)[1]), "PUT", f"/{bucket}/planted.csv",
                           headers={"Content-Type": "text/csv"})
    attempts["anonymous object write"] = unsigned_put.status
    # The link and the storage URL it redirects to (signed a little later) both stop working
    # once their time is up.
    wait_until(lambda: _fetch(link)[0] != 200, 30, "the signed link to expire", interval=0.25)
    attempts["expired link"] = _fetch(link)[0]
    if presigned:
        wait_until(lambda: _fetch(presigned)[0] != 200, 30, "the storage URL to expire",
                   interval=0.25)
    attempts["expired storage URL"] = _fetch(presigned)[0] if presigned else 0
    accepted = {name: status for name, status in attempts.items()
                if status == 200 or not 400 <= status < 500}
    values = {"attempts": attempts, "accepted": accepted, "link_worked_first": first_status,
              "complete_csv": _complete_csv(first_body, 5)}
    summary = (f"hostile report accesses let through={len(accepted)} of {len(attempts)} "
               f"(another user's id, forged/expired links, anonymous bucket list/read/write); "
               f"the genuine link gave {first_status}")
    met = not accepted and first_status == 200 and values["complete_csv"]
    return record_figure(Figure("report-access", summary, values, "let through = 0", met))


SCENARIOS = {
    "replica-killed": replica_killed,
    "replica-drained": replica_drained,
    "worker-killed": worker_killed,
    "provider-down": provider_down,
    "queue-down": queue_down,
}


def figures_table(path: str | Path) -> str:
    """Render a LAB_FIGURES_FILE as the Markdown table of the README's Reliability section."""
    data = json.loads(Path(path).read_text())
    lines = ["| figure | measured | target | met |", "|---|---|---|---|"]
    for name in sorted(data):
        f = data[name]
        lines.append(f"| `{name}` | {f['summary']} | {f['target']} | "
                     f"{'yes' if f['met'] else '**no**'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.stack import Options, Stack, free_port
    from shared.seed import Scale

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"any of {', '.join(SCENARIOS)} (default: all, in this order)")
    parser.add_argument("--stage", default="token-auth")
    parser.add_argument("--table", metavar="FIGURES_FILE",
                        help="print the figures stored in FIGURES_FILE as a Markdown table")
    args = parser.parse_args(argv)
    if args.table:
        print(figures_table(args.table))
        return 0
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    options = Options(port=free_port(), inbox_port=free_port(), smtp_port=free_port(),
                      mail_delay_ms=20, scale=Scale(20, 20), env=dict(FAULT_ENV), quiet=True)
    failed = 0
    with Stack(args.stage, options) as stack:
        for name in args.scenarios or SCENARIOS:
            figure = SCENARIOS[name](stack)
            failed += not figure.met
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
