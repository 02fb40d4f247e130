"""Argon2id password hashing. Tests use cheap parameters through `for_environment("test")`."""

from __future__ import annotations

from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher

    @cached_property
    def _dummy_hash(self) -> str:
        """Verifying against this when the user is unknown keeps the response time the same (no user enumeration).
        Made on first use, not at start-up: one hash takes the hasher's memory cost (64 MiB by default), which at
        start-up set the server's high-water mark of resident memory."""
        return self._hasher.hash("not-a-real-password-for-timing")

    @classmethod
    def for_environment(cls, environment: str) -> Passwords:
        if environment == "test":
            return cls(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        return cls(PasswordHasher())

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        # Made before the first verify whether the user is known or not, so the first answer takes the same time.
        dummy_hash = self._dummy_hash
        try:
            return self._hasher.verify(password_hash or dummy_hash, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False
