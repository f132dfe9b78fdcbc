"""chassis.sealing: one Fernet key per purpose from a stack secret."""

from __future__ import annotations

import pytest

from chassis.sealing import Sealer, SealingError, derive_key

SECRET = "a-stack-secret-of-at-least-thirty-two-characters"


def test_what_is_sealed_opens_again_and_is_not_the_text() -> None:
    text = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    sealer = Sealer(SECRET, b"endpoint secrets")
    sealed = sealer.seal(text)
    assert "whsec_" not in sealed and sealed != sealer.seal(text)  # a fresh IV each time
    assert Sealer(SECRET, b"endpoint secrets").unseal(sealed) == text


def test_another_secret_or_a_tampered_token_is_refused() -> None:
    sealed = Sealer(SECRET, b"endpoint secrets").seal("text")
    with pytest.raises(SealingError, match="does not open"):
        Sealer(SECRET + "!", b"endpoint secrets").unseal(sealed)
    with pytest.raises(SealingError):
        Sealer(SECRET, b"endpoint secrets").unseal(sealed[:-4] + "AAAA")
    with pytest.raises(SealingError):
        Sealer(SECRET, b"endpoint secrets").unseal("whsec_not-a-token")


def test_purpose_labels_and_salts_give_different_keys() -> None:
    assert derive_key(SECRET, b"one") != derive_key(SECRET, b"two")
    assert derive_key(SECRET, b"one") != derive_key(SECRET, b"one", salt=b"other")
    assert len(derive_key(SECRET, b"one")) == 32
    sealed = Sealer(SECRET, b"one").seal("text")
    with pytest.raises(SealingError):
        Sealer(SECRET, b"two").unseal(sealed)
    assert Sealer(SECRET, b"one").fingerprint != Sealer(SECRET, b"two").fingerprint


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        Sealer("", b"one")
