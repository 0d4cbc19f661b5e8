"""The probe: each endpoint alone, one request at a time, paced under the boxes' budgets."""

from __future__ import annotations

import pytest


def fake_client(answer, server_timing: str = ""):
    """A LabClient stand-in for the probe: every request is a 200 with one specialist; `answer`
    is called with each URL (to record it, or to let time pass)."""
    from types import SimpleNamespace

    class FakeClient:
        def __init__(self, *_, **__):
            pass

        def login(self):
            return self

        def get(self, path):
            return self.request("GET", path)

        def request(self, method, url, body=None):
            answer(url)
            page = {"data": [{"id": "s1"}]}
            return SimpleNamespace(
                status=200, header=lambda _: server_timing, json_or_none=lambda: page
            )

    return FakeClient


@pytest.mark.parametrize(("server_timing", "calls"), [("db;dur=60", 3), ("cache;dur=1, db", 4)])
def test_a_slow_first_call_that_fills_no_cache_is_a_probe_sample(monkeypatch, server_timing, calls):
    """A live top-10 in a quarter-core box takes ~2 s: its first call is kept as a sample unless
    it filled a cache (then it is the miss, and only the next calls are the endpoint alone)."""
    import time as clock
    from types import SimpleNamespace

    from benchmarks.measure import probe as probe_mod

    top = "/api/specialists/highest_rated"
    seen = []

    def answer(url):
        seen.append(url)
        if url == top:
            clock.sleep(0.03)

    monkeypatch.setattr(probe_mod, "LabClient", fake_client(answer, server_timing))
    monkeypatch.setattr(probe_mod, "SLOW_MS", 20.0)
    stack = SimpleNamespace(urls={"api": "http://127.0.0.1:1/api"}, replicas=1)
    found = probe_mod.probe(stack, [], samples=3)
    assert seen.count(top) == calls
    assert len(found["GET /api/specialists/highest_rated"]["ms"]) == 3
    # The machine's speed loop just before and after each endpoint's samples (noise_sources).
    assert all(len(e["speed_ms"]) == 2 and min(e["speed_ms"]) > 0 for e in found.values())


