"""Password hashing with argon2id at argon2-cffi's recommended cost (RFC 9106 low-memory)."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.timing import timed

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    with timed("hash"):
        return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password; with no stored hash, spend the same time and say no."""
    try:
        with timed("hash"):
            matches = _hasher.verify(stored_hash or _DUMMY_HASH, password)
        return matches and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
