"""identity's rules: which accounts a stack's identity keeps and who may create them, the
back-off after failed sign-ins, one-time codes for owners, refresh-token rotation, how long a
signing key is published, and partner secrets.

Pure: no database, web, token library or hashing (the service layer compares hashes through
its ports and hands the outcome in); every rule that depends on time takes `now`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from chassis.errors import Conflict, Forbidden, InvalidInput
from chassis.identity import (
    DEALER_STAFF,
    HEADQUARTERS_SCOPE,
    SITE_SCOPE,
    Identity,
    Role,
    grant_refusal,
)

# Headquarters' own people; dealer staff may also hold an account there (headquarters grants
# a dealer manager a view of their dealer in BI), owners and partners never: they have codes
# and client credentials.
HQ_ROLES = frozenset({Role.OEM_ANALYST, Role.OPERATOR, Role.INVITATION_AGENT})
PASSWORD_ROLES = HQ_ROLES | DEALER_STAFF

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")
# The id the other services know a person by (an appointment's advisor, a job's technician):
# the subject of their tokens. The platform's id pattern (contracts.vocabulary.ID).
STAFF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
DEALER_CODE = re.compile(r"^[A-Z0-9]{2,12}$")
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256  # argon2 takes any length; a megabyte "password" is a CPU attack


class Audit(StrEnum):
    """What the audit log records; `detail` says more."""

    SIGNED_IN = "SIGNED_IN"
    SIGN_IN_FAILED = "SIGN_IN_FAILED"
    LOCKED_OUT = "LOCKED_OUT"
    REFRESHED = "REFRESHED"
    REFRESH_REFUSED = "REFRESH_REFUSED"
    REFRESH_REUSED = "REFRESH_REUSED"       # a used refresh token came back: session revoked
    SIGNED_OUT = "SIGNED_OUT"
    USER_CREATED = "USER_CREATED"
    USER_DEACTIVATED = "USER_DEACTIVATED"
    KEY_CREATED = "KEY_CREATED"
    KEY_ROTATED = "KEY_ROTATED"
    KEY_RETIRED = "KEY_RETIRED"
    OWNER_CODE_SENT = "OWNER_CODE_SENT"
    OWNER_CODE_REFUSED = "OWNER_CODE_REFUSED"  # rate limited
    OWNER_SIGNED_IN = "OWNER_SIGNED_IN"
    OWNER_SIGN_IN_FAILED = "OWNER_SIGN_IN_FAILED"
    PARTNER_REGISTERED = "PARTNER_REGISTERED"
    PARTNER_SECRET_ROTATED = "PARTNER_SECRET_ROTATED"
    PARTNER_DEACTIVATED = "PARTNER_DEACTIVATED"
    PARTNER_TOKEN_ISSUED = "PARTNER_TOKEN_ISSUED"
    PARTNER_TOKEN_REFUSED = "PARTNER_TOKEN_REFUSED"
    OIDC_SIGNED_IN = "OIDC_SIGNED_IN"
    OIDC_REFUSED = "OIDC_REFUSED"


@dataclass(frozen=True)
class Actor:
    """Who did what the audit log records: a signed-in caller, the operator at the console,
    identity itself (its timer), or nobody proven (a failed sign-in)."""

    subject: str
    role: str
    dealer_code: str | None = None
    issuer: str | None = None

    @classmethod
    def of(cls, who: Identity) -> Actor:
        return cls(who.subject, who.role.value, who.dealer_code, who.issuer)


ANONYMOUS = Actor("anonymous", "anonymous")
CONSOLE = Actor("console", Role.OPERATOR.value)  # whoever holds the database
SYSTEM = Actor("identity", "system")


# -- where this identity service runs, and the accounts it keeps -------------------------------

@dataclass(frozen=True)
class Place:
    """The stack an identity service vouches for: one dealer site, or headquarters."""

    at_headquarters: bool
    dealer_code: str  # the site's dealer; headquarters' own code (HQ) there

    @property
    def scope(self) -> str:
        return HEADQUARTERS_SCOPE if self.at_headquarters else SITE_SCOPE

    @property
    def issuer_dealer(self) -> str | None:
        return None if self.at_headquarters else self.dealer_code


def account_refusal(place: Place, role: Role, dealer_code: str | None) -> str | None:
    """Why this identity may not keep an account of `role` (for `dealer_code`), or None.

    A site keeps its own dealer's staff alone, the same boundary every service's trust draws
    (`chassis.identity.grant_refusal`): a token it could sign, no site service would accept.
    """
    if role not in PASSWORD_ROLES:
        return (f"no {role} accounts are kept here: owners sign in with a code sent to their "
                "phone, partners with client credentials")
    if not place.at_headquarters and role not in DEALER_STAFF:
        return f"a dealer site keeps its own staff only; {role} accounts are headquarters'"
    if dealer_code is not None and not DEALER_CODE.match(dealer_code):
        return f"{dealer_code!r} is not a dealer code"
    return grant_refusal(place.scope, place.issuer_dealer,
                         Identity(subject="new", role=role, dealer_code=dealer_code))


def check_may_manage(actor: Identity, place: Place, role: Role,
                     dealer_code: str | None) -> None:
    """Refuse (403) what `actor` may not do to an account of `role` at `place`: create it, or
    deactivate it. A site's dealer manager manages their own dealer's staff; headquarters'
    operator manages headquarters' accounts. Nobody creates an account the place may not keep.
    """
    refusal = account_refusal(place, role, dealer_code)
    if refusal:
        raise Forbidden(refusal)
    if place.at_headquarters:
        if actor.role is Role.OPERATOR:
            return
        raise Forbidden("at headquarters, operators manage the accounts")
    if actor.role is Role.DEALER_MANAGER and actor.dealer_code == place.dealer_code:
        return
    raise Forbidden(f"the dealer manager of {place.dealer_code} manages its staff")


@dataclass(frozen=True)
class StaffAccount:
    """A person who signs in with a password: staff of a dealer, or of headquarters."""

    id: str
    username: str
    role: Role
    dealer_code: str | None
    password_hash: str
    created_at: datetime
    created_by: str
    display_name: str | None = None
    active: bool = True
    deactivated_at: datetime | None = None
    deactivated_by: str | None = None

    @property
    def identity(self) -> Identity:
        return Identity(subject=self.id, role=self.role, dealer_code=self.dealer_code)


def check_may_read(actor: Identity, place: Place) -> None:
    """Who reads the accounts list and the audit log: who manages the accounts, and at a
    site also headquarters' operators (IT operations support the dealers)."""
    if actor.role is Role.OPERATOR:
        return
    if not place.at_headquarters and actor.role is Role.DEALER_MANAGER \
            and actor.dealer_code == place.dealer_code:
        return
    raise Forbidden("only the accounts' managers and operators read this")


