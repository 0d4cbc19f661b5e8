"""`nox -s play -- STAGE`: the stage up as `up` brings it, and Locust's web UI aimed at it."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from benchmarks.measure import play

ROOT = Path(__file__).resolve().parent.parent
PLAY = "benchmarks.measure.play"


@pytest.mark.processes
def test_play_takes_ups_options_and_its_own():
    help_text = subprocess.run(
        [sys.executable, "-m", PLAY, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout
    for option in ("--port", "--replicas", "--mail-delay-ms", "--users", "--locust-port"):
        assert option in help_text, option
    command = play.locust_command("http://127.0.0.1:9", 4, 2, 9999)
    assert command[command.index("--host") + 1] == "http://127.0.0.1:9"
    assert command[command.index("--web-host") + 1] == "127.0.0.1"
    assert str(play.LOCUSTFILE) in command and "--headless" not in command


@pytest.mark.processes
def test_bad_user_count_is_refused_by_name():
    done = subprocess.run(
        [sys.executable, "-m", PLAY, "legacy", "--users", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--users must be at least 1" in done.stderr


def _template_args(html: str) -> dict:
    match = re.search(r"window\.templateArgs\s*=\s*(\{.*?\});?\s*</script>", html, re.S)
    assert match, "Locust's page has no templateArgs"
    return json.loads(match[1])


@pytest.mark.slow
@pytest.mark.processes
def test_play_serves_locusts_ui_aimed_at_the_stage(free_port, tmp_path):
    ports = {name: free_port() for name in ("port", "inbox-port", "smtp-port", "locust-port")}
    argv = [
        sys.executable,
        "-m",
        PLAY,
        "async-reports",
        "--users",
        "3",
        "--specialists",
        "20",
        "--reviews-per-specialist",
        "20",
    ]
    for name, port in ports.items():
        argv += [f"--{name}", str(port)]
    log = (tmp_path / "play.log").open("wb")
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    ui = f"http://127.0.0.1:{ports['locust-port']}"
    try:
        deadline = time.monotonic() + 150
        while True:
            assert proc.poll() is None, (tmp_path / "play.log").read_text()[-3000:]
            try:
                page = requests.get(ui, timeout=2)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "Locust's UI never answered"
                time.sleep(0.3)
        assert page.status_code == 200 and "<title>Locust</title>" in page.text
        for asset in re.findall(r'src="\./(assets/[^"]+\.js)"', page.text):
            assert requests.get(f"{ui}/{asset}", timeout=5).status_code == 200, asset
        args = _template_args(page.text)
        assert args["host"] == f"http://127.0.0.1:{ports['port']}"
        assert args["num_users"] == 3 and args["state"] == "ready"
        # The stage is the one up: its API answers on that host, with the report routes.
        assert requests.get(f"{args['host']}/api/test", timeout=5).json() == {"message": "ok"}
        # The route exists (asks for a token), where a stage without reports answers 404.
        assert requests.post(f"{args['host']}/api/reports", json={}, timeout=5).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        code = proc.wait(60)
    assert code == 0, (tmp_path / "play.log").read_text()[-3000:]
    for port in ports.values():
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