def test_the_probe_paces_its_requests_under_the_app_box_budget(monkeypatch):
    """Back to back, a 3 ms request spent a 0.25-core box's 25 ms quota every ~8 requests and the
    next one waited out the 100 ms period (~65 ms "alone"): the probe pauses after each request."""
    from types import SimpleNamespace

    from benchmarks.measure import probe as probe_mod

    assert probe_mod.pause_s(0.003, None) == 0  # no budget, no pause
    pace = probe_mod.PACE * 0.25  # the share of a 0.25-core box's time the probe keeps it busy
    assert probe_mod.pause_s(0.003, 0.25) == pytest.approx(0.003 * (1 / pace - 1))
    assert probe_mod.pause_s(1.5, 0.25) == 0.1  # a long one: one period, the quota is whole
    assert probe_mod.pause_s(0.003, 2.0) == 0  # a box bigger than the pace needs no pause
    # Where the boxes count CPU, the request's own CPU decides: legacy's POST review waits
    # ~100 ms on its SMTP send with ~5 ms of CPU and needs no pause; 3 ms of CPU in 4 ms does.
    assert probe_mod.pause_s(0.1, 0.25, cpu_s=0.005) == 0
    assert probe_mod.pause_s(0.004, 0.25, cpu_s=0.003) == pytest.approx(0.003 / pace - 0.004)
    used = [1.0, 5.0]  # the app's box, the proxy's (not the app's CPU: not counted)
    stat = lambda i: lambda: SimpleNamespace(usage_s=used[i])  # noqa: E731
    named = {"app-1": ("app", SimpleNamespace(stats=stat(0))),
             "caddy": ("proxy", SimpleNamespace(stats=stat(1)))}  # fmt: skip
    counted = SimpleNamespace(boxes=named)
    before = probe_mod._readings(counted)
    used[0] += 0.003
    used[1] += 0.002
    assert probe_mod._app_used(counted, before, probe_mod._readings(counted)) == pytest.approx(
        0.003
    )
    assert probe_mod._app_used(counted, None, before) is None  # no budget: nothing read

    slept, now = [], [0.0]
    # Every request takes 3 ms.
    monkeypatch.setattr(
        probe_mod, "LabClient", fake_client(lambda _: now.__setitem__(0, now[0] + 0.003))
    )
    monkeypatch.setattr(probe_mod.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(
        probe_mod.time, "sleep", lambda s: (slept.append(s), now.__setitem__(0, now[0] + s))
    )
    boxes = SimpleNamespace(enforced=True, replica_cpus=0.25)
    stack = SimpleNamespace(urls={"api": "http://127.0.0.1:1/api"}, replicas=1, boxes=boxes)
    found = probe_mod.probe(stack, [], samples=5)
    assert len(found["GET /api/test"]["ms"]) == 5
    busy = 0.003 * len(slept)
    assert busy / (busy + sum(slept)) == pytest.approx(pace)  # the box at PACE of its 0.25 core
    stack.boxes = SimpleNamespace(enforced=False, replica_cpus=0.25)  # asked, not enforced
    slept.clear()
    probe_mod.probe(stack, [], samples=5)
    assert set(slept) <= {0.0}


def test_the_probe_says_which_samples_an_app_box_was_throttled_in(monkeypatch):
    """One repeat's POST /api/reports alone had 2 samples of 85-91 ms among 4-5 ms ones: the
    probe says which samples an app box was made to wait in (its throttled time grew)."""
    from types import SimpleNamespace

    from benchmarks.measure import probe as probe_mod

    counters, calls = {"usage_s": 1.0, "throttled_s": 0.0}, []

    def answer(url):
        calls.append(url)
        counters["usage_s"] += 0.001
        if url == "/api/test" and len(calls) in (5, 7):  # the 3rd and 5th samples (1 untimed)
            counters["throttled_s"] += 0.08

    monkeypatch.setattr(probe_mod, "LabClient", fake_client(answer))
    monkeypatch.setattr(probe_mod.time, "sleep", lambda s: None)
    stat = lambda: SimpleNamespace(**counters)  # noqa: E731
    app = SimpleNamespace(stats=stat, cores=0.25)
    boxes = SimpleNamespace(enforced=True, replica_cpus=0.25, boxes={"app-1": ("app", app)})
    stack = SimpleNamespace(urls={"api": "http://127.0.0.1:1/api"}, replicas=1, boxes=boxes)
    found = probe_mod.probe(stack, [], samples=5)
    assert found["GET /api/test"]["throttled"] == [2, 4]
    assert found["GET /api/specialists"]["throttled"] == []
    stack.boxes = SimpleNamespace(enforced=False, replica_cpus=0.25)  # no budget: not said
    assert "throttled" not in probe_mod.probe(stack, [], samples=5)["GET /api/test"]


def _clocked(monkeypatch, probe_mod, answer):
    """A fake clock the client's answers and the probe's sleeps move; returns (now, slept)."""
    now, slept = [0.0], []
    monkeypatch.setattr(probe_mod, "LabClient", fake_client(lambda url: answer(url, now)))
    monkeypatch.setattr(probe_mod.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(
        probe_mod.time, "sleep", lambda s: (slept.append(s), now.__setitem__(0, now[0] + s))
    )
    return now, slept


def test_the_probe_keeps_the_worker_box_under_its_budget_not_only_the_app_box(monkeypatch):
    """Sent every ~25 ms, POST /api/reports outran the worker's 0.2 core: its box was throttled
    while it held SQLite's write lock, and 2 of 20 samples waited 80-105 ms in "db". The work a
    request leaves to the worker comes after its answer: the probe paces by every box's CPU
    over the last two samples, so the worker too stays under PACE of its budget."""
    from types import SimpleNamespace

    from benchmarks.measure import probe as probe_mod

    used, started = {"app-1": 0.0, "worker": 0.0}, []

    def answer(url, now):
        now[0] += 0.004  # every request 4 ms, 2 ms of the app's CPU
        used["app-1"] += 0.002
        if url == "/api/reports":
            started[:] = started or [now[0] - 0.004]
            used["worker"] += 0.015  # the report's build and mail, after the answer

    now, slept = _clocked(monkeypatch, probe_mod, answer)

    def box(name, cores):
        return SimpleNamespace(cores=cores, stats=lambda: SimpleNamespace(
            usage_s=used[name], throttled_s=0.0, nr_periods=0, nr_throttled=0))  # fmt: skip

    boxes = SimpleNamespace(enforced=True, replica_cpus=0.25,
                            boxes={"app-1": ("app", box("app-1", 0.25)),
                                   "worker": ("worker", box("worker", 0.2))})  # fmt: skip
    stack = SimpleNamespace(urls={"api": "http://127.0.0.1:1/api"}, replicas=1, boxes=boxes)
    found = probe_mod.probe(stack, ["reports"], samples=20)
    assert len(found["POST /api/reports"]["ms"]) == 20
    assert used["worker"] == pytest.approx(21 * 0.015)  # 20 samples + the untimed first call
    # From the first report to the end, the worker within its 0.2 core (a pause is at most one
    # period: then its quota is whole again). Paced by the app's box alone (4 ms, then ~12 ms
    # of pause), it would have been asked for ~0.9 core.
    assert used["worker"] / (now[0] - started[0]) <= 0.2


def test_a_post_waits_for_the_mail_it_owes_before_the_next_sample(monkeypatch):
    """In the asynchronous stages the worker sends a POST's mail after the answer: the next
    sample waits for it (one long poll of the inbox), so it does not meet the worker busy with the
    previous one. A GET owes none; where the mail never comes, the probe stops waiting."""
    from types import SimpleNamespace

    from benchmarks.measure import probe as probe_mod

    events, newest = [], [7]

    def answer(url, now):
        events.append(url)

    _clocked(monkeypatch, probe_mod, answer)
    mails = {"/api/reports": True}  # which POSTs are mailed (the review's mail is lost here)

    def wait_past(inbox, since_id, wait_s):
        assert inbox == "http://127.0.0.1:2" and wait_s == probe_mod.MAIL_WAIT_S
        sent = mails.get(events[-1], False)
        events.append("mail" if sent else "no mail")
        if sent:
            newest[0] += 1
            return newest[0]
        return None

    monkeypatch.setattr(probe_mod.mailbox, "newest_id", lambda inbox: newest[0])
    monkeypatch.setattr(probe_mod.mailbox, "wait_past", wait_past)
    urls = {"api": "http://127.0.0.1:1/api", "inbox": "http://127.0.0.1:2/"}
    stack = SimpleNamespace(urls=urls, replicas=1)
    found = probe_mod.probe(stack, ["reports"], samples=3)
    reports = events[events.index("/api/reports") :]
    assert reports == ["/api/reports", "mail"] * 4  # the untimed first call and 3 samples
    assert found["POST /api/reports"]["mail_late"] == 0
    reviews = [e for e in events if "reviews" in e or "mail" in e][: 4 * 2]
    assert reviews.count("no mail") == 2  # two mails that never came: no more waiting
    assert found["POST /api/specialists/{id}/reviews"]["mail_late"] == 2
    assert "mail_waited" not in found["GET /api/test"]
    assert events[events.index("/api/test") + 1] == "/api/test"  # a GET waits for nothing


def test_the_probe_starts_once_every_box_has_been_quiet_for_a_period(monkeypatch):
    """Capped right after verification, an app box still busy started the probe throttled: its
    first samples of GET /api/test took 67-73 ms in 3 of 9 stage runs."""
    from types import SimpleNamespace

    from benchmarks.measure import probe as probe_mod

    used, busy_until = [0.0], 0.38

    def stats():
        return SimpleNamespace(usage_s=used[0], throttled_s=0.0)

    now, slept = _clocked(monkeypatch, probe_mod, lambda url, now: None)
    real_sleep = probe_mod.time.sleep

    def sleep(s):  # verification's work goes on, a full 0.25 core, until busy_until
        used[0] += max(0.0, min(now[0] + s, busy_until) - now[0]) * 0.25
        real_sleep(s)

    monkeypatch.setattr(probe_mod.time, "sleep", sleep)
    boxes = SimpleNamespace(boxes={"app-1": ("app", SimpleNamespace(stats=stats, cores=0.25))})
    assert probe_mod._quiet(boxes)
    assert now[0] >= busy_until + probe_mod.PERIOD_US / 1e6  # a whole quiet period after it
    busy_until = 1e9  # never quiet: it gives up at the deadline and says so
    assert not probe_mod._quiet(boxes, deadline_s=1.0)
    assert probe_mod._quiet(SimpleNamespace())  # no boxes: nothing to wait for


def test_the_probe_names_every_box_throttled_in_a_sample(monkeypatch):
    """A slow POST /api/reports alone (85 ms, 79 of them in "db") had no app box throttled but
    the worker's: probe.json names each box a sample waited in, and keeps its Server-Timing."""
    from types import SimpleNamespace

    from benchmarks.measure import probe as probe_mod

    throttled = {"app-1": 0.0, "worker": 0.0}
    calls = []

    def answer(url, now):
        calls.append(url)
        if url == "/api/reports" and calls.count(url) == 3:  # its 2nd sample (1 untimed call)
            throttled["worker"] += 0.07

    _clocked(monkeypatch, probe_mod, answer)
    monkeypatch.setattr(probe_mod, "LabClient", fake_client(
        lambda url: answer(url, None), "db;dur=79.0, queue;dur=0.4, app;dur=1.1"))  # fmt: skip

    def box(name):
        return SimpleNamespace(cores=0.25, stats=lambda: SimpleNamespace(
            usage_s=None, throttled_s=throttled[name]))  # fmt: skip

    named = {"app-1": ("app", box("app-1")), "worker": ("worker", box("worker"))}
    boxes = SimpleNamespace(enforced=True, replica_cpus=0.25, boxes=named)
    stack = SimpleNamespace(urls={"api": "http://127.0.0.1:1/api"}, replicas=1, boxes=boxes)
    found = probe_mod.probe(stack, ["reports"], samples=4)["POST /api/reports"]
    assert found["throttled"] == []  # no app box
    assert found["throttled_boxes"] == {"worker": [1]}
    assert found["server"][1] == {"db": 79.0, "queue": 0.4, "app": 1.1}


def test_a_box_throttled_while_the_probe_waits_for_the_mail_is_not_the_samples(monkeypatch):
    """The worker builds and mails a report after its answer, and may be throttled then: that
    is not a wait of the request, which had its answer already."""
    from types import SimpleNamespace

    from benchmarks.measure import probe as probe_mod

    throttled = {"app-1": 0.0, "worker": 0.0}
    _clocked(monkeypatch, probe_mod, lambda url, now: None)

    def wait_past(inbox, since_id, wait_s):  # the worker, throttled while it sends the mail
        throttled["worker"] += 0.05
        return since_id + 1

    monkeypatch.setattr(probe_mod.mailbox, "newest_id", lambda inbox: 0)
    monkeypatch.setattr(probe_mod.mailbox, "wait_past", wait_past)

    def box(name):
        return SimpleNamespace(cores=0.25, stats=lambda: SimpleNamespace(
            usage_s=None, throttled_s=throttled[name]))  # fmt: skip

    named = {"app-1": ("app", box("app-1")), "worker": ("worker", box("worker"))}
    boxes = SimpleNamespace(enforced=True, replica_cpus=0.25, boxes=named)
    urls = {"api": "http://127.0.0.1:1/api", "inbox": "http://127.0.0.1:2"}
    stack = SimpleNamespace(urls=urls, replicas=1, boxes=boxes)
    found = probe_mod.probe(stack, ["reports"], samples=4)["POST /api/reports"]
    assert throttled["worker"] > 0 and found["throttled_boxes"] == {}
