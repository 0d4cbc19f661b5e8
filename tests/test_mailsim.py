"""Tests for the mail provider simulator (mailsim): SMTP intake, HTTP API, faults, CLI."""

from __future__ import annotations

import json
import queue
import signal
import smtplib
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

import pytest

from benchmarks.client import LabClient
from benchmarks.stack import host
from mailsim import MailSimulator

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    return host.free_port()  # below the ephemeral range: no client socket takes it


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, str, bytes]:
    """Return (status, content type, body) without raising on 4xx/5xx."""
    reply = LabClient(url, timeout=5).request(method, "", body=body)
    assert reply.status, reply.error  # 0: no HTTP answer at all
    return reply.status, reply.header("content-type"), reply.body


def api(sim: MailSimulator, method: str, path: str, payload: object = None) -> tuple[int, dict]:
    body = None if payload is None else json.dumps(payload).encode()
    status, ctype, raw = http(method, sim.http_url + path, body)
    assert ctype == "application/json"
    return status, json.loads(raw)


def send(
    sim: MailSimulator,
    to: str = "alice@example.com",
    subject: str = "Hello",
    text: str = "Body text",
    headers: dict[str, str] | None = None,
) -> None:
    msg = EmailMessage()
    msg["From"] = "lab@example.com"
    msg["To"] = to
    msg["Subject"] = subject
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    with smtplib.SMTP(sim.host, sim.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)


@pytest.fixture
def sim():
    simulator = MailSimulator(smtp_port=free_port(), http_port=free_port(), delay_ms=0)
    simulator.start()
    yield simulator
    simulator.stop()


def test_sent_mail_is_listed_with_fields(sim):
    send(
        sim, subject="Your review", text="Thanks for the review!", headers={"X-Lab-Review-Id": "42"}
    )

    status, data = api(sim, "GET", "/api/messages")
    assert status == 200
    assert data["total"] == 1
    (msg,) = data["messages"]
    assert msg["subject"] == "Your review"
    assert msg["to"] == ["alice@example.com"]
    assert msg["from"] == "lab@example.com"
    assert msg["text"].strip() == "Thanks for the review!"
    assert msg["headers"]["X-Lab-Review-Id"] == "42"
    assert abs(msg["received_at"] - time.time()) < 60
    assert msg["received_at_iso"].endswith("+00:00")

    status, one = api(sim, "GET", f"/api/messages/{msg['id']}")
    assert (status, one) == (200, msg)
    status, err = api(sim, "GET", "/api/messages/999")
    assert status == 404 and "error" in err


def test_delay_is_applied(sim):
    sim.configure(delay_ms=200)
    started = time.perf_counter()
    send(sim)
    assert time.perf_counter() - started >= 0.2


def test_concurrent_sends_are_delayed_in_parallel(sim):
    sim.configure(delay_ms=300)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=5) as pool:
        for future in [pool.submit(send, sim, f"user{i}@example.com") for i in range(5)]:
            future.result()
    elapsed = time.perf_counter() - started
    assert 0.3 <= elapsed < 1.45  # serialized would be >= 1.5 s
    assert len(sim.messages()) == 5


def test_to_and_since_id_filters(sim):
    send(sim, to="alice@example.com", subject="first")
    send(sim, to="Bob@Example.com", subject="second")
    send(sim, to="alice@example.com", subject="third")

    _, data = api(sim, "GET", "/api/messages?to=bob@example.COM")
    assert [m["subject"] for m in data["messages"]] == ["second"]

    first_id = sim.messages()[0]["id"]
    _, data = api(sim, "GET", f"/api/messages?to=alice@example.com&since_id={first_id}")
    assert [m["subject"] for m in data["messages"]] == ["third"]

    _, data = api(sim, "GET", "/api/messages?limit=2")
    assert data["total"] == 3
    assert [m["subject"] for m in data["messages"]] == ["second", "third"]

    status, _ = api(sim, "GET", "/api/messages?since_id=abc")
    assert status == 400


