"""Reading and writing identity's tables in the unit of work's transaction.

One store per table family, each over the worker's `Session`, none committing; the unit of
work at the end carries them (and the process's `Crypto` and `Signer`) for the use cases.
Row locks (`FOR UPDATE`) keep two sign-ins of one name, or two refreshes of one token, in
line; PostgreSQL advisory locks do the same for things no row stands for yet (the first
signing key, the codes of one phone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chassis.errors import Conflict
from chassis.identity import Role
from chassis.unit_of_work import Emits, UnitOfWork
from identity import models
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
from identity.settings import IdentitySettings

_users = models.users
_throttles = models.throttles
_sessions = models.sessions
_tokens = models.refresh_tokens
_keys = models.signing_keys
_codes = models.owner_codes
_partners = models.partner_clients
_pending = models.oidc_pending
_audit = models.audit_log

# The sign-in path's statements, built once.
_USER_BY_NAME = sa.select(_users).where(_users.c.username == sa.bindparam("username"))
_USER = sa.select(_users).where(_users.c.id == sa.bindparam("id"))
_THROTTLE = (sa.select(_throttles).where(_throttles.c.kind == sa.bindparam("kind"),
                                         _throttles.c.key == sa.bindparam("key"))
             .with_for_update())
_TOKEN = sa.select(_tokens).where(_tokens.c.token_hash == sa.bindparam("hash")).with_for_update()
_SESSION = sa.select(_sessions).where(_sessions.c.id == sa.bindparam("id")).with_for_update()
_KEYS = sa.select(_keys).order_by(_keys.c.created_at)


def utc(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; the rules compare aware ones."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _insert(session: Session, table: sa.Table) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def advisory_lock(session: Session, name: str) -> None:
    """Hold a lock on `name` until the transaction ends (PostgreSQL; SQLite is serial)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"),
                        {"name": f"identity:{name}"})


class StaffAccounts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_username(self, username: str) -> StaffAccount | None:
        row = self.session.execute(_USER_BY_NAME, {"username": username}).mappings().first()
        return _account(row) if row else None

    def get(self, user_id: str, *, lock: bool = False) -> StaffAccount | None:
        query = _USER.with_for_update() if lock else _USER
        row = self.session.execute(query, {"id": user_id}).mappings().first()
        return _account(row) if row else None

    def add(self, account: StaffAccount) -> None:
        values = {**account.__dict__, "role": account.role.value}
        try:
            with self.session.begin_nested():
                self.session.execute(_users.insert().values(**values))
        except IntegrityError:
            # Two managers adding the same name at once: the unique index decides.
            raise Conflict(f"the user name {account.username} or staff id {account.id} "
                           "is taken") from None

    def deactivate(self, user_id: str, *, by: str, now: datetime) -> None:
        self.session.execute(_users.update().where(_users.c.id == user_id)
                             .values(active=False, deactivated_at=now, deactivated_by=by))

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self.session.execute(_users.update().where(_users.c.id == user_id)
                             .values(password_hash=password_hash))

    def listed(self, *, dealer_code: str | None = None, active: bool | None = None,
               limit: int = 100) -> list[StaffAccount]:
        query = sa.select(_users).order_by(_users.c.username).limit(limit)
        if dealer_code is not None:
            query = query.where(_users.c.dealer_code == dealer_code)
        if active is not None:
            query = query.where(_users.c.active == active)
        return [_account(r) for r in self.session.execute(query).mappings()]


def _account(row: Any) -> StaffAccount:
    return StaffAccount(
        id=row["id"], username=row["username"], role=Role(row["role"]),
        dealer_code=row["dealer_code"], password_hash=row["password_hash"],
        created_at=utc(row["created_at"]), created_by=row["created_by"],
        display_name=row["display_name"], active=row["active"],
        deactivated_at=utc(row["deactivated_at"]), deactivated_by=row["deactivated_by"])


