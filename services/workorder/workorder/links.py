"""The owner's inspection report link: a signed, expiring token that is its own permission.

An adapter beside the rules (the rules know only `ReportGrant`): the token is a JWT signed
with a key of its own, derived from the site secret, so a report link can never pass as a
sign-in token, nor the other way round.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import jwt

from chassis.errors import Forbidden, NotFound
from workorder.domain.inspection import REPORT_TTL_SECONDS, ReportGrant

REPORT_ISSUER = "aftersales/inspection-report"
_ALGORITHM = "HS256"


def _report_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"inspection-report-link", hashlib.sha256).digest()


def report_token(secret: str, *, repair_order_id: str, inspection_id: str,
                 ttl_seconds: int = REPORT_TTL_SECONDS, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {"iss": REPORT_ISSUER, "ro": repair_order_id, "ins": inspection_id,
              "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, _report_key(secret), algorithm=_ALGORITHM)


def read_report_token(secret: str, token: str) -> ReportGrant:
    """What a report link grants. An expired link is refused (403) with a word on how to get a
    new one; a tampered or foreign one is NotFound (404), revealing nothing."""
    try:
        claims = jwt.decode(token, _report_key(secret), algorithms=[_ALGORITHM],
                            issuer=REPORT_ISSUER,
                            options={"require": ["exp", "iat", "iss", "ro", "ins"]})
    except jwt.ExpiredSignatureError:
        raise Forbidden("this inspection report link has expired; ask your advisor for a new "
                        "one (链接已过期)", reason="expired") from None
    except jwt.InvalidTokenError:
        raise NotFound("this inspection report link is not valid (链接无效)",
                       reason="invalid") from None
    return ReportGrant(repair_order_id=str(claims["ro"]), inspection_id=str(claims["ins"]),
                       expires_at=int(claims["exp"]))


class ReportLinks:
    """The site's report links, signed with its secret (one per process, on the unit of work)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def sign(self, *, repair_order_id: str, inspection_id: str, ttl_seconds: int,
             now: float) -> str:
        return report_token(self._secret, repair_order_id=repair_order_id,
                            inspection_id=inspection_id, ttl_seconds=ttl_seconds, now=now)

    def read(self, token: str) -> ReportGrant:
        return read_report_token(self._secret, token)
