"""Reports in S3-compatible storage (a real `rclone serve s3`): private, whole, signed links."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from test_reports import (  # the local-disk tests' wiring and fixtures, shared
    OTHER_EMAIL,
    OTHER_PASSWORD,
    ReportLab,
    database,  # noqa: F401
    http,
    mailsim,  # noqa: F401
    parse_csv,
    report_via_stack,
    seed_template,  # noqa: F401
    stack_options,
    token_of,
    with_token,
)

from benchmarks.client import LabClient
from benchmarks.stack import binary, host
from shared.adapters.report_stores import S3ReportStore, s3_client
from shared.models import Report, User
from shared.reports import STORE_FAILED
from shared.seed import DEMO_EMAIL


def fetch(url: str) -> tuple[int, bytes]:
    """GET a URL with no credentials at all; return (status, body) without raising."""
    reply = LabClient(url, timeout=10).get("", auth=False)
    assert reply.status, reply.error  # 0: no HTTP answer at all
    return reply.status, reply.body


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A real S3 server: rclone serving a temporary folder, with keys made for this run."""
    folder = tmp_path_factory.mktemp("s3")
    port = host.free_port()  # below the ephemeral range: no client socket takes it
    access, secret = secrets.token_hex(10), secrets.token_urlsafe(30)
    proc = subprocess.Popen(
        [
            binary("rclone"),
            "serve",
            "s3",
            "--addr",
            f"127.0.0.1:{port}",
            "--config",
            str(folder / "rclone.conf"),
            str(folder / "data"),
        ],
        env={"RCLONE_AUTH_KEY": f'"{access},{secret}"', "HOME": str(folder)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "rclone did not start"
            time.sleep(0.05)
    yield {"endpoint": endpoint, "access": access, "secret": secret}
    proc.terminate()
    proc.wait(10)


def make_store(s3, bucket: str = "reports", ttl: int = 300, secret: str | None = None):
    client = s3_client(s3["endpoint"], s3["access"], secret or s3["secret"])
    return S3ReportStore(client, bucket, ttl)


@pytest.fixture
def store(s3):
    store = make_store(s3, f"reports-{secrets.token_hex(4)}")
    store.ensure_bucket()
    return store


@pytest.fixture
def s3_lab(database, mailsim, store):  # noqa: F811
    return ReportLab(store, mailsim)


# --- the store ---------------------------------------------------------------------------------


def test_bucket_is_created_once_and_objects_round_trip(store):
    store.ensure_bucket()  # idempotent: a second start finds it
    assert store.save("a.csv", b"rank,id\r\n1,x\r\n") == "a.csv"
    status, body = fetch(store.presigned_url("a.csv", "a.csv"))
    assert (status, body) == (200, b"rank,id\r\n1,x\r\n")


def test_bucket_is_not_readable_anonymously(store, s3):
    store.save("secret.csv", b"rank,id\r\n1,private\r\n")
    for url in (
        f"{s3['endpoint']}/{store.bucket}/secret.csv",  # the object
        f"{s3['endpoint']}/{store.bucket}",
    ):  # a listing
        status, body = fetch(url)
        # AWS answers 403 AccessDenied; rclone refuses unsigned requests with 400
        # UnsupportedAlgorithm. Either way: an S3 error, never the data.
        assert status in (400, 403), status
        assert b"<Error>" in body and b"private" not in body


def test_presigned_url_is_refused_once_tampered_or_expired(s3, store):
    store.save("a.csv", b"data")
    url = store.presigned_url("a.csv", "a.csv")
    assert fetch(url.replace("/a.csv", "/b.csv"))[0] == 403
    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    assert fetch(url.replace(signature, "0" * len(signature)))[0] == 403

    short = make_store(s3, store.bucket, ttl=3)
    url = short.presigned_url("a.csv", "a.csv")
    assert fetch(url)[0] == 200
    deadline = time.monotonic() + 10
    while fetch(url)[0] == 200:
        assert time.monotonic() < deadline, "a presigned URL outlived its expiry by 7 s"
        time.sleep(0.2)
    assert fetch(url)[0] in (400, 403)


# --- the routes over the store -----------------------------------------------------------------


def test_download_redirects_to_a_presigned_url_with_the_csv(s3_lab):
    headers = s3_lab.login()
    status = s3_lab.ready(headers, {"limit": 10})
    assert status["status"] == "ready"
    redirect = s3_lab.follow(status["download_url"])
    assert redirect.status_code == 303
    assert redirect.headers["Cache-Control"] == "no-store"
    presigned = redirect.headers["Location"]
    assert "X-Amz-Signature=" in presigned and "X-Amz-Expires=300" in presigned
    code, body = fetch(presigned)
    assert code == 200
    ranking = s3_lab.client.simulate_get("/api/specialists/highest_rated/10", headers=headers).json[
        "data"
    ]
    assert parse_csv(body.decode()) == [{"rank": i, **row} for i, row in enumerate(ranking, 1)]


def test_signed_link_rules_hold_over_storage(s3_lab):
    mine = s3_lab.ready(s3_lab.login())
    link = mine["download_url"]
    other = s3_lab.login(OTHER_EMAIL, OTHER_PASSWORD)
    status = s3_lab.client.simulate_get(f"/api/reports/{mine['id']}", headers=other)
    assert status.status_code == 404
    other_id = User.get(User.email == OTHER_EMAIL).id
    assert s3_lab.follow(s3_lab.links.download_url(mine["id"], other_id)).status_code == 404
    user, expires, signature = token_of(link).split(".")
    tampered = with_token(link, f"{user}.{expires}.{signature[:-2]}xx")
    assert s3_lab.follow(tampered).status_code == 403
    expired = s3_lab.links.download_url(mine["id"], int(user), now=time.time() - 301)
    assert s3_lab.follow(expired).status_code == 403


def test_failed_upload_marks_the_report_failed_and_stores_nothing(database, mailsim, s3, store):  # noqa: F811
    wrong_keys = make_store(s3, store.bucket, secret="not-the-secret")
    lab = ReportLab(wrong_keys, mailsim)
    status = lab.ready(lab.login())
    assert status["status"] == "failed"
    assert status["error"] == STORE_FAILED  # short; no bucket, host or S3 error code
    assert "SignatureDoesNotMatch" not in status["error"] and "Access" not in status["error"]
    assert Report.get_by_id(status["id"]).location is None
    with pytest.raises(ClientError):
        store.client.head_object(Bucket=store.bucket, Key=f"{status['id']}.csv")
    assert mailsim.messages(to=DEMO_EMAIL) == []


# --- the real stage --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.processes
def test_external_storage_stage_end_to_end(tmp_path):
    from benchmarks.stack import Stack

    with Stack("external-storage", stack_options(tmp_path)) as stack:
        token, link, mail = report_via_stack(stack)
        assert urlsplit(link).netloc == urlsplit(stack.urls["api"]).netloc
        _, _, body = http(
            "GET",
            f"{stack.urls['api']}/specialists/highest_rated/10",
            headers={"Authorization": f"Bearer {token}"},
        )
        expected = [{"rank": i, **row} for i, row in enumerate(json.loads(body)["data"], 1)]
        results = [http("GET", link) for _ in range(10)]  # each follows the 303 to storage
        assert [status for status, _, _ in results] == [200] * 10
        assert all(parse_csv(body.decode()) == expected for _, _, body in results)

        report_id = mail["headers"]["X-Lab-Report-Id"]
        bucket = stack.env["LAB_S3_BUCKET"]
        status, body = fetch(f"{stack.urls['s3']}/{bucket}/{report_id}.csv")
        assert status in (400, 403) and b"rank,id" not in body  # rclone: 400, AWS: 403
