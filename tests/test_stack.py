"""The stack runner (benchmarks.stack): clear errors, clean stops, and the legacy stage for real."""

from __future__ import annotations

import socket
import time

import psutil
import pytest

from benchmarks.stack import Options, Stack, StackError

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


@pytest.mark.parametrize("which", ["port", "inbox_port", "smtp_port"])
def test_a_taken_port_gives_a_stack_error_naming_it(which, free_port, tmp_path):
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = {"port": free_port(), "inbox_port": free_port(), "smtp_port": free_port()}
        ports[which] = taken
        stack = Stack("legacy", Options(**ports, state_dir=tmp_path / "state", quiet=True))
        with pytest.raises(StackError) as err:
            stack.start()
    assert str(taken) in str(err.value)
    assert "in use" in str(err.value)
    assert stack.procs == []  # it refused before starting anything


def test_stop_leaves_no_process_alive(launch, poll):
    # The stage with the most processes: mail, valkey, two gunicorn masters + workers, caddy, huey.
    stack = launch("load-balanced")
    pids = [pid for group in stack.pids().values() for pid in group]
    groups = set(stack.pids())
    assert {"mail", "redis", "app", "proxy", "worker"} <= groups
    assert len(pids) >= 8 and all(_alive(pid) for pid in pids)
    ports = [
        stack.options.port,
        stack.options.inbox_port,
        stack.options.smtp_port,
        *stack.replica_ports,
    ]

    stack.stop()

    # Direct children are reaped by stop(); grandchildren (gunicorn workers) may take a moment.
    poll(
        lambda: not [p for p in pids if _alive(p)],
        timeout=15,
        what=f"every process of the stack to exit ({[p for p in pids if _alive(p)]} alive)",
    )
    assert stack.procs == []
    assert all(_bindable(port) for port in ports)


def test_a_refused_start_stops_what_it_had_started(launch, monkeypatch, free_port, poll):
    # Outside demo mode the runner will not invent a JWT secret: it fails after mail and valkey.
    monkeypatch.delenv("LAB_JWT_SECRET", raising=False)
    inbox = free_port()
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(StackError, match="LAB_JWT_SECRET"):
        launch("token-auth", demo=False, inbox_port=inbox)

    def leftovers():
        return {p.pid for p in psutil.Process().children(recursive=True) if _alive(p.pid)} - before

    poll(lambda: not leftovers(), timeout=15, what="the partly started stack to be stopped")
    assert _bindable(inbox)


@pytest.fixture(scope="module")
def legacy(launch):
    stack = launch("legacy")
    yield stack
    stack.stop()


def test_legacy_stage_for_real(legacy, api_client, inbox):
    client = api_client(legacy.urls["api"].removesuffix("/api"))
    assert client.get("/health", auth=False).status == 200
    client.login()
    assert not client.uses_token  # the legacy app keeps sessions on its disk
    assert client.get("/api/user").json["email"] == "email@example.com"

    specialist = client.get("/api/specialists?per_page=1").json["data"][0]
    comment = f"Real stack {time.time_ns()}"
    resp = client.post(
        f"/api/specialists/{specialist['id']}/reviews", {"rating": 8, "comment": comment}
    )
    assert resp.status == 201, resp.body
    review_id = resp.json["id"]

    # The simulator's HTTP API (GET /api/messages?to=...) has the mail, to the specialist.
    mail = inbox(legacy.urls["inbox"]).wait_review_mail(review_id, to=specialist["email"])
    assert mail["subject"] == "You have a new review"
    assert mail["to"] == [specialist["email"]]
    assert "Rating: 8/10" in mail["text"] and comment in mail["text"]
    assert resp.header("x-replica") == "app-1"