def normal_username(username: str) -> str:
    """One spelling per user name: sign-in is not case-sensitive, and lock-outs count per
    name whether or not an account has it."""
    return username.strip().lower()


def check_new_account(username: str, password: str, staff_id: str | None = None) -> None:
    """The name, password and staff id a new account must have (422 naming the field)."""
    if staff_id is not None and not STAFF_ID.match(staff_id):
        raise InvalidInput("staff_id", "must be 1-64 characters A-Z a-z 0-9 . _ : - starting "
                                       "with a letter or digit")
    if not USERNAME.match(username):
        raise InvalidInput("username", "must be 3-64 characters a-z 0-9 . _ @ -, starting "
                                       "with a letter or digit")
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidInput("password", f"must be at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidInput("password", f"must be at most {PASSWORD_MAX_LENGTH} characters")
    if normal_username(password) == username:
        raise InvalidInput("password", "must not be the user name")


def check_may_deactivate(actor: Identity, user_id: str, active: bool) -> None:
    if actor.subject == user_id:
        raise Conflict("you cannot deactivate your own account; ask another manager")
    if not active:
        raise Conflict("the account is already deactivated")


# -- back-off after failed attempts ------------------------------------------------------------

@dataclass(frozen=True)
class Backoff:
    """After `threshold` failures in a row, a lock of `first_lock`, doubling with each further
    failure up to `longest_lock`; failures are forgotten after `forget_after` of quiet."""

    threshold: int = 5
    first_lock: timedelta = timedelta(seconds=30)
    multiplier: float = 2.0
    longest_lock: timedelta = timedelta(hours=1)
    forget_after: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Throttle:
    """Failed attempts under one key (a user name, a client address) and any lock on it."""

    failures: int = 0
    locked_until: datetime | None = None
    last_failure_at: datetime | None = None

    def retry_after(self, now: datetime) -> int | None:
        """Whole seconds until the lock ends, or None when not locked."""
        if self.locked_until is None or self.locked_until <= now:
            return None
        return max(1, math.ceil((self.locked_until - now).total_seconds()))

    def failed(self, policy: Backoff, now: datetime) -> Throttle:
        failures = 0 if self._forgotten(policy, now) else self.failures
        failures += 1
        locked_until = self.locked_until
        if failures >= policy.threshold:
            seconds = policy.first_lock.total_seconds() * policy.multiplier ** (
                failures - policy.threshold)
            locked_until = now + min(timedelta(seconds=seconds), policy.longest_lock)
        return Throttle(failures, locked_until, now)

    def _forgotten(self, policy: Backoff, now: datetime) -> bool:
        quiet_since = max((t for t in (self.last_failure_at, self.locked_until) if t),
                          default=None)
        return quiet_since is None or now - quiet_since > policy.forget_after


# -- owners' one-time codes --------------------------------------------------------------------

CODE_DIGITS = 6


@dataclass(frozen=True)
class CodePolicy:
    lifetime: timedelta = timedelta(minutes=5)
    attempts: int = 5
    interval: timedelta = timedelta(seconds=60)  # between two codes to one phone
    per_phone_per_hour: int = 5
    per_address_per_hour: int = 20


def send_wait(policy: CodePolicy, phone_sends: list[datetime], address_sends: list[datetime],
              now: datetime) -> int | None:
    """Seconds until a code may be sent to this phone from this address, or None: now.

    `phone_sends` and `address_sends` are when codes went out in the last hour. A person
    waits a minute between codes; an attacker gets few codes per phone and per address, so at
    most 5 × 5 guesses an hour at one owner's million codes.
    """
    hour = timedelta(hours=1)
    waits = []
    recent = sorted(t for t in phone_sends if now - t < hour)
    if recent and now - recent[-1] < policy.interval:
        waits.append(recent[-1] + policy.interval - now)
    if len(recent) >= policy.per_phone_per_hour:
        waits.append(recent[-policy.per_phone_per_hour] + hour - now)
    from_address = sorted(t for t in address_sends if now - t < hour)
    if len(from_address) >= policy.per_address_per_hour:
        waits.append(from_address[-policy.per_address_per_hour] + hour - now)
    if not waits:
        return None
    return max(1, math.ceil(max(waits).total_seconds()))


@dataclass(frozen=True)
class OneTimeCode:
    id: str
    phone_key: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    consumed_at: datetime | None = None


class CodeVerdict(StrEnum):
    ACCEPTED = "ACCEPTED"
    WRONG = "WRONG"          # counted; the code stays usable while attempts remain
    EXHAUSTED = "EXHAUSTED"  # the last attempt was wrong, or the attempts were used up
    EXPIRED = "EXPIRED"
    NO_CODE = "NO_CODE"      # none was sent, or it was used


def try_code(code: OneTimeCode | None, *, matches: bool, policy: CodePolicy,
             now: datetime) -> tuple[CodeVerdict, OneTimeCode | None]:
    """One attempt at the owner's latest code: the verdict, and the code as it is after it."""
    if code is None or code.consumed_at is not None:
        return CodeVerdict.NO_CODE, code
    if now >= code.expires_at:
        return CodeVerdict.EXPIRED, code
    if code.attempts >= policy.attempts:
        return CodeVerdict.EXHAUSTED, code
    if matches:
        return CodeVerdict.ACCEPTED, replace(code, attempts=code.attempts + 1, consumed_at=now)
    tried = replace(code, attempts=code.attempts + 1)
    if tried.attempts >= policy.attempts:
        return CodeVerdict.EXHAUSTED, replace(tried, consumed_at=now)
    return CodeVerdict.WRONG, tried


def masked_phone(phone: str) -> str:
    """A phone as the audit log keeps it (PIPL: what is needed, no more): 138****5678."""
    digits = phone.lstrip("+")
    if len(digits) <= 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


# -- refresh tokens: one session family, rotated on every use ----------------------------------

@dataclass(frozen=True)
class SignInSession:
    """A signed-in session: the family of its refresh tokens, and whom they stand for."""

    id: str
    subject: str
    role: Role
    dealer_code: str | None
    method: str               # password, owner_code, oidc
    created_at: datetime
    expires_at: datetime
    user_id: str | None = None  # a local account, checked again at every refresh
    claims: dict[str, str] = field(default_factory=dict)  # carried into every token (phone)
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @property
    def identity(self) -> Identity:
        return Identity(subject=self.subject, role=self.role, dealer_code=self.dealer_code)


@dataclass(frozen=True)
class RefreshToken:
    token_hash: str
    session_id: str
    issued_at: datetime
    used_at: datetime | None = None


class RefreshVerdict(StrEnum):
    ROTATE = "ROTATE"
    UNKNOWN = "UNKNOWN"
    REUSED = "REUSED"    # used before: someone else holds a copy; the whole family goes
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


def refresh_verdict(token: RefreshToken | None, session: SignInSession | None,
                    now: datetime) -> RefreshVerdict:
    if token is None or session is None:
        return RefreshVerdict.UNKNOWN
    if token.used_at is not None:
        return RefreshVerdict.REUSED
    if session.revoked_at is not None:
        return RefreshVerdict.REVOKED
    if now >= session.expires_at:
        return RefreshVerdict.EXPIRED
    return RefreshVerdict.ROTATE


# -- signing keys ------------------------------------------------------------------------------

# Clocks of the verifying services may run a little behind ours.
CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True)
class KeyRecord:
    """A signing key's life: published as the next key (not signing yet), then current (signs
    every token), then previous (rotated out, still published), then retired."""

    kid: str
    created_at: datetime
    activated_at: datetime | None = None    # None: the next key, published ahead of use
    rotated_out_at: datetime | None = None  # when a newer key took over signing
    retired_at: datetime | None = None      # no longer published: its tokens verify nowhere

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


