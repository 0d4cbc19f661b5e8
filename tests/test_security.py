"""Hostile input, forged tokens, passwords and the login throttle, in-process (issue 7, items 7-9).

The apps are the stages' own (`create_app` of legacy and token-auth) on a fresh copy of a small
seeded SQLite database, spoken to with falcon.testing; token-auth's queue runs inline (huey
immediate mode). A property-based fuzz run (hypothesis) throws generated requests at every
route of both and counts the 5xx answers. Each figure is printed (FIGURE name: ...) and stored in
LAB_FIGURES_FILE when that is set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import argon2
import falcon
import falcon.testing
import jwt
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from benchmarks.faults import Figure, record_figure
from mailsim import MailSimulator
from shared import db
from shared.adapters.tokens import ISSUER, JwtAuth, WeakSecretError
from shared.api.app import MAX_BODY_BYTES
from shared.config import Settings
from shared.models import Review, Specialist, User
from shared.passwords import hash_password
from shared.seed import DEMO_EMAIL, DEMO_PASSWORD, Scale, seed_sqlite_file
from shared.throttle import LoginThrottle, MemoryCounters, RedisCounters, Refused

ROOT = Path(__file__).resolve().parent.parent
SECRET = "security-tests-" + "k" * 40
FUZZ_EXAMPLES = int(os.environ.get("LAB_FUZZ_EXAMPLES", "250"))


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory) -> Path:
    return seed_sqlite_file(
        tmp_path_factory.mktemp("security-seed") / "seed.sqlite3", Scale(20, 20)
    )


@pytest.fixture(scope="module")
def mail():
    with MailSimulator("127.0.0.1", smtp_port=0, http_port=0, delay_ms=0) as sim:
        yield sim


def _fresh_db(seed_file: Path, directory: Path) -> str:
    path = directory / "lab.sqlite3"
    shutil.copyfile(seed_file, path)
    return f"sqlite:///{path}"


def _settings(url: str, directory: Path, mail: MailSimulator, **extra) -> Settings:
    return Settings(
        database_url=url,
        smtp_port=mail.smtp_port,
        session_dir=directory / "sessions",
        jwt_secret=SECRET,
        **extra,
    )


@pytest.fixture
def legacy(seed_file, tmp_path, mail, monkeypatch):
    """A legacy app (disk sessions, mail in the request) on its own database; no throttle state."""
    from stages.legacy.app import create_app

    monkeypatch.delenv("LAB_REDIS_URL", raising=False)  # the throttle counts in this process
    url = _fresh_db(seed_file, tmp_path)
    return falcon.testing.TestClient(create_app(_settings(url, tmp_path, mail)))


@pytest.fixture(scope="module")
def token_auth_stage(mail):
    """token-auth's tasks module with its queue running inline (imported once per process)."""
    # Read once, at import: if the module was imported before, its mail goes where that said
    # (a failure there is the outbox's, not the API's).
    saved = os.environ.get("LAB_SMTP_PORT")
    os.environ["LAB_SMTP_PORT"] = str(mail.smtp_port)
    try:
        from stages.token_auth import tasks
    finally:
        if saved is None:
            os.environ.pop("LAB_SMTP_PORT")
        else:
            os.environ["LAB_SMTP_PORT"] = saved

    before = tasks.huey.immediate
    tasks.huey.immediate = True
    yield tasks
    tasks.huey.immediate = before


@pytest.fixture
def token_app(seed_file, tmp_path, mail, token_auth_stage, monkeypatch):
    from stages.token_auth.app import create_app

    monkeypatch.delenv("LAB_REDIS_URL", raising=False)
    url = _fresh_db(seed_file, tmp_path)
    return falcon.testing.TestClient(create_app(_settings(url, tmp_path, mail)))


