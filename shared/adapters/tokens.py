"""Signed JWT bearer tokens (HS256): any replica can check them, none keeps session state."""

from __future__ import annotations

import time
from dataclasses import dataclass

import falcon
import jwt

ALGORITHM = "HS256"
ISSUER = "scaling-lab"
MIN_SECRET_BYTES = 32


class WeakSecretError(RuntimeError):
    """The JWT secret is missing or too short to sign tokens safely."""


def check_secret(secret: str, *, demo: bool) -> None:
    """Refuse a missing or short secret (outside demo mode the runner won't make one)."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        mode = "demo mode" if demo else "LAB_DEMO=0"
        raise WeakSecretError(
            f"LAB_JWT_SECRET is {len(secret.encode())} bytes; at least {MIN_SECRET_BYTES} are "
            f"required ({mode}). Generate one with: python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'"
        )


@dataclass
class JwtAuth:
    """Login returns a token; requests carry it as `Authorization: Bearer <token>`."""

    secret: str
    ttl_seconds: int = 3600
    demo: bool = True

    def __post_init__(self):
        check_secret(self.secret, demo=self.demo)

    def issue(self, user_id: int, now: float | None = None) -> str:
        now = int(now if now is not None else time.time())
        claims = {"sub": str(user_id), "iat": now, "exp": now + self.ttl_seconds, "iss": ISSUER}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def login(self, resp: falcon.Response, user_id: int) -> dict:
        return {
            "message": "Logged in",
            "auth": "bearer-token",
            "token": self.issue(user_id),
            "token_type": "Bearer",
            "expires_in": self.ttl_seconds,
        }

    def user_id(self, req: falcon.Request) -> int | None:
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            # The algorithm is pinned: a token saying "none" or RS256 is refused, not obeyed.
            claims = jwt.decode(
                token.strip(),
                self.secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
            return int(claims["sub"])
        except (jwt.InvalidTokenError, ValueError):
            return None
