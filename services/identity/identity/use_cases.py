"""identity's service layer: one function per use case, in the caller's unit of work.

Each reads and writes through the stores on `uow` (`identity.store`), hashes and signs through
`uow.crypto` and `uow.signer`, and records what it did in the audit log; the rules are
`identity.domain`'s. Nothing here commits: the framework does when the entrypoint returns.

A refused sign-in is an answer, not an error: it returns `Refused`, so the transaction that
counts the failure (and writes its audit entry, or revokes a session whose refresh token
came back) is committed. An error raised here rolls everything back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from chassis.errors import Conflict, Forbidden, NotFound
from chassis.identity import DEALER_STAFF, Identity, Role
from contracts.customer import customer_id_for
from identity import domain
from identity.domain import (
    CONSOLE,
    SYSTEM,
    Actor,
    Audit,
    CodeVerdict,
    DelegatedUser,
    DelegationFailed,
    OneTimeCode,
    PartnerClient,
    PendingDelegation,
    RefreshToken,
    RefreshVerdict,
    SignInSession,
    StaffAccount,
    masked_phone,
    normal_username,
)

if TYPE_CHECKING:  # the store's and settings' types, for annotations only
    from identity.settings import IdentitySettings
    from identity.store import IdentityUnitOfWork, StoredKey

ALGORITHM = "EdDSA"  # what chassis.auth signs with; named in the JWKS and the discovery document


class OneTimeCodeSms(Protocol):
    """Sends an owner's code by SMS now (notify's channel at headquarters); raises
    ServiceUnavailable when it could not."""

    def send_one_time_code(self, phone: str, code: str, minutes: int) -> None: ...


class Delegation(Protocol):
    """The car maker's OpenID Connect provider (`identity.delegation`)."""

    def start(self, now: datetime) -> PendingDelegation: ...

    def finish(self, pending: PendingDelegation, *, code: str, state: str, iss: str | None,
               now: datetime) -> DelegatedUser: ...


class Refusal(StrEnum):
    """Why a sign-in (of any kind) was refused; the entrypoint says 401, or 429 when locked."""

    INVALID_CREDENTIALS = "invalid_credentials"
    LOCKED = "locked"
    RATE_LIMITED = "rate_limited"
    INVALID_CODE = "invalid_code"
    REUSED = "reused"
    REVOKED = "revoked"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    INVALID_CLIENT = "invalid_client"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    DELEGATION_FAILED = "delegation_failed"
    ROLE_NOT_GRANTED = "role_not_granted"


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    message: str
    retry_after: int | None = None


@dataclass(frozen=True)
class Granted:
    access_token: str
    expires_in: int
    identity: Identity
    refresh_token: str | None = None


@dataclass(frozen=True)
class CodeSent:
    expires_in: int


@dataclass(frozen=True)
class PartnerCredentials:
    client: PartnerClient
    client_secret: str  # shown once, never stored


@dataclass
class Housekeeping:
    retired: list[str] = field(default_factory=list)
    purged: dict[str, int] = field(default_factory=dict)


# -- staff sign-in -----------------------------------------------------------------------------

WRONG = "the user name or password is wrong"