def test_since_id_after_a_clear_and_many_messages(sim):
    for i in range(5):
        send(sim, subject=f"old {i}")
    sim.clear()  # ids keep increasing after a clear: since_id still cuts at the right place
    for i in range(6):
        send(sim, to="carol@example.com" if i % 2 else "dave@example.com", subject=f"new {i}")
    ids = [m["id"] for m in sim.messages()]
    assert ids == list(range(6, 12))
    _, data = api(sim, "GET", f"/api/messages?to=carol@example.com&since_id={ids[2]}")
    assert [m["subject"] for m in data["messages"]] == ["new 3", "new 5"]
    assert api(sim, "GET", "/api/messages?since_id=2")[1]["total"] == 6  # before the first kept
    assert api(sim, "GET", f"/api/messages?since_id={ids[-1]}")[1]["total"] == 0


def test_long_poll_answers_when_the_first_match_arrives(sim):
    """wait_s holds an empty answer until a matching mail is stored, then answers with it."""
    send(sim, to="carol@example.com", subject="before")
    since = sim.messages()[-1]["id"]
    answer: queue.Queue = queue.Queue()
    query = f"/api/messages?to=carol@example.com&since_id={since}&wait_s=30"
    threading.Thread(target=lambda: answer.put(api(sim, "GET", query))).start()
    deadline = time.monotonic() + 10
    # The request is waiting inside the simulator: a mail to someone else does not end it.
    while not sim._cond._waiters and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.01)
    assert sim._cond._waiters, "the long poll never waited"  # noqa: SLF001
    send(sim, to="dave@example.com", subject="other")
    send(sim, to="carol@example.com", subject="awaited")
    status, data = answer.get(timeout=10)  # well before the 30 s it may wait
    assert status == 200 and [m["subject"] for m in data["messages"]] == ["awaited"]


def test_long_poll_gives_up_empty_after_wait_s(sim):
    assert api(sim, "GET", "/api/messages?to=nobody@example.com&wait_s=0.1") == (
        200,
        {"total": 0, "messages": []},
    )
    send(sim, to="carol@example.com")  # a match already there: answered at once
    _, data = api(sim, "GET", "/api/messages?to=carol@example.com&wait_s=30")
    assert data["total"] == 1


@pytest.mark.parametrize("value", ["abc", "-1", "31", "nan", "inf"])
def test_long_poll_refuses_a_bad_wait(sim, value):
    status, err = api(sim, "GET", f"/api/messages?wait_s={value}")
    assert status == 400
    assert "wait_s" in err["error"] and "0 to 30" in err["error"] and repr(value) in err["error"]


def test_delete_clears_all(sim):
    send(sim)
    send(sim)
    assert api(sim, "DELETE", "/api/messages") == (200, {"deleted": 2})
    assert api(sim, "GET", "/api/messages")[1] == {"total": 0, "messages": []}


def test_reject_mode_returns_451_and_stores_nothing(sim):
    status, config = api(sim, "PUT", "/api/config", {"reject": True})
    assert status == 200 and config["reject"] is True

    with pytest.raises(smtplib.SMTPDataError) as excinfo:
        send(sim)
    assert excinfo.value.smtp_code == 451
    assert sim.messages() == []

    api(sim, "PUT", "/api/config", {"reject": False})
    send(sim)
    assert len(sim.messages()) == 1
    _, config = api(sim, "GET", "/api/config")
    assert config == {"delay_ms": 0, "reject": False, "accepted": 1, "rejected": 1}


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b"{}",
        b'{"delay_ms": "fast"}',
        b'{"delay_ms": -5}',
        b'{"reject": "yes"}',
        b'{"reject": null}',
        b'{"colour": "red"}',
    ],
)
def test_put_config_rejects_bad_bodies(sim, body):
    status, ctype, raw = http("PUT", sim.http_url + "/api/config", body)
    assert status == 400 and ctype == "application/json"
    assert json.loads(raw)["error"]
    assert sim.config()["delay_ms"] == 0 and sim.config()["reject"] is False