class Throttles:
    """Failed attempts per (kind, key), the row locked for the rest of the transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, kind: str, key: str) -> Throttle:
        # The row must exist to be locked: two sign-ins of one name then wait for each other.
        self.session.execute(_insert(self.session, _throttles).values(
            kind=kind, key=key, failures=0).on_conflict_do_nothing())
        row = self.session.execute(_THROTTLE, {"kind": kind, "key": key}).mappings().one()
        return Throttle(row["failures"], utc(row["locked_until"]), utc(row["last_failure_at"]))

    def save(self, kind: str, key: str, throttle: Throttle) -> None:
        self.session.execute(_throttles.update().where(
            _throttles.c.kind == kind, _throttles.c.key == key).values(
            failures=throttle.failures, locked_until=throttle.locked_until,
            last_failure_at=throttle.last_failure_at))

    def purge(self, quiet_before: datetime) -> int:
        """Forget keys with no failure and no lock since `quiet_before`."""
        quiet = sa.or_(_throttles.c.last_failure_at.is_(None),
                       _throttles.c.last_failure_at < quiet_before)
        unlocked = sa.or_(_throttles.c.locked_until.is_(None),
                          _throttles.c.locked_until < quiet_before)
        return self.session.execute(_throttles.delete().where(quiet, unlocked)).rowcount


class Sessions:
    """Sign-in sessions and their refresh tokens (by hash); a session's claims sealed."""

    def __init__(self, session: Session, crypto: Crypto) -> None:
        self.session = session
        self.crypto = crypto

    def add(self, signed_in: SignInSession) -> None:
        self.session.execute(_sessions.insert().values(
            id=signed_in.id, subject=signed_in.subject, role=signed_in.role.value,
            dealer_code=signed_in.dealer_code, method=signed_in.method,
            user_id=signed_in.user_id, created_at=signed_in.created_at,
            expires_at=signed_in.expires_at, claims_sealed=self.crypto.seal_claims(
                signed_in.claims)))

    def get(self, session_id: str) -> SignInSession | None:
        row = self.session.execute(_SESSION, {"id": session_id}).mappings().first()
        if row is None:
            return None
        return SignInSession(
            id=row["id"], subject=row["subject"], role=Role(row["role"]),
            dealer_code=row["dealer_code"], method=row["method"],
            created_at=utc(row["created_at"]), expires_at=utc(row["expires_at"]),
            user_id=row["user_id"], claims=self.crypto.unseal_claims(row["claims_sealed"]),
            revoked_at=utc(row["revoked_at"]), revoked_reason=row["revoked_reason"])

    def revoke(self, session_id: str, *, reason: str, now: datetime) -> None:
        self.session.execute(_sessions.update().where(
            _sessions.c.id == session_id, _sessions.c.revoked_at.is_(None)).values(
            revoked_at=now, revoked_reason=reason))

    def revoke_for_user(self, user_id: str, *, reason: str, now: datetime) -> int:
        return self.session.execute(_sessions.update().where(
            _sessions.c.user_id == user_id, _sessions.c.revoked_at.is_(None)).values(
            revoked_at=now, revoked_reason=reason)).rowcount

    def add_token(self, token: RefreshToken) -> None:
        self.session.execute(_tokens.insert().values(
            token_hash=token.token_hash, session_id=token.session_id,
            issued_at=token.issued_at, used_at=token.used_at))

    def token(self, token_hash: str) -> RefreshToken | None:
        row = self.session.execute(_TOKEN, {"hash": token_hash}).mappings().first()
        if row is None:
            return None
        return RefreshToken(row["token_hash"], row["session_id"], utc(row["issued_at"]),
                            utc(row["used_at"]))

    def mark_used(self, token_hash: str, now: datetime) -> None:
        self.session.execute(_tokens.update().where(_tokens.c.token_hash == token_hash)
                             .values(used_at=now))

    def purge(self, expired_before: datetime) -> int:
        """Sessions that ended before `expired_before`, with their tokens (cascade)."""
        ended = _sessions.c.expires_at < expired_before
        old = sa.select(_sessions.c.id).where(ended)
        self.session.execute(_tokens.delete().where(_tokens.c.session_id.in_(old)))
        return self.session.execute(_sessions.delete().where(ended)).rowcount


@dataclass(frozen=True)
class StoredKey:
    record: KeyRecord
    public_jwk: dict[str, str]
    sealed: str | None


