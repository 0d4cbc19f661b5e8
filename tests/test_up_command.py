"""`nox -s up -- STAGE` as a learner runs it: the command starts, prints its URLs, serves the
demo login, and Ctrl-C stops it cleanly (the module behind the nox session, on free ports)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from benchmarks.client import LabClient
from benchmarks.paths import ROOT

pytestmark = [pytest.mark.processes, pytest.mark.slow]


def test_up_serves_the_stage_and_ctrl_c_stops_it(free_port, poll, tmp_path):
    port, inbox, smtp = free_port(), free_port(), free_port()
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.stack.up",
        "token-auth",
        "--port",
        str(port),
        "--inbox-port",
        str(inbox),
        "--smtp-port",
        str(smtp),
        "--specialists",
        "20",
        "--reviews-per-specialist",
        "20",
    ]
    log = (tmp_path / "up.log").open("w+")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        client = LabClient(f"http://127.0.0.1:{port}", timeout=5)
        # Ready when it says so: the API answers a moment before `up` has capped its boxes and
        # printed its URLs (a Ctrl-C in between found no banner in the log).
        poll(
            lambda: proc.poll() is not None
            or ("Ctrl-C stops" in (tmp_path / "up.log").read_text()
                and client.get("/api/test").status == 200),
            timeout=90,
            what="`up` to print its URLs and the stage to answer",
        )  # fmt: skip
        assert proc.poll() is None, (tmp_path / "up.log").read_text()[-2000:]
        assert client.login().uses_token
        assert client.get("/api/user").json["email"] == "email@example.com"
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    out = (tmp_path / "up.log").read_text()
    assert code == 0, out[-2000:]
    assert f"http://127.0.0.1:{port}/api" in out and "demo login" in out
    assert "stopping" in out
