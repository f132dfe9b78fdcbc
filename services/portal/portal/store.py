"""Reading and writing the portal's sessions in the unit of work's transaction; the tokens a
session holds are sealed as written and opened as read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from chassis.sealing import Sealer
from chassis.unit_of_work import Emits, UnitOfWork
from portal import models
from portal.domain.sessions import SignedIn, Tokens
from portal.settings import PortalSettings

_s = models.sessions
# The purpose label of the key sessions' tokens are sealed with: changing it signs everyone out.
SESSION_TOKENS_PURPOSE = b"portal session tokens"


def session_sealer(session_secret: str) -> Sealer:
    return Sealer(session_secret, SESSION_TOKENS_PURPOSE, name="this session_secret")


def portal_resources(settings: Any) -> dict[str, Any]:
    options = PortalSettings.from_settings(settings)
    return {"sealer": session_sealer(options.session_secret)}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Sessions:
    def __init__(self, session: Session, sealer: Sealer) -> None:
        self.session, self.sealer = session, sealer

    def add(self, session_hash: str, signed_in: SignedIn, *, now: datetime) -> None:
        self.session.execute(_s.insert().values(
            session_hash=session_hash, role=signed_in.role, subject=signed_in.subject,
            display_name=signed_in.display_name, issuer_url=signed_in.issuer_url,
            tokens=self._seal(signed_in.tokens), created_at=now,
            expires_at=signed_in.expires_at))

    def find(self, session_hash: str, *, lock: bool = False) -> SignedIn | None:
        query = sa.select(_s).where(_s.c.session_hash == session_hash)
        row = self.session.execute(query.with_for_update() if lock else query).first()
        if row is None:
            return None
        return SignedIn(role=row.role, subject=row.subject, display_name=row.display_name,
                        issuer_url=row.issuer_url, tokens=self._open(row.tokens),
                        expires_at=_aware(row.expires_at))

    def save_tokens(self, session_hash: str, tokens: Tokens) -> None:
        self.session.execute(_s.update().where(_s.c.session_hash == session_hash)
                             .values(tokens=self._seal(tokens)))

    def remove(self, session_hash: str) -> None:
        self.session.execute(_s.delete().where(_s.c.session_hash == session_hash))

    def purge_expired(self, now: datetime) -> int:
        return self.session.execute(_s.delete().where(_s.c.expires_at <= now)).rowcount or 0

    def _seal(self, tokens: Tokens) -> str:
        return self.sealer.seal(json.dumps({"access": tokens.access, "refresh": tokens.refresh,
                                            "expires_at": tokens.expires_at.isoformat()}))

    def _open(self, sealed: str) -> Tokens:
        raw = json.loads(self.sealer.unseal(sealed))
        return Tokens(raw["access"], raw.get("refresh"),
                      datetime.fromisoformat(raw["expires_at"]))


class PortalUnitOfWork(UnitOfWork):
    def __init__(self, session: Session, events: Emits, *, sealer: Sealer) -> None:
        super().__init__(session, events)
        self.sessions = Sessions(session, sealer)
