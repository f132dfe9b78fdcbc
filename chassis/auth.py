"""Who is calling: signed tokens carrying role, dealer code and subject.

Tokens are JWTs (HS256) signed with the site's `auth_secret`. Every HTTP endpoint declares the
roles it admits (`@http(..., roles=…)`); the entrypoint refuses a missing or bad token (401),
a role not admitted, and dealer staff of another dealer (403) before any service code runs.
Whether an owner may see *this* appointment is the domain's question: it compares
`identity.subject` with the record's customer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

import jwt

from chassis.errors import Forbidden, Unauthorized

ISSUER = "aftersales"
ALGORITHM = "HS256"


class Role(StrEnum):
    OWNER = "owner"                    # 车主: a customer, any dealer, own cars and orders only
    ADVISOR = "advisor"                # 服务顾问
    TECHNICIAN = "technician"          # 技师
    QC_INSPECTOR = "qc_inspector"      # 质检员
    PARTS_CLERK = "parts_clerk"        # 配件员
    CASHIER = "cashier"                # 收银员
    DEALER_MANAGER = "dealer_manager"  # 服务经理 / 站长
    INVITATION_AGENT = "invitation_agent"  # 邀约专员 (OEM or dealer call centre)
    OEM_ANALYST = "oem_analyst"        # headquarters, all dealers, read only
    OPERATOR = "operator"              # IT operations


DEALER_STAFF = frozenset({Role.ADVISOR, Role.TECHNICIAN, Role.QC_INSPECTOR, Role.PARTS_CLERK,
                          Role.CASHIER, Role.DEALER_MANAGER})
# Roles not bound to one dealer: their tokens carry no dealer code.
CROSS_DEALER = frozenset({Role.OWNER, Role.OEM_ANALYST, Role.OPERATOR, Role.INVITATION_AGENT})
PUBLIC: frozenset[Role] = frozenset()  # health, readiness, metrics, the API document


@dataclass(frozen=True)
class Identity:
    subject: str              # user id; for an owner, the customer id
    role: Role
    dealer_code: str | None   # None for cross-dealer roles

    @property
    def is_owner(self) -> bool:
        return self.role is Role.OWNER


def issue_token(secret: str, *, subject: str, role: Role | str, dealer_code: str | None = None,
                ttl_seconds: int = 8 * 3600, now: float | None = None) -> str:
    role = Role(role)
    if role in DEALER_STAFF and not dealer_code:
        raise ValueError(f"a {role} token needs a dealer code")
    issued = int(now if now is not None else time.time())
    claims = {"iss": ISSUER, "sub": subject, "role": role.value, "iat": issued,
              "exp": issued + ttl_seconds}
    if dealer_code:
        claims["dealer"] = dealer_code
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


# Verified tokens until they expire: a signature check is ~5 % of a booking's CPU, and a
# client sends the same token with every request. Bounded; cleared whole when full.
_VERIFIED: dict[tuple[str, str], tuple[Identity, float]] = {}
_VERIFIED_MAX = 10_000


def verify_token(secret: str, token: str) -> Identity:
    """The identity in a token; Unauthorized (401) when it is not one we signed or expired."""
    known = _VERIFIED.get((secret, token))
    if known is not None:
        if time.time() < known[1]:
            return known[0]
        _VERIFIED.pop((secret, token), None)
        raise Unauthorized("the token has expired")
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss"]})
        role = Role(claims["role"])
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise Unauthorized("the token is not valid") from None
    identity = Identity(subject=str(claims["sub"]), role=role, dealer_code=claims.get("dealer"))
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[(secret, token)] = (identity, float(claims["exp"]))
    return identity


def identity_from_header(secret: str, authorization: str | None) -> Identity:
    if not authorization:
        raise Unauthorized("sign in: an Authorization: Bearer token is required")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return verify_token(secret, token.strip())


def admit(identity: Identity, roles: frozenset[Role], dealer_code: str | None) -> None:
    """Refuse (403) a role the endpoint does not admit, or staff of another dealer.

    `dealer_code` None (headquarters, which serves every dealer) admits staff of any dealer
    by role; the endpoint then keeps them to their own dealer's data (`own_dealer_only`).
    """
    if identity.role not in roles:
        allowed = ", ".join(sorted(roles))
        raise Forbidden(f"a {identity.role} may not do this", allowed_roles=allowed)
    if dealer_code is not None and identity.role in DEALER_STAFF \
            and identity.dealer_code != dealer_code:
        raise Forbidden("staff of another dealer may not act at this site")


def own_dealer_only(identity: Identity, dealer_code: str | None) -> None:
    """At headquarters, dealer staff see their own dealer only, and must say so (403)."""
    if identity.role in DEALER_STAFF and dealer_code != identity.dealer_code:
        raise Forbidden("dealer staff see only their own dealer: set dealer to your code",
                        dealer=identity.dealer_code)
