"""The portal's use cases over its unit of work: signing people in and out and keeping their
session's tokens fresh. The pages' own work is calls to the stack's services (`portal.views`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chassis.errors import Unauthorized
from chassis.identity import Identity
from portal.backends import ServiceRefused
from portal.domain.sessions import (
    SignedIn,
    Tokens,
    mask_phone,
    new_cookie_value,
    session_hash,
)

if TYPE_CHECKING:
    from portal.backends import Backend
    from portal.store import PortalUnitOfWork

# Checks a token the portal was given against the issuers the stack trusts.
Verify = Callable[[str], Identity]


def _tokens(answer: dict, now: datetime) -> Tokens:
    return Tokens(str(answer["access_token"]), answer.get("refresh_token"),
                  now + timedelta(seconds=int(answer.get("expires_in", 300))))


def _start(uow: PortalUnitOfWork, issuer: Backend, answer: dict, *, display_name: str,
           verify: Verify, session_seconds: int, now: datetime) -> str:
    tokens = _tokens(answer, now)
    who = verify(tokens.access)
    cookie = new_cookie_value()
    uow.sessions.add(session_hash(cookie), SignedIn(
        role=str(who.role), subject=who.subject, display_name=display_name,
        issuer_url=issuer.base_url, tokens=tokens,
        expires_at=now + timedelta(seconds=session_seconds)), now=now)
    return cookie


def sign_in_staff(uow: PortalUnitOfWork, identity: Backend, *, username: str, password: str,
                  verify: Verify, session_seconds: int, now: datetime) -> str:
    """A member of staff signs in with the site's identity; the new session's cookie value.
    A refusal (wrong password, locked account) is identity's ServiceRefused."""
    answer = identity.post("/sign-in", {"username": username, "password": password})
    return _start(uow, identity, answer, display_name=username, verify=verify,
                  session_seconds=session_seconds, now=now)


def send_owner_code(identity: Backend, *, phone: str) -> int:
    """Headquarters' identity sends the owner a one-time code by SMS; seconds it is good for."""
    return int(identity.post("/owner/codes", {"phone": phone}).get("expires_in", 300))


def sign_in_owner(uow: PortalUnitOfWork, identity: Backend, *, phone: str, code: str,
                  verify: Verify, session_seconds: int, now: datetime) -> str:
    answer = identity.post("/owner/sign-in", {"phone": phone, "code": code})
    return _start(uow, identity, answer, display_name=mask_phone(phone), verify=verify,
                  session_seconds=session_seconds, now=now)


def signed_in(uow: PortalUnitOfWork, cookie: str | None, *, issuer_of: Callable[[str], Backend],
              now: datetime) -> SignedIn | None:
    """The session a cookie opens, its access token refreshed when it is about to lapse (the
    row locked meanwhile: refresh tokens are single use, and a board polls while a page
    loads). None when there is none, it ended, or its sign-in can no longer be refreshed."""
    if not cookie:
        return None
    key = session_hash(cookie)
    found = uow.sessions.find(key)
    if found is None or found.expires_at <= now:
        return None
    if not found.tokens.due(now):
        return found
    found = uow.sessions.find(key, lock=True)
    if found is None:
        return None
    if not found.tokens.due(now):
        return found  # another request refreshed it while this one waited
    if not found.tokens.refresh:
        uow.sessions.remove(key)
        return None
    try:
        answer = issuer_of(found.issuer_url).post("/refresh",
                                                  {"refresh_token": found.tokens.refresh})
    except ServiceRefused:
        uow.sessions.remove(key)
        return None
    tokens = _tokens(answer, now)
    uow.sessions.save_tokens(key, tokens)
    return found.with_tokens(tokens)


def sign_out(uow: PortalUnitOfWork, cookie: str | None, *,
             issuer_of: Callable[[str], Backend]) -> None:
    """Ends the session here and its refresh token at its issuer."""
    if not cookie:
        return
    key = session_hash(cookie)
    found = uow.sessions.find(key)
    if found is None:
        return
    uow.sessions.remove(key)
    if found.tokens.refresh:
        try:
            issuer_of(found.issuer_url).post("/sign-out",
                                             {"refresh_token": found.tokens.refresh})
        except Exception:  # signed out here either way; the token lapses by itself
            pass


def require(found: SignedIn | None) -> SignedIn:
    if found is None:
        raise Unauthorized("sign in first")
    return found


def housekeeping(uow: PortalUnitOfWork, *, now: datetime) -> int:
    return uow.sessions.purge_expired(now)