def sign_in(uow: IdentityUnitOfWork, options: IdentitySettings, *, username: str,
            password: str, address: str, now: datetime) -> Granted | Refused:
    """A password sign-in → an access token and a refresh token, or a refusal that says
    nothing of whether the account exists (a locked name is locked whether or not it does)."""
    name = normal_username(username)
    by_address = uow.throttles.get("address", address)
    by_name = uow.throttles.get("username", name)
    wait = max(filter(None, (by_address.retry_after(now), by_name.retry_after(now))), default=0)
    if wait:
        uow.audit_log.record(Audit.SIGN_IN_FAILED, at=now, subject=name, address=address,
                         reason="locked", retry_after=wait)
        return Refused(Refusal.LOCKED, f"too many failed sign-ins: try again in {wait} s "
                                       f"(登录失败次数过多，请 {wait} 秒后再试)", wait)
    account = uow.accounts.by_username(name)
    right = uow.crypto.verify_password(account.password_hash if account else None, password)
    if not right or account is None or not account.active:
        why = "no such user" if account is None else (
            "deactivated" if not account.active else "wrong password")
        _failed(uow, options, name, by_name, address, by_address, why, now)
        return Refused(Refusal.INVALID_CREDENTIALS, WRONG)
    uow.throttles.save("username", name, domain.Throttle())
    if uow.crypto.needs_rehash(account.password_hash):
        uow.accounts.set_password_hash(account.id, uow.crypto.hash_password(password))
    granted = _start_session(uow, options, account.identity, method="password",
                             user_id=account.id, now=now)
    uow.audit_log.record(Audit.SIGNED_IN, at=now, actor=Actor.of(account.identity),
                         subject=name, address=address, role=account.role.value,
                         dealer=account.dealer_code)
    return granted


def _failed(uow: IdentityUnitOfWork, options: IdentitySettings, name: str,
            by_name: domain.Throttle, address: str, by_address: domain.Throttle, why: str,
            now: datetime) -> None:
    after_name = by_name.failed(options.lockout, now)
    after_address = by_address.failed(options.address_lockout, now)
    uow.throttles.save("username", name, after_name)
    uow.throttles.save("address", address, after_address)
    uow.audit_log.record(Audit.SIGN_IN_FAILED, at=now, subject=name, address=address, reason=why,
                     failures=after_name.failures)
    for kind, after in (("username", after_name), ("address", after_address)):
        if after.retry_after(now):
            uow.audit_log.record(Audit.LOCKED_OUT, at=now, subject=name, address=address,
                             by=kind, failures=after.failures, seconds=after.retry_after(now))


def refresh(uow: IdentityUnitOfWork, options: IdentitySettings, *, refresh_token: str,
            address: str, now: datetime) -> Granted | Refused:
    """Trade a refresh token for a new pair; the old one is spent. A spent one coming back
    means two holders: the whole session is revoked, both lose it."""
    token = uow.sessions.token(uow.crypto.secret_hash(refresh_token))
    signed_in = uow.sessions.get(token.session_id) if token else None
    verdict = domain.refresh_verdict(token, signed_in, now)
    if verdict is RefreshVerdict.REUSED and signed_in is not None:
        uow.sessions.revoke(signed_in.id, reason="refresh_reused", now=now)
        uow.audit_log.record(Audit.REFRESH_REUSED, at=now, subject=signed_in.subject,
                         address=address, session=signed_in.id)
        return Refused(Refusal.REUSED, "this refresh token was used before: the session is "
                                       "revoked, sign in again")
    if verdict is not RefreshVerdict.ROTATE or token is None or signed_in is None:
        if signed_in is not None:
            uow.audit_log.record(Audit.REFRESH_REFUSED, at=now, subject=signed_in.subject,
                             address=address, session=signed_in.id, reason=verdict.value)
        return Refused(Refusal(verdict.value.lower()), "the refresh token is not valid: "
                                                       "sign in again")
    if signed_in.user_id is not None:
        account = uow.accounts.get(signed_in.user_id)
        if account is None or not account.active:
            uow.sessions.revoke(signed_in.id, reason="deactivated", now=now)
            return Refused(Refusal.REVOKED, "the account is deactivated")
    uow.sessions.mark_used(token.token_hash, now)
    return _rotate(uow, options, signed_in, now=now)


def sign_out(uow: IdentityUnitOfWork, *, refresh_token: str, address: str,
             now: datetime) -> bool:
    """End the session of a refresh token (any of its family: the holder proves it was
    there). Its access tokens die with their short lifetime."""
    token = uow.sessions.token(uow.crypto.secret_hash(refresh_token))
    signed_in = uow.sessions.get(token.session_id) if token else None
    if signed_in is None or signed_in.revoked_at is not None:
        return False
    uow.sessions.revoke(signed_in.id, reason="signed_out", now=now)
    uow.audit_log.record(Audit.SIGNED_OUT, at=now, actor=Actor.of(signed_in.identity),
                     subject=signed_in.subject, address=address, session=signed_in.id)
    return True


