"""The secrets identity keeps, and how: argon2id for passwords, SHA-256 for the 256-bit random
refresh tokens and partner secrets, keyed hashes (HMAC-SHA256) for phones and one-time codes,
Fernet for private signing keys and the claims of a session, Ed25519 tokens through
`chassis.auth`.

The key-encryption key (`key_encryption_key`, a secret of this stack) is stretched with HKDF
into one key per purpose, so a phone index leaked with the database opens no signing key.
The service layer reaches all of this through the unit of work (`uow.crypto`, `uow.signer`);
nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from chassis.auth import ALGORITHM, SigningKey, issue_token
from chassis.identity import Identity
from chassis.sealing import Sealer, SealingError, derive_key
from identity.domain import CODE_DIGITS

# identity's keys have always been derived with this salt: sealed keys and sessions, phone
# indexes and code hashes already stored stay readable.
_SALT = b"aftersales identity"


def _derive(master: str, purpose: bytes) -> bytes:
    return derive_key(master, purpose, salt=_SALT)


class KeyEncryptionError(SealingError):
    """A sealed value does not open with this key-encryption key (a wrong or changed one)."""


class Crypto:
    """Hashing, sealing and random secrets, over one key-encryption key."""

    def __init__(self, key_encryption_key: str, *, time_cost: int = 3,
                 memory_kib: int = 65536, parallelism: int = 4) -> None:
        self._sealer = Sealer(key_encryption_key, b"seal signing keys and sessions",
                              salt=_SALT, name="this key_encryption_key")
        # Names the key-encryption key beside what it sealed, without revealing it.
        self.kek_fingerprint = self._sealer.fingerprint
        self._phones = _derive(key_encryption_key, b"phone index")
        self._codes = _derive(key_encryption_key, b"one-time codes")
        self._passwords = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                         parallelism=parallelism, type=Type.ID)
        # Checked against when no account has the name, so a sign-in takes as long either way.
        self._nobody = self._passwords.hash(secrets.token_urlsafe(16))

    # -- passwords -----------------------------------------------------------------------------

    def hash_password(self, password: str) -> str:
        return self._passwords.hash(password)

    def verify_password(self, stored: str | None, password: str) -> bool:
        """Whether `password` is the one `stored` was made from; None: no such account (the
        same work is done, and the answer is no)."""
        try:
            self._passwords.verify(stored or self._nobody, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored is not None

    def needs_rehash(self, stored: str) -> bool:
        """A hash made with other costs than today's settings: made again at the next sign-in."""
        try:
            return self._passwords.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    # -- random secrets and their hashes -------------------------------------------------------

    @staticmethod
    def new_secret() -> str:
        """256 random bits, URL-safe: refresh tokens, partner secrets."""
        return secrets.token_urlsafe(32)

    @staticmethod
    def secret_hash(secret: str) -> str:
        # 256 random bits need no slow hash: SHA-256 of them cannot be guessed back.
        return hashlib.sha256(secret.encode()).hexdigest()

    def secret_matches(self, secret: str, hashes_: list[str]) -> bool:
        given = self.secret_hash(secret)
        # Every candidate is compared, so the time does not say which one matched.
        return any([hmac.compare_digest(given, h) for h in hashes_])

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    @staticmethod
    def new_client_id() -> str:
        return f"ptn_{secrets.token_hex(8)}"

    # -- owners' phones and codes --------------------------------------------------------------

    def phone_key(self, phone: str) -> str:
        """The phone as the code book finds it: keyed, so a leaked table names no owner."""
        return hmac.new(self._phones, phone.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def new_code() -> str:
        return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"

    def code_hash(self, code_id: str, code: str) -> str:
        # Keyed and bound to the code's id: a million codes are no dictionary without the key.
        return hmac.new(self._codes, f"{code_id}:{code}".encode(), hashlib.sha256).hexdigest()

    def code_matches(self, code_id: str, code: str, stored: str) -> bool:
        return hmac.compare_digest(self.code_hash(code_id, code), stored)

    # -- sealing -------------------------------------------------------------------------------

    def seal(self, text: str) -> str:
        return self._sealer.seal(text)

    def unseal(self, sealed: str) -> str:
        try:
            return self._sealer.unseal(sealed)
        except SealingError:
            raise KeyEncryptionError("a sealed value does not open with this "
                                     "key_encryption_key") from None

    def seal_claims(self, claims: dict[str, str]) -> str | None:
        return self.seal(json.dumps(claims, sort_keys=True)) if claims else None

    def unseal_claims(self, sealed: str | None) -> dict[str, str]:
        return json.loads(self.unseal(sealed)) if sealed else {}


@dataclass(frozen=True)
class NewKey:
    kid: str
    public_jwk: dict[str, str]
    sealed: str
    kek_fingerprint: str


class Signer:
    """Makes signing keys (their private half sealed) and signs access tokens with one.

    Opened keys are kept per key id for the process: a rotation brings a new id, a retired key
    is never asked for again.
    """

    def __init__(self, crypto: Crypto, issuer: str) -> None:
        self.crypto = crypto
        self.issuer = issuer
        self._opened: dict[str, SigningKey] = {}

    def new_key(self) -> NewKey:
        key = SigningKey.generate()
        return NewKey(key.kid, key.public_jwk(), self.crypto.seal(key.private_pem()),
                      self.crypto.kek_fingerprint)

    def sign(self, kid: str, sealed: str, identity: Identity, *, ttl_seconds: int,
             now: datetime, claims: dict[str, Any] | None = None) -> str:
        key = self._opened.get(kid)
        if key is None:
            key = self._opened[kid] = SigningKey.from_pem(kid, self.crypto.unseal(sealed))
        return issue_token(key, issuer=self.issuer, subject=identity.subject,
                           role=identity.role, dealer_code=identity.dealer_code,
                           ttl_seconds=ttl_seconds, now=now.timestamp(), claims=claims)


__all__ = ["ALGORITHM", "Crypto", "KeyEncryptionError", "NewKey", "Signer"]
