"""The lab's one Locust scenario, the same for every stage (names as in docs/RESULTS.md).

Each simulated user logs in once (session cookie or bearer token, whichever the stage answers
with), learns a page of specialist ids, then runs these tasks back to back (no think time, like
the course's 10 connections hammering the API), dealt from one shuffled deck of the weights
(every 71 tasks hold exactly one top-10: benchmarks/measure/deck.py says why):

    weight  task
      20    GET  /api/specialists               a random page 1..50
      20    GET  /api/specialists/{id}           one specialist
      20    GET  /api/specialists/{id}/reviews   a random page 1..20
      10    POST /api/specialists/{id}/reviews   rating 1..10, short comment (mail sent or queued)
       1    GET  /api/specialists/highest_rated  the top-10: ~0.4 s of CPU on 1M reviews when
            computed live, so 1 in 71 tasks: A/B runs of legacy on 2 cores gave 54-73 req/s
            at 1 in 36 against 85-87 at 1 in 71, which still gets ~30 top-10 samples in 30 s.
       1    report flow (only if LAB_FEATURES has "reports"): POST /api/reports, wait for the mail
            (poll up to 30 s), download the mailed link; records E2E request -> mail and -> csv.

Environment: LAB_INBOX_URL (mail simulator base URL), LAB_FEATURES (comma separated),
LAB_WINDOW_FILE (optional: where to write the load window's start/stop epochs as JSON),
LAB_LATENCY_FILE (optional: exact latencies of the window, benchmarks/measure/latency.py),
LAB_TIMING_FILE (optional: Server-Timing components per request name, benchmarks/measure/timing.py),
LAB_WINDOW_S (optional: the measured window's length; Locust's -t is then only a safety cap),
LAB_WARMUP_S (optional: seconds of the scenario run after the logins and before the window),
LAB_LOGINS_AT_ONCE (optional: logins in flight at once, the stage's hash slots; default 2).

Logins are set-up, not load: each user logs in (argon2id: seconds per login on a small CPU
budget) and waits until every user has; then the scenario warms the stack up for LAB_WARMUP_S,
the statistics are reset and the measured window starts, so throughput and latencies describe
the scenario, not the logins. The logins keep their own entry in latency.json and timing.json,
and the window file says how long they took.
Locust patches everything with gevent when it is imported: what this imports from the repo
(client, report_csv, latency, timing) stays plain Python without threads.
"""

from __future__ import annotations

import json
import os
import random
import time
from urllib.parse import urlsplit

import gevent
import gevent.event
import gevent.lock
import locust.stats
from locust import FastHttpUser, constant, events

from benchmarks.client import LabClient
from benchmarks.measure import latency, timing
from benchmarks.measure.deck import Deck
from benchmarks.measure.mix import CREATE, LIST, ONE, REPORT, REPORT_WEIGHT, REVIEWS, TOP, WEIGHTS
from benchmarks.measure.report_csv import csv_problem

EMAIL, PASSWORD = "email@example.com", "12345678"
INBOX_URL = os.environ.get("LAB_INBOX_URL", "http://127.0.0.1:8025").rstrip("/")
FEATURES = {f.strip() for f in os.environ.get("LAB_FEATURES", "").split(",") if f.strip()}
REPORT_DEADLINE_S = 30.0
INBOX_WAIT_S = 5.0  # one long poll of the inbox; mails to other users' reports end it early
REPORT_ROWS = 10

LOGIN = "POST /api/login"
DOWNLOAD = "GET report download"
E2E_MAIL = "E2E report: request -> mail"
E2E_CSV = "E2E report: request -> csv"
NAMES = (LOGIN, LIST, ONE, REVIEWS, CREATE, TOP, REPORT, DOWNLOAD, E2E_MAIL, E2E_CSV)
PAGE_KEYS = ("data", "current_page", "per_page", "total", "last_page")
COMMENTS = ("Great doctor.", "Very attentive.", "Long wait, good care.", "Clear answers.", None)