def _start_session(uow: IdentityUnitOfWork, options: IdentitySettings, who: Identity, *,
                   method: str, now: datetime, user_id: str | None = None,
                   lifetime: timedelta | None = None,
                   claims: dict[str, str] | None = None) -> Granted:
    signed_in = SignInSession(id=uow.crypto.new_id(), subject=who.subject, role=who.role,
                              dealer_code=who.dealer_code, method=method, created_at=now,
                              expires_at=now + (lifetime or options.session_lifetime),
                              user_id=user_id, claims=dict(claims or {}))
    uow.sessions.add(signed_in)
    return _rotate(uow, options, signed_in, now=now)


def _rotate(uow: IdentityUnitOfWork, options: IdentitySettings, signed_in: SignInSession, *,
            now: datetime) -> Granted:
    secret = uow.crypto.new_secret()
    uow.sessions.add_token(RefreshToken(uow.crypto.secret_hash(secret), signed_in.id, now))
    who = signed_in.identity
    access = access_token(uow, who, ttl_seconds=options.access_token_seconds, now=now,
                          claims=signed_in.claims or None)
    return Granted(access, options.access_token_seconds, who, refresh_token=secret)


# -- staff accounts ----------------------------------------------------------------------------

def create_account(uow: IdentityUnitOfWork, *, by: Identity | None, username: str,
                   password: str, role: Role, dealer_code: str | None = None,
                   display_name: str | None = None, staff_id: str | None = None,
                   address: str | None = None, now: datetime) -> StaffAccount:
    """A new staff account. `staff_id`, the subject of its tokens, is the id the other
    services know the person by (a new UUID when not given). `by` None: an operator at the
    console (the first users of a stack), who may create any account this stack keeps."""
    place = uow.place
    if dealer_code is None and role in DEALER_STAFF and not place.at_headquarters:
        dealer_code = place.dealer_code  # a site's staff are the site's
    if by is None:
        refusal = domain.account_refusal(place, role, dealer_code)
        if refusal:
            raise Forbidden(refusal)
    else:
        domain.check_may_manage(by, place, role, dealer_code)
    name = normal_username(username)
    domain.check_new_account(name, password, staff_id)
    actor = Actor.of(by) if by else CONSOLE
    if staff_id is not None and uow.accounts.get(staff_id) is not None:
        raise Conflict(f"the staff id {staff_id} has an account already")
    account = StaffAccount(id=staff_id or uow.crypto.new_id(), username=name, role=role,
                           dealer_code=dealer_code, display_name=display_name,
                           password_hash=uow.crypto.hash_password(password), created_at=now,
                           created_by=actor.subject)
    uow.accounts.add(account)
    uow.audit_log.record(Audit.USER_CREATED, at=now, actor=actor, subject=name,
                     address=address, user_id=account.id, role=role.value, dealer=dealer_code)
    return account


def deactivate_account(uow: IdentityUnitOfWork, *, by: Identity, user_id: str,
                       address: str | None = None, now: datetime) -> tuple[StaffAccount, int]:
    """Deactivate an account and revoke its sessions: it signs in and refreshes no more, and
    its last access tokens expire within their lifetime. The sessions revoked, counted."""
    account = uow.accounts.get(user_id, lock=True)
    if account is None:
        raise NotFound(f"user {user_id} not found")
    domain.check_may_manage(by, uow.place, account.role, account.dealer_code)
    domain.check_may_deactivate(by, account.id, account.active)
    uow.accounts.deactivate(account.id, by=by.subject, now=now)
    revoked = uow.sessions.revoke_for_user(account.id, reason="deactivated", now=now)
    uow.audit_log.record(Audit.USER_DEACTIVATED, at=now, actor=Actor.of(by),
                         subject=account.username, address=address, user_id=account.id,
                         sessions_revoked=revoked)
    return replace(account, active=False, deactivated_at=now, deactivated_by=by.subject), revoked


