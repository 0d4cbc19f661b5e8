"""Optional OpenTelemetry: spans go to the OTLP endpoint when it is set, and nowhere otherwise.

The app runs in a child process (the instrumentation patches falcon.App for the whole process);
the test is the OTLP/HTTP receiver and decodes what arrives.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import falcon.testing
from shared.api import otel
from shared.config import Settings
from stages.legacy.app import create_app

client = falcon.testing.TestClient(create_app(Settings(database_url="sqlite:///{db}")))
assert client.simulate_get("/api/test").status_code == 200
provider = otel.setup()
print("tracing", provider is not None)
if provider is not None:
    assert provider.force_flush(10_000)
"""


class Receiver(BaseHTTPRequestHandler):
    spans: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            service = next(
                a.value.string_value
                for a in resource_spans.resource.attributes
                if a.key == "service.name"
            )
            for scope in resource_spans.scope_spans:
                Receiver.spans += [(self.path, service, span.name) for span in scope.spans]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.spans = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def run_child(tmp_path, env: dict) -> str:
    code = CHILD.format(db=tmp_path / "lab.sqlite3")
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "LAB_SESSION_DIR": str(tmp_path / "sessions"),
            **env,
        },
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.processes
def test_requests_become_spans_at_the_endpoint(tmp_path, receiver):
    out = run_child(tmp_path, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver})
    assert "tracing True" in out
    assert ("/v1/traces", "scaling-lab", "GET /api/test") in Receiver.spans, Receiver.spans


@pytest.mark.processes
def test_off_by_default(tmp_path, receiver):
    assert "tracing False" in run_child(tmp_path, {})
    assert Receiver.spans == []
