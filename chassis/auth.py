"""Who is calling: signed tokens carrying role, dealer code and subject.

Tokens are JWTs (HS256) signed with the site's `auth_secret`. Every HTTP endpoint declares the
roles it admits (`@http(..., roles=…)`); the entrypoint refuses a missing or bad token (401),
a role not admitted, and dealer staff of another dealer (403) before any service code runs.
Whether an owner may see *this* appointment is the domain's question: it compares
`identity.subject` with the record's customer.
"""

from __future__ import annotations

import time

import jwt

from chassis.errors import Unauthorized
from chassis.identity import (  # noqa: F401  (what callers of chassis.auth also need)
    CROSS_DEALER,
    DEALER_STAFF,
    PUBLIC,
    Identity,
    Role,
    admit,
    own_dealer_only,
)

ISSUER = "aftersales"
ALGORITHM = "HS256"


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
