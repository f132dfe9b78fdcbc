"""Who is calling, as the rules see it: a role, a dealer code and a subject.

Pure (no tokens, no web): domain modules use `Identity` and `Role` to decide what a caller may
see. How an identity is proven, by a signed token, is `chassis.auth`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chassis.errors import Forbidden


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
    PARTNER = "partner"                # a third-party shop's system (OAuth2 client credentials)


DEALER_STAFF = frozenset({Role.ADVISOR, Role.TECHNICIAN, Role.QC_INSPECTOR, Role.PARTS_CLERK,
                          Role.CASHIER, Role.DEALER_MANAGER})
# Roles not bound to one dealer: their tokens carry no dealer code.
CROSS_DEALER = frozenset({Role.OWNER, Role.OEM_ANALYST, Role.OPERATOR, Role.INVITATION_AGENT,
                          Role.PARTNER})
PUBLIC: frozenset[Role] = frozenset()  # health, readiness, metrics, the API document


@dataclass(frozen=True)
class Identity:
    subject: str              # user id; for an owner, the customer id
    role: Role
    dealer_code: str | None   # None for cross-dealer roles
    issuer: str | None = None  # who vouched for it (the token's `iss`), for the audit trail

    @property
    def is_owner(self) -> bool:
        return self.role is Role.OWNER


# -- who may vouch for whom ------------------------------------------------------------------

HEADQUARTERS_SCOPE = "headquarters"
SITE_SCOPE = "site"


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer a service accepts tokens from, and what it may grant.

    A site's issuer vouches for that site's staff only; headquarters' issuer for every role
    (owners, partners, headquarters staff, and dealer staff it grants access at headquarters).
    Keys come from the issuer's published JWKS (`jwks_url`), or are given (`jwks`, a JSON
    text: an air-gapped site, tests).
    """

    issuer: str
    scope: str                      # HEADQUARTERS_SCOPE or SITE_SCOPE
    dealer_code: str | None = None  # the site's dealer, for a site issuer
    jwks_url: str | None = None
    jwks: str | None = None

    def refusal(self, identity: Identity) -> str | None:
        """Why this issuer may not vouch for `identity`, or None when it may."""
        return grant_refusal(self.scope, self.dealer_code, identity)


def grant_refusal(scope: str, issuer_dealer: str | None, identity: Identity) -> str | None:
    """The trust boundary between tenants: what an issuer of `scope` may put in a token."""
    if identity.role in DEALER_STAFF and not identity.dealer_code:
        return f"a {identity.role} token must name its dealer"
    if identity.role in CROSS_DEALER and identity.dealer_code:
        return f"a {identity.role} token names no dealer"
    if scope == HEADQUARTERS_SCOPE:
        return None
    if identity.role not in DEALER_STAFF:
        return f"a site's issuer may not grant the {identity.role} role"
    if identity.dealer_code != issuer_dealer:
        return f"the issuer of {issuer_dealer} may not vouch for staff of {identity.dealer_code}"
    return None



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
