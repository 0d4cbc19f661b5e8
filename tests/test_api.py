"""The API contract, in-process (falcon.testing) on the legacy app, on every database backend.

Each test gets its own freshly seeded database (Scale(20, 20)): SQLite (a copy of the seeded
template), PostgreSQL and MariaDB (throwaway databases cloned from one seeded with seed_url).
The review mail goes over real SMTP to an in-process mail simulator.
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
from collections import defaultdict

import falcon.testing
import pytest

from shared.config import Settings
from shared.models import Review, Specialist
from stages.legacy.app import create_app

DEMO = {"email": "email@example.com", "password": "12345678"}
SEEDED_SPECIALISTS = 20
SEEDED_REVIEWS_EACH = 20

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]
URL_FIXTURE = {
    "sqlite": "sqlite_url",
    "postgresql": "seeded_postgres_url",
    "mysql": "seeded_mysql_url",
}


class Api:
    """The TestClient plus the session cookie of a logged-in demo user."""

    def __init__(self, client: falcon.testing.TestClient, cookie: str, mail):
        self.client = client
        self.cookie = cookie
        self.mail = mail

    def call(self, method: str, path: str, *, auth: bool = True, headers=None, **kw):
        all_headers = {"Cookie": self.cookie} if auth else {}
        all_headers.update(headers or {})
        return self.client.simulate_request(method, path, headers=all_headers, **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)

    def put(self, path, **kw):
        return self.call("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.call("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def a_specialist(self, page: int = 1) -> dict:
        resp = self.get("/api/specialists", params={"page": page, "per_page": 1})
        assert resp.status_code == 200, resp.text
        return resp.json["data"][0]

    def review_count(self, specialist_id: str) -> int:
        resp = self.get(f"/api/specialists/{specialist_id}/reviews")
        assert resp.status_code == 200, resp.text
        return resp.json["total"]


def _session_cookie(result) -> str:
    cookie = result.cookies.get("lab_session")
    assert cookie is not None, f"login set no lab_session cookie: {result.headers}"
    return f"lab_session={cookie.value}"


def _settings(url: str, mail_sim, session_dir) -> Settings:
    return Settings(database_url=url, smtp_port=mail_sim.smtp_port, session_dir=session_dir)


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory):
    """The app instance's session directory, kept for the module (like one server's disk)."""
    return tmp_path_factory.mktemp("sessions")


@pytest.fixture(scope="module")
def demo_cookie(session_dir, seed_template_file, mail_sim, tmp_path_factory):
    """One real login, reused by every test (argon2 makes each login cost ~0.5 s here).

    The demo user is user 1 in every seeded database, so the session is valid in all of them.
    """
    db_file = tmp_path_factory.mktemp("login") / "lab.sqlite3"
    shutil.copyfile(seed_template_file, db_file)
    app = create_app(_settings(f"sqlite:///{db_file}", mail_sim, session_dir))
    result = falcon.testing.TestClient(app).simulate_post("/api/login", json=DEMO)
    assert result.status_code == 200, result.text
    return _session_cookie(result)


@pytest.fixture(params=BACKENDS)
def db_url(request) -> str:
    return request.getfixturevalue(URL_FIXTURE[request.param])


@pytest.fixture
def api(db_url, mail_sim, session_dir, demo_cookie):
    app = create_app(_settings(db_url, mail_sim, session_dir))
    yield Api(falcon.testing.TestClient(app), demo_cookie, mail_sim)
    from shared.db import database

    database.obj.close()


def _new_specialist(tag: str | None = None) -> dict:
    tag = tag or uuid.uuid4().hex[:10]
    return {
        "crm": f"CRM-T-{tag}",
        "name": f"Dr. Test {tag}",
        "specialty": "Cardiology",
        "email": f"test-{tag}@example.com",
    }


# --- public routes and login ----------------------------------------------------------------


def test_public_routes_answer_without_login(api):
    resp = api.get("/api/test", auth=False)
    assert resp.status_code == 200
    assert resp.json == {"message": "ok"}
    resp = api.get("/health", auth=False)
    assert resp.status_code == 200
    assert resp.json["status"] == "ok"


def test_login_with_the_demo_user_starts_a_session(api):
    resp = api.post("/api/login", auth=False, json=DEMO)
    assert resp.status_code == 200, resp.text
    cookie = _session_cookie(resp)
    assert resp.cookies["lab_session"].http_only
    user = api.get("/api/user", auth=False, headers={"Cookie": cookie})
    assert user.status_code == 200, user.text
    assert user.json["email"] == DEMO["email"]


def test_wrong_password_and_unknown_email_get_the_same_401(api):
    wrong = api.post(
        "/api/login", auth=False, json={"email": DEMO["email"], "password": "not-the-password"}
    )
    unknown = api.post(
        "/api/login", auth=False, json={"email": "nobody@example.com", "password": DEMO["password"]}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert "lab_session" not in wrong.cookies and "lab_session" not in unknown.cookies


def test_login_without_fields_names_each_field(api):
    resp = api.post("/api/login", auth=False, json={})
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == {"email", "password"}


def test_current_user(api):
    resp = api.get("/api/user")
    assert resp.status_code == 200
    assert resp.json["email"] == DEMO["email"]
    assert "password_hash" not in resp.json and "password" not in json.dumps(resp.json)


PROTECTED = [
    ("GET", "/api/user"),
    ("GET", "/api/specialists"),
    ("POST", "/api/specialists"),
    ("GET", "/api/specialists/{sid}"),
    ("PUT", "/api/specialists/{sid}"),
    ("PATCH", "/api/specialists/{sid}"),
    ("DELETE", "/api/specialists/{sid}"),
    ("GET", "/api/specialists/{sid}/reviews"),
    ("POST", "/api/specialists/{sid}/reviews"),
    ("GET", "/api/specialists/{sid}/reviews/{rid}"),
    ("PUT", "/api/specialists/{sid}/reviews/{rid}"),
    ("PATCH", "/api/specialists/{sid}/reviews/{rid}"),
    ("DELETE", "/api/specialists/{sid}/reviews/{rid}"),
    ("GET", "/api/specialists/highest_rated"),
    ("GET", "/api/specialists/highest_rated/3"),
]


def test_every_protected_route_needs_a_login(api):
    specialist = api.a_specialist()
    sid = specialist["id"]
    rid = api.get(f"/api/specialists/{sid}/reviews").json["data"][0]["id"]
    before = api.review_count(sid)
    bogus = {"Cookie": "lab_session=" + "A" * 43}
    for method, template in PROTECTED:
        path = template.format(sid=sid, rid=rid)
        body = {"rating": 5, **_new_specialist()}
        for headers in ({}, bogus):
            resp = api.call(method, path, auth=False, headers=headers, json=body)
            assert resp.status_code == 401, f"{method} {path} with {headers}: {resp.status_code}"
            assert resp.json["title"] == "Not logged in"
    # Nothing was changed by any of the refused requests.
    assert api.get(f"/api/specialists/{sid}").json == specialist
    assert api.review_count(sid) == before
    assert Specialist.select().count() == SEEDED_SPECIALISTS


# --- lists ------------------------------------------------------------------------------------


def test_specialists_list_is_paginated(api):
    first = api.get("/api/specialists")
    assert first.status_code == 200
    page = first.json
    assert set(page) >= {"data", "current_page", "per_page", "total", "last_page"}
    assert (page["current_page"], page["per_page"], page["total"], page["last_page"]) == (
        1,
        15,
        SEEDED_SPECIALISTS,
        2,
    )
    assert len(page["data"]) == 15
    second = api.get("/api/specialists", params={"page": 2}).json
    assert second["current_page"] == 2 and len(second["data"]) == SEEDED_SPECIALISTS - 15
    ids = [s["id"] for s in page["data"] + second["data"]]
    assert len(set(ids)) == SEEDED_SPECIALISTS  # the pages do not overlap
    names = [s["name"] for s in page["data"] + second["data"]]
    assert names == sorted(names)
    assert set(page["data"][0]) >= {"id", "crm", "name", "specialty", "email"}
    small = api.get("/api/specialists", params={"per_page": 100}).json
    assert len(small["data"]) == SEEDED_SPECIALISTS and small["last_page"] == 1
    beyond = api.get("/api/specialists", params={"page": 99}).json
    assert beyond["data"] == [] and beyond["total"] == SEEDED_SPECIALISTS


@pytest.mark.parametrize(
    "params, field",
    [
        ({"per_page": 0}, "per_page"),
        ({"per_page": 101}, "per_page"),
        ({"per_page": -5}, "per_page"),
        ({"per_page": "abc"}, "per_page"),
        ({"page": 0}, "page"),
        ({"page": "x"}, "page"),
        ({"page": "99999999999999999999"}, "page"),  # an OFFSET no database can hold: not a 500
    ],
)
def test_page_parameters_out_of_bounds_get_422(api, params, field):
    sid = api.a_specialist()["id"]
    for path in ("/api/specialists", f"/api/specialists/{sid}/reviews"):
        resp = api.get(path, params=params)
        assert resp.status_code == 422, f"{path} {params}: {resp.status_code}"
        assert field in resp.json["errors"]


def test_reviews_list_is_paginated_newest_first(api):
    sid = api.a_specialist()["id"]
    page = api.get(f"/api/specialists/{sid}/reviews", params={"per_page": 5}).json
    assert (page["current_page"], page["per_page"], page["total"], page["last_page"]) == (
        1,
        5,
        SEEDED_REVIEWS_EACH,
        4,
    )
    assert all(r["specialist_id"] == sid for r in page["data"])
    created = api.post(f"/api/specialists/{sid}/reviews", json={"rating": 9, "comment": "new"})
    assert created.status_code == 201
    newest = api.get(f"/api/specialists/{sid}/reviews", params={"per_page": 5}).json
    assert newest["total"] == SEEDED_REVIEWS_EACH + 1
    assert newest["data"][0]["id"] == created.json["id"]


# --- specialists CRUD -------------------------------------------------------------------------


def test_specialist_crud(api):
    fields = _new_specialist()
    created = api.post("/api/specialists", json=fields)
    assert created.status_code == 201, created.text
    sid = created.json["id"]
    assert {k: created.json[k] for k in fields} == fields
    uuid.UUID(sid)

    got = api.get(f"/api/specialists/{sid}")
    assert got.status_code == 200 and got.json == created.json

    replaced = api.put(f"/api/specialists/{sid}", json={**fields, "name": "Dr. Replaced"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json["name"] == "Dr. Replaced"

    patched = api.patch(f"/api/specialists/{sid}", json={"specialty": "Neurology"})
    assert patched.status_code == 200, patched.text
    assert patched.json["specialty"] == "Neurology" and patched.json["name"] == "Dr. Replaced"
    assert api.get(f"/api/specialists/{sid}").json["specialty"] == "Neurology"

    assert api.delete(f"/api/specialists/{sid}").status_code == 204
    assert api.get(f"/api/specialists/{sid}").status_code == 404
    assert api.delete(f"/api/specialists/{sid}").status_code == 404


@pytest.mark.parametrize("field", ["crm", "email"])
def test_duplicate_crm_or_email_gets_422_naming_the_field(api, field):
    existing = api.a_specialist()
    fields = {**_new_specialist(), field: existing[field]}
    before = Specialist.select().count()
    resp = api.post("/api/specialists", json=fields)
    assert resp.status_code == 422, resp.text
    assert list(resp.json["errors"]) == [field]
    assert Specialist.select().count() == before

    # Taking another specialist's value by update is refused the same way, and changes nothing.
    other = api.post("/api/specialists", json=_new_specialist()).json
    for method in ("put", "patch"):
        body = (
            {**_new_specialist(), field: existing[field]}
            if method == "put"
            else {field: existing[field]}
        )
        resp = getattr(api, method)(f"/api/specialists/{other['id']}", json=body)
        assert resp.status_code == 422, f"{method}: {resp.text}"
        assert field in resp.json["errors"]
    assert api.get(f"/api/specialists/{other['id']}").json == other


def test_specialist_missing_fields_are_each_named(api):
    resp = api.post("/api/specialists", json={})
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == {"crm", "name", "specialty", "email"}
    resp = api.post("/api/specialists", json={"crm": "CRM-X1", "name": "Dr. X"})
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == {"specialty", "email"}
    assert Specialist.select().count() == SEEDED_SPECIALISTS


@pytest.mark.parametrize(
    "address",
    [
        "x@evil.com,foo.bar",
        "x@evil.com, y@example.com",
        "Eve <x@evil.com>",
        "x@evil.com\nBcc: y@example.com",
    ],
)
def test_specialist_email_must_be_exactly_one_address(api, address):
    resp = api.post("/api/specialists", json={**_new_specialist(), "email": address})
    assert resp.status_code == 422 and list(resp.json["errors"]) == ["email"]
    assert "one valid address" in resp.json["errors"]["email"][0]
    assert Specialist.select().count() == SEEDED_SPECIALISTS


def test_specialist_bad_email_and_non_object_body_get_422(api):
    resp = api.post("/api/specialists", json={**_new_specialist(), "email": "not-an-address"})
    assert resp.status_code == 422 and list(resp.json["errors"]) == ["email"]
    resp = api.post("/api/specialists", json=[_new_specialist()])
    assert resp.status_code == 422 and "body" in resp.json["errors"]
    assert Specialist.select().count() == SEEDED_SPECIALISTS


# --- reviews CRUD -----------------------------------------------------------------------------


def test_review_crud(api):
    sid = api.a_specialist()["id"]
    created = api.post(f"/api/specialists/{sid}/reviews", json={"rating": 7, "comment": "Fine."})
    assert created.status_code == 201, created.text
    rid = created.json["id"]
    assert created.json["rating"] == 7 and created.json["comment"] == "Fine."
    assert created.json["specialist_id"] == sid

    path = f"/api/specialists/{sid}/reviews/{rid}"
    assert api.get(path).json == created.json
    replaced = api.put(path, json={"rating": 3, "comment": "Changed my mind."})
    assert replaced.status_code == 200 and replaced.json["rating"] == 3
    patched = api.patch(path, json={"comment": None})
    assert patched.status_code == 200
    assert patched.json["comment"] is None and patched.json["rating"] == 3
    assert api.get(path).json["comment"] is None

    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert api.review_count(sid) == SEEDED_REVIEWS_EACH


@pytest.mark.parametrize(
    "body",
    [
        {"comment": "no rating"},
        {"rating": 0},
        {"rating": 11},
        {"rating": "7"},
        {"rating": True},
        {"rating": None},
        {"rating": 7.5},
        {"rating": -1},
    ],
    ids=["missing", "0", "11", "string-7", "true", "null", "7.5", "-1"],
)
def test_invalid_rating_gets_422_and_writes_nothing(api, body):
    specialist = api.a_specialist()
    sid = specialist["id"]
    before = Review.select().count()
    mails_before = len(api.mail.messages(to=specialist["email"]))
    resp = api.post(f"/api/specialists/{sid}/reviews", json=body)
    assert resp.status_code == 422, resp.text
    assert "rating" in resp.json["errors"]
    assert Review.select().count() == before
    assert api.review_count(sid) == SEEDED_REVIEWS_EACH
    # The mail is sent inside the request, so "no mail" can be checked at once.
    assert len(api.mail.messages(to=specialist["email"])) == mails_before

    # The same rule on update, and the stored review stays as it was.
    review = api.get(f"/api/specialists/{sid}/reviews").json["data"][0]
    path = f"/api/specialists/{sid}/reviews/{review['id']}"
    if "rating" in body:
        resp = api.patch(path, json=body)
        assert resp.status_code == 422 and "rating" in resp.json["errors"]
    resp = api.put(path, json=body)
    assert resp.status_code == 422 and "rating" in resp.json["errors"]
    assert api.get(path).json == review


def test_comment_limit_is_2000_characters(api):
    sid = api.a_specialist()["id"]
    too_long = api.post(
        f"/api/specialists/{sid}/reviews", json={"rating": 5, "comment": "x" * 2001}
    )
    assert too_long.status_code == 422
    assert list(too_long.json["errors"]) == ["comment"]
    assert api.review_count(sid) == SEEDED_REVIEWS_EACH
    at_limit = api.post(
        f"/api/specialists/{sid}/reviews", json={"rating": 5, "comment": "y" * 2000}
    )
    assert at_limit.status_code == 201
    assert len(at_limit.json["comment"]) == 2000


def test_new_review_mails_the_specialist(api):
    specialist = api.a_specialist(page=3)
    comment = f"Superb care {uuid.uuid4().hex[:8]}"
    resp = api.post(
        f"/api/specialists/{specialist['id']}/reviews", json={"rating": 9, "comment": comment}
    )
    assert resp.status_code == 201, resp.text
    rid = resp.json["id"]
    # The legacy app sends inside the request: the mail is there by the time the 201 is.
    mine = [
        m
        for m in api.mail.messages(to=specialist["email"])
        if m["headers"].get("X-Lab-Review-Id") == rid
    ]
    assert len(mine) == 1, api.mail.messages(to=specialist["email"])
    mail = mine[0]
    assert mail["subject"] == "You have a new review"
    assert mail["to"] == [specialist["email"]]
    assert "Rating: 9/10" in mail["text"]
    assert comment in mail["text"]


def test_deleting_a_specialist_deletes_its_reviews(api):
    specialist = api.a_specialist()
    sid = specialist["id"]
    one_review = api.get(f"/api/specialists/{sid}/reviews").json["data"][0]
    assert Review.select().where(Review.specialist == sid).count() == SEEDED_REVIEWS_EACH
    total_before = Review.select().count()

    assert api.delete(f"/api/specialists/{sid}").status_code == 204
    assert api.get(f"/api/specialists/{sid}/reviews").status_code == 404
    assert api.get(f"/api/specialists/{sid}/reviews/{one_review['id']}").status_code == 404
    assert Review.select().where(Review.specialist == sid).count() == 0
    assert Review.select().count() == total_before - SEEDED_REVIEWS_EACH
    assert Specialist.select().count() == SEEDED_SPECIALISTS - 1


# --- highest rated ----------------------------------------------------------------------------


def _averages() -> dict[str, float]:
    ratings = defaultdict(list)
    for review in Review.select(Review.specialist, Review.rating):
        ratings[str(review.specialist_id)].append(review.rating)
    return {sid: sum(r) / len(r) for sid, r in ratings.items()}


def test_highest_rated_is_the_top_ten_by_average(api):
    resp = api.get("/api/specialists/highest_rated")
    assert resp.status_code == 200
    rows = resp.json["data"]
    assert len(rows) == 10
    averages = [row["average_rating"] for row in rows]
    assert averages == sorted(averages, reverse=True)
    # Cross-checked against the reviews themselves: the right averages, and the best ones.
    truth = _averages()
    for row in rows:
        assert row["average_rating"] == pytest.approx(truth[row["id"]], abs=0.01)
        assert row["reviews_count"] == SEEDED_REVIEWS_EACH
    assert min(averages) >= sorted(truth.values(), reverse=True)[9] - 0.01
    assert set(rows[0]) >= {"id", "name", "specialty", "average_rating"}


def test_highest_rated_follows_new_reviews(api):
    averages = _averages()
    worst, low = min(averages.items(), key=lambda kv: kv[1])
    best = max(averages.values())
    assert api.get("/api/specialists/highest_rated/1").json["data"][0]["id"] != worst
    # Enough 10s to lift the worst average above the best one: (20 low + 10 n) / (20 + n) > best.
    n = math.floor(SEEDED_REVIEWS_EACH * (best - low) / (10 - best)) + 1
    for _ in range(n):
        assert api.post(f"/api/specialists/{worst}/reviews", json={"rating": 10}).status_code == 201
    top = api.get("/api/specialists/highest_rated/1").json["data"]
    assert top[0]["id"] == worst and top[0]["reviews_count"] == SEEDED_REVIEWS_EACH + n


def test_highest_rated_with_a_limit(api):
    ten = api.get("/api/specialists/highest_rated").json["data"]
    three = api.get("/api/specialists/highest_rated/3")
    assert three.status_code == 200
    assert [r["average_rating"] for r in three.json["data"]] == [
        r["average_rating"] for r in ten[:3]
    ]
    assert len(api.get("/api/specialists/highest_rated/100").json["data"]) == SEEDED_SPECIALISTS


@pytest.mark.parametrize("limit", ["0", "abc", "101", "-3"])
def test_highest_rated_bad_limit_gets_422(api, limit):
    resp = api.get(f"/api/specialists/highest_rated/{limit}")
    assert resp.status_code == 422
    assert "limit" in resp.json["errors"]


# --- errors -----------------------------------------------------------------------------------


def test_malformed_json_gets_400(api):
    sid = api.a_specialist()["id"]
    headers = {"Content-Type": "application/json"}
    for method, path in (
        ("POST", "/api/login"),
        ("POST", "/api/specialists"),
        ("POST", f"/api/specialists/{sid}/reviews"),
        ("PATCH", f"/api/specialists/{sid}"),
    ):
        resp = api.call(method, path, body=b'{"rating": 5,', headers=headers)
        assert resp.status_code == 400, f"{method} {path}: {resp.status_code} {resp.text}"
    assert api.review_count(sid) == SEEDED_REVIEWS_EACH


def test_deeply_nested_json_gets_400(api):
    sid = api.a_specialist()["id"]
    resp = api.post(
        f"/api/specialists/{sid}/reviews",
        body=b"[" * 60000,
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 400, resp.text
    assert api.review_count(sid) == SEEDED_REVIEWS_EACH


# Raw JSON, so the escapes reach the server as written: NUL is refused by PostgreSQL's text type,
# a lone surrogate by every driver's UTF-8 encoder. Both are bad input (422), not a 500.
BAD_TEXT = {"nul": "a\\u0000b", "lone-surrogate": "\\ud800"}


@pytest.mark.parametrize("kind", BAD_TEXT)
def test_text_that_cannot_be_stored_gets_422(api, kind):
    bad = BAD_TEXT[kind]
    specialist = api.a_specialist()
    sid = specialist["id"]
    headers = {"Content-Type": "application/json"}

    def raw(method, path, template: str, field: str, auth=True):
        resp = api.call(
            method, path, auth=auth, headers=headers, body=template.replace("BAD", bad).encode()
        )
        assert resp.status_code == 422, f"{method} {path}: {resp.status_code} {resp.text}"
        assert field in resp.json["errors"]

    raw("POST", f"/api/specialists/{sid}/reviews", '{"rating": 5, "comment": "BAD"}', "comment")
    raw(
        "POST",
        "/api/specialists",
        '{"crm": "CRM-BAD", "name": "BAD", "specialty": "x", "email": "bad@example.com"}',
        "name",
    )
    raw("PATCH", f"/api/specialists/{sid}", '{"specialty": "BAD"}', "specialty")
    raw("POST", "/api/login", '{"email": "BAD@example.com", "password": "x"}', "email", auth=False)
    raw(
        "POST",
        "/api/login",
        '{"email": "email@example.com", "password": "BAD"}',
        "password",
        auth=False,
    )
    assert api.review_count(sid) == SEEDED_REVIEWS_EACH
    assert Specialist.select().count() == SEEDED_SPECIALISTS
    assert api.get(f"/api/specialists/{sid}").json == specialist


def test_unknown_ids_and_routes_get_404(api):
    sid = api.a_specialist()["id"]
    other = api.a_specialist(page=2)["id"]
    rid = api.get(f"/api/specialists/{sid}/reviews").json["data"][0]["id"]
    missing = str(uuid.uuid4())
    for path in (
        f"/api/specialists/{missing}",
        f"/api/specialists/{missing}/reviews",
        f"/api/specialists/{sid}/reviews/{missing}",
        f"/api/specialists/{other}/reviews/{rid}",  # a review of someone else
        "/api/specialists/not-a-uuid",
        "/api/nothing-here",
        "/nothing",
    ):
        resp = api.get(path)
        assert resp.status_code == 404, f"{path}: {resp.status_code}"
    resp = api.post(f"/api/specialists/{missing}/reviews", json={"rating": 5})
    assert resp.status_code == 404
    assert Review.select().where(Review.specialist == missing).count() == 0


def test_body_over_64_kib_gets_413_and_writes_nothing(api):
    sid = api.a_specialist()["id"]
    big = json.dumps({"rating": 5, "comment": "z" * (65 * 1024)}).encode()
    resp = api.post(
        f"/api/specialists/{sid}/reviews", body=big, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413
    assert api.review_count(sid) == SEEDED_REVIEWS_EACH
    resp = api.post(
        "/api/login", auth=False, body=big, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413


def test_non_json_body_gets_415(api):
    for content_type in ("text/plain", "application/xml"):
        resp = api.post(
            "/api/specialists",
            body=json.dumps(_new_specialist()).encode(),
            headers={"Content-Type": content_type},
        )
        assert resp.status_code == 415, f"{content_type}: {resp.status_code} {resp.text}"
    assert Specialist.select().count() == SEEDED_SPECIALISTS
