"""Signed tokens: a verified token is remembered until it expires, and never past that."""

from __future__ import annotations

import time

import pytest

from chassis import auth
from chassis.auth import Role, issue_token, verify_token
from chassis.errors import Unauthorized

SECRET = "a-secret-long-enough-to-sign-tokens-0123"


def test_a_token_is_accepted_again_and_still_refused_once_it_expires(monkeypatch):
    token = issue_token(SECRET, subject="SA-017", role=Role.ADVISOR, dealer_code="D001",
                        ttl_seconds=60)
    first = verify_token(SECRET, token)
    assert verify_token(SECRET, token) == first
    later = time.time() + 61
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(Unauthorized):
        verify_token(SECRET, token)


def test_a_token_signed_with_another_secret_is_refused_even_after_a_good_one():
    token = issue_token(SECRET, subject="SA-017", role=Role.ADVISOR, dealer_code="D001")
    verify_token(SECRET, token)
    with pytest.raises(Unauthorized):
        verify_token("another-secret-long-enough-to-sign-tokens", token)