def _json(resp):
    try:
        return resp.json()
    except (ValueError, TypeError):
        return None


def check(resp, status: int, shape=None, authenticated: bool = True) -> object:
    """Mark a caught response failed unless status and JSON shape are right; return the JSON."""
    if resp.status_code == 401 and authenticated:
        resp.failure("auth: 401 Unauthorized")
        return None
    if resp.status_code != status:
        resp.failure(f"status {resp.status_code}, expected {status}: {(resp.text or '')[:200]}")
        return None
    data = _json(resp)
    problem = shape(data) if shape else None
    if problem:
        resp.failure(f"bad body: {problem}")
        return None
    resp.success()
    return data


def page_shape(data) -> str | None:
    if not isinstance(data, dict) or any(k not in data for k in PAGE_KEYS):
        return f"expected keys {PAGE_KEYS}"
    if not isinstance(data["data"], list):
        return "data is not a list"
    return None


def has_id(data) -> str | None:
    return None if isinstance(data, dict) and data.get("id") else "no id"


def top_shape(data) -> str | None:
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        return "expected {data: [...]}"
    return None if data["data"] else "empty top list"


def inbox(since_id: int, limit: int | None = None, wait_s: float = 0) -> list[dict]:
    """Read the mail simulator directly: reading mail is not API load, so it is not a Locust entry.

    `wait_s` long-polls: the simulator answers as soon as a matching mail arrives. Polling every
    0.1 s instead took half of the simulator's CPU budget while reports waited, which slowed the
    very mails being waited for (the harness loading the system it measures)."""
    query = f"to={EMAIL}&since_id={since_id}" + (f"&limit={limit}" if limit else "")
    query += f"&wait_s={wait_s:.3f}" if wait_s > 0 else ""
    reply = LabClient(INBOX_URL, timeout=wait_s + 10).get(f"/api/messages?{query}")
    if reply.status != 200:
        raise RuntimeError(f"mail simulator: {reply.status} {reply.error}".rstrip())
    return reply.json["messages"]


RECORDER = latency.install(events)
COLLECTOR = timing.install(events)  # collects only if LAB_TIMING_FILE is set
WINDOW_S = float(os.environ.get("LAB_WINDOW_S") or 0)
WARMUP_S = float(os.environ.get("LAB_WARMUP_S") or 0)
LOGIN_PHASE_MAX_S = float(os.environ.get("LAB_LOGIN_PHASE_MAX_S") or 120)
ALL_LOGGED_IN = gevent.event.Event()
# Logins at once: the stage's hash slots (LAB_LOGIN_MAX_HASHES, 2 per replica). More are shed
# with a 503 and Retry-After: 1, and the whole-second back-off cost 3-4 s of the 5 s the ten
# logins took; queued here, they take about one hash time each per slot.
LOGINS_AT_ONCE = gevent.lock.BoundedSemaphore(int(os.environ.get("LAB_LOGINS_AT_ONCE") or 2))
_users_ready = 0


@events.test_start.add_listener
def _window_start(environment, **_):
    _write_window(locust_start=time.time())
    # Users that cannot log in (or are never spawned) must not hold the window shut forever.
    gevent.spawn_later(LOGIN_PHASE_MAX_S, _open_window, environment, "login phase timed out")


def _user_ready(environment) -> None:
    """Count a user that logged in (or gave up); the last one opens the measured window."""
    global _users_ready
    _users_ready += 1
    runner = environment.runner
    expected = getattr(runner, "target_user_count", None) or environment.parsed_options.num_users
    if _users_ready >= (expected or 1):
        _open_window(environment)


def _open_window(environment, note: str = "") -> None:
    if ALL_LOGGED_IN.is_set():
        return
    ALL_LOGGED_IN.set()
    _write_window(logged_in=time.time(), **({"note": note} if note else {}))
    # The warm-up runs the scenario in this same run (no second start-up, no second logins);
    # what it did is dropped with the statistics when the window opens.
    gevent.spawn_later(WARMUP_S, _start_window, environment)


