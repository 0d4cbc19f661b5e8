"""The Locust side of the offered-load ladder (benchmarks/measure/ladder.py): one scheduling user.

Run with `-u 1`: the single LadderUser logs in like the closed loop's users, then for each step
launches the scenario's tasks (benchmarks/measure/locustfile.py, same weights) at their scheduled
times from a gevent pool (Locust's documented way to get concurrency from one user: FastHttpUser's
`concurrency` sizes the HTTP connection pool to match). Each arrival's first request carries
its (step, scheduled time) in the request context (User.context()); ladder.Recorder times it from
the schedule. At the end it writes LAB_LADDER_FILE and stops the runner.
Environment: LAB_LADDER (a ladder.Config as JSON), LAB_LADDER_FILE, and the locustfile's own.
"""

from __future__ import annotations

import json
import os
import time

import gevent
import gevent.local
import gevent.pool
import numpy as np
from locust import constant, events

# A module, not a class: Locust runs every User class it finds here, and should run LadderUser only.
import benchmarks.measure.locustfile as scenario
from benchmarks.measure import ladder

CONFIG = ladder.Config.from_env()
RECORDER = ladder.Recorder()
events.request.add_listener(RECORDER.on_request)
_local = gevent.local.local()


class LadderUser(scenario.LabUser):
    """Launches the scenario's tasks on the ladder's schedule, whatever the answers do."""

    wait_time = constant(0)
    concurrency = CONFIG.max_in_flight

    def context(self) -> dict:
        # Only an arrival's first request is timed from its schedule (a report's later download
        # follows a mail, not the schedule); later ones are ordinary Locust entries.
        tag, _local.tag = getattr(_local, "tag", None), None
        return {"ladder": tag} if tag else {}

    def arrival(self, step: int, scheduled: float) -> None:
        _local.tag = (step, scheduled)
        try:
            scenario.DECK.draw()(self)  # the closed loop's mix, dealt the same way
        except Exception as exc:  # a task's own error must not end the ladder
            events.request.fire(request_type="LADDER", name="task error", response_time=0,
                                response_length=0, exception=exc, context={})  # fmt: skip
        finally:
            if _local.tag is not None:  # the task ended before its first request
                RECORDER.no_request(step)
            _local.tag = None

    def run_ladder(self) -> None:
        rng = np.random.default_rng(CONFIG.seed)
        pool = gevent.pool.Pool(CONFIG.max_in_flight)
        start = time.time() + 0.2
        for rate in CONFIG.rates:
            seconds = CONFIG.step_seconds(rate)
            step = RECORDER.begin(rate, start, seconds)
            for offset in ladder.arrivals(rate, seconds, CONFIG.arrivals, rng):
                scheduled = start + offset
                gevent.sleep(max(0.0, scheduled - time.time()))
                RECORDER.scheduled(step)
                if pool.full():
                    # Every in-flight slot taken: the arrival is dropped (k6's "dropped
                    # iterations"), never answered, so a failure of its step, which is marked
                    # behind schedule. Waiting for a slot instead would stretch a slow stage's
                    # ladder far past its schedule (measured: 35 s instead of 14 for legacy).
                    RECORDER.blocked(step)
                    continue
                pool.spawn(self.arrival, step, scheduled)
            start += seconds
        # What is still unanswered after the drain counts as failed in its step (Recorder).
        pool.join(timeout=CONFIG.drain_s)
        pool.kill(block=True, timeout=5)
        path = os.environ.get("LAB_LADDER_FILE")
        if path:
            with open(path, "w") as f:
                json.dump(RECORDER.points(), f, indent=1)
        self.environment.runner.quit()

    tasks = [run_ladder]