def accounts(uow: IdentityUnitOfWork, *, by: Identity, active: bool | None = None,
             dealer_code: str | None = None, limit: int = 100) -> list[StaffAccount]:
    """The accounts `by` manages: a site's manager their dealer's, an operator every one."""
    domain.check_may_read(by, uow.place)
    if by.role is Role.DEALER_MANAGER:
        dealer_code = by.dealer_code
    return uow.accounts.listed(dealer_code=dealer_code, active=active, limit=limit)


# -- signing keys ------------------------------------------------------------------------------

def access_token(uow: IdentityUnitOfWork, who: Identity, *, ttl_seconds: int, now: datetime,
                 claims: dict[str, Any] | None = None) -> str:
    """An access token signed with the current key (made, with the next one, on first use)."""
    current = _current(uow.keys.all())
    if current is None:
        uow.keys.lock()
        current = _current(uow.keys.all()) or _first_key(uow, now)
    return uow.signer.sign(current.record.kid, str(current.sealed), who,
                           ttl_seconds=ttl_seconds, now=now, claims=claims)


def _current(keys: list[StoredKey]) -> StoredKey | None:
    record = domain.current_key([k.record for k in keys])
    return next((k for k in keys if record and k.record.kid == record.kid), None)


def _first_key(uow: IdentityUnitOfWork, now: datetime) -> StoredKey:
    first = _new_key(uow, active=True, now=now)
    _new_key(uow, active=False, now=now)
    uow.audit_log.record(Audit.KEY_CREATED, at=now, actor=SYSTEM, subject=first.record.kid)
    return first


def _new_key(uow: IdentityUnitOfWork, *, active: bool, now: datetime) -> StoredKey:
    made = uow.signer.new_key()
    uow.keys.add(kid=made.kid, public_jwk=made.public_jwk, sealed=made.sealed,
                 kek_fingerprint=made.kek_fingerprint, algorithm=ALGORITHM, now=now,
                 active=active)
    return next(k for k in uow.keys.all() if k.record.kid == made.kid)


def published_keys(uow: IdentityUnitOfWork, options: IdentitySettings, *,
                   now: datetime) -> list[dict[str, str]]:
    """The JWKS: current, next and previous public keys (none before the first sign-in)."""
    keys = uow.keys.all()
    shown = domain.published_keys([k.record for k in keys], options.longest_token, now)
    by_kid = {k.record.kid: k for k in keys}
    return [by_kid[k.kid].public_jwk for k in shown]


def rotate_keys(uow: IdentityUnitOfWork, options: IdentitySettings, *, by: Actor = CONSOLE,
                now: datetime) -> tuple[str, str | None]:
    """The next key becomes current and a new next key is published; the one it replaces
    stays published until its tokens have expired. (current kid, previous kid)"""
    uow.keys.lock()
    keys = uow.keys.all()
    records = [k.record for k in keys]
    previous, waiting = domain.current_key(records), domain.next_key(records)
    kid = waiting.kid if waiting else _new_key(uow, active=True, now=now).record.kid
    if waiting:
        uow.keys.activate(kid, now)
    if previous:
        uow.keys.rotate_out(previous.kid, now)
    _new_key(uow, active=False, now=now)
    uow.audit_log.record(Audit.KEY_ROTATED, at=now, actor=by, subject=kid,
                     previous=previous.kid if previous else None)
    return kid, previous.kid if previous else None