def _start_window(environment) -> None:
    environment.runner.stats.reset_all()
    RECORDER.restart(keep=(LOGIN,))
    if COLLECTOR is not None:
        COLLECTOR.restart(keep=(LOGIN,))
    now = time.time()
    _write_window(start=now, users_ready=_users_ready)
    if WINDOW_S:
        gevent.spawn_later(WINDOW_S, environment.runner.quit)


@events.test_stop.add_listener
def _window_stop(environment, **_):
    _write_window(stop=time.time())


@events.quitting.add_listener
def _final_csv(environment, **_):
    # Locust rewrites its CSVs once a second and does not write them again at exit, so the
    # last second of the run would be missing: give the writer one more turn before closing.
    if getattr(environment.parsed_options, "csv_prefix", None):
        gevent.sleep(locust.stats.CSV_STATS_INTERVAL_SEC + 0.2)


def _write_window(**times) -> None:
    # The bench reads the real load window from here, excluding Locust's start-up and exit.
    path = os.environ.get("LAB_WINDOW_FILE")
    if not path:
        return
    try:
        with open(path) as f:
            window = json.load(f)
    except (OSError, ValueError):
        window = {}
    window.update(times)
    with open(path, "w") as f:
        json.dump(window, f)


class LabUser(FastHttpUser):
    """One logged-in user browsing and reviewing specialists."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.auth: dict[str, str] = {}  # session stages rely on FastHttpSession's cookie jar
        self.ids: list[str] = []
        self.api_host = urlsplit(self.host).netloc
        # A login shed by the login limits (503: hashes running at once; 429), or lost to a
        # reset connection (status 0) or another 5xx, is tried again after its Retry-After
        # until the login phase ends: every user starts the window logged in, and each
        # refusal stays counted in the logins' own entry.
        give_up = time.monotonic() + LOGIN_PHASE_MAX_S
        while True:
            with (
                LOGINS_AT_ONCE,
                self.client.post(
                    "/api/login",
                    json={"email": EMAIL, "password": PASSWORD},
                    name=LOGIN,
                    catch_response=True,
                ) as resp,
            ):
                data = check(resp, 200, authenticated=False)
                status = resp.status_code or 0
                shed = status in (0, 429) or status >= 500  # 429/503: shared/throttle.py
                wait = resp.headers.get("Retry-After", "1")
            if not shed or time.monotonic() >= give_up:
                break
            # Counted as the failure it is; then back off as told, like a well-behaved client.
            time.sleep(min(5.0, float(wait) if wait.isdigit() else 1.0))
        if isinstance(data, dict) and data.get("token"):
            self.auth = {"Authorization": f"Bearer {data['token']}"}
        self.learn_ids()
        _user_ready(self.environment)
        ALL_LOGGED_IN.wait(LOGIN_PHASE_MAX_S)

    def learn_ids(self) -> None:
        """Keep a few specialist ids from the first page (a real, counted list request)."""
        with self.client.get(
            "/api/specialists?page=1&per_page=20", name=LIST, headers=self.auth, catch_response=True
        ) as resp:
            data = check(resp, 200, page_shape)
        if data:
            self.ids = [s["id"] for s in data["data"]]

    def specialist_id(self) -> str | None:
        if not self.ids:
            self.learn_ids()  # the first try failed, e.g. a 401 from a replica without our session
        return random.choice(self.ids) if self.ids else None

    def list_specialists(self) -> None:
        with self.client.get(
            f"/api/specialists?page={random.randint(1, 50)}",
            name=LIST,
            headers=self.auth,
            catch_response=True,
        ) as resp:
            check(resp, 200, page_shape)

    def get_specialist(self) -> None:
        sid = self.specialist_id()
        if sid:
            with self.client.get(
                f"/api/specialists/{sid}", name=ONE, headers=self.auth, catch_response=True
            ) as resp:
                check(resp, 200, has_id)

    def list_reviews(self) -> None:
        sid = self.specialist_id()
        if sid:
            with self.client.get(
                f"/api/specialists/{sid}/reviews?page={random.randint(1, 20)}",
                name=REVIEWS,
                headers=self.auth,
                catch_response=True,
            ) as resp:
                check(resp, 200, page_shape)

    def create_review(self) -> None:
        sid = self.specialist_id()
        if sid:
            body = {"rating": random.randint(1, 10), "comment": random.choice(COMMENTS)}
            with self.client.post(
                f"/api/specialists/{sid}/reviews",
                json=body,
                name=CREATE,
                headers=self.auth,
                catch_response=True,
            ) as resp:
                check(resp, 201, has_id)

    def highest_rated(self) -> None:
        with self.client.get(
            "/api/specialists/highest_rated", name=TOP, headers=self.auth, catch_response=True
        ) as resp:
            check(resp, 200, top_shape)

    def report(self) -> None:
        """Ask for a report, wait for its mail, download the mailed link and check the CSV."""
        since = max((m["id"] for m in inbox(0, limit=1)), default=0)
        started = time.time()
        with self.client.post(
            "/api/reports",
            json={"limit": REPORT_ROWS},
            name=REPORT,
            headers=self.auth,
            catch_response=True,
        ) as resp:
            data = check(resp, 202, has_id)
        if not data:
            return
        mail = None
        while mail is None and (left := REPORT_DEADLINE_S - (time.time() - started)) > 0:
            for message in inbox(since, wait_s=min(left, INBOX_WAIT_S)):
                since = max(since, message["id"])
                if message["headers"].get("X-Lab-Report-Id") == str(data["id"]):
                    mail = message
        if mail is None:
            error = Exception(f"no mail for report {data['id']} within {REPORT_DEADLINE_S:.0f} s")
            self.e2e(E2E_MAIL, started, error)
            self.e2e(E2E_CSV, started, error)
            return
        # received_at is the simulator's clock, the same machine's clock as ours.
        self.e2e(E2E_MAIL, started, None, end=mail["received_at"])
        link = mail["headers"].get("X-Lab-Link", "")
        # The bearer token is for the API only: never hand it to another host (object storage).
        headers = self.auth if urlsplit(link).netloc == self.api_host else {}
        with self.client.get(link, name=DOWNLOAD, headers=headers, catch_response=True) as resp:
            problem = (
                f"status {resp.status_code}"
                if resp.status_code != 200
                else csv_problem(resp.text or "", REPORT_ROWS)
            )
            if problem:
                resp.failure(problem)
            else:
                resp.success()
        self.e2e(E2E_CSV, started, Exception(problem) if problem else None)

    def e2e(self, name: str, started: float, error: Exception | None, end: float | None = None):
        """Record an end-to-end time as a custom Locust entry."""
        self.environment.events.request.fire(
            request_type="E2E",
            name=name,
            response_time=((end or time.time()) - started) * 1000,
            response_length=0,
            exception=error,
            context={},
        )

    def test_endpoint(self) -> None:
        with self.client.get("/api/test", name="GET /api/test", catch_response=True) as resp:
            check(resp, 200)

    # The mix (weights), dealt from one shuffled deck shared by every user of this process
    # (benchmarks/measure/deck.py: the top-10's count per window stays exact).
    # (benchmarks/measure/mix.py holds the weights, by each task's first request).
    mix = {
        list_specialists: WEIGHTS[LIST],
        get_specialist: WEIGHTS[ONE],
        list_reviews: WEIGHTS[REVIEWS],
        create_review: WEIGHTS[CREATE],
        highest_rated: WEIGHTS[TOP],
    }
    if "reports" in FEATURES:
        mix[report] = REPORT_WEIGHT
    if os.environ.get("LAB_SCENARIO") == "test-endpoint":
        # Only the cheapest endpoint: the bench's cross-check of Locust against wrk.
        mix = {test_endpoint: 1}

    def next_task(self) -> None:
        DECK.draw()(self)

    tasks = [next_task]


DECK = Deck(LabUser.mix)