def _login(client) -> dict[str, str]:
    resp = client.simulate_post("/api/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert resp.status_code == 200, resp.text
    token = resp.json.get("token")
    if token:
        return {"Authorization": f"Bearer {token}"}
    return {"Cookie": resp.headers["set-cookie"].split(";", 1)[0]}


def _a_specialist_id(client, headers) -> str:
    return client.simulate_get("/api/specialists", headers=headers).json["data"][0]["id"]


# --- item 7: input -------------------------------------------------------------------------


def test_malformed_json_is_400_and_saves_nothing(legacy):
    auth = _login(legacy)
    sid = _a_specialist_id(legacy, auth)
    before = Review.select().count()
    for raw in (
        b'{"rating": 5,',
        b"{'rating': 5}",
        b"rating=5",
        b"\xff\xfe",
        b"[" * 50_000,
        b'{"rating": 1' + b"0" * 5000 + b"}",
    ):
        resp = legacy.simulate_post(
            f"/api/specialists/{sid}/reviews",
            body=raw,
            headers={**auth, "Content-Type": "application/json"},
        )
        assert resp.status_code == 400, (raw[:20], resp.status_code, resp.text)
    assert Review.select().count() == before


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        None,
    ],
)
def test_a_body_that_is_not_json_is_415_on_every_writing_method(legacy, content_type):
    auth = _login(legacy)
    sid = _a_specialist_id(legacy, auth)
    headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
    before = (Review.select().count(), Specialist.select().count())
    for method, path, body in (
        ("POST", f"/api/specialists/{sid}/reviews", "rating=5&comment=x"),
        (
            "POST",
            "/api/specialists",
            '{"crm": "X-1", "name": "n", "specialty": "s", "email": "x1@example.com"}',
        ),
        ("PUT", f"/api/specialists/{sid}", "name=n"),
        ("PATCH", f"/api/specialists/{sid}", '{"name": "n"}'),
        ("POST", "/api/login", "email=email%40example.com&password=12345678"),
    ):
        resp = legacy.simulate_request(method, path, body=body, headers=headers)
        assert resp.status_code == 415, (method, path, content_type, resp.status_code, resp.text)
    assert (Review.select().count(), Specialist.select().count()) == before


def test_json_with_a_charset_is_accepted(legacy):
    auth = _login(legacy)
    sid = _a_specialist_id(legacy, auth)
    resp = legacy.simulate_post(
        f"/api/specialists/{sid}/reviews",
        body='{"rating": 7}',
        headers={**auth, "Content-Type": "application/json; charset=utf-8"},
    )
    assert resp.status_code == 201, resp.text


class _TellingStream(io.BytesIO):
    """A request body that records whether anyone read it."""

    touched = False

    def read(self, *args):
        self.touched = True
        return super().read(*args)


def test_a_body_over_the_limit_is_413_before_it_is_read(legacy):
    auth = _login(legacy)
    sid = _a_specialist_id(legacy, auth)
    body = json.dumps({"rating": 5, "comment": "z" * MAX_BODY_BYTES}).encode()
    stream = _TellingStream(body)
    env = falcon.testing.create_environ(
        path=f"/api/specialists/{sid}/reviews",
        method="POST",
        headers={**auth, "Content-Type": "application/json", "Content-Length": str(len(body))},
    )
    env["wsgi.input"] = stream
    result = falcon.testing.StartResponseMock()
    b"".join(legacy.app(env, result))
    assert result.status.startswith("413"), result.status
    assert not stream.touched, "the body was read before it was refused"


