"""Settings read from the environment, so every process of a stage is configured alike."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///.lab/db/lab.sqlite3"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def demo_mode(environ=None) -> bool:
    """LAB_DEMO (default on): the demo user is seeded and a JWT secret may be made for the run.
    Off ("0", "false", "no", ""): no demo user, and a JWT secret must be given."""
    return (os.environ if environ is None else environ).get(
        "LAB_DEMO", "1"
    ).strip().lower() not in ("0", "false", "no", "")


@dataclass(frozen=True)
class Settings:
    """Everything a stage's processes need to know, taken from LAB_* environment variables."""

    database_url: str = DEFAULT_DATABASE_URL
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_timeout: float = 10.0
    mail_from: str = "no-reply@scaling-lab.test"
    redis_url: str = "redis://127.0.0.1:6379/0"
    session_dir: Path = Path(".lab/sessions")
    report_dir: Path = Path(".lab/reports")
    public_url: str = "http://127.0.0.1:8123"
    replica: str = "app-1"
    demo: bool = True
    jwt_secret: str = ""
    jwt_ttl_seconds: int = 3600
    cache_ttl_seconds: int = 30
    s3_endpoint: str = ""
    s3_bucket: str = "reports"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    link_ttl_seconds: int = 300
    outbox_sweep_seconds: float = 5.0  # how often the worker's sweeper looks for unsent mail
    outbox_grace_seconds: float = 30.0  # how long a mail may stay unsent before it is re-queued
    login_max_failures: int = 5  # failed logins per account per window, then 429
    login_window_seconds: int = 60
    login_address_max_failures: int = 20  # failed logins per client address per window, then 429
    login_max_hashes: int = 2  # password hashes at once per replica, then 503
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For names the client
    outbox_max_attempts: int = 25  # tries of one owed mail/report, then a dead letter
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings of this process from LAB_* variables."""
        return cls(
            database_url=_env("LAB_DATABASE_URL", DEFAULT_DATABASE_URL),
            smtp_host=_env("LAB_SMTP_HOST", "127.0.0.1"),
            smtp_port=int(_env("LAB_SMTP_PORT", "1025")),
            smtp_timeout=float(_env("LAB_SMTP_TIMEOUT", "10")),
            mail_from=_env("LAB_MAIL_FROM", "no-reply@scaling-lab.test"),
            redis_url=_env("LAB_REDIS_URL", "redis://127.0.0.1:6379/0"),
            session_dir=Path(_env("LAB_SESSION_DIR", ".lab/sessions")),
            report_dir=Path(_env("LAB_REPORT_DIR", ".lab/reports")),
            public_url=_env("LAB_PUBLIC_URL", "http://127.0.0.1:8123"),
            replica=_env("LAB_REPLICA", "app-1"),
            demo=demo_mode(),
            jwt_secret=_env("LAB_JWT_SECRET", ""),
            jwt_ttl_seconds=int(_env("LAB_JWT_TTL", "3600")),
            cache_ttl_seconds=int(_env("LAB_CACHE_TTL", "30")),
            s3_endpoint=_env("LAB_S3_ENDPOINT", ""),
            s3_bucket=_env("LAB_S3_BUCKET", "reports"),
            s3_access_key=_env("LAB_S3_ACCESS_KEY", ""),
            s3_secret_key=_env("LAB_S3_SECRET_KEY", ""),
            s3_region=_env("LAB_S3_REGION", "us-east-1"),
            link_ttl_seconds=int(_env("LAB_LINK_TTL", "300")),
            outbox_sweep_seconds=float(_env("LAB_OUTBOX_SWEEP_SECONDS", "5")),
            outbox_grace_seconds=float(_env("LAB_OUTBOX_GRACE_SECONDS", "30")),
            login_max_failures=int(_env("LAB_LOGIN_MAX_FAILURES", "5")),
            login_window_seconds=int(_env("LAB_LOGIN_WINDOW_SECONDS", "60")),
            login_address_max_failures=int(_env("LAB_LOGIN_ADDRESS_MAX_FAILURES", "20")),
            login_max_hashes=int(_env("LAB_LOGIN_MAX_HASHES", "2")),
            trusted_proxies=tuple(
                p.strip() for p in _env("LAB_TRUSTED_PROXIES", "").split(",") if p.strip()
            ),
            outbox_max_attempts=int(_env("LAB_OUTBOX_MAX_ATTEMPTS", "25")),
        )
