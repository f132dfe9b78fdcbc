"""Personal data at rest: encrypted (Fernet) and searchable only through blind indexes.

A phone number or ID number is never stored in clear. To find a customer by phone, the
number is normalised and hashed with a separate key (HMAC-SHA256, the "blind index"): equal
numbers give equal indexes, and the index alone reveals nothing without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from chassis.config import ConfigError

ENCRYPTION_KEY = "crm_encryption_key"
BLIND_INDEX_KEY = "crm_blind_index_key"


def normalise_phone(phone: str) -> str:
    """'+86 138-1234-5678', '008613812345678' and '13812345678' are one mainland number."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("0086"):
        digits = digits[4:]
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def normalise_name(name: str) -> str:
    """Names match exactly but for width, case and spaces ('王 磊' is '王磊')."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def mask_phone(phone: str) -> str:
    """What a screen may show when the full number is not needed: 138****5678."""
    digits = normalise_phone(phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


class Vault:
    """Encrypts and decrypts personal fields; computes their blind indexes."""

    def __init__(self, encryption_key: str, index_key: str) -> None:
        self._fernet = Fernet(encryption_key.encode())
        self._index_key = index_key.encode()

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            # A row written under another key: say so rather than show garbage.
            raise ValueError("personal data encrypted under another key") from None

    def _index(self, kind: str, value: str) -> str:
        return hmac.new(self._index_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def phone_index(self, phone: str) -> str:
        return self._index("phone", normalise_phone(phone))

    def name_index(self, name: str) -> str:
        return self._index("name", normalise_name(name))

    def id_number_index(self, id_number: str) -> str:
        return self._index("id", id_number.strip().upper())


def vault_from_settings(extra: dict[str, Any]) -> Vault:
    """The vault from `crm_encryption_key` (a Fernet key) and `crm_blind_index_key`.

    Raises ConfigError with one line naming the setting when a key is missing or malformed.
    """
    key = extra.get(ENCRYPTION_KEY)
    if not key:
        raise ConfigError(f"{ENCRYPTION_KEY}: missing (a Fernet key, "
                          "e.g. from cryptography.fernet.Fernet.generate_key())")
    try:
        Fernet(str(key).encode())
    except (ValueError, TypeError):
        raise ConfigError(f"{ENCRYPTION_KEY}: not a Fernet key "
                          "(32 bytes, url-safe base64)") from None
    index_key = extra.get(BLIND_INDEX_KEY)
    if not index_key:
        raise ConfigError(f"{BLIND_INDEX_KEY}: missing (a secret of at least 32 characters)")
    if len(str(index_key)) < 32:
        raise ConfigError(f"{BLIND_INDEX_KEY}: must be at least 32 characters")
    if str(index_key) == str(key):
        raise ConfigError(f"{BLIND_INDEX_KEY}: must differ from {ENCRYPTION_KEY}")
    return Vault(str(key), str(index_key))
