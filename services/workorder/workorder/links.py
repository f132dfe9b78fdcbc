"""The owner's links: signed, expiring, single-purpose grants that are their own permission.

An adapter beside the rules (the rules know only `ReportGrant` and `QuoteGrant`). A grant is
a JWT (HS256) for one purpose (`workorder.domain.grants.Purpose`), signed with a key of that
purpose's own derived from the site's one secret (`report_link_secret`), and naming its
purpose twice, as its issuer (`iss`) and its purpose (`pur`). So no kind of grant passes as
another, none as a sign-in token (chassis.auth takes only the RS256 tokens of the identity
services it trusts), and none at another site, whose secret is its own.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import jwt

from chassis.errors import DomainError, Forbidden, NotFound
from workorder.domain.grants import (
    ISSUERS,
    QUOTE_TTL_SECONDS,
    Purpose,
    QuoteGrant,
    invalid_quote_link,
)
from workorder.domain.inspection import REPORT_TTL_SECONDS, ReportGrant

REPORT_ISSUER = ISSUERS[Purpose.INSPECTION_REPORT]
QUOTE_ISSUER = ISSUERS[Purpose.QUOTE_APPROVAL]
_ALGORITHM = "HS256"
# How far ahead of this instance's clock another instance of the site may have signed a grant.
_CLOCK_SKEW_SECONDS = 60


@dataclass(frozen=True)
class _Kind:
    purpose: Purpose
    key_label: bytes             # derives the purpose's own key from the site secret
    claims: tuple[str, ...]      # what a grant of this purpose must name


_REPORT = _Kind(Purpose.INSPECTION_REPORT, b"inspection-report-link", ("ro", "ins"))
_QUOTE = _Kind(Purpose.QUOTE_APPROVAL, b"quote-approval-link", ("pur", "ro", "qid", "rnd", "cus"))


def _key(secret: str, kind: _Kind) -> bytes:
    return hmac.new(secret.encode(), kind.key_label, hashlib.sha256).digest()


def _sign(secret: str, kind: _Kind, claims: dict[str, Any], ttl_seconds: int,
          now: float | None) -> str:
    issued = int(time.time() if now is None else now)
    return jwt.encode({"iss": ISSUERS[kind.purpose], "pur": kind.purpose.value, **claims,
                       "iat": issued, "exp": issued + ttl_seconds},
                      _key(secret, kind), algorithm=_ALGORITHM)


def _read(secret: str, kind: _Kind, token: str, now: float | None, *, invalid: DomainError,
          expired: DomainError) -> dict[str, Any]:
    """The claims of a grant of `kind`, valid at `now` (the caller's clock, else this one's)."""
    try:
        claims = jwt.decode(token, _key(secret, kind), algorithms=[_ALGORITHM],
                            issuer=ISSUERS[kind.purpose],
                            options={"require": ["exp", "iat", "iss", *kind.claims],
                                     "verify_exp": False, "verify_iat": False})
        issued, expires = int(claims["iat"]), int(claims["exp"])
    except (jwt.InvalidTokenError, TypeError, ValueError, OverflowError):
        raise invalid from None
    # Report links signed before grants named their purpose carry no `pur`; their issuer and
    # key are the report's alone.
    if claims.get("pur", kind.purpose.value) != kind.purpose.value:
        raise invalid
    moment = time.time() if now is None else now
    if issued > moment + _CLOCK_SKEW_SECONDS:
        raise invalid
    if expires <= moment:
        raise expired
    return claims


# -- the inspection report ----------------------------------------------------------------


def report_token(secret: str, *, repair_order_id: str, inspection_id: str,
                 ttl_seconds: int = REPORT_TTL_SECONDS, now: float | None = None) -> str:
    return _sign(secret, _REPORT, {"ro": repair_order_id, "ins": inspection_id}, ttl_seconds,
                 now)


def read_report_token(secret: str, token: str, *, now: float | None = None) -> ReportGrant:
    """What a report link grants. An expired link is refused (403) with a word on how to get a
    new one; a tampered, foreign or other-purpose one is NotFound (404), revealing nothing."""
    claims = _read(secret, _REPORT, token, now,
                   invalid=NotFound("this inspection report link is not valid (链接无效)",
                                    reason="invalid"),
                   expired=Forbidden("this inspection report link has expired; ask your "
                                     "advisor for a new one (链接已过期)", reason="expired"))
    return ReportGrant(repair_order_id=str(claims["ro"]), inspection_id=str(claims["ins"]),
                       expires_at=int(claims["exp"]))


# -- the quote ----------------------------------------------------------------------------


def quote_token(secret: str, *, repair_order_id: str, quote_id: str, round_: int,
                customer_id: str, ttl_seconds: int = QUOTE_TTL_SECONDS,
                now: float | None = None) -> str:
    return _sign(secret, _QUOTE, {"ro": repair_order_id, "qid": quote_id, "rnd": round_,
                                  "cus": customer_id}, ttl_seconds, now)


def read_quote_token(secret: str, token: str, *, now: float | None = None) -> QuoteGrant:
    """What a quote link grants. Expired, tampered, foreign or other-purpose: NotFound (404)
    with the reason (`expired`, `invalid`); whether its round still waits is the rules'."""
    claims = _read(secret, _QUOTE, token, now, invalid=invalid_quote_link(),
                   expired=NotFound("this quote link has expired; sign in to the owner app "
                                    "or ask your advisor (链接已过期)", reason="expired"))
    if not isinstance(claims["rnd"], int) or isinstance(claims["rnd"], bool):
        raise invalid_quote_link()
    return QuoteGrant(repair_order_id=str(claims["ro"]), quote_id=str(claims["qid"]),
                      round=claims["rnd"], customer_id=str(claims["cus"]),
                      expires_at=int(claims["exp"]))


class OwnerLinks:
    """The site's owner links, signed with its secret (one per process, on the unit of work)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def sign_report(self, *, repair_order_id: str, inspection_id: str, ttl_seconds: int,
                    now: float) -> str:
        return report_token(self._secret, repair_order_id=repair_order_id,
                            inspection_id=inspection_id, ttl_seconds=ttl_seconds, now=now)

    def read_report(self, token: str) -> ReportGrant:
        return read_report_token(self._secret, token)

    def sign_quote(self, *, repair_order_id: str, quote_id: str, round_: int,
                   customer_id: str, ttl_seconds: int, now: float) -> str:
        return quote_token(self._secret, repair_order_id=repair_order_id, quote_id=quote_id,
                           round_=round_, customer_id=customer_id, ttl_seconds=ttl_seconds,
                           now=now)

    def read_quote(self, token: str, *, now: float) -> QuoteGrant:
        return read_quote_token(self._secret, token, now=now)
