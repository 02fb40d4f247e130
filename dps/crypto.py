"""Sealing at rest (C5): envelope encryption with AES-256-GCM from the `cryptography` package. No cipher of our own.

Two levels of key:
- The sealing key (setting BID_SEALING_KEY): 32 random bytes that live outside the database (the environment, a
  secret store). It never encrypts content itself: HKDF derives one key from it per purpose, so a key used to wrap
  data keys is never the one that seals an outbox message or names the key.
- Data keys: 32 random bytes per competition, generated here and stored only wrapped (encrypted) by the sealing key.
  A data key seals the competition's bids and keys the hash by which a bidder finds its own bid, so the hash of one
  organisation differs between competitions and cannot be confirmed by guessing.

Whoever holds a copy of the database (a backup, a replica, an administrator's SQL console) without the sealing key
reads only ciphertext, wrapped keys and keyed hashes. Every ciphertext is bound through AES-GCM's associated data to
the place it belongs ("bid:7:12" is bid 12 of competition 7): copied to another row it refuses to open rather than
opening as someone else's bid. A token says its format version and nothing else: "v1." + base64url(nonce + sealed);
sealed bytes (a document attached to a bid) are b"v1." + nonce + sealed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dps.settings import Settings

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the size AES-GCM is specified for; random per message
TOKEN_PREFIX = "v1."
BYTES_PREFIX = TOKEN_PREFIX.encode()


class SealingError(Exception):
    """A sealed value did not open: the wrong key, a changed ciphertext, or a ciphertext moved to another row."""


def _derive(key: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=f"dps/{purpose}".encode()).derive(key)


def _seal_raw(key: bytes, plaintext: bytes, context: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def _open_raw(key: bytes, raw: bytes, context: str) -> bytes:
    try:
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
    except (InvalidTag, ValueError):
        raise SealingError(f"the sealed value for {context!r} does not open with this key") from None


def _seal(key: bytes, plaintext: bytes, context: str) -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(_seal_raw(key, plaintext, context)).decode()


def _open(key: bytes, token: str, context: str) -> bytes:
    if not token.startswith(TOKEN_PREFIX):
        raise SealingError("not a sealed value of a known version")
    try:
        raw = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX):])
    except (binascii.Error, ValueError):
        raise SealingError(f"the sealed value for {context!r} does not open with this key") from None
    return _open_raw(key, raw, context)


def _to_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class DataKey:
    """One competition's data key: seals its bids and keys its bidder lookup hash."""

    raw: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> DataKey:
        return cls(AESGCM.generate_key(bit_length=KEY_BYTES * 8))

    def seal(self, value: Any, *, context: str) -> str:
        """A JSON-able value sealed for one place (`context`, e.g. "bid:7:12")."""
        return _seal(_derive(self.raw, "bid-content"), _to_json(value), context)

    def open(self, token: str, *, context: str) -> Any:
        return json.loads(_open(_derive(self.raw, "bid-content"), token, context))

    def seal_bytes(self, data: bytes, *, context: str) -> bytes:
        """Bytes (a document attached to a bid) sealed for one place, under the same key as the bid's content: the
        format version, then nonce and ciphertext as they are, so a 10 MB file is not inflated by base64."""
        return BYTES_PREFIX + _seal_raw(_derive(self.raw, "bid-content"), data, context)

    def open_bytes(self, sealed: bytes, *, context: str) -> bytes:
        if not sealed.startswith(BYTES_PREFIX):
            raise SealingError("not a sealed value of a known version")
        return _open_raw(_derive(self.raw, "bid-content"), sealed[len(BYTES_PREFIX):], context)

    def lookup_hash(self, text: str) -> str:
        """A keyed hash (HMAC-SHA256), for finding a row by a value that must not be stored: equal inputs give equal
        hashes under this key only; without the key it confirms no guess."""
        return hmac.new(_derive(self.raw, "lookup"), text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SealingKey:
    """The key outside the database. Wraps data keys, seals outbox messages, and has a public id (a hash of it) so
    that a value sealed under another key says so instead of failing obscurely."""

    raw: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return _derive(self.raw, "key-id").hex()[:16]

    def wrap(self, data_key: DataKey, *, context: str) -> str:
        return _seal(_derive(self.raw, "wrap-data-key"), data_key.raw, context)

    def unwrap(self, token: str, *, context: str) -> DataKey:
        return DataKey(_open(_derive(self.raw, "wrap-data-key"), token, context))

    def seal(self, value: Any, *, context: str) -> str:
        """A JSON-able value sealed for one place, opened by a part of the system holding this key (the email
        consumer opens a sealed email only to send it)."""
        return _seal(_derive(self.raw, "sealed-message"), _to_json(value), context)

    def open(self, token: str, *, context: str) -> Any:
        return json.loads(_open(_derive(self.raw, "sealed-message"), token, context))

    def opaque(self, text: str) -> str:
        """A keyed hash naming `text` without saying it (e.g. an outbox dedupe key that would name a bidder)."""
        return hmac.new(_derive(self.raw, "opaque-name"), text.encode(), hashlib.sha256).hexdigest()


# The process's sealing key. The composition root installs it from the settings at start-up (dps.app.create_app,
# the CLI); a process that did not (a script calling services) takes it from its environment's settings, which
# refuse to start in production without BID_SEALING_KEY.
_installed: SealingKey | None = None


def install_sealing_key(key: SealingKey) -> None:
    global _installed
    _installed = key


def sealing_key() -> SealingKey:
    if _installed is None:
        install_sealing_key(SealingKey(Settings.from_env().bid_sealing_key))
    assert _installed is not None
    return _installed
