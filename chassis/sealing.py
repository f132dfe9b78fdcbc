"""Sealing a stack secret's worth of text at rest: one Fernet key per purpose, derived with
HKDF-SHA256 from a secret of the stack (`chassis.config.own_secret`), so what one purpose
sealed does not open with another's key, and a leaked database opens nothing without the
secret.

    sealer = Sealer(own_secret(settings, "secret_encryption_key"), b"webhook endpoint secrets")
    stored = sealer.seal("whsec_...")   # a Fernet token (URL-safe base64 text)
    sealer.unseal(stored)               # "whsec_..."; SealingError under another key

Pure: no settings, no database. `derive_key` also gives the raw 32-byte keys of keyed hashes.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DEFAULT_SALT = b"aftersales"


class SealingError(Exception):
    """A sealed value does not open with this key (a wrong or changed secret, another purpose,
    or not a sealed value at all)."""


def derive_key(secret: str, purpose: bytes, *, salt: bytes = DEFAULT_SALT) -> bytes:
    """32 bytes for one purpose, stretched from the stack secret with HKDF-SHA256."""
    if not secret:
        raise ValueError("sealing needs a secret")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                info=purpose).derive(secret.encode())


class Sealer:
    """seal(text) -> str and unseal(str) -> text with the Fernet key of one purpose."""

    def __init__(self, secret: str, purpose: bytes, *, salt: bytes = DEFAULT_SALT,
                 name: str = "the sealing secret") -> None:
        key = derive_key(secret, purpose, salt=salt)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._name = name
        # Names the key beside what it sealed, without revealing it.
        self.fingerprint = hashlib.sha256(key).hexdigest()[:16]

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def unseal(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError):
            raise SealingError(f"a sealed value does not open with {self._name}") from None


__all__ = ["DEFAULT_SALT", "Sealer", "SealingError", "derive_key"]
