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