def retire_keys(uow: IdentityUnitOfWork, options: IdentitySettings, *, by: Actor = CONSOLE,
                now: datetime, every_previous: bool = False) -> list[str]:
    """Stop publishing previous keys whose tokens have expired, or (`every_previous`, after a
    compromise) every previous key at once: their tokens stop verifying as the services that
    trust us refresh their key cache."""
    uow.keys.lock()
    records = [k.record for k in uow.keys.all()]
    due = ([k for k in records if k.rotated_out_at is not None and not k.retired]
           if every_previous else domain.due_for_retirement(records, options.longest_token, now))
    for key in due:
        uow.keys.retire(key.kid, now)
        uow.audit_log.record(Audit.KEY_RETIRED, at=now, actor=by, subject=key.kid,
                         forced=every_previous or None)
    return [k.kid for k in due]


def housekeeping(uow: IdentityUnitOfWork, options: IdentitySettings, *,
                 now: datetime) -> Housekeeping:
    """Retire keys whose time is up, and forget what no rule needs any more."""
    done = Housekeeping(retired=retire_keys(uow, options, by=SYSTEM, now=now))
    day = timedelta(days=1)
    done.purged = {"sessions": uow.sessions.purge(now - day),
                   "owner_codes": uow.codes.purge(now - day),
                   "throttles": uow.throttles.purge(now - day),
                   "oidc_pending": uow.pending.purge(now - timedelta(minutes=10))}
    return done


# -- owners: a one-time code by SMS ------------------------------------------------------------

