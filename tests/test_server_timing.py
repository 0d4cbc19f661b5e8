"""Server-Timing: every response of every stage says where its time went, measured, not guessed.

In-process (falcon.testing) on each stage's own composition root, with real services behind it
(a valkey and an rclone S3 of this test's own, the mail simulator, a seeded SQLite copy); then
once over HTTP against a stage really started.
"""

from __future__ import annotations

import importlib
import re
import shutil
import sys
import time
import uuid

import falcon.inspect
import falcon.testing
import pytest
from test_cache import free_port, start_valkey, stop
from test_storage import s3  # noqa: F401  (the module's real S3 server fixture)

import stages
from mailsim import MailSimulator
from shared import timing
from shared.config import Settings
from shared.seed import DEMO_EMAIL, DEMO_PASSWORD

SECRET = "server-timing-test-" + "x" * 40
ENTRY = re.compile(r"^([a-z]+);dur=(\d+(?:\.\d+)?)$")


def components(header: str | None) -> dict[str, float]:
    """Parse a Server-Timing value into {component: ms}; fail on anything malformed."""
    assert header, "no Server-Timing header"
    out = {}
    for part in header.split(","):
        match = ENTRY.match(part.strip())
        assert match, f"malformed Server-Timing entry {part!r} in {header!r}"
        assert match[1] in timing.COMPONENTS, f"unknown component {match[1]!r}"
        out[match[1]] = float(match[2])
    assert "app" in out, f"no app component in {header!r}"
    return out


# --- the recorder --------------------------------------------------------------------------------


def test_nested_timers_are_exclusive_and_the_rest_is_app():
    recorder = timing.start()
    assert timing.current() is recorder
    try:
        with timing.timed("smtp"):
            time.sleep(0.03)
            with timing.timed("db"):
                time.sleep(0.02)
        with timing.timed("db"):
            time.sleep(0.01)
        time.sleep(0.01)
        parsed = components(recorder.header())
    finally:
        timing.stop(recorder)
    assert list(parsed) == ["db", "smtp", "app"]
    assert 28 <= parsed["db"] < 60 and 28 <= parsed["smtp"] < 60, parsed
    assert 9 <= parsed["app"] < 40, parsed


def test_outside_a_request_nothing_is_recorded():
    with timing.timed("db"):
        pass  # no recorder open: a no-op, and no error
    recorder = timing.start()
    timing.stop(recorder)
    assert timing.current() is None
    with timing.timed("db"):
        pass
    assert recorder.totals == {}


# --- every stage, in process --------------------------------------------------------------------


@pytest.fixture(scope="module")
def mail():
    with MailSimulator(smtp_port=0, http_port=0, delay_ms=100) as sim:
        yield sim


@pytest.fixture(scope="module")
def valkey(tmp_path_factory):
    port = free_port()
    proc = start_valkey(port, tmp_path_factory.mktemp("valkey"))
    yield f"redis://127.0.0.1:{port}/0"
    stop(proc)


@pytest.fixture
def stage_app(request, seed_template_file, tmp_path, mail, valkey, s3, monkeypatch):  # noqa: F811
    """stage_app(name, **env) -> the stage's app built by its own create_app, env as a runner's."""
    db_file = tmp_path / "lab.sqlite3"
    shutil.copyfile(seed_template_file, db_file)
    env = {
        "LAB_DATABASE_URL": f"sqlite:///{db_file}",
        "LAB_SMTP_PORT": str(mail.smtp_port),
        "LAB_REDIS_URL": valkey,
        "LAB_JWT_SECRET": SECRET,
        "LAB_SESSION_DIR": str(tmp_path / "sessions"),
        "LAB_REPORT_DIR": str(tmp_path / "rep"),
        "LAB_S3_ENDPOINT": s3["endpoint"],
        "LAB_S3_ACCESS_KEY": s3["access"],
        "LAB_S3_SECRET_KEY": s3["secret"],
        "LAB_S3_BUCKET": f"st-{uuid.uuid4().hex[:8]}",
    }

    def build(stage: str, **extra):
        for name, value in {**env, **extra}.items():
            monkeypatch.setenv(name, value)
        package = stage.replace("-", "_")
        # A stage's tasks module reads the environment when imported: import it afresh.
        for module in [m for m in sys.modules if m.startswith(f"stages.{package}.")]:
            monkeypatch.delitem(sys.modules, module)
        app_module = importlib.import_module(f"stages.{package}.app")
        tasks = sys.modules.get(f"stages.{package}.tasks")
        if tasks is not None and hasattr(tasks, "settings") and hasattr(tasks, "S3ReportStore"):
            tasks.S3ReportStore.from_settings(tasks.settings).ensure_bucket()
        return falcon.testing.TestClient(app_module.create_app(Settings.from_env()))

    yield build
    from shared.db import database

    if database.obj is not None and not database.obj.is_closed():
        database.obj.close()