def test_a_chunked_body_is_411_not_read_as_empty(legacy):
    auth = _login(legacy)
    sid = _a_specialist_id(legacy, auth)
    resp = legacy.simulate_post(
        f"/api/specialists/{sid}/reviews",
        headers={**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    assert resp.status_code == 411, resp.text


@pytest.mark.parametrize(
    "payload",
    [
        {"rating": 0},
        {"rating": 11},
        {"rating": -1},
        {"rating": 10**30},
        {"rating": "5"},
        {"rating": "five"},
        {"rating": 5.5},
        {"rating": 5.0},
        {"rating": None},
        {"rating": True},
        {"rating": [5]},
        {"rating": {"value": 5}},
        {"comment": "no rating"},
        {},
    ],
    ids=lambda p: json.dumps(p)[:30],
)
def test_a_bad_rating_is_422_naming_the_field(legacy, payload):
    auth = _login(legacy)
    sid = _a_specialist_id(legacy, auth)
    before = Review.select().count()
    resp = legacy.simulate_post(f"/api/specialists/{sid}/reviews", json=payload, headers=auth)
    assert resp.status_code == 422, resp.text
    assert "rating" in resp.json["errors"]
    assert Review.select().count() == before


def test_long_text_is_stored_intact_up_to_the_limit_and_refused_beyond(legacy):
    auth = _login(legacy)
    sid = _a_specialist_id(legacy, auth)
    longest = "\N{SMILING FACE WITH SMILING EYES}é" * 1000  # 2,000 characters, 6,000 bytes
    resp = legacy.simulate_post(
        f"/api/specialists/{sid}/reviews", json={"rating": 9, "comment": longest}, headers=auth
    )
    assert resp.status_code == 201, resp.text
    got = legacy.simulate_get(f"/api/specialists/{sid}/reviews/{resp.json['id']}", headers=auth)
    assert got.json["comment"] == longest, "the comment came back changed"

    too_long = longest + "!"
    resp = legacy.simulate_post(
        f"/api/specialists/{sid}/reviews", json={"rating": 9, "comment": too_long}, headers=auth
    )
    assert resp.status_code == 422 and "comment" in resp.json["errors"]
    for field, limit in (("name", 255), ("specialty", 255), ("crm", 32)):
        resp = legacy.simulate_patch(
            f"/api/specialists/{sid}", json={field: "x" * (limit + 1)}, headers=auth
        )
        assert resp.status_code == 422 and field in resp.json["errors"], (field, resp.text)
        resp = legacy.simulate_patch(
            f"/api/specialists/{sid}", json={field: "y" * limit}, headers=auth
        )
        assert resp.status_code == 200 and resp.json[field] == "y" * limit, (field, resp.text)


def test_unknown_routes_are_404_and_unknown_methods_405(legacy):
    auth = _login(legacy)
    sid = _a_specialist_id(legacy, auth)
    for path in (
        "/api/nothing",
        "/api/specialists/not-a-uuid",
        "/api/specialists/x/reviews",
        "/admin",
        "/api/../etc/passwd",
        "/api/specialists/%00",
    ):
        assert legacy.simulate_get(path, headers=auth).status_code == 404, path
    for method, path in (
        ("DELETE", "/api/specialists"),
        ("PUT", "/api/specialists"),
        ("DELETE", "/api/login"),
        ("GET", "/api/login"),
        ("POST", f"/api/specialists/{sid}"),
        ("PATCH", "/api/test"),
        ("POST", "/api/specialists/highest_rated"),
    ):
        resp = legacy.simulate_request(method, path, headers=auth)
        assert resp.status_code == 405, (method, path, resp.status_code)


# --- item 7: the fuzz run: tests/test_fuzz_stages.py (every route of every stage) ---------------


# --- item 8: tokens ------------------------------------------------------------------------


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _hs256_by_hand(claims: dict, key: bytes) -> str:
    """Sign as HS256 with any key, even one PyJWT itself refuses to use (an empty one)."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


def _forged_tokens(good: str) -> dict[str, str]:
    """Tokens an attacker might try, each of which the app must refuse."""
    now = int(time.time())
    claims = {"sub": "1", "iat": now, "exp": now + 600, "iss": ISSUER}
    header, payload, signature = good.split(".")

    def signed(c: dict, key: str = SECRET, alg: str = "HS256", **headers) -> str:
        return jwt.encode(c, key, algorithm=alg, headers=headers or None)

    without = {k: {n: v for n, v in claims.items() if n != k} for k in claims}
    other_payload = _b64({**json.loads(base64.urlsafe_b64decode(payload + "==")), "sub": "2"})
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "alg None (case)": f"{_b64({'alg': 'None', 'typ': 'JWT'})}.{_b64(claims)}.",
        "alg none, signature kept": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.{signature}",
        "wrong key": signed(claims, "another-secret-of-the-same-length-" + "q" * 20),
        "empty key": _hs256_by_hand(claims, b""),
        "HS512 with the right key": signed(claims, alg="HS512"),
        "HS384 with the right key": signed(claims, alg="HS384"),
        "RS256 header, HMAC signature": f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{payload}."
        f"{signature}",
        "expired": signed({**claims, "iat": now - 7200, "exp": now - 3600}),
        "expired a second ago": signed({**claims, "exp": now - 1}),
        "missing exp": signed(without["exp"]),
        "missing iat": signed(without["iat"]),
        "missing sub": signed(without["sub"]),
        "missing iss": signed(without["iss"]),
        "wrong issuer": signed({**claims, "iss": "someone-else"}),
        "not yet valid (nbf)": signed({**claims, "nbf": now + 3600}),
        "issued in the future": signed({**claims, "iat": now + 3600, "exp": now + 7200}),
        "sub not a user id": signed({**claims, "sub": "admin"}),
        "tampered payload (sub=2)": f"{header}.{other_payload}.{signature}",
        "tampered signature": f"{header}.{payload}.{flipped}",
        "signature dropped": f"{header}.{payload}.",
        "two parts": f"{header}.{payload}",
        "payload not an object": f"{header}.{_b64(b'[1, 2]')}.{signature}",
        "garbage": "not-a-token",
        "empty": "",
    }


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # our HS512 forgery
def test_forged_tokens_are_all_401(token_app):
    good = token_app.simulate_post(
        "/api/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    ).json["token"]
    assert (
        token_app.simulate_get("/api/user", headers={"Authorization": f"Bearer {good}"}).status_code
        == 200
    )
    forged = _forged_tokens(good)
    accepted = {}
    for name, token in forged.items():
        resp = token_app.simulate_get("/api/user", headers={"Authorization": f"Bearer {token}"})
        if resp.status_code != 401:
            accepted[name] = resp.status_code
    # The right token in the wrong place or scheme is no login either.
    for headers in (
        {"Authorization": f"Basic {good}"},
        {"Authorization": good},
        {"Cookie": f"token={good}"},
    ):
        if token_app.simulate_get("/api/user", headers=headers).status_code != 401:
            accepted[str(headers)[:40]] = "not 401"
    total = len(forged) + 3
    record_figure(
        Figure(
            "forged-tokens",
            f"forged tokens accepted={len(accepted)} of {total}",
            {"tried": total, "accepted": len(accepted), "which": accepted},
            "accepted = 0",
            not accepted,
        )
    )
    assert not accepted, accepted


@pytest.mark.parametrize("secret", ["", "short", "x" * 31])
def test_a_missing_or_short_secret_is_refused(secret):
    with pytest.raises(WeakSecretError, match="LAB_JWT_SECRET"):
        JwtAuth(secret, demo=False)
    JwtAuth("x" * 32, demo=False)  # 32 bytes is enough


@pytest.mark.processes
@pytest.mark.parametrize("secret", ["", "too-short-a-secret"])
def test_the_app_refuses_to_start_outside_demo_mode_with_a_weak_secret(secret, tmp_path):
    env = {
        **os.environ,
        "LAB_DEMO": "0",
        "LAB_JWT_SECRET": secret,
        "PYTHONPATH": str(ROOT),
        "LAB_DATABASE_URL": f"sqlite:///{tmp_path}/lab.sqlite3",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from stages.token_auth.app import create_app; create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "WeakSecretError" in done.stderr and "LAB_JWT_SECRET" in done.stderr


# --- item 9: passwords and the login throttle -------------------------------------------------


def test_passwords_are_argon2id_at_the_recommended_cost(seed_file):
    recommended = argon2.profiles.RFC_9106_LOW_MEMORY
    db.connect(f"sqlite:///{seed_file}")
    for stored in (hash_password("a password"), User.get(User.email == DEMO_EMAIL).password_hash):
        params = argon2.extract_parameters(stored)
        assert params.type is argon2.Type.ID
        assert params.time_cost >= recommended.time_cost
        assert params.memory_cost >= recommended.memory_cost
        # OWASP's floor for argon2id: 19 MiB of memory and 2 passes.
        assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2


@pytest.mark.slow  # medians of 7 logins at argon2id's full cost: a timing measurement
def test_unknown_email_and_wrong_password_look_the_same(seed_file, tmp_path, mail, monkeypatch):
    from stages.legacy.app import create_app

    monkeypatch.delenv("LAB_REDIS_URL", raising=False)
    monkeypatch.setenv("LAB_LOGIN_MAX_FAILURES", "1000")  # measure the check, not the throttle
    url = _fresh_db(seed_file, tmp_path)
    client = falcon.testing.TestClient(create_app(_settings(url, tmp_path, mail)))
    attempts = {
        "unknown email": {"email": "nobody@example.com", "password": DEMO_PASSWORD},
        "wrong password": {"email": DEMO_EMAIL, "password": "not-the-password"},
    }
    timings: dict[str, list[float]] = {name: [] for name in attempts}
    answers = {}
    for _ in range(7):  # interleaved, so drift hits both alike
        for name, body in attempts.items():
            started = time.perf_counter()
            resp = client.simulate_post("/api/login", json=body)
            timings[name].append(time.perf_counter() - started)
            # Server-Timing's durations differ from request to request; its components may not.
            headers = {
                k: v for k, v in resp.headers.items() if k.lower() not in ("date", "server-timing")
            }
            parts = [p.split(";")[0] for p in resp.headers["server-timing"].split(",")]
            answers[name] = (resp.status_code, resp.text, headers, parts)
    assert answers["unknown email"] == answers["wrong password"]
    assert answers["unknown email"][0] == 401
    unknown, wrong = (statistics.median(timings[n]) for n in attempts)
    ratio = unknown / wrong
    record_figure(
        Figure(
            "login-timing",
            f"unknown email / wrong password median time ratio="
            f"{ratio:.2f} ({unknown * 1000:.0f} ms vs {wrong * 1000:.0f} ms)",
            {
                "ratio": round(ratio, 3),
                "unknown_ms": round(unknown * 1000, 1),
                "wrong_ms": round(wrong * 1000, 1),
            },
            "0.5 <= ratio <= 2",
            0.5 <= ratio <= 2,
        )
    )
    assert 0.5 <= ratio <= 2, (unknown, wrong)


def test_repeated_failed_logins_are_throttled_with_retry_after(legacy):
    def login(email, password):
        return legacy.simulate_post("/api/login", json={"email": email, "password": password})

    for _ in range(5):
        assert login(DEMO_EMAIL, "wrong").status_code == 401
    blocked = login(DEMO_EMAIL, "wrong")
    assert blocked.status_code == 429, blocked.text
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    # The right password gets the same 429: a lockout is no oracle for a correct guess.
    assert login(DEMO_EMAIL, DEMO_PASSWORD).status_code == 429
    assert login(DEMO_EMAIL.upper(), DEMO_PASSWORD).status_code == 429, "case is one account"
    # An unknown email is throttled alike: the throttle does not tell which accounts exist.
    for _ in range(5):
        assert login("nobody@example.com", "x").status_code == 401
    assert login("nobody@example.com", "x").status_code == 429
    # Other accounts are not affected.
    assert login("somebody-else@example.com", "x").status_code == 401


def _fail(throttle: LoginThrottle, email: str, client: str = "198.51.100.1") -> None:
    throttle.attempt(email, client).failed()


def test_the_throttle_window_ends_and_a_success_clears_the_count():
    throttle = LoginThrottle(max_failures=2, window_seconds=1)
    _fail(throttle, "a@example.com")
    assert throttle.retry_after("a@example.com", "198.51.100.1") == 0
    _fail(throttle, "a@example.com")
    assert throttle.retry_after("a@example.com", "198.51.100.1") == 1
    deadline = time.monotonic() + 3
    while throttle.retry_after("a@example.com", "198.51.100.1") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert throttle.retry_after("a@example.com", "198.51.100.1") == 0, "the window did not end"
    _fail(throttle, "b@example.com")
    throttle.attempt("b@example.com", "198.51.100.1").succeeded()
    _fail(throttle, "b@example.com")
    assert throttle.retry_after("b@example.com", "198.51.100.1") == 0


@pytest.fixture
def redis_client(redis_server):
    """Database 15 of the suite's Redis server (tests/lab_servers.py); fails if it is not there."""
    client = redis.Redis.from_url(f"{redis_server}/15", socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {redis_server} ({exc})", pytrace=False)
    yield client
    client.close()


def test_replicas_share_the_count_in_redis(redis_client):
    prefix = f"lab-test:{uuid.uuid4().hex}:"
    replica_1 = LoginThrottle(5, 60, RedisCounters(redis_client, prefix))
    replica_2 = LoginThrottle(5, 60, RedisCounters(redis_client, prefix))
    try:
        for i in range(5):
            _fail(replica_1 if i % 2 else replica_2, "shared@example.com")
        assert 55 <= replica_1.retry_after("shared@example.com", "198.51.100.1") <= 60
        assert replica_2.retry_after("shared@example.com", "198.51.100.1") > 0
        with pytest.raises(Refused) as refused:
            replica_1.attempt("shared@example.com", "198.51.100.1")
        assert refused.value.status == 429
        keys = list(redis_client.scan_iter(f"{prefix}*"))
        assert keys and not any(b"shared" in k or b"198.51" in k for k in keys), (
            "neither the email nor the address is stored"
        )
        assert all(0 < redis_client.ttl(k) <= 60 for k in keys), "every counter expires"
    finally:
        for key in redis_client.scan_iter(f"{prefix}*"):
            redis_client.delete(key)


def test_the_throttle_counts_in_process_when_its_server_is_down():
    # Built as LoginThrottle.from_env builds its client: short timeouts, no retries.
    dead = redis.Redis(
        host="127.0.0.1",
        port=1,
        socket_timeout=0.2,
        socket_connect_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    throttle = LoginThrottle(2, 60, RedisCounters(dead))
    _fail(throttle, "x@example.com")
    _fail(throttle, "x@example.com")
    assert throttle.retry_after("x@example.com", "198.51.100.1") > 0
    assert isinstance(throttle._fallback, MemoryCounters)
