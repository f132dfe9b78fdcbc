"""Contact details at rest: names and phone numbers encrypted (Fernet), phones also kept as a
keyed hash so an inbound SMS finds its customer without decrypting the whole book."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken


class ContactCipher:
    def __init__(self, secret: str) -> None:
        key = hashlib.sha256(f"notify-contacts:{secret}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._hash_key = hashlib.sha256(f"notify-phone-hash:{secret}".encode()).digest()

    def seal(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str | None) -> str | None:
        if sealed is None:
            return None
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None  # sealed with another key: treated as unknown, never as garbage

    def phone_hash(self, phone: str) -> str:
        return hmac.new(self._hash_key, normal_phone(phone).encode(), hashlib.sha256).hexdigest()


def normal_phone(phone: str) -> str:
    """13812345678, +86 138-1234-5678 and 008613812345678 are one number."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            return digits[len(prefix):]
    return digits
