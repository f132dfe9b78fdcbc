"""identity's unit of work without a database: every store kept in memory.

Each answers like its `identity.store` counterpart (the same methods, the same domain objects),
without the locking: a unit test runs one use case at a time. The crypto is the real one, with
argon2 made cheap: hashing and signing are computation, not I/O.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from chassis.errors import Conflict, ServiceUnavailable
from chassis.unit_of_work import FakeUnitOfWork
from identity.crypto import Crypto, Signer
from identity.domain import (
    ANONYMOUS,
    Actor,
    KeyRecord,
    OneTimeCode,
    PartnerClient,
    PendingDelegation,
    Place,
    RefreshToken,
    SignInSession,
    StaffAccount,
    Throttle,
)
from identity.store import StoredKey

ISSUER = "https://id.d001.example.cn"
KEK = "a-key-encryption-key-for-unit-tests-only-0123456789"


def cheap_crypto() -> Crypto:
    return Crypto(KEK, time_cost=1, memory_kib=1024, parallelism=1)


class InMemoryAccounts:
    def __init__(self) -> None:
        self.rows: dict[str, StaffAccount] = {}

    def by_username(self, username: str) -> StaffAccount | None:
        return next((a for a in self.rows.values() if a.username == username), None)

    def get(self, user_id: str, *, lock: bool = False) -> StaffAccount | None:
        return self.rows.get(user_id)

    def add(self, account: StaffAccount) -> None:
        if self.by_username(account.username):
            raise Conflict(f"the user name {account.username} is taken")
        self.rows[account.id] = account

    def deactivate(self, user_id: str, *, by: str, now: datetime) -> None:
        self.rows[user_id] = replace(self.rows[user_id], active=False, deactivated_at=now,
                                     deactivated_by=by)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self.rows[user_id] = replace(self.rows[user_id], password_hash=password_hash)

    def listed(self, *, dealer_code: str | None = None, active: bool | None = None,
               limit: int = 100) -> list[StaffAccount]:
        found = [a for a in self.rows.values()
                 if (dealer_code is None or a.dealer_code == dealer_code)
                 and (active is None or a.active == active)]
        return sorted(found, key=lambda a: a.username)[:limit]


class InMemoryThrottles:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Throttle] = {}

    def get(self, kind: str, key: str) -> Throttle:
        return self.rows.get((kind, key), Throttle())

    def save(self, kind: str, key: str, throttle: Throttle) -> None:
        self.rows[kind, key] = throttle

    def purge(self, quiet_before: datetime) -> int:
        return 0


class InMemorySessions:
    def __init__(self) -> None:
        self.rows: dict[str, SignInSession] = {}
        self.tokens: dict[str, RefreshToken] = {}

    def add(self, signed_in: SignInSession) -> None:
        self.rows[signed_in.id] = signed_in

    def get(self, session_id: str) -> SignInSession | None:
        return self.rows.get(session_id)

    def revoke(self, session_id: str, *, reason: str, now: datetime) -> None:
        if self.rows[session_id].revoked_at is None:
            self.rows[session_id] = replace(self.rows[session_id], revoked_at=now,
                                            revoked_reason=reason)

    def revoke_for_user(self, user_id: str, *, reason: str, now: datetime) -> int:
        mine = [s for s in self.rows.values() if s.user_id == user_id and s.revoked_at is None]
        for signed_in in mine:
            self.revoke(signed_in.id, reason=reason, now=now)
        return len(mine)

    def add_token(self, token: RefreshToken) -> None:
        self.tokens[token.token_hash] = token

    def token(self, token_hash: str) -> RefreshToken | None:
        return self.tokens.get(token_hash)

    def mark_used(self, token_hash: str, now: datetime) -> None:
        self.tokens[token_hash] = replace(self.tokens[token_hash], used_at=now)

    def purge(self, expired_before: datetime) -> int:
        return 0


class InMemoryKeys:
    def __init__(self) -> None:
        self.rows: dict[str, StoredKey] = {}
        self.locked = 0

    def lock(self) -> None:
        self.locked += 1

    def all(self) -> list[StoredKey]:
        return sorted(self.rows.values(), key=lambda k: k.record.created_at)

    def add(self, *, kid: str, public_jwk: dict[str, str], sealed: str, kek_fingerprint: str,
            algorithm: str, now: datetime, active: bool) -> None:
        self.rows[kid] = StoredKey(KeyRecord(kid, now, now if active else None), public_jwk,
                                   sealed)

    def _change(self, kid: str, **changes: Any) -> None:
        stored = self.rows[kid]
        sealed = None if "retired_at" in changes else stored.sealed
        self.rows[kid] = StoredKey(replace(stored.record, **changes), stored.public_jwk, sealed)

    def activate(self, kid: str, now: datetime) -> None:
        self._change(kid, activated_at=now)

    def rotate_out(self, kid: str, now: datetime) -> None:
        self._change(kid, rotated_out_at=now)

    def retire(self, kid: str, now: datetime) -> None:
        self._change(kid, retired_at=now)


class InMemoryCodes:
    def __init__(self) -> None:
        self.rows: list[tuple[OneTimeCode, str]] = []

    def lock(self, phone_key: str) -> None:
        pass

    def sent_to(self, phone_key: str, since: datetime) -> list[datetime]:
        return [c.created_at for c, _ in self.rows
                if c.phone_key == phone_key and c.created_at >= since]

    def sent_from(self, address: str, since: datetime) -> list[datetime]:
        return [c.created_at for c, a in self.rows if a == address and c.created_at >= since]

    def latest(self, phone_key: str) -> OneTimeCode | None:
        mine = [c for c, _ in self.rows if c.phone_key == phone_key]
        return max(mine, key=lambda c: c.created_at, default=None)

    def add(self, code: OneTimeCode, address: str) -> None:
        self.rows.append((code, address))

    def save(self, code: OneTimeCode) -> None:
        self.rows = [(code if c.id == code.id else c, a) for c, a in self.rows]

    def supersede(self, phone_key: str, now: datetime) -> None:
        self.rows = [(replace(c, consumed_at=now) if c.phone_key == phone_key
                      and c.consumed_at is None else c, a) for c, a in self.rows]

    def purge(self, before: datetime) -> int:
        return 0


class InMemoryPartners:
    def __init__(self) -> None:
        self.rows: dict[str, PartnerClient] = {}

    def add(self, client: PartnerClient, *, by: str) -> None:
        self.rows[client.client_id] = client

    def get(self, client_id: str, *, lock: bool = False) -> PartnerClient | None:
        return self.rows.get(client_id)

    def save(self, client: PartnerClient) -> None:
        self.rows[client.client_id] = client


class InMemoryPending:
    def __init__(self) -> None:
        self.rows: dict[str, PendingDelegation] = {}

    def add(self, pending: PendingDelegation) -> None:
        self.rows[pending.state] = pending

    def take(self, state: str) -> PendingDelegation | None:
        return self.rows.pop(state, None)

    def purge(self, before: datetime) -> int:
        return 0


class InMemoryAudit:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def record(self, kind: str, *, at: datetime, actor: Actor = ANONYMOUS, subject: str,
               address: str | None = None, **detail: Any) -> None:
        self.entries.append({"id": len(self.entries) + 1, "at": at, "kind": str(kind),
                             "actor": actor.__dict__, "subject": subject,
                             "client_address": address,
                             "detail": {k: v for k, v in detail.items() if v is not None}})

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.entries]

    def page(self, *, kinds: list[str] | None = None, since: datetime | None = None,
             until: datetime | None = None, before_id: int | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
        found = [e for e in reversed(self.entries)
                 if (not kinds or e["kind"] in kinds) and (since is None or e["at"] >= since)
                 and (until is None or e["at"] < until)
                 and (before_id is None or e["id"] < before_id)]
        return found[:limit]


class FakeIdentityUnitOfWork(FakeUnitOfWork):
    def __init__(self, place: Place | None = None, crypto: Crypto | None = None) -> None:
        super().__init__()
        self.place = place or Place(at_headquarters=False, dealer_code="D001")
        self.crypto = crypto or cheap_crypto()
        self.signer = Signer(self.crypto, ISSUER)
        self.accounts = InMemoryAccounts()
        self.throttles = InMemoryThrottles()
        self.sessions = InMemorySessions()
        self.keys = InMemoryKeys()
        self.codes = InMemoryCodes()
        self.partners = InMemoryPartners()
        self.pending = InMemoryPending()
        self.audit_log = InMemoryAudit()


class RecordingSms:
    """What notify would have sent; `fail` makes it raise as the real port does."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []
        self.fail = False

    def send_one_time_code(self, phone: str, code: str, minutes: int) -> None:
        if self.fail:
            raise ServiceUnavailable("the text message could not be sent")
        self.sent.append((phone, code, minutes))
