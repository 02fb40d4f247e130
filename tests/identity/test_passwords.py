"""The hasher's dummy hash (for unknown users) is made on first use, not when the app is built."""

from __future__ import annotations

from argon2 import PasswordHasher

from dps.identity.passwords import Passwords


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.hashes = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hashes += 1
        return super().hash(password, salt=salt)


def test_building_passwords_hashes_nothing_and_an_unknown_user_never_verifies():
    hasher = CountingHasher()
    passwords = Passwords(hasher)
    assert hasher.hashes == 0

    assert passwords.verify(None, "not-a-real-password-for-timing") is False
    assert hasher.hashes == 1
    stored = passwords.hash("correct horse battery staple")
    assert passwords.verify(stored, "correct horse battery staple") is True
    assert passwords.verify(stored, "wrong") is False
    assert hasher.hashes == 2  # the dummy is made once
