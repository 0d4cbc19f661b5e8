"""Smaller holes of issue 12 (item 8): one e-mail address, demo mode, the throttle's email key,
a failed report's reason, the replicas' gunicorn settings in the image.
"""

from __future__ import annotations

import json
import re

import pytest

from benchmarks.stack import ROOT
from shared import validation

# --- one address per specialist -------------------------------------------------------------

GOOD = [
    "name@example.com",
    "first.last+tag@sub.example.org",
    "émail@exemple.fr",
    "x@scaling-lab.test",
]
BAD = [
    "x@evil.com,foo.bar",
    "x@evil.com, y@example.com",
    "x@evil.com;y@example.com",
    "Eve <x@evil.com>",
    '"a,b"@example.com',
    "x@evil.com\r\nBcc: y@example.com",
    "x@@example.com",
    "not-an-address",
    "x@localhost",
    "@example.com",
]


@pytest.mark.parametrize("address", GOOD)
def test_one_address_is_accepted_as_given(address):
    clean = validation.specialist({"crm": "1", "name": "n", "specialty": "s", "email": address})
    assert clean["email"] == address


@pytest.mark.parametrize("address", BAD)
def test_anything_but_one_address_is_refused_naming_the_field(address):
    with pytest.raises(validation.ValidationError) as refused:
        validation.specialist({"crm": "1", "name": "n", "specialty": "s", "email": address})
    assert list(refused.value.errors) == ["email"]
    assert "name@example.com" in refused.value.errors["email"][0]  # says what is expected


# --- the image loads the replicas' gunicorn settings -----------------------------------------


def test_the_image_and_the_readme_name_the_real_gunicorn_settings():
    import stages
    from benchmarks.stack import Options
    from benchmarks.stack.processes import process_specs
    from benchmarks.tools.compose import compose_site

    topology = stages.topology("load-balanced")
    app = next(
        s for s in process_specs(topology, Options(), compose_site(topology)) if s.group == "app"
    )
    config = app.argv[app.argv.index("-c") + 1]
    assert config == "python:benchmarks.stack.gunicorn_conf"
    cmd = re.search(
        r"^CMD (\[.*?\])$", (ROOT / "Dockerfile").read_text().replace("\\\n", ""), re.M | re.S
    )
    argv = json.loads(cmd.group(1))
    assert argv[argv.index("-c") + 1] == config, "the image's default command skips the settings"
    readme = (ROOT / "README.md").read_text()
    assert "gunicorn.conf.py" not in readme
    assert "benchmarks/stack/gunicorn_conf.py" in readme
    assert (ROOT / "benchmarks" / "stack" / "gunicorn_conf.py").exists()


# --- LAB_DEMO=0: no demo user, no invented secret ---------------------------------------------