def send_owner_code(uow: IdentityUnitOfWork, options: IdentitySettings, sms: OneTimeCodeSms, *,
                    phone: str, address: str, now: datetime) -> CodeSent | Refused:
    """Send a new code to the phone (earlier ones stop working), within the rate limits."""
    _owners_here(uow)
    policy = options.codes
    phone_key = uow.crypto.phone_key(phone)
    uow.codes.lock(phone_key)  # two requests for one phone count each other
    hour_ago = now - timedelta(hours=1)
    wait = domain.send_wait(policy, uow.codes.sent_to(phone_key, hour_ago),
                            uow.codes.sent_from(address, hour_ago), now)
    if wait:
        uow.audit_log.record(Audit.OWNER_CODE_REFUSED, at=now, subject=masked_phone(phone),
                         address=address, retry_after=wait)
        return Refused(Refusal.RATE_LIMITED, f"a code was sent recently: try again in {wait} s "
                                             f"(请 {wait} 秒后再获取验证码)", wait)
    code, code_id = uow.crypto.new_code(), uow.crypto.new_id()
    uow.codes.supersede(phone_key, now)
    uow.codes.add(OneTimeCode(code_id, phone_key, uow.crypto.code_hash(code_id, code), now,
                              now + policy.lifetime), address)
    minutes = int(policy.lifetime.total_seconds() // 60)
    sms.send_one_time_code(phone, code, minutes)  # not sent: raises, and nothing is kept
    uow.audit_log.record(Audit.OWNER_CODE_SENT, at=now, subject=masked_phone(phone),
                     address=address)
    return CodeSent(int(policy.lifetime.total_seconds()))


def owner_sign_in(uow: IdentityUnitOfWork, options: IdentitySettings, *, phone: str, code: str,
                  address: str, now: datetime) -> Granted | Refused:
    """The code sent to the phone → an owner token for the customer of that phone, carrying
    the phone it confirmed (booking checks an owner books with their own number)."""
    _owners_here(uow)
    by_address = uow.throttles.get("owner_address", address)
    wait = by_address.retry_after(now)
    if wait:
        return Refused(Refusal.LOCKED, f"too many wrong codes: try again in {wait} s", wait)
    latest = uow.codes.latest(uow.crypto.phone_key(phone))
    matches = latest is not None and uow.crypto.code_matches(latest.id, code, latest.code_hash)
    verdict, after = domain.try_code(latest, matches=matches, policy=options.codes, now=now)
    if after is not None and after != latest:
        uow.codes.save(after)
    if verdict is not CodeVerdict.ACCEPTED:
        uow.throttles.save("owner_address", address,
                           by_address.failed(options.address_lockout, now))
        uow.audit_log.record(Audit.OWNER_SIGN_IN_FAILED, at=now, subject=masked_phone(phone),
                         address=address, reason=verdict.value)
        return Refused(Refusal.INVALID_CODE, _CODE_MESSAGES[verdict])
    owner = Identity(subject=customer_id_for(phone), role=Role.OWNER, dealer_code=None)
    granted = _start_session(uow, options, owner, method="owner_code", now=now,
                             lifetime=options.owner_session_lifetime, claims={"phone": phone})
    uow.audit_log.record(Audit.OWNER_SIGNED_IN, at=now, actor=Actor.of(owner),
                     subject=masked_phone(phone), address=address)
    return granted


_CODE_MESSAGES = {
    CodeVerdict.WRONG: "the code is wrong (验证码错误)",
    CodeVerdict.EXHAUSTED: "too many wrong codes: ask for a new one (错误次数过多，请重新获取)",
    CodeVerdict.EXPIRED: "the code has expired: ask for a new one (验证码已过期)",
    CodeVerdict.NO_CODE: "no code is waiting for this phone: ask for one (请先获取验证码)",
}


def _owners_here(uow: IdentityUnitOfWork) -> None:
    if not uow.place.at_headquarters:
        raise NotFound("owners sign in at headquarters' identity, not a dealer site's")


# -- partners: OAuth2 client credentials -------------------------------------------------------

def register_partner(uow: IdentityUnitOfWork, *, by: Identity, name: str, address: str | None,
                     now: datetime) -> PartnerCredentials:
    _partners_here(uow)
    secret = uow.crypto.new_secret()
    client = PartnerClient(client_id=uow.crypto.new_client_id(), name=name,
                           secret_hash=uow.crypto.secret_hash(secret), created_at=now)
    uow.partners.add(client, by=by.subject)
    uow.audit_log.record(Audit.PARTNER_REGISTERED, at=now, actor=Actor.of(by),
                     subject=client.client_id, address=address, name=name)
    return PartnerCredentials(client, secret)


def rotate_partner_secret(uow: IdentityUnitOfWork, options: IdentitySettings, *, by: Identity,
                          client_id: str, address: str | None,
                          now: datetime) -> PartnerCredentials:
    client = _partner(uow, client_id)
    secret = uow.crypto.new_secret()
    rotated = domain.rotate_secret(client, uow.crypto.secret_hash(secret),
                                   options.partner_secret_overlap, now)
    uow.partners.save(rotated)
    uow.audit_log.record(Audit.PARTNER_SECRET_ROTATED, at=now, actor=Actor.of(by),
                     subject=client_id, address=address,
                     previous_valid_until=rotated.previous_valid_until)
    return PartnerCredentials(rotated, secret)


def deactivate_partner(uow: IdentityUnitOfWork, *, by: Identity, client_id: str,
                       address: str | None, now: datetime) -> PartnerClient:
    """No new tokens for the partner; the ones it holds expire within their lifetime."""
    client = replace(_partner(uow, client_id), active=False)
    uow.partners.save(client)
    uow.audit_log.record(Audit.PARTNER_DEACTIVATED, at=now, actor=Actor.of(by), subject=client_id,
                     address=address)
    return client


def partner_token(uow: IdentityUnitOfWork, options: IdentitySettings, *, grant_type: str | None,
                  client_id: str, client_secret: str, address: str,
                  now: datetime) -> Granted | Refused:
    """RFC 6749 §4.4: the client authenticates with its secret → a partner access token."""
    _partners_here(uow)
    if grant_type != "client_credentials":
        return Refused(Refusal.UNSUPPORTED_GRANT_TYPE,
                       "only grant_type=client_credentials is offered here")
    by_address = uow.throttles.get("client_address", address)
    wait = by_address.retry_after(now)
    if wait:
        return Refused(Refusal.LOCKED, f"too many failed client authentications: retry in "
                                       f"{wait} s", wait)
    client = uow.partners.get(client_id)
    hashes = domain.accepted_secret_hashes(client, now) if client else []
    if not uow.crypto.secret_matches(client_secret, hashes or ["0" * 64]):
        uow.throttles.save("client_address", address,
                           by_address.failed(options.address_lockout, now))
        uow.audit_log.record(Audit.PARTNER_TOKEN_REFUSED, at=now, subject=client_id[:40],
                         address=address)
        return Refused(Refusal.INVALID_CLIENT, "client authentication failed")
    partner = Identity(subject=client_id, role=Role.PARTNER, dealer_code=None)
    token = access_token(uow, partner, ttl_seconds=options.partner_token_seconds, now=now)
    uow.audit_log.record(Audit.PARTNER_TOKEN_ISSUED, at=now, actor=Actor.of(partner),
                         subject=client_id,
                     address=address)
    return Granted(token, options.partner_token_seconds, partner)


def _partner(uow: IdentityUnitOfWork, client_id: str) -> PartnerClient:
    _partners_here(uow)
    client = uow.partners.get(client_id, lock=True)
    if client is None:
        raise NotFound(f"partner {client_id} not found")
    return client


def _partners_here(uow: IdentityUnitOfWork) -> None:
    if not uow.place.at_headquarters:
        raise NotFound("partners are registered at headquarters' identity")


# -- sign-in delegated to the car maker's OpenID Connect provider ------------------------------

def start_delegation(uow: IdentityUnitOfWork, delegation: Delegation | None, *,
                     now: datetime) -> str:
    """Where to send the browser; what its callback must answer is kept by state."""
    if delegation is None:
        raise NotFound("sign-in through the car maker's provider is not configured here")
    pending = delegation.start(now)
    uow.pending.add(pending)
    return pending.url


def finish_delegation(uow: IdentityUnitOfWork, options: IdentitySettings,
                      delegation: Delegation | None, *, code: str, state: str, iss: str | None,
                      address: str, now: datetime) -> Granted | Refused:
    """The provider's callback → our tokens, for headquarters roles and the dealer staff
    headquarters grants; anyone else is refused."""
    if delegation is None:
        raise NotFound("sign-in through the car maker's provider is not configured here")
    pending = uow.pending.take(state)  # one callback per state, whatever comes of it
    if pending is None:
        return _delegation_refused(uow, Refusal.DELEGATION_FAILED, "no sign-in was started "
                                   "with this state, or it was finished already", address, now)
    try:
        user = delegation.finish(pending, code=code, state=state, iss=iss, now=now)
    except DelegationFailed as exc:
        return _delegation_refused(uow, Refusal.DELEGATION_FAILED, str(exc), address, now)
    who, refusal = domain.delegated_identity(uow.place, subject=user.subject, role=user.role,
                                             dealer_code=user.dealer_code)
    if who is None:
        return _delegation_refused(uow, Refusal.ROLE_NOT_GRANTED, str(refusal), address, now,
                                   subject=user.subject)
    granted = _start_session(uow, options, who, method="oidc", now=now)
    uow.audit_log.record(Audit.OIDC_SIGNED_IN, at=now, actor=Actor.of(who), subject=who.subject,
                     address=address, role=who.role.value, dealer=who.dealer_code,
                     provider=user.issuer)
    return granted


def _delegation_refused(uow: IdentityUnitOfWork, reason: Refusal, message: str, address: str,
                        now: datetime, subject: str | None = None) -> Refused:
    uow.audit_log.record(Audit.OIDC_REFUSED, at=now, subject=subject or "oidc", address=address,
                     reason=message[:300])
    return Refused(reason, message)


# -- the audit log -----------------------------------------------------------------------------

def audit_entries(uow: IdentityUnitOfWork, *, by: Identity, kinds: list[str] | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  before_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first, filtered by kind and time; `before_id` pages on."""
    domain.check_may_read(by, uow.place)
    return uow.audit_log.page(kinds=kinds, since=since, until=until, before_id=before_id,
                          limit=limit)
