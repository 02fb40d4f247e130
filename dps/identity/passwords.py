"""Argon2id password hashing. Tests use cheap parameters through `for_environment("test")`."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher
        # Verifying against this when the user is unknown keeps the response time the same (no user enumeration).
        self._dummy_hash = hasher.hash("not-a-real-password-for-timing")

    @classmethod
    def for_environment(cls, environment: str) -> Passwords:
        if environment == "test":
            return cls(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        return cls(PasswordHasher())

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False
