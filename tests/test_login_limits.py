"""Login limits in-process (issue 12, items 1-2): counted before the hash, per account and
address, per client address, and a cap on hashes at once per replica.

The legacy stage's own app on a fresh copy of a small seeded SQLite database, through
falcon.testing; the client address is set per request (`remote_addr`) or, through a trusted
proxy, by X-Forwarded-For. Through real replicas and valkey: tests/test_faults.py and
benchmarks/fault_logins.py.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import falcon.testing
import pytest

from mailsim import MailSimulator
from shared.config import Settings
from shared.seed import DEMO_EMAIL, DEMO_PASSWORD, Scale, seed_sqlite_file

SECRET = "login-limit-tests-" + "k" * 40


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory) -> Path:
    return seed_sqlite_file(tmp_path_factory.mktemp("login-seed") / "seed.sqlite3", Scale(5, 5))


@pytest.fixture(scope="module")
def mail():
    with MailSimulator("127.0.0.1", smtp_port=0, http_port=0, delay_ms=0) as sim:
        yield sim


@pytest.fixture
def make_app(seed_file, tmp_path, mail, monkeypatch):
    """Build a legacy app with these LAB_LOGIN_* / LAB_TRUSTED_PROXIES settings."""
    from stages.legacy.app import create_app

    def make(**env) -> falcon.testing.TestClient:
        monkeypatch.delenv("LAB_REDIS_URL", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        path = tmp_path / "lab.sqlite3"
        shutil.copyfile(seed_file, path)
        return falcon.testing.TestClient(
            create_app(
                Settings(
                    database_url=f"sqlite:///{path}",
                    smtp_port=mail.smtp_port,
                    session_dir=tmp_path / "sessions",
                    jwt_secret=SECRET,
                )
            )
        )

    return make


def _login(client, email, password, **kw):
    return client.simulate_post("/api/login", json={"email": email, "password": password}, **kw)


def _at_once(count: int, call) -> list:
    """Run `call(i)` from `count` threads released together; return the answers in order."""
    answers = [None] * count
    gate = threading.Barrier(count)

    def run(i):
        gate.wait()
        answers[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return answers


def test_concurrent_wrong_passwords_are_counted_before_the_hash(make_app):
    """20 guesses at once: at most 5 are verified (401), the rest refused unverified (429)."""
    client = make_app(LAB_LOGIN_MAX_HASHES=50)  # no hash cap in the way: the count alone
    answers = _at_once(20, lambda i: _login(client, DEMO_EMAIL, f"guess-{i}"))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(401) <= 5, statuses
    assert statuses.count(429) >= 15, statuses


def test_one_address_spraying_unknown_emails_is_limited(make_app):
    client = make_app(LAB_LOGIN_ADDRESS_MAX_FAILURES=3)
    statuses = [_login(client, f"nobody-{i}@example.com", "x").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429], statuses
    refused = _login(client, "nobody-9@example.com", "x")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "address" in refused.json["description"]
    # Another address is not affected, and a success gives its slot back.
    assert _login(client, "nobody@example.com", "x", remote_addr="203.0.113.9").status_code == 401


def test_a_success_does_not_use_up_the_address_limit(make_app):
    client = make_app(LAB_LOGIN_ADDRESS_MAX_FAILURES=2)
    for _ in range(4):
        assert _login(client, DEMO_EMAIL, DEMO_PASSWORD).status_code == 200


def test_hashes_beyond_the_cap_are_refused_at_once_with_retry_after(make_app):
    client = make_app(LAB_LOGIN_MAX_HASHES=1)
    timed = []

    def call(i):
        started = time.monotonic()
        resp = _login(client, f"someone-{i}@example.com", "x", remote_addr=f"203.0.113.{i}")
        timed.append((resp.status_code, time.monotonic() - started, resp.headers))
        return resp

    _at_once(6, call)
    statuses = sorted(s for s, _, _ in timed)
    assert statuses.count(503) >= 1, statuses
    assert set(statuses) <= {401, 503}, statuses
    verified = min(t for s, t, _ in timed if s == 401)
    for status, took, headers in timed:
        if status == 503:
            assert headers["retry-after"] == "1"
            assert took < verified, "a refusal waited for a hash instead of answering at once"


def test_failures_from_other_addresses_do_not_lock_the_owner_out(make_app):
    client = make_app()
    for _ in range(6):
        _login(client, DEMO_EMAIL, "wrong", remote_addr="198.51.100.7")
    assert _login(client, DEMO_EMAIL, "wrong", remote_addr="198.51.100.7").status_code == 429
    assert _login(client, DEMO_EMAIL, DEMO_PASSWORD, remote_addr="192.0.2.44").status_code == 200
    # The attacker's address stays locked, right password or not.
    assert _login(client, DEMO_EMAIL, DEMO_PASSWORD, remote_addr="198.51.100.7").status_code == 429


def test_the_client_behind_a_trusted_proxy_is_its_forwarded_address(make_app):
    client = make_app(LAB_TRUSTED_PROXIES="127.0.0.1")

    def via_proxy(client_ip, password, claimed=""):
        chain = f"{claimed}, {client_ip}" if claimed else client_ip
        return _login(
            client,
            DEMO_EMAIL,
            password,
            remote_addr="127.0.0.1",
            headers={"X-Forwarded-For": chain},
        )

    for _ in range(5):
        via_proxy("198.51.100.7", "wrong")
    assert via_proxy("198.51.100.7", "wrong").status_code == 429
    # A forged left-most entry is not believed: the proxy appended the real peer.
    assert via_proxy("198.51.100.7", "wrong", claimed="192.0.2.1").status_code == 429
    assert via_proxy("192.0.2.44", DEMO_PASSWORD).status_code == 200


def test_an_untrusted_peer_cannot_choose_its_address(make_app):
    client = make_app()  # no trusted proxy: X-Forwarded-For is ignored
    for i in range(6):
        _login(client, DEMO_EMAIL, "wrong", headers={"X-Forwarded-For": f"192.0.2.{i}"})
    assert (
        _login(client, DEMO_EMAIL, "wrong", headers={"X-Forwarded-For": "192.0.2.99"}).status_code
        == 429
    )
