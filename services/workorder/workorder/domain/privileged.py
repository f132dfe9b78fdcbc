"""Privileged actions at the service desk: what staff do that stands in for the owner's own
decision or lowers what the owner pays, and so goes into the audit log (`uow.audit`) with
what an auditor needs to judge it.

An owner approving their own quote online is not one of them: it is the normal path, kept on
the quote itself (signed by, signed from). A labour rate above the site's is not either: the
owner sees it on the quote and decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

from workorder.domain.pricing import CURRENCY, ZERO, LineKind, labour_amount


class Privileged(StrEnum):
    # Staff recorded the owner's decision (a phone call, at the counter): the owner did not
    # sign in to approve, so who spoke for them is what an auditor asks first.
    QUOTE_APPROVED_ON_BEHALF = "QUOTE_APPROVED_ON_BEHALF"
    # A labour line priced below the site's labour rate: a discount given on the quote.
    QUOTE_LINE_DISCOUNTED = "QUOTE_LINE_DISCOUNTED"
    # A discount or coupon taken off the customer-pay share of the invoice.
    INVOICE_DISCOUNTED = "INVOICE_DISCOUNTED"


def approval_on_behalf(data: Mapping[str, Any], *, signer_name: str,
                       signature_sha256: str | None, signed_from: str | None
                       ) -> dict[str, Any]:
    """What an approval staff recorded for the owner says: whose quote, which lines, how much,
    through which channel and who signed (from the round's QuoteApproved data)."""
    return {
        "on_behalf_of": data["customer_id"], "quote_id": data["quote_id"],
        "round": data["round"], "approved_via": data["approved_via"],
        "signed_by": data["signed_by"], "signer_name": signer_name,
        "signature_sha256": signature_sha256, "signed_from": signed_from,
        "approved_lines": [line["line_id"] for line in data["approved_lines"]],
        "declined_lines": [line["line_id"] for line in data["declined_lines"]],
        "approved_total": data["approved_total"], "declined_total": data["declined_total"],
        "currency": CURRENCY,
    }


def discounted_labour(lines: Iterable[Mapping[str, Any]], site_rate: Decimal, *, round_: int
                      ) -> dict[str, Any] | None:
    """The labour lines priced below the site's rate, with what each would have cost at it;
    None when there are none (nothing to audit)."""
    found = []
    for line in lines:
        if line["kind"] != LineKind.LABOUR or line["unit_price"] >= site_rate:
            continue
        at_site_rate = labour_amount(line["flat_rate_hours"], site_rate)
        found.append({"line_id": line["line_id"], "operation_code": line["operation_code"],
                      "flat_rate_hours": line["flat_rate_hours"],
                      "labour_rate": line["unit_price"], "amount": line["amount"],
                      "amount_at_site_rate": at_site_rate,
                      "discount": at_site_rate - line["amount"],
                      "pay_type": line["pay_type"]})
    if not found:
        return None
    return {"round": round_, "site_labour_rate": site_rate, "lines": found,
            "discount_total": sum((x["discount"] for x in found), ZERO), "currency": CURRENCY}


def invoice_discount(record: Mapping[str, Any], replaced: Mapping[str, Any] | None
                     ) -> dict[str, Any] | None:
    """The discount on an invoice being issued and what it came off; None without one. When
    the invoice replaces an earlier one, that one's discount is kept beside it, so a discount
    raised on reissue shows as such."""
    discount = record["discount_total"]
    if discount <= 0:
        return None
    return {"invoice_number": record["invoice_number"], "discount": discount,
            "coupon_code": record["coupon_code"],
            "customer_pay_before_discount": record["customer_pay_total"] + discount,
            "customer_pay_total": record["customer_pay_total"],
            "grand_total": record["grand_total"],
            "replaces_discount": None if replaced is None else replaced["discount_total"],
            "currency": CURRENCY}
