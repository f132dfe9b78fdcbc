"""The owner's links: short-lived, single-purpose grants the site signs, each its own
permission (the rules; `workorder.links` makes and reads the signed tokens).

A link in the owner's message opens one page without signing in. What it grants is named by
its purpose, and nothing else: an inspection report link shows that inspection; a quote link
lets the owner decide one sent quote round, and only while that round waits for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chassis.errors import NotFound
from contracts.vocabulary import is_owner_link
from workorder.domain.stages import Stage


class Purpose(StrEnum):
    INSPECTION_REPORT = "inspection-report"  # see one submitted inspection and its photos
    QUOTE_APPROVAL = "quote-approval"        # decide one sent quote round, and sign


# Who vouches for a grant of each purpose (its `iss`; `pur` names the purpose again, and each
# purpose has a signing key of its own): one kind of grant never passes as another.
ISSUERS = {Purpose.INSPECTION_REPORT: "aftersales/inspection-report",
           Purpose.QUOTE_APPROVAL: "aftersales/quote-approval"}

# How long a quote link decides its round unless the site says otherwise (3 days), and the
# range a site may set (`quote_link_ttl_hours`): long enough to reach the owner, short enough
# that prices and stock still hold.
QUOTE_TTL_SECONDS = 72 * 3600
QUOTE_TTL_HOURS = (1, 7 * 24)
# The longest link an event carries (the contract's https URL).
MAX_LINK_LENGTH = 512


@dataclass(frozen=True)
class QuoteGrant:
    """What a valid quote link lets its holder do: decide one round of one repair order, as
    its customer, until it expires."""

    repair_order_id: str
    quote_id: str
    round: int
    customer_id: str
    expires_at: int


def invalid_quote_link() -> NotFound:
    return NotFound("this quote link is not valid (链接无效)", reason="invalid")


def check_quote_waiting(grant: QuoteGrant, ro: Mapping[str, Any] | None,
                        rounds: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    """A quote link opens its own round, sent and still waiting for the owner, and nothing
    after: once the round is decided (through the link or any other way), replaced by a new
    round, or the repair order no longer waits (cancelled), it is refused (404, with the
    reason). Single use in effect. Returns the round."""
    if ro is None or ro["customer_id"] != grant.customer_id:
        raise invalid_quote_link()
    row = next((r for r in rounds if r["round"] == grant.round), None)
    if row is None or row["quote_id"] != grant.quote_id or row["sent_at"] is None:
        raise invalid_quote_link()
    if row["decided_at"] is not None:
        raise NotFound("this quote has been decided already; the link no longer opens it "
                       "(报价已确认)", reason="decided")
    if ro["quote_round"] != grant.round:
        raise NotFound("a newer quote replaced this one; use the link in the latest message "
                       "(报价已更新)", reason="superseded")
    if ro["stage"] != Stage.AWAITING_CUSTOMER_AUTHORIZATION:
        raise NotFound("this quote no longer waits for a decision (报价已失效)",
                       reason="not_waiting")
    return row


def quote_url(portal: str, grant: str) -> str | None:
    """The owner's quote page with its grant, for the owner's message (QuoteIssued); only when
    the site has an owner portal configured that the contract lets reach an owner (https, or
    plain http on loopback: a demo or test machine), and the link fits in the event."""
    if not portal:
        return None
    url = f"{portal.rstrip('/')}/quote-links/{grant}"
    return url if len(url) <= MAX_LINK_LENGTH and is_owner_link(url) else None