def login(client) -> dict:
    result = client.simulate_post(
        "/api/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert result.status_code == 200, result.text
    if "token" in result.json:
        return {"Authorization": f"Bearer {result.json['token']}"}
    return {"Cookie": f"lab_session={result.cookies['lab_session'].value}"}


def every_request(client, headers) -> list[tuple[str, str]]:
    """(method, path) for every responder of every route the app has, with real ids filled in."""
    page = client.simulate_get("/api/specialists", headers=headers).json
    specialist = page["data"][0]["id"]
    review = client.simulate_get(f"/api/specialists/{specialist}/reviews", headers=headers).json[
        "data"
    ][0]["id"]
    values = {
        "specialist_id": specialist,
        "review_id": review,
        "limit": "5",
        "report_id": str(uuid.uuid4()),
    }
    calls = []
    for route in falcon.inspect.inspect_routes(client.app):
        path = re.sub(r"{(\w+)(?::[^}]*)?}", lambda m: values[m[1]], route.path)
        for method in route.methods:
            if method.internal:
                continue
            # Deletes aim at ids that do not exist, so the other calls still find their rows.
            target = (
                re.sub(r"[0-9a-f-]{36}", str(uuid.uuid4()), path)
                if method.method == "DELETE"
                else path
            )
            calls.append((method.method, target))
    assert len(calls) >= 14, calls
    return calls


@pytest.mark.parametrize("stage", stages.names())
def test_every_route_of_every_stage_says_where_the_time_went(stage, stage_app):
    client = stage_app(stage)
    headers = login(client)
    for method, path in every_request(client, headers):
        body = {} if method in ("POST", "PUT", "PATCH") else None
        result = client.simulate_request(method, path, headers=headers, json=body)
        assert result.status_code < 500, (method, path, result.text)
        components(result.headers.get("server-timing"))
    # Errors too: an unknown route, a refused body, a missing login.
    for result in (
        client.simulate_get("/nowhere"),
        client.simulate_post(
            "/api/login", body="x" * 70_000, headers={"Content-Type": "application/json"}
        ),
        client.simulate_get("/api/user"),
    ):
        assert result.status_code in (401, 404, 413), result.status
        components(result.headers.get("server-timing"))


def post_review(client, headers) -> dict[str, float]:
    specialist = client.simulate_get("/api/specialists", headers=headers).json["data"][0]["id"]
    result = client.simulate_post(
        f"/api/specialists/{specialist}/reviews",
        headers=headers,
        json={"rating": 7, "comment": "timed"},
    )
    assert result.status_code == 201, result.text
    return components(result.headers.get("server-timing"))


def test_legacy_review_spends_the_mail_delay_in_smtp(stage_app):
    client = stage_app("legacy")
    parsed = post_review(client, login(client))
    assert 90 <= parsed["smtp"] < 1000, parsed  # the simulator holds each message 100 ms
    assert parsed["db"] > 0 and parsed["app"] < parsed["smtp"], parsed


def test_async_mail_review_enqueues_and_sends_nothing(stage_app):
    client = stage_app("async-mail")
    parsed = post_review(client, login(client))
    assert "queue" in parsed and "db" in parsed, parsed
    assert "smtp" not in parsed, parsed


def test_cache_hit_on_the_top_ten_touches_no_database(stage_app):
    client = stage_app("cache", LAB_CACHE_TTL="300")
    headers = login(client)
    limit = 42  # a key of its own in this module's valkey (the route test asks for 5 and 10)
    first = client.simulate_get(f"/api/specialists/highest_rated/{limit}", headers=headers)
    miss = components(first.headers.get("server-timing"))
    assert "db" in miss and "cache" in miss, miss
    second = client.simulate_get(f"/api/specialists/highest_rated/{limit}", headers=headers)
    assert second.json == first.json
    hit = components(second.headers.get("server-timing"))
    assert "cache" in hit and "db" not in hit, hit


@pytest.mark.parametrize("stage", ["legacy", "token-auth"])
def test_login_is_mostly_the_password_hash(stage, stage_app):
    client = stage_app(stage)
    result = client.simulate_post(
        "/api/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    parsed = components(result.headers.get("server-timing"))
    assert parsed["hash"] > parsed["app"], parsed
    assert "db" in parsed, parsed


def test_the_switch_turns_it_off(stage_app):
    client = stage_app("legacy", LAB_SERVER_TIMING="0")
    result = client.simulate_get("/api/test")
    assert result.status_code == 200 and "server-timing" not in result.headers


# --- a real process ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_started_stage_sends_the_header_over_http(launch, api_client):
    stack = launch("cache")
    try:
        client = api_client(stack.urls["api"].removesuffix("/api"))
        assert set(components(client.get("/api/test", auth=False).header("server-timing"))) == {
            "app"
        }
        client.login()
        top = client.get("/api/specialists/highest_rated")
        assert top.status == 200
        assert "cache" in components(top.header("server-timing"))
    finally:
        stack.stop()
