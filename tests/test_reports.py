"""Async reports: the request, the CSV, who may download it, and the stage end to end."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import falcon.testing
import pytest
from huey import MemoryHuey

from benchmarks.client import LabClient
from mailsim import MailSimulator
from shared import db
from shared.adapters.mailers import QueuedReviewMailer
from shared.adapters.report_stores import LocalReportStore
from shared.adapters.tokens import JwtAuth
from shared.adapters.top_rated import LiveTopRated
from shared.api import create_api
from shared.api.reports import report_routes
from shared.mail import SmtpSender
from shared.models import Report, User
from shared.passwords import hash_password
from shared.queue import register_review_mail
from shared.reports import COLUMNS, ReportLinks, register_report_tasks
from shared.seed import DEMO_EMAIL, DEMO_PASSWORD, Scale, seed_sqlite_file
from shared.services import NotFound

SECRET = "test-secret-" + "x" * 40
OTHER_EMAIL, OTHER_PASSWORD = "other@example.com", "other-password"
TOKENS: dict[tuple[str, str], str] = {}  # ReportLab.login's


@pytest.fixture(scope="session")
def seed_template(tmp_path_factory) -> Path:
    """The small seeded database with a second user, made once (each argon2 hash costs)."""
    path = seed_sqlite_file(tmp_path_factory.mktemp("seed") / "seed-20x20.sqlite3", Scale(20, 20))
    template = db.connect(f"sqlite:///{path}")
    User.create(email=OTHER_EMAIL, password_hash=hash_password(OTHER_PASSWORD))
    template.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # into the file the tests copy
    template.close()
    return path


@pytest.fixture
def database(seed_template, tmp_path) -> str:
    """A fresh copy of the small seeded database, with a second user, for one test."""
    path = tmp_path / "lab.sqlite3"
    shutil.copyfile(seed_template, path)
    db.connect(f"sqlite:///{path}")
    return f"sqlite:///{path}"


@pytest.fixture
def mailsim():
    with MailSimulator(smtp_port=0, http_port=0, delay_ms=0) as sim:
        yield sim


class ReportLab:
    """The report routes wired as the stages wire them; huey runs tasks inline (immediate mode)."""

    def __init__(self, store, mailsim: MailSimulator, retries: int = 0):
        self.store = store
        self.mailsim = mailsim
        self.links = ReportLinks(SECRET, "http://lab.test", ttl_seconds=300)
        huey = MemoryHuey("test-reports", immediate=True)
        sender = SmtpSender("127.0.0.1", mailsim.smtp_port, "no-reply@lab.test")
        build = register_report_tasks(
            huey, LiveTopRated(), store, sender, self.links, retries=retries
        )
        self.client = falcon.testing.TestClient(
            create_api(
                auth=JwtAuth(SECRET),
                review_mailer=QueuedReviewMailer(register_review_mail(huey, sender)),
                top_rated=LiveTopRated(),
                extra_routes=report_routes(build, store, self.links),
            )
        )

    def login(self, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> dict:
        # One real login per user for the module: every test's database is a copy of the same
        # template (same ids) and the token is a stateless JWT, while each argon2 check costs.
        if (email, password) not in TOKENS:
            credentials = {"email": email, "password": password}
            result = self.client.simulate_post("/api/login", json=credentials)
            assert result.status_code == 200, result.text
            TOKENS[email, password] = result.json["token"]
        return {"Authorization": f"Bearer {TOKENS[email, password]}"}

    def request(self, headers: dict, body=None) -> falcon.testing.Result:
        return self.client.simulate_post("/api/reports", headers=headers, json=body)

    def ready(self, headers: dict, body=None) -> dict:
        """Ask for a report and return its status (tasks ran inline, so it is finished)."""
        posted = self.request(headers, body)
        assert posted.status_code == 202, posted.text
        status = self.client.simulate_get(f"/api/reports/{posted.json['id']}", headers=headers)
        assert status.status_code == 200, status.text
        return status.json

    def follow(self, link: str) -> falcon.testing.Result:
        """Open a link the way a mail reader does: no bearer token, just the URL."""
        parts = urlsplit(link)
        return self.client.simulate_get(parts.path, query_string=parts.query)


@pytest.fixture
def lab(database, mailsim, tmp_path) -> ReportLab:
    return ReportLab(LocalReportStore(tmp_path / "app-1" / "reports"), mailsim)


def parse_csv(text: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return [
        {
            "rank": int(r["rank"]),
            "id": r["id"],
            "name": r["name"],
            "specialty": r["specialty"],
            "average_rating": float(r["average_rating"]),
            "reviews_count": int(r["reviews_count"]),
        }
        for r in rows
    ]


def with_token(link: str, token: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?token={token}"


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


# --- requesting a report -----------------------------------------------------------------------


def test_post_answers_202_with_location_then_ready_and_mailed(lab):
    headers = lab.login()
    posted = lab.request(headers, {"limit": 5})
    assert posted.status_code == 202
    assert set(posted.json) == {"id", "status", "status_url"}
    assert posted.json["status"] == "pending"
    assert posted.headers["Location"] == posted.json["status_url"]
    assert posted.json["status_url"] == f"http://lab.test/api/reports/{posted.json['id']}"

    status = lab.client.simulate_get(f"/api/reports/{posted.json['id']}", headers=headers).json
    assert status["status"] == "ready" and status["limit"] == 5
    assert status["download_url"].startswith(f"{posted.json['status_url']}/download?token=")

    [mail] = lab.mailsim.wait_for_messages(1, timeout=5, to=DEMO_EMAIL)
    assert mail["subject"] == "Your report is ready"
    assert mail["headers"]["X-Lab-Report-Id"] == posted.json["id"]
    assert mail["headers"]["X-Lab-Link"] in mail["text"]
    assert lab.follow(mail["headers"]["X-Lab-Link"]).status_code == 200


def test_csv_has_the_json_endpoints_values(lab):
    headers = lab.login()
    for limit in (10, 3):
        status = lab.ready(headers, {"limit": limit})
        download = lab.follow(status["download_url"])
        assert download.status_code == 200
        assert download.headers["Content-Type"].startswith("text/csv")
        assert download.text.splitlines()[0] == ",".join(COLUMNS)
        ranking = lab.client.simulate_get(
            f"/api/specialists/highest_rated/{limit}", headers=headers
        ).json["data"]
        assert len(ranking) == limit
        assert parse_csv(download.text) == [
            {"rank": i, **row} for i, row in enumerate(ranking, start=1)
        ]


def test_empty_body_means_the_top_10(lab):
    headers = lab.login()
    posted = lab.client.simulate_post("/api/reports", headers=headers)
    assert posted.status_code == 202
    assert Report.get_by_id(posted.json["id"]).limit == 10


@pytest.mark.parametrize("limit", [0, 101, -1, "10", 2.5, True, None])
def test_limit_is_validated(lab, limit):
    headers = lab.login()
    result = lab.request(headers, {"limit": limit})
    assert result.status_code == 422
    assert "limit" in result.json["errors"]
    assert Report.select().count() == 0  # nothing recorded for a refused request


def test_malformed_json_is_400_and_login_is_required(lab):
    headers = lab.login()
    broken = lab.client.simulate_post(
        "/api/reports", body="{nope", headers={**headers, "Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert lab.client.simulate_post("/api/reports", json={}).status_code == 401
    assert lab.client.simulate_get(f"/api/reports/{uuid.uuid4()}").status_code == 401


# --- who may see and download it ---------------------------------------------------------------


def test_another_users_report_is_404(lab):
    mine = lab.ready(lab.login())
    other = lab.login(OTHER_EMAIL, OTHER_PASSWORD)
    assert lab.client.simulate_get(f"/api/reports/{mine['id']}", headers=other).status_code == 404
    # A correctly signed link made for the other user does not open my report either.
    other_id = User.get(User.email == OTHER_EMAIL).id
    assert lab.follow(lab.links.download_url(mine["id"], other_id)).status_code == 404
    # Unknown ids look the same as other people's.
    missing = lab.client.simulate_get(f"/api/reports/{uuid.uuid4()}", headers=other)
    assert missing.status_code == 404


def test_tampered_link_is_refused(lab):
    status = lab.ready(lab.login())
    link = status["download_url"]
    user, expires, signature = token_of(link).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    other = lab.ready(lab.login(OTHER_EMAIL, OTHER_PASSWORD))
    tampered = [
        with_token(link, f"{user}.{expires}.{flipped}"),  # signature changed
        with_token(link, f"{int(user) + 1}.{expires}.{signature}"),  # someone else's user id
        with_token(link, f"{user}.{int(expires) + 3600}.{signature}"),  # expiry pushed back
        with_token(link, "garbage"),
        urlsplit(link).path,  # no token at all
        link.replace(status["id"], other["id"]),  # my token, another report
    ]
    for url in tampered:
        result = lab.follow(url)
        assert result.status_code == 403, (url, result.status_code, result.text)
    assert lab.follow(link).status_code == 200


def test_expired_link_is_refused(lab):
    status = lab.ready(lab.login())
    user_id = User.get(User.email == DEMO_EMAIL).id
    expired = lab.links.download_url(status["id"], user_id, now=time.time() - 301)
    result = lab.follow(expired)
    assert result.status_code == 403
    assert "expired" in result.json["description"]
    # The status route always hands out a fresh link.
    assert lab.follow(status["download_url"]).status_code == 200


def test_pending_report_is_not_downloadable(lab, database):
    user_id = User.get(User.email == DEMO_EMAIL).id
    report = Report.create(user=user_id, limit=10)
    assert lab.follow(lab.links.download_url(report.id, user_id)).status_code == 409


# --- building and storing it -------------------------------------------------------------------


class BrokenStore(LocalReportStore):
    def save(self, name: str, data: bytes) -> str:
        raise OSError("disk full (simulated)")


def test_a_failed_build_shows_a_short_reason_not_the_exception(database, mailsim, tmp_path):
    from shared.models import MailOutbox
    from shared.reports import STORE_FAILED

    lab = ReportLab(BrokenStore(tmp_path / "reports"), mailsim)
    headers = lab.login()
    status = lab.ready(headers)
    assert status["status"] == "failed"
    assert status["error"] == STORE_FAILED  # the user's reason
    assert "disk full" not in status["error"] and "OSError" not in status["error"]
    # The whole error is kept for the operator: the dead letter's last error.
    row = MailOutbox.get(MailOutbox.ref == status["id"])
    assert "OSError: disk full" in row.last_error
    assert "download_url" not in status
    assert mailsim.messages(to=DEMO_EMAIL) == []


def test_local_store_writes_whole_files_or_nothing(tmp_path, monkeypatch):
    store = LocalReportStore(tmp_path / "reports")
    assert store.save("a.csv", b"rank\n1\n") == "a.csv"
    assert (tmp_path / "reports" / "a.csv").read_bytes() == b"rank\n1\n"

    def crash(src, dst):
        raise OSError("crashed before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.save("b.csv", b"rank\n1\n")
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["a.csv"]


def test_a_replica_serves_only_its_own_disk(lab, tmp_path):
    status = lab.ready(lab.login())
    report = Report.get_by_id(status["id"])
    other_replica = falcon.Response()
    with pytest.raises(NotFound) as refused:
        LocalReportStore(tmp_path / "app-2" / "reports").respond(
            other_replica, report.location, "r.csv"
        )
    assert "this replica's disk" in str(refused.value)


# --- the real stage --------------------------------------------------------------------------


def http(method: str, url: str, body=None, headers: dict | None = None):
    """Return (status, headers, body bytes) without raising on 4xx/5xx."""
    reply = LabClient(url, timeout=10).request(method, "", body, headers=headers)
    assert reply.status, reply.error  # 0: no HTTP answer at all
    return reply.status, reply.headers, reply.body


def report_via_stack(stack) -> tuple[str, str, dict]:
    """Log in, ask for a report through the balancer, wait for its mail: (bearer, link, mail)."""
    api = stack.urls["api"]
    status, _, body = http("POST", f"{api}/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert status == 200
    token = json.loads(body)["token"]
    status, headers, body = http(
        "POST", f"{api}/reports", {"limit": 10}, {"Authorization": f"Bearer {token}"}
    )
    assert status == 202, body
    report_id = json.loads(body)["id"]
    assert headers["Location"].endswith(f"/api/reports/{report_id}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, _, body = http("GET", f"{stack.urls['inbox']}api/messages?to={DEMO_EMAIL}")
        mails = [
            m
            for m in json.loads(body)["messages"]
            if m["headers"].get("X-Lab-Report-Id") == report_id
        ]
        if mails:
            return token, mails[0]["headers"]["X-Lab-Link"], mails[0]
        time.sleep(0.1)
    raise AssertionError(f"no mail for report {report_id} within 30 s; logs in {stack.state}")


def stack_options(tmp_path):
    from benchmarks.stack import Options, free_port

    return Options(
        port=free_port(),
        inbox_port=free_port(),
        smtp_port=free_port(),
        mail_delay_ms=10,
        scale=Scale(20, 20),
        state_dir=tmp_path / "stack",
        quiet=True,
    )


@pytest.mark.slow
@pytest.mark.processes
def test_async_reports_stage_end_to_end(tmp_path):
    from benchmarks.stack import Stack

    with Stack("async-reports", stack_options(tmp_path)) as stack:
        _, link, mail = report_via_stack(stack)
        assert mail["subject"] == "Your report is ready"
        results = [http("GET", link) for _ in range(20)]  # the proxy picks at random at rest
    served = [r for r in results if r[0] == 200]
    missing = [r for r in results if r[0] == 404]
    # The lesson, visible: the worker wrote the file on app-1's disk; app-2 cannot serve it.
    assert served and missing and len(served) + len(missing) == 20, [r[0] for r in results]
    assert {r[1]["X-Replica"] for r in served} == {"app-1"}
    assert {r[1]["X-Replica"] for r in missing} == {"app-2"}
    assert all(b"this replica's disk" in r[2] for r in missing)
    assert len(parse_csv(served[0][2].decode())) == 10


# --- issue 12: hostile content and hostile links ------------------------------------------------

FORMULAS = [
    "=1+1",
    '=HYPERLINK("http://evil.test","x")',
    "+1+1",
    "-1+1",
    "@SUM(A1:A2)",
    "\tcmd",
    "\rcmd",
]


@pytest.mark.parametrize("formula", FORMULAS)
def test_a_formula_in_a_name_lands_in_the_csv_as_inert_text(lab, formula):
    from shared.models import Review, Specialist

    top = Specialist.create(
        crm=f"CRM-{uuid.uuid4().hex[:8]}",
        name=formula,
        specialty=formula,
        email=f"{uuid.uuid4().hex[:8]}@example.com",
    )
    Review.create(specialist=top.id, rating=10)  # the only perfect score: first in the ranking
    Review.create(specialist=top.id, rating=10)
    status = lab.ready(lab.login(), {"limit": 3})
    text = lab.follow(status["download_url"]).text
    first = next(csv.DictReader(io.StringIO(text)))
    assert first["id"] == str(top.id)
    assert first["name"] == "'" + formula and first["specialty"] == "'" + formula
    for line in text.splitlines()[1:]:
        for cell in next(csv.reader([line])):
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


@pytest.mark.parametrize(
    "query",
    [
        "token=1.2.%C3%A9",
        "token=%D9%A1.%D9%A2.abc",
        "token=%C3%BF.1.1",
        "token=1.9999999999.%F0%9F%92%A5",
        "token=1.2.%ED%A0%80",
        "token=1.2.%FF%FE",
    ],
)
def test_a_non_ascii_token_is_refused_with_403_not_500(lab, query):
    status = lab.ready(lab.login())
    result = lab.client.simulate_get(f"/api/reports/{status['id']}/download", query_string=query)
    assert result.status_code == 403, result.text
