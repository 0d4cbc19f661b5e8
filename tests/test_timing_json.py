"""benchmarks.measure.timing: Server-Timing headers of a Locust run, aggregated in timing.json."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmarks.measure.timing import TimingCollector, header_of, parse

ROOT = Path(__file__).resolve().parent.parent


def test_parse_reads_durations_and_ignores_the_rest():
    assert parse("db;dur=3.1, smtp;dur=101.7, app;dur=0.9") == {
        "db": 3.1,
        "smtp": 101.7,
        "app": 0.9,
    }
    # Other parameters, quoted durations, a repeated name (summed), an entry without a duration.
    assert parse('cache;desc="Cache Read";dur="23.2", miss, db;dur=1, db;dur=2') == {
        "cache": 23.2,
        "db": 3.0,
    }
    assert parse(None) == {} and parse("") == {} and parse("garbage;;") == {}


class Resp:
    def __init__(self, headers):
        self.headers = headers


def test_header_is_found_whatever_the_case():
    assert header_of(Resp({"Server-Timing": "app;dur=1"})) == "app;dur=1"
    assert header_of(Resp({"server-timing": "app;dur=1"})) == "app;dur=1"
    assert header_of(Resp({})) is None and header_of(None) is None


def test_means_and_medians_count_an_absent_component_as_zero(tmp_path):
    collector = TimingCollector()
    # Four top-10 requests: one miss (db 40 ms), three hits (cache only).
    collector.on_request(
        "TOP", response=Resp({"Server-Timing": "db;dur=40, cache;dur=1, app;dur=1"})
    )
    for ms in (0.5, 0.6, 0.7):
        collector.on_request("TOP", response=Resp({"Server-Timing": f"cache;dur={ms}, app;dur=1"}))
    collector.on_request("TOP", response=Resp({}))  # no header (not the app's): not counted
    collector.on_request("TOP", response=None, exception=OSError("refused"))
    collector.on_request("LOGIN", response=Resp({"Server-Timing": "hash;dur=480.5, app;dur=2"}))
    path = collector.write(tmp_path / "run" / "timing.json")
    data = json.loads(path.read_text())
    assert set(data) == {"TOP", "LOGIN"}
    assert data["TOP"]["db"] == {"mean_ms": 10.0, "p50_ms": 0.0, "requests": 4}
    assert data["TOP"]["cache"]["mean_ms"] == pytest.approx((1 + 0.5 + 0.6 + 0.7) / 4, abs=1e-3)
    assert data["TOP"]["cache"]["p50_ms"] == pytest.approx(0.6, abs=0.01)
    assert data["TOP"]["app"] == {"mean_ms": 1.0, "p50_ms": 1.0, "requests": 4}
    assert data["LOGIN"]["hash"]["p50_ms"] == pytest.approx(480.5, rel=1e-3)


class _Timed(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Server-Timing", "db;dur=2.5, app;dur=0.5")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


LOCUSTFILE = """
from locust import FastHttpUser, constant, events, task
from benchmarks.measure.timing import install

install(events)


class User(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def one(self):
        self.client.get("/x", name="GET x")
"""


@pytest.mark.slow
@pytest.mark.processes
def test_a_real_locust_run_writes_timing_json(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Timed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
        out = tmp_path / "timing.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(tmp_path / "locustfile.py"),
                "--headless",
                "-u",
                "2",
                "-r",
                "2",
                "-t",
                "3s",
                "--host",
                f"http://127.0.0.1:{server.server_port}",
                "--only-summary",
            ],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LAB_TIMING_FILE": str(out)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    finally:
        server.shutdown()
    data = json.loads(out.read_text())
    n = data["GET x"]["app"]["requests"]
    assert n > 5 and data == {
        "GET x": {
            "db": {"mean_ms": 2.5, "p50_ms": 2.5, "requests": n},
            "app": {"mean_ms": 0.5, "p50_ms": 0.5, "requests": n},
        }
    }