def test_put_config_changes_delay(sim):
    status, config = api(sim, "PUT", "/api/config", {"delay_ms": 50})
    assert status == 200 and config["delay_ms"] == 50
    assert api(sim, "GET", "/api/config")[1]["delay_ms"] == 50


def test_inbox_page_is_static_html(sim):
    nasty = "<script>alert(1)</script>"
    send(sim, subject=nasty)
    assert api(sim, "GET", "/api/messages")[1]["messages"][0]["subject"] == nasty

    status, ctype, page = http("GET", sim.http_url + "/")
    assert status == 200 and ctype.startswith("text/html")
    # Content is rendered client-side via textContent, never spliced into markup.
    assert b"alert(1)" not in page
    assert b"innerHTML" not in page
    assert b"/api/messages" in page


def test_health_and_unknown_paths(sim):
    assert api(sim, "GET", "/health") == (200, {"status": "ok"})
    status, err = api(sim, "GET", "/nope")
    assert status == 404 and "error" in err
    assert api(sim, "DELETE", "/api/config")[0] == 404


def test_wait_for_messages(sim):
    threading.Thread(target=send, args=(sim, "carol@example.com")).start()
    (msg,) = sim.wait_for_messages(1, timeout=5, to="carol@example.com")
    assert msg["to"] == ["carol@example.com"]
    with pytest.raises(TimeoutError):
        sim.wait_for_messages(2, timeout=0.05)


def test_port_zero_resolves_to_real_ports():
    with MailSimulator(smtp_port=0, http_port=0, delay_ms=0) as simulator:
        assert simulator.smtp_port > 0 and simulator.http_port > 0
        send(simulator)
        assert len(simulator.messages()) == 1


def _read_line(stream, timeout: float) -> str:
    """readline() with a deadline, so a hung process fails the test instead of hanging it."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"no output within {timeout}s")


@pytest.mark.slow
@pytest.mark.processes
def test_cli_ready_line_port_in_use_and_sigterm():
    smtp_port, http_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "mailsim", "--smtp-port", str(smtp_port)]
    first = subprocess.Popen(
        [*cmd, "--http-port", str(http_port), "--delay-ms", "5"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(first.stdout, timeout=15)
        assert line.startswith(f"mailsim: SMTP on 127.0.0.1:{smtp_port}, inbox ")
        assert f"http://127.0.0.1:{http_port}/" in line and "delay 5 ms" in line

        second = subprocess.run(
            [*cmd, "--http-port", str(free_port())],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=15,
        )
        assert second.returncode == 2
        assert str(smtp_port) in second.stderr and "in use" in second.stderr
        assert "Traceback" not in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1

        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=10) == 0
        assert "Traceback" not in first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        first.stdout.close()
        first.stderr.close()


def test_the_benchs_inbox_reader_finds_the_newest_mail_and_waits_past_it(sim):
    """The probe waits for the mail each POST owes (benchmarks.measure.inbox): the newest id,
    then one long poll for a newer mail, None when none comes in time."""
    from benchmarks.measure import inbox as mailbox

    url = f"http://127.0.0.1:{sim.http_port}"
    assert mailbox.newest_id(url) == 0
    send(sim, to="carol@example.com", subject="first")
    send(sim, to="carol@example.com", subject="second")
    newest = mailbox.newest_id(url)
    assert newest == sim.messages()[-1]["id"]
    assert mailbox.wait_past(url, newest, 0.1) is None  # nothing newer: empty after wait_s
    threading.Thread(target=send, args=(sim, "dave@example.com")).start()
    assert mailbox.wait_past(url, newest, 10) == sim.messages()[-1]["id"] > newest