def current_key(keys: list[KeyRecord]) -> KeyRecord | None:
    """The key tokens are signed with: the newest active one not rotated out."""
    live = [k for k in keys if k.activated_at is not None and k.rotated_out_at is None
            and not k.retired]
    return max(live, key=lambda k: (k.activated_at, k.kid), default=None)


def next_key(keys: list[KeyRecord]) -> KeyRecord | None:
    """The key the next rotation makes current. It is published from its creation, so the
    services that trust us have it in their key cache before the first token it signs."""
    waiting = [k for k in keys if k.activated_at is None and not k.retired]
    return min(waiting, key=lambda k: (k.created_at, k.kid), default=None)


def published_keys(keys: list[KeyRecord], longest_token: timedelta,
                   now: datetime) -> list[KeyRecord]:
    """What the JWKS shows: the current key, the next one, and the previous ones until every
    token they signed has expired (retired or not yet: the timer may not have run)."""
    due = {k.kid for k in due_for_retirement(keys, longest_token, now)}
    shown = [k for k in keys if not k.retired and k.kid not in due]
    return sorted(shown, key=lambda k: (k.activated_at is None or k.rotated_out_at is not None,
                                        k.rotated_out_at is not None,
                                        -k.created_at.timestamp()))


def due_for_retirement(keys: list[KeyRecord], longest_token: timedelta,
                       now: datetime) -> list[KeyRecord]:
    """Previous keys every token of which has expired: rotated out longer ago than the longest
    access token lives, with the clock skew on top."""
    return [k for k in keys if not k.retired and k.rotated_out_at is not None
            and now >= k.rotated_out_at + longest_token + CLOCK_SKEW]


