"""Report stores: a folder on this machine's disk, or a private bucket in S3-compatible storage."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import boto3
import falcon
from botocore.config import Config
from botocore.exceptions import ClientError

from shared.config import Settings
from shared.services import NotFound
from shared.timing import timed

CSV_TYPE = "text/csv; charset=utf-8"


def _attachment(resp: falcon.Response, filename: str) -> None:
    resp.content_type = CSV_TYPE
    resp.set_header("Content-Disposition", f'attachment; filename="{filename}"')


@dataclass
class LocalReportStore:
    """Files in this process's LAB_REPORT_DIR: only the machine that wrote one can serve it."""

    directory: Path

    def save(self, name: str, data: bytes) -> str:
        """Write beside the target, then rename: a reader sees no file or the whole file."""
        with timed("storage"):
            return self._save(name, data)

    def _save(self, name: str, data: bytes) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with tmp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.directory / name)
        finally:
            tmp.unlink(missing_ok=True)
        return name

    def respond(self, resp: falcon.Response, location: str, filename: str) -> None:
        if Path(location).name != location:  # locations are bare file names, never paths
            raise NotFound(f"report file {location!r}")
        try:
            with timed("storage"):
                resp.data = (self.directory / location).read_bytes()
        except FileNotFoundError:
            # The course's problem, kept visible: the worker wrote it on another machine's disk.
            raise NotFound(f"report file {location} on this replica's disk") from None
        _attachment(resp, filename)


def s3_client(endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1"):
    """Return a boto3 client for any S3-compatible endpoint: path-style, SigV4, quick timeouts."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=2,
        read_timeout=10,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint or None,
        aws_access_key_id=access_key or None,
        aws_secret_access_key=secret_key or None,
        region_name=region,
        config=config,
    )


class S3ReportStore:
    """Objects in a private bucket; downloads are redirected to a presigned GET that expires."""

    def __init__(self, client, bucket: str, link_ttl_seconds: int = 300):
        self.client = client
        self.bucket = bucket
        self.link_ttl = link_ttl_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> S3ReportStore:
        client = s3_client(
            settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key, settings.s3_region
        )
        return cls(client, settings.s3_bucket, settings.link_ttl_seconds)

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (buckets are private unless a policy opens them)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except ClientError as again:  # another process created it first
                if again.response.get("Error", {}).get("Code") not in (
                    "BucketAlreadyOwnedByYou",
                    "BucketAlreadyExists",
                ):
                    raise

    def save(self, name: str, data: bytes) -> str:
        """Upload the whole file in one PUT; Content-MD5 makes the server refuse a damaged body."""
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        with timed("storage"):
            self.client.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentMD5=md5, ContentType=CSV_TYPE
            )
        return name

    def presigned_url(self, location: str, filename: str) -> str:
        """Sign a GET of one object, valid link_ttl seconds, saved by browsers as `filename`."""
        params = {
            "Bucket": self.bucket,
            "Key": location,
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
        }
        return self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.link_ttl
        )

    def respond(self, resp: falcon.Response, location: str, filename: str) -> None:
        # Every replica can answer: the object is in shared storage, and the app only signs.
        resp.status = falcon.HTTP_303
        with timed("storage"):  # signing only: no round trip, the client fetches the object
            resp.location = self.presigned_url(location, filename)
