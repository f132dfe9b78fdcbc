"""A signed-in person's session: who they are, the tokens their sign-in gave, and when those
need refreshing or the session ends."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

COOKIE = "portal_session"
# A token is refreshed this long before it expires, so a call never goes out with one that
# lapses on the way.
REFRESH_MARGIN = timedelta(seconds=30)
STAFF = "staff"
OWNER = "owner"


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str | None
    expires_at: datetime

    def due(self, now: datetime) -> bool:
        return self.expires_at - REFRESH_MARGIN <= now


@dataclass(frozen=True)
class SignedIn:
    role: str            # the token's role (owner, advisor, dealer_manager, ...)
    subject: str         # user id; an owner's customer id
    display_name: str
    issuer_url: str      # the identity service the tokens came from (and refresh at)
    tokens: Tokens
    expires_at: datetime  # the session's own end, whatever the tokens say

    @property
    def is_owner(self) -> bool:
        return self.role == OWNER

    @property
    def token(self) -> str:
        return self.tokens.access

    def with_tokens(self, tokens: Tokens) -> SignedIn:
        return replace(self, tokens=tokens)


def new_cookie_value() -> str:
    return secrets.token_urlsafe(32)


def session_hash(cookie_value: str) -> str:
    """What the table keys a session by: a stolen table names no cookie."""
    return hashlib.sha256(cookie_value.encode()).hexdigest()


def mask_phone(phone: str) -> str:
    """How the page names an owner signed in by phone: 138****8000."""
    digits = phone.strip()
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 8 else "****"