# -- partners: OAuth2 clients ------------------------------------------------------------------

@dataclass(frozen=True)
class PartnerClient:
    client_id: str
    name: str
    secret_hash: str
    created_at: datetime
    active: bool = True
    previous_secret_hash: str | None = None
    previous_valid_until: datetime | None = None
    secret_rotated_at: datetime | None = None


def accepted_secret_hashes(client: PartnerClient, now: datetime) -> list[str]:
    """The secrets a partner may authenticate with now: the current one, and the previous one
    during the overlap after a rotation (so the partner can switch without an outage)."""
    if not client.active:
        return []
    hashes = [client.secret_hash]
    if client.previous_secret_hash and client.previous_valid_until \
            and now < client.previous_valid_until:
        hashes.append(client.previous_secret_hash)
    return hashes


def rotate_secret(client: PartnerClient, new_hash: str, overlap: timedelta,
                  now: datetime) -> PartnerClient:
    if not client.active:
        raise Conflict(f"partner {client.client_id} is deactivated")
    keep = overlap > timedelta(0)
    return replace(client, secret_hash=new_hash, secret_rotated_at=now,
                   previous_secret_hash=client.secret_hash if keep else None,
                   previous_valid_until=now + overlap if keep else None)


# -- sign-in delegated to the car maker's OpenID Connect provider ------------------------------

def delegated_identity(place: Place, *, subject: str, role: str | None,
                       dealer_code: str | None) -> tuple[Identity | None, str | None]:
    """The platform identity of a person the provider vouched for, or (None, why not).

    Only headquarters delegates, and only the accounts it could keep itself: headquarters
    roles, and dealer staff it grants (naming their dealer). Owners, partners and unknown
    roles are refused: they have their own ways in.
    """
    if not place.at_headquarters:
        return None, "sign-in through the provider is headquarters' alone"
    if not role:
        return None, "the provider names no platform role for this person"
    try:
        platform_role = Role(role)
    except ValueError:
        return None, f"{role!r} is not a platform role"
    if platform_role in HQ_ROLES:
        dealer_code = None  # a headquarters role is every dealer's; a dealer claim means nothing
    refusal = account_refusal(place, platform_role, dealer_code)
    if refusal:
        return None, refusal
    return Identity(subject=f"oidc:{subject}", role=platform_role,
                    dealer_code=dealer_code), None


class DelegationFailed(Exception):
    """The provider's answer cannot be trusted or used; the message says why (safe to log)."""


@dataclass(frozen=True)
class PendingDelegation:
    """A started sign-in at the provider, kept by its state until the browser comes back."""

    state: str
    nonce: str
    code_verifier: str = field(repr=False)
    url: str
    created_at: datetime


@dataclass(frozen=True)
class DelegatedUser:
    """Whom the provider vouched for, and the role and dealer its claims name."""

    subject: str
    issuer: str
    role: str | None
    dealer_code: str | None
    name: str | None = None