class SigningKeys:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self) -> None:
        """Serialise key changes: the first key, a rotation, a retirement."""
        advisory_lock(self.session, "signing-keys")

    def all(self) -> list[StoredKey]:
        return [StoredKey(KeyRecord(r["kid"], utc(r["created_at"]), utc(r["activated_at"]),
                                    utc(r["rotated_out_at"]), utc(r["retired_at"])),
                          dict(r["public_jwk"]), r["private_key_sealed"])
                for r in self.session.execute(_KEYS).mappings()]

    def add(self, *, kid: str, public_jwk: dict[str, str], sealed: str, kek_fingerprint: str,
            algorithm: str, now: datetime, active: bool) -> None:
        self.session.execute(_keys.insert().values(
            kid=kid, algorithm=algorithm, public_jwk=public_jwk, private_key_sealed=sealed,
            kek_fingerprint=kek_fingerprint, created_at=now,
            activated_at=now if active else None))

    def activate(self, kid: str, now: datetime) -> None:
        self.session.execute(_keys.update().where(_keys.c.kid == kid).values(activated_at=now))

    def rotate_out(self, kid: str, now: datetime) -> None:
        self.session.execute(_keys.update().where(_keys.c.kid == kid)
                             .values(rotated_out_at=now))

    def retire(self, kid: str, now: datetime) -> None:
        # A retired key signs nothing and verifies nothing: its private half goes.
        self.session.execute(_keys.update().where(_keys.c.kid == kid)
                             .values(retired_at=now, private_key_sealed=None))


class OwnerCodes:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, phone_key: str) -> None:
        advisory_lock(self.session, f"owner-codes:{phone_key}")

    def sent_to(self, phone_key: str, since: datetime) -> list[datetime]:
        query = sa.select(_codes.c.created_at).where(_codes.c.phone_key == phone_key,
                                                     _codes.c.created_at >= since)
        return [utc(t) for t in self.session.scalars(query)]

    def sent_from(self, address: str, since: datetime) -> list[datetime]:
        query = sa.select(_codes.c.created_at).where(_codes.c.client_address == address,
                                                     _codes.c.created_at >= since)
        return [utc(t) for t in self.session.scalars(query)]

    def latest(self, phone_key: str) -> OneTimeCode | None:
        query = (sa.select(_codes).where(_codes.c.phone_key == phone_key)
                 .order_by(_codes.c.created_at.desc()).limit(1).with_for_update())
        row = self.session.execute(query).mappings().first()
        if row is None:
            return None
        return OneTimeCode(row["id"], row["phone_key"], row["code_hash"], utc(row["created_at"]),
                           utc(row["expires_at"]), row["attempts"], utc(row["consumed_at"]))

    def add(self, code: OneTimeCode, address: str) -> None:
        self.session.execute(_codes.insert().values(
            id=code.id, phone_key=code.phone_key, code_hash=code.code_hash,
            client_address=address, created_at=code.created_at, expires_at=code.expires_at,
            attempts=code.attempts, consumed_at=code.consumed_at))

    def save(self, code: OneTimeCode) -> None:
        self.session.execute(_codes.update().where(_codes.c.id == code.id).values(
            attempts=code.attempts, consumed_at=code.consumed_at))

    def supersede(self, phone_key: str, now: datetime) -> None:
        """A new code makes the phone's earlier ones useless."""
        self.session.execute(_codes.update().where(
            _codes.c.phone_key == phone_key, _codes.c.consumed_at.is_(None)).values(
            consumed_at=now))

    def purge(self, before: datetime) -> int:
        # Kept an hour at least: the sends of the last hour are the rate limits' memory.
        return self.session.execute(_codes.delete().where(_codes.c.created_at < before)).rowcount


class PartnerClients:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, client: PartnerClient, *, by: str) -> None:
        self.session.execute(_partners.insert().values(**client.__dict__, created_by=by))

    def get(self, client_id: str, *, lock: bool = False) -> PartnerClient | None:
        query = sa.select(_partners).where(_partners.c.client_id == client_id)
        row = self.session.execute(query.with_for_update() if lock else query).mappings().first()
        if row is None:
            return None
        return PartnerClient(
            client_id=row["client_id"], name=row["name"], secret_hash=row["secret_hash"],
            created_at=utc(row["created_at"]), active=row["active"],
            previous_secret_hash=row["previous_secret_hash"],
            previous_valid_until=utc(row["previous_valid_until"]),
            secret_rotated_at=utc(row["secret_rotated_at"]))

    def save(self, client: PartnerClient) -> None:
        values = {k: v for k, v in client.__dict__.items() if k not in ("client_id",
                                                                        "created_at")}
        self.session.execute(_partners.update().where(
            _partners.c.client_id == client.client_id).values(**values))


