"""Signing in through the portal and keeping a session's tokens fresh, against a fake unit of
work and a fake issuer: a session is keyed by the hash of its cookie, refreshes once when its
token is about to lapse, and ends when its issuer refuses the refresh or the person signs out.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chassis.errors import Unauthorized
from chassis.identity import Identity, Role
from chassis.unit_of_work import FakeUnitOfWork
from portal import use_cases
from portal.backends import ServiceRefused
from portal.domain.sessions import SignedIn, mask_phone, session_hash

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class InMemorySessions:
    def __init__(self) -> None:
        self.rows: dict[str, SignedIn] = {}
        self.locked: list[str] = []

    def add(self, key: str, signed_in: SignedIn, *, now: datetime) -> None:
        self.rows[key] = signed_in

    def find(self, key: str, *, lock: bool = False) -> SignedIn | None:
        if lock:
            self.locked.append(key)
        return self.rows.get(key)

    def save_tokens(self, key: str, tokens: Any) -> None:
        self.rows[key] = self.rows[key].with_tokens(tokens)

    def remove(self, key: str) -> None:
        self.rows.pop(key, None)

    def purge_expired(self, now: datetime) -> int:
        gone = [k for k, v in self.rows.items() if v.expires_at <= now]
        for key in gone:
            del self.rows[key]
        return len(gone)


class FakePortalUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.sessions = InMemorySessions()


class FakeIssuer:
    """An identity service: answers sign-in and refresh with numbered tokens."""

    base_url = "http://identity.test"

    def __init__(self, refuse_refresh: bool = False) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.refuse_refresh = refuse_refresh
        self.issued = 0

    def post(self, path: str, body: dict | None = None, *, token: str | None = None) -> dict:
        self.calls.append((path, body or {}))
        if path == "/refresh" and self.refuse_refresh:
            raise ServiceRefused(401, "UNAUTHORIZED", "refresh token spent")
        if path == "/owner/codes":
            return {"sent": True, "expires_in": 300}
        if path == "/sign-out":
            return {"signed_out": True}
        self.issued += 1
        return {"access_token": f"access-{self.issued}", "token_type": "Bearer",
                "expires_in": 300, "refresh_token": f"refresh-{self.issued}"}


def verify(role: Role, subject: str = "staff-7"):  # type: ignore[no-untyped-def]
    return lambda token: Identity(subject=subject, role=role, dealer_code="D001")


@pytest.fixture
def uow() -> FakePortalUnitOfWork:
    return FakePortalUnitOfWork()


def sign_in(uow: FakePortalUnitOfWork, issuer: FakeIssuer) -> str:
    return use_cases.sign_in_staff(uow, issuer, username="li.advisor", password="pw",
                                   verify=verify(Role.ADVISOR), session_seconds=3600, now=NOW)


def test_a_staff_sign_in_keeps_the_tokens_under_the_hash_of_the_cookie(uow):
    issuer = FakeIssuer()
    cookie = sign_in(uow, issuer)
    assert cookie not in uow.sessions.rows and len(cookie) >= 40
    stored = uow.sessions.rows[session_hash(cookie)]
    assert (stored.role, stored.subject, stored.display_name) == ("advisor", "staff-7",
                                                                  "li.advisor")
    assert stored.token == "access-1" and stored.tokens.refresh == "refresh-1"
    assert stored.expires_at == NOW + timedelta(hours=1)
    assert issuer.calls == [("/sign-in", {"username": "li.advisor", "password": "pw"})]


def test_a_fresh_session_opens_without_calling_the_issuer(uow):
    issuer = FakeIssuer()
    cookie = sign_in(uow, issuer)
    found = use_cases.signed_in(uow, cookie, issuer_of=lambda url: issuer, now=NOW)
    assert found is not None and found.token == "access-1"
    assert len(issuer.calls) == 1 and uow.sessions.locked == []


def test_a_token_about_to_lapse_is_refreshed_once_under_the_row_lock(uow):
    issuer = FakeIssuer()
    cookie = sign_in(uow, issuer)
    later = NOW + timedelta(seconds=280)  # within the margin of its 300 s
    found = use_cases.signed_in(uow, cookie, issuer_of=lambda url: issuer, now=later)
    assert found is not None and found.token == "access-2"
    assert issuer.calls[-1] == ("/refresh", {"refresh_token": "refresh-1"})
    assert uow.sessions.locked == [session_hash(cookie)]
    again = use_cases.signed_in(uow, cookie, issuer_of=lambda url: issuer, now=later)
    assert again.token == "access-2" and len(issuer.calls) == 2  # the new token holds


def test_a_refused_refresh_ends_the_session(uow):
    issuer = FakeIssuer(refuse_refresh=True)
    cookie = sign_in(uow, issuer)
    found = use_cases.signed_in(uow, cookie, issuer_of=lambda url: issuer,
                                now=NOW + timedelta(minutes=10))
    assert found is None and uow.sessions.rows == {}


def test_a_session_past_its_own_end_opens_nothing_whatever_its_tokens(uow):
    issuer = FakeIssuer()
    cookie = sign_in(uow, issuer)
    key = session_hash(cookie)
    uow.sessions.rows[key] = replace(uow.sessions.rows[key], expires_at=NOW)
    assert use_cases.signed_in(uow, cookie, issuer_of=lambda url: issuer, now=NOW) is None
    assert use_cases.housekeeping(uow, now=NOW) == 1


@pytest.mark.parametrize("cookie", [None, "", "not-a-session"])
def test_no_cookie_or_an_unknown_one_is_nobody(uow, cookie):
    assert use_cases.signed_in(uow, cookie, issuer_of=lambda url: FakeIssuer(), now=NOW) is None
    with pytest.raises(Unauthorized):
        use_cases.require(None)


def test_signing_out_ends_the_session_here_and_its_refresh_token_at_the_issuer(uow):
    issuer = FakeIssuer()
    cookie = sign_in(uow, issuer)
    use_cases.sign_out(uow, cookie, issuer_of=lambda url: issuer)
    assert uow.sessions.rows == {}
    assert issuer.calls[-1] == ("/sign-out", {"refresh_token": "refresh-1"})


def test_an_owner_signs_in_with_the_code_and_is_named_by_a_masked_phone(uow):
    issuer = FakeIssuer()
    assert use_cases.send_owner_code(issuer, phone="13800138000") == 300
    cookie = use_cases.sign_in_owner(uow, issuer, phone="13800138000", code="123456",
                                     verify=verify(Role.OWNER, "C-1"), session_seconds=600,
                                     now=NOW)
    stored = uow.sessions.rows[session_hash(cookie)]
    assert stored.is_owner and stored.display_name == "138****8000" == mask_phone("13800138000")
    assert issuer.calls[-1] == ("/owner/sign-in", {"phone": "13800138000", "code": "123456"})
