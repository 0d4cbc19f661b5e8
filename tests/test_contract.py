"""One API contract for every stage, each started once for real (Stack) and spoken to over HTTP.

New stages join automatically: the suite is parametrized over `stages.names()`.

The client is generic: it logs in and then authenticates the way the stage answered, with the
bearer token the login returned or else with the session cookie. Session cookies live on one
replica's disk by design (the load-balanced lesson, tested in test_stages.py), so on a
session-cookie stage with several replicas the contract is checked against ONE replica directly.
"""

from __future__ import annotations

import json
import uuid

import pytest

import stages

pytestmark = pytest.mark.slow

DEMO_EMAIL = "email@example.com"
SPECIALISTS = 20
REVIEWS_EACH = 20


@pytest.fixture(scope="module", params=stages.names())
def stack(request, launch):
    stack = launch(request.param)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def client(stack, api_client):
    """A logged-in client on the stage's public URL, or on replica 1 if sessions are per replica."""
    public = stack.urls["api"].removesuffix("/api")
    client = api_client(public).login()
    if not client.uses_token and len(stack.replica_ports) > 1:
        client = api_client(f"http://127.0.0.1:{stack.replica_ports[0]}").login()
    return client


@pytest.fixture(scope="module")
def mailbox(stack, inbox):
    return inbox(stack.urls["inbox"])


def _a_specialist(client, page: int = 1) -> dict:
    resp = client.get(f"/api/specialists?page={page}&per_page=1")
    assert resp.status == 200, resp.body
    return resp.json["data"][0]


def test_public_endpoints(stack, client):
    resp = client.get("/api/test", auth=False)
    assert resp.status == 200 and resp.json == {"message": "ok"}
    health = client.get("/health", auth=False)
    assert health.status == 200 and health.json["status"] == "ok"
    assert (health.header("x-replica") or "").startswith("app-")


def test_login_and_current_user(client):
    body = client.login_body
    assert body["message"] == "Logged in"
    resp = client.get("/api/user")
    assert resp.status == 200, resp.body
    assert resp.json["email"] == DEMO_EMAIL


def test_wrong_password_and_unknown_email_are_one_401(client):
    wrong = client.post(
        "/api/login", {"email": DEMO_EMAIL, "password": "wrong-password"}, auth=False
    )
    unknown = client.post(
        "/api/login", {"email": "nobody@example.com", "password": "12345678"}, auth=False
    )
    assert wrong.status == unknown.status == 401
    assert wrong.json == unknown.json
    assert not wrong.header("set-cookie") and "token" not in wrong.json


def test_specialists_list_shape(client):
    resp = client.get("/api/specialists")
    assert resp.status == 200
    page = resp.json
    assert (page["current_page"], page["per_page"], page["total"], page["last_page"]) == (
        1,
        15,
        SPECIALISTS,
        2,
    )
    assert len(page["data"]) == 15
    assert set(page["data"][0]) >= {"id", "crm", "name", "specialty", "email"}
    names = [s["name"] for s in page["data"]]
    assert names == sorted(names)


def test_one_specialist_and_its_reviews(client):
    specialist = _a_specialist(client, page=2)
    resp = client.get(f"/api/specialists/{specialist['id']}")
    assert resp.status == 200 and resp.json == specialist
    reviews = client.get(f"/api/specialists/{specialist['id']}/reviews?per_page=5")
    assert reviews.status == 200
    page = reviews.json
    assert (page["per_page"], page["total"], page["last_page"]) == (5, REVIEWS_EACH, 4)
    assert all(
        r["specialist_id"] == specialist["id"] and 1 <= r["rating"] <= 10 for r in page["data"]
    )