@pytest.mark.parametrize(
    "value,expected",
    [
        (None, True),
        ("1", True),
        ("yes", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("", False),
    ],
)
def test_lab_demo_is_read_by_the_app_and_the_runner(monkeypatch, value, expected):
    from benchmarks.stack import Options
    from shared.config import Settings

    if value is None:
        monkeypatch.delenv("LAB_DEMO", raising=False)
    else:
        monkeypatch.setenv("LAB_DEMO", value)
    assert Settings.from_env().demo is expected
    assert Options().demo is expected


def test_outside_demo_mode_the_stack_has_no_demo_user(launch, monkeypatch):
    from benchmarks.client import LabClient
    from shared.seed import DEMO_EMAIL, DEMO_PASSWORD

    monkeypatch.setenv("LAB_DEMO", "0")
    stack = launch("legacy")  # Options() read LAB_DEMO
    try:
        assert stack.options.demo is False
        assert all(s.env.get("LAB_DEMO") == "0" for s in stack.specs if s.group == "app")
        client = LabClient(stack.urls["api"].removesuffix("/api"))
        reply = client.post("/api/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
        assert reply.status == 401, reply
    finally:
        stack.stop()


def test_outside_demo_mode_no_jwt_secret_is_made(monkeypatch, tmp_path):
    from benchmarks.stack import Options, Stack, StackError

    monkeypatch.setenv("LAB_DEMO", "0")
    monkeypatch.delenv("LAB_JWT_SECRET", raising=False)
    stack = Stack("token-auth", Options(state_dir=tmp_path, quiet=True))
    with pytest.raises(StackError, match="LAB_JWT_SECRET is not set"):
        stack.plan("sqlite:///unused.sqlite3")
    monkeypatch.setenv("LAB_JWT_SECRET", "s" * 40)
    site, _ = stack.plan("sqlite:///unused.sqlite3")
    assert site.values["LAB_JWT_SECRET"] == "s" * 40  # given, not made


@pytest.mark.processes
def test_the_compose_files_follow_lab_demo():
    from benchmarks.tools import compose

    config = compose.load_compose(
        ROOT / "docker-compose.token-auth.yml", {**compose.DUMMY_SECRETS, "LAB_DEMO": "0"}
    )
    assert config["services"]["app"]["environment"]["LAB_DEMO"] == "0"
    assert config["services"]["seed"]["environment"]["LAB_DEMO"] == "0"
    default = compose.load_compose(ROOT / "docker-compose.token-auth.yml")
    assert default["services"]["app"]["environment"]["LAB_DEMO"] == "1"


def test_remove_demo_user_deletes_only_the_demo_user(tmp_path):
    from shared import db
    from shared.models import User
    from shared.seed import DEMO_EMAIL, Scale, remove_demo_user, seed_sqlite_file

    path = seed_sqlite_file(tmp_path / "seed.sqlite3", Scale(2, 2))
    url = f"sqlite:///{path}"
    db.connect(url)
    User.create(email="someone@example.com", password_hash="x")
    assert remove_demo_user(url) == 1
    assert [u.email for u in User.select()] == ["someone@example.com"]
    assert DEMO_EMAIL not in [u.email for u in User.select()]


# --- the throttle's account key matches the database's comparison of emails -------------------


def test_the_account_key_is_nfkc_and_casefolded():
    from shared.throttle import account_key

    same = [
        "email@example.com",
        "EMAIL@EXAMPLE.COM",
        "ｅｍａｉｌ@ｅｘａｍｐｌｅ.ｃｏｍ",
        " Email@Example.com ",
    ]
    assert len({account_key(e) for e in same}) == 1
    assert account_key("STRASSE@x.com") == account_key("straße@x.com")  # casefold, not lower
    assert account_key("other@example.com") != account_key("email@example.com")


def test_every_spelling_mariadb_matches_counts_against_the_one_account(
    seeded_mysql_url, tmp_path, monkeypatch
):
    """MariaDB's utf8mb4_general_ci ignores case and accents: "émail@…" logs into the demo
    account, so it must spend the demo account's failures, not a counter of its own."""
    import falcon.testing

    from shared.config import Settings
    from shared.models import User
    from shared.seed import DEMO_EMAIL, DEMO_PASSWORD
    from stages.legacy.app import create_app

    monkeypatch.delenv("LAB_REDIS_URL", raising=False)  # the throttle counts in this process
    client = falcon.testing.TestClient(
        create_app(
            Settings(
                database_url=seeded_mysql_url,
                session_dir=tmp_path / "sessions",
                jwt_secret="hardening-" + "k" * 40,
            )
        )
    )
    spellings = [
        "émail@example.com",
        "EMAIL@example.com",
        "Émail@Exämple.com",
        "èmail@example.com",
        "ｅmail@example.com",
    ]
    # The premise: the database takes every spelling for the demo account.
    assert all(User.get(User.email == s).email == DEMO_EMAIL for s in spellings[:4])

    def login(email, password):
        return client.simulate_post("/api/login", json={"email": email, "password": password})

    answers = [login(s, "wrong-password").status_code for s in spellings]
    assert answers == [401] * 5
    assert login(DEMO_EMAIL, "wrong-password").status_code == 429
    assert login("émail@example.com", DEMO_PASSWORD).status_code == 429
    assert login("someone-else@example.com", "wrong-password").status_code == 401
