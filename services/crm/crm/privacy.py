"""Personal data at rest: encrypted (Fernet) and searchable only through blind indexes.

A phone number or ID number is never stored in clear. To find a customer by phone, the
number is normalised and hashed with a separate key (HMAC-SHA256, the "blind index"): equal
numbers give equal indexes, and the index alone reveals nothing without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata

from cryptography.fernet import Fernet, InvalidToken

from chassis.config import (
    SECRET_MIN_LENGTH,
    ConfigError,
    Settings,
    development_secret,
    given_secret,
)

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


def development_keys(service: str = "crm") -> tuple[str, str]:
    """The published stand-ins (encryption key, blind-index key) of `environment: development`.

    Derived from chassis' published development values, so they are the same on every
    development machine and refused everywhere else; the encryption key is a Fernet key
    (url-safe base64 of the SHA-256 of the published value).
    """
    published = development_secret(service, ENCRYPTION_KEY).encode()
    encryption_key = base64.urlsafe_b64encode(hashlib.sha256(published).digest()).decode()
    return encryption_key, development_secret(service, BLIND_INDEX_KEY)


def vault_from_settings(settings: Settings) -> Vault:
    """The vault from `crm_encryption_key` (a Fernet key) and `crm_blind_index_key`, each given
    as the setting, or as `<name>_file` (or AFTERSALES_CRM_<NAME>[_FILE]).

    In `environment: development` a missing key is replaced by its published stand-in
    (`development_keys`); anywhere else a missing key, or a stand-in, stops the start.
    Raises ConfigError with one line naming the setting when a key is missing or malformed.
    """
    development = settings.environment == "development"
    stand_in_key, stand_in_index = development_keys(settings.service)
    key = given_secret(settings, ENCRYPTION_KEY)
    if key is None and development:
        key = stand_in_key
    if key is None:
        raise ConfigError(f"{ENCRYPTION_KEY}: missing (a Fernet key, "
                          "e.g. from cryptography.fernet.Fernet.generate_key())")
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigError(f"{ENCRYPTION_KEY}: not a Fernet key "
                          "(32 bytes, url-safe base64)") from None
    if key == stand_in_key and not development:
        raise ConfigError(f"{ENCRYPTION_KEY}: the published development key; "
                          "give a key of your own")
    index_key = given_secret(settings, BLIND_INDEX_KEY)
    if index_key is None and development:
        index_key = stand_in_index
    if index_key is None:
        raise ConfigError(f"{BLIND_INDEX_KEY}: missing (a secret of at least "
                          f"{SECRET_MIN_LENGTH} characters)")
    if len(index_key) < SECRET_MIN_LENGTH:
        raise ConfigError(f"{BLIND_INDEX_KEY}: must be at least {SECRET_MIN_LENGTH} characters")
    if index_key == key:
        raise ConfigError(f"{BLIND_INDEX_KEY}: must differ from {ENCRYPTION_KEY}")
    if index_key == stand_in_index and not development:
        raise ConfigError(f"{BLIND_INDEX_KEY}: the published development key; "
                          "give a key of your own")
    return Vault(key, index_key)
