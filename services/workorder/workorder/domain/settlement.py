"""Settlement and hand-over (结算, 交车): the invoice of the approved work, its payments, the
owner's signature and the car going back.

The arithmetic is `workorder.domain.pricing`; here are the rules around it: when an invoice
may be (re)issued, who signs how, and what must be true before the car leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from chassis.errors import Conflict, InvalidInput
from workorder.domain.pricing import (
    ZERO,
    BillableLine,
    InvoiceTotals,
    LineKind,
    PayType,
    Settlement,
    Sundry,
    invoice_totals,
)


def invoice_number(repair_order_id: str) -> str:
    return f"INV-{repair_order_id}"


def check_reissuable(payments: Iterable[Any]) -> None:
    """An invoice is issued again (new sundries, a discount) only until money is taken on it."""
    if list(payments):
        raise Conflict("payments are recorded against the invoice: it cannot be reissued")


def check_issued(invoice: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if invoice is None:
        raise Conflict("no invoice has been issued for this repair order yet")
    return invoice


def sundries_of(requested: Iterable[Mapping[str, Any]]) -> list[Sundry]:
    return [Sundry(x["description"], x["amount"], PayType(x["pay_type"])) for x in requested]


def totals_for(approved: Iterable[Mapping[str, Any]], sundries: Iterable[Sundry],
               discount: Decimal) -> InvoiceTotals:
    """The invoice of the approved lines (labour, parts), the sundries and the discount."""
    return invoice_totals(
        [BillableLine(LineKind(line["kind"]), line["amount"], PayType(line["pay_type"]),
                      line["flat_rate_hours"] or ZERO) for line in approved],
        sundries, discount)


def invoice_record(repair_order_id: str, totals: InvoiceTotals, sundries: Iterable[Sundry],
                   *, coupon_code: str | None) -> dict[str, Any]:
    """The invoice as kept: its totals, split by who pays, and its sundries."""
    return {
        "repair_order_id": repair_order_id, "invoice_number": invoice_number(repair_order_id),
        "labour_total": totals.labour_total, "parts_total": totals.parts_total,
        "sundries_total": totals.sundries_total, "discount_total": totals.discount_total,
        "coupon_code": coupon_code, "tax_total": totals.tax_total,
        "grand_total": totals.grand_total,
        "customer_pay_total": totals.by_pay_type[PayType.CUSTOMER_PAY],
        "warranty_total": totals.by_pay_type[PayType.WARRANTY],
        "internal_total": totals.by_pay_type[PayType.INTERNAL],
        "labour_hours_sold": totals.labour_hours_sold,
        "sundries": [{"description": x.description, "amount": str(x.amount),
                      "pay_type": x.pay_type.value} for x in sundries],
    }


def totals_of(invoice: Mapping[str, Any]) -> InvoiceTotals:
    """The totals of a kept invoice."""
    return InvoiceTotals(
        labour_total=invoice["labour_total"], parts_total=invoice["parts_total"],
        sundries_total=invoice["sundries_total"], discount_total=invoice["discount_total"],
        grand_total=invoice["grand_total"], tax_total=invoice["tax_total"],
        by_pay_type={PayType.CUSTOMER_PAY: invoice["customer_pay_total"],
                     PayType.WARRANTY: invoice["warranty_total"],
                     PayType.INTERNAL: invoice["internal_total"]},
        labour_hours_sold=invoice["labour_hours_sold"])


def settlement_of(invoice: Mapping[str, Any], payments: Iterable[Mapping[str, Any]]
                  ) -> Settlement:
    """What the owner owes at the counter (the customer-pay share) and has paid."""
    return Settlement(due=invoice["customer_pay_total"],
                      payments=[p["amount"] for p in payments])


def check_signing(*, by_owner: bool, image: str | None) -> str:
    """How the invoice is signed: online by the owner, or in person on the counter pad, which
    captures the signature as an image. Returns the way (`ONLINE` / `IN_PERSON`)."""
    if not by_owner and not image:
        raise InvalidInput("image", "an in-person signature is captured as an image on the "
                                    "counter pad")
    return "ONLINE" if by_owner else "IN_PERSON"


def check_handed_over(settlement: Settlement, invoice: Mapping[str, Any]) -> None:
    """The car leaves only paid (尚有未结金额) and with the owner's signature (客户未签字)."""
    balance = settlement.balance
    if balance != 0:
        raise Conflict(f"the balance of {balance} CNY is not paid yet (尚有未结金额)",
                       balance=str(balance))
    if invoice["signed_at"] is None:
        raise Conflict("the owner has not signed the invoice yet (客户未签字)")


def delivery_mileage(requested: int | None, at_reception: int) -> int:
    """The odometer at hand-over: what was read (else the reception's), never below it."""
    mileage = at_reception if requested is None else requested
    if mileage < at_reception:
        raise InvalidInput("mileage_km", f"below the {at_reception} km at reception")
    return mileage