class PendingDelegations:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, pending: PendingDelegation) -> None:
        self.session.execute(_pending.insert().values(
            state=pending.state, nonce=pending.nonce, code_verifier=pending.code_verifier,
            url=pending.url, created_at=pending.created_at))

    def take(self, state: str) -> PendingDelegation | None:
        """The sign-in started with `state`, deleted: a state answers one callback only."""
        row = self.session.execute(_pending.delete().where(_pending.c.state == state)
                                   .returning(*_pending.c)).mappings().first()
        if row is None:
            return None
        return PendingDelegation(row["state"], row["nonce"], row["code_verifier"], row["url"],
                                 utc(row["created_at"]))

    def purge(self, before: datetime) -> int:
        return self.session.execute(
            _pending.delete().where(_pending.c.created_at < before)).rowcount


class AuditLog:
    """The audit log (`chassis.audit`'s shape), append-only: rows are added, never changed."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, kind: str, *, at: datetime, actor: Actor = ANONYMOUS, subject: str,
               address: str | None = None, **detail: Any) -> None:
        self.session.execute(_audit.insert().values(
            at=at, service="identity", action=str(kind), actor_subject=actor.subject[:300],
            actor_role=actor.role, actor_dealer_code=actor.dealer_code,
            actor_issuer=actor.issuer, subject=subject[:120] or "-", client_address=address,
            detail={k: v.isoformat() if isinstance(v, datetime) else v
                    for k, v in detail.items() if v is not None}))

    def page(self, *, kinds: list[str] | None = None, since: datetime | None = None,
             until: datetime | None = None, before_id: int | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
        """Newest first; `before_id` continues from the last entry of the previous page."""
        query = sa.select(_audit).order_by(_audit.c.id.desc()).limit(limit)
        if kinds:
            query = query.where(_audit.c.action.in_(kinds))
        if since is not None:
            query = query.where(_audit.c.at >= since)
        if until is not None:
            query = query.where(_audit.c.at < until)
        if before_id is not None:
            query = query.where(_audit.c.id < before_id)
        return [_entry(row) for row in self.session.execute(query).mappings()]


def _entry(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "at": utc(row["at"]), "kind": row["action"],
            "actor": {"subject": row["actor_subject"], "role": row["actor_role"],
                      "dealer_code": row["actor_dealer_code"], "issuer": row["actor_issuer"]},
            "subject": row["subject"], "client_address": row["client_address"],
            "detail": row["detail"]}


def identity_resources(settings: Any) -> dict[str, Any]:
    """What every identity unit of work of a process shares, built once at start: where it
    runs, the crypto over the key-encryption key, and the signer (with its opened keys)."""
    options = IdentitySettings.from_settings(settings)
    crypto = Crypto(options.key_encryption_key, time_cost=options.password_time_cost,
                    memory_kib=options.password_memory_kib,
                    parallelism=options.password_parallelism)
    return {"place": Place(settings.at_headquarters, settings.dealer_code), "crypto": crypto,
            "signer": Signer(crypto, options.issuer)}


class IdentityUnitOfWork(UnitOfWork):
    """One identity transaction: its stores, where it runs, and its crypto."""

    def __init__(self, session: Session, events: Emits, *, place: Place, crypto: Crypto,
                 signer: Signer) -> None:
        super().__init__(session, events)
        self.place, self.crypto, self.signer = place, crypto, signer
        self.accounts = StaffAccounts(session)
        self.throttles = Throttles(session)
        self.sessions = Sessions(session, crypto)
        self.keys = SigningKeys(session)
        self.codes = OwnerCodes(session)
        self.partners = PartnerClients(session)
        self.pending = PendingDelegations(session)
        self.audit_log = AuditLog(session)