def test_posting_a_review_commits_it_and_mails_the_specialist(client, mailbox):
    specialist = _a_specialist(client, page=3)
    comment = f"Contract check {uuid.uuid4().hex[:8]}"
    resp = client.post(
        f"/api/specialists/{specialist['id']}/reviews", {"rating": 6, "comment": comment}
    )
    assert resp.status == 201, resp.body
    review = resp.json
    assert (review["rating"], review["comment"]) == (6, comment)
    # Committed before the 201: readable at once (on any replica: they share the database).
    got = client.get(f"/api/specialists/{specialist['id']}/reviews/{review['id']}")
    assert got.status == 200 and got.json["comment"] == comment

    mail = mailbox.wait_review_mail(review["id"], to=specialist["email"], timeout=30)
    assert mail["subject"] == "You have a new review"
    assert "Rating: 6/10" in mail["text"] and comment in mail["text"]
    assert (
        len(
            [
                m
                for m in mailbox.messages(to=specialist["email"])
                if m["headers"].get("X-Lab-Review-Id") == review["id"]
            ]
        )
        == 1
    )


def test_highest_rated(client):
    resp = client.get("/api/specialists/highest_rated")
    assert resp.status == 200, resp.body
    rows = resp.json["data"]
    assert len(rows) == 10
    averages = [r["average_rating"] for r in rows]
    assert averages == sorted(averages, reverse=True)
    assert len({r["id"] for r in rows}) == 10
    three = client.get("/api/specialists/highest_rated/3")
    assert three.status == 200 and len(three.json["data"]) == 3


def test_bad_requests_get_400_401_404_422(client):
    specialist = _a_specialist(client)
    sid = specialist["id"]
    reviews = f"/api/specialists/{sid}/reviews"
    before = client.get(reviews).json["total"]

    malformed = client.request(
        "POST", reviews, body=b'{"rating": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status == 400

    for path in ("/api/user", "/api/specialists", reviews, "/api/specialists/highest_rated"):
        assert client.get(path, auth=False).status == 401, path
        for forged in (
            {"Authorization": "Bearer not.a.token"},
            {"Cookie": "lab_session=" + "A" * 43},
        ):
            assert client.get(path, auth=False, headers=forged).status == 401, (path, forged)
    assert client.post(reviews, {"rating": 5}, auth=False).status == 401

    assert client.get(f"/api/specialists/{uuid.uuid4()}").status == 404
    assert client.get(f"/api/specialists/{sid}/reviews/{uuid.uuid4()}").status == 404
    assert client.get("/api/no-such-route").status == 404

    for bad in ({"rating": 0}, {"rating": 11}, {"rating": "7"}, {"comment": "no rating"}):
        resp = client.post(reviews, bad)
        assert resp.status == 422, (bad, resp.body)
        assert "rating" in resp.json["errors"]
    resp = client.get("/api/specialists?per_page=101")
    assert resp.status == 422 and "per_page" in resp.json["errors"]
    resp = client.get("/api/specialists/highest_rated/0")
    assert resp.status == 422 and "limit" in resp.json["errors"]

    big = json.dumps({"rating": 5, "comment": "z" * (65 * 1024)}).encode()
    assert (
        client.request(
            "POST", reviews, body=big, headers={"Content-Type": "application/json"}
        ).status
        == 413
    )
    # None of the refused requests wrote anything.
    assert client.get(reviews).json["total"] == before


def test_specialist_crud_over_http(client):
    tag = uuid.uuid4().hex[:10]
    fields = {
        "crm": f"CRM-C-{tag}",
        "name": f"Dr. Contract {tag}",
        "specialty": "Neurology",
        "email": f"contract-{tag}@example.com",
    }
    created = client.post("/api/specialists", fields)
    assert created.status == 201, created.body
    sid = created.json["id"]
    dup = client.post("/api/specialists", {**fields, "email": f"other-{tag}@example.com"})
    assert dup.status == 422 and list(dup.json["errors"]) == ["crm"]
    patched = client.request("PATCH", f"/api/specialists/{sid}", {"specialty": "Oncology"})
    assert patched.status == 200 and patched.json["specialty"] == "Oncology"
    review = client.post(f"/api/specialists/{sid}/reviews", {"rating": 4})
    assert review.status == 201
    assert client.request("DELETE", f"/api/specialists/{sid}").status == 204
    assert client.get(f"/api/specialists/{sid}").status == 404
    assert client.get(f"/api/specialists/{sid}/reviews/{review.json['id']}").status == 404
