"""The fault room's own parts, fast and without a stage: figures, the command line, and how a
reply cut short by a killed replica is told from one that never came (benchmarks/faults/)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from benchmarks import faults
from benchmarks.client import LabClient
from benchmarks.faults.replicas import cut_mid_response

ROOT = Path(__file__).resolve().parent.parent


def one_answer(raw: bytes) -> int:
    """A server on a free port that answers one request with `raw` bytes, then hangs up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer():
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(raw)
        conn.close()
        server.close()

    threading.Thread(target=answer, daemon=True).start()
    return server.getsockname()[1]


@pytest.mark.parametrize(
    "raw",
    [
        b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"data": [',
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"data"',
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    ],
    ids=["content-length", "chunk-cut", "no-chunk"],
)
def test_a_body_cut_after_the_headers_counts_as_cut_mid_response(raw):
    reply = LabClient(f"http://127.0.0.1:{one_answer(raw)}").get("/api/test")
    assert reply.status == 0 and reply.latency > 0 and reply.at > 0
    assert cut_mid_response(reply), reply.error


def test_no_answer_or_a_refused_connection_is_not_cut_mid_response(free_port):
    hung_up = LabClient(f"http://127.0.0.1:{one_answer(b'')}").get("/api/test")
    refused = LabClient(f"http://127.0.0.1:{free_port()}").get("/api/test")
    for reply in (hung_up, refused):
        assert reply.status == 0 and reply.error, reply
        assert not cut_mid_response(reply), reply.error


@pytest.mark.processes
def test_figures_are_stored_by_name_and_tabled(tmp_path, monkeypatch, capsys):
    store = tmp_path / "figures.json"
    monkeypatch.setenv("LAB_FIGURES_FILE", str(store))
    faults.record_figure(faults.Figure("b-fault", "lost=0", {"lost": 0}, "lost = 0", True))
    faults.record_figure(faults.Figure("a-fault", "lost=2", {"lost": 2}, "lost = 0", False))
    faults.record_figure(faults.Figure("b-fault", "lost=1", {"lost": 1}, "lost = 0", False))
    assert "FIGURE a-fault: lost=2" in capsys.readouterr().out
    data = json.loads(store.read_text())
    assert sorted(data) == ["a-fault", "b-fault"] and data["b-fault"]["values"] == {"lost": 1}
    table = subprocess.run(
        [sys.executable, "-m", "benchmarks.faults", "--table", str(store)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert table.splitlines() == [
        "| figure | measured | target | met |",
        "|---|---|---|---|",
        "| `a-fault` | lost=2 | lost = 0 | **no** |",
        "| `b-fault` | lost=1 | lost = 0 | **no** |",
    ]


@pytest.mark.processes
def test_the_command_line_names_its_scenarios_and_refuses_unknown_ones():
    run = [sys.executable, "-m", "benchmarks.faults"]
    usage = subprocess.run([*run, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert usage.returncode == 0 and all(name in usage.stdout for name in faults.SCENARIOS)
    wrong = subprocess.run([*run, "replica-melted"], cwd=ROOT, capture_output=True, text=True)
    assert wrong.returncode == 2 and "unknown scenario(s) ['replica-melted']" in wrong.stderr


def test_the_fault_room_has_no_hand_written_http():
    """Every HTTP call of the scenarios goes through benchmarks/client.py."""
    for module in (ROOT / "benchmarks" / "faults").glob("*.py"):
        text = module.read_text()
        assert "urllib.request" not in text and "http.client" not in text, module.name
