"""Settlement and hand-over (结算, 交车): the invoice of the approved work, its payments, the
owner's signature and the car going back.

The arithmetic is `workorder.domain.pricing`; here are the rules around it: when an invoice
may be (re)issued, who signs how, what must be true before the car leaves, and the rules of
paying online: amounts in fen, what a provider's report makes of a pending payment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from chassis.errors import Conflict, InvalidInput
from workorder.domain.pricing import (
    CENT,
    CURRENCY,
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


# -- paying the invoice online (the owner's phone, through a payment provider) ---------------

# How long a provider's payment page opens after it was issued (WeChat Pay's h5_url: 5 minutes);
# a pending payment asked for again after that gets a fresh page for the same order.
PAYMENT_PAGE_TTL_SECONDS = 300
# A pending payment this old, whose notification has not come, is asked of the provider (once
# a minute at most, when its status is read).
RECONCILE_AFTER_SECONDS = 60
# The provider's trade states: paid, still open, or over without the money.
PAID_STATE = "SUCCESS"
OPEN_STATES = frozenset({"NOTPAY", "USERPAYING"})


class OnlinePaymentStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


@dataclass(frozen=True)
class OnlinePaymentOrder:
    """What a provider is asked to collect: the merchant's order number, the amount in fen,
    what the owner sees it is for, the phone's address and where the browser goes back."""

    out_trade_no: str
    amount_fen: int
    description: str
    client_ip: str
    return_url: str


@dataclass(frozen=True)
class StartedPayment:
    payment_url: str            # the page the phone's browser opens (return URL included)
    provider_url: str           # the page as the provider gave it, kept to give it again
    reference: str | None = None  # the provider's own id of the order, when it names one


@dataclass(frozen=True)
class PaymentNotification:
    """What the provider says of an order, in a verified notification or a query's answer."""

    out_trade_no: str
    trade_state: str
    amount_fen: int | None = None
    currency: str | None = None
    transaction_id: str | None = None
    success_time: str | None = None
    payer_total_fen: int | None = None
    notification_id: str | None = None

    @property
    def paid(self) -> bool:
        return self.trade_state == PAID_STATE


def fen(amount: Decimal) -> int:
    """An amount in CNY as whole fen (what providers take), refusing a fraction of a fen."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise InvalidInput("amount", "must have at most two decimals (fen)")
    return int(cents)


def yuan(amount_fen: int) -> Decimal:
    return (Decimal(amount_fen) / 100).quantize(CENT)


def not_offered_online() -> Conflict:
    return Conflict("online payment is not set up at this site: please pay at the counter "
                    "(暂不支持在线支付，请到收银台付款)", reason="online_payment_not_configured")


def due_online(settlement: Settlement) -> Decimal:
    """What an online payment collects: the whole balance, which must be owed."""
    balance = settlement.balance
    if balance <= 0:
        raise Conflict("nothing is due on the invoice (已结清)", reason="nothing_due",
                       balance=str(balance))
    return balance


def check_reported_amount(payment: Mapping[str, Any], reported: PaymentNotification) -> None:
    """The provider must report the amount the payment asked for, in CNY; anything else is
    refused and nothing is recorded."""
    if reported.amount_fen != fen(payment["amount"]) or reported.currency not in (None, CURRENCY):
        raise Conflict(f"the provider reports {reported.amount_fen} {reported.currency} fen for "
                       f"order {payment['out_trade_no']}, which asked for "
                       f"{fen(payment['amount'])} CNY fen", reason="amount_mismatch", code="FAIL")


def paid_online_refusal(*, at_invoice: bool, invoice: Mapping[str, Any] | None,
                        settlement: Settlement | None, amount: Decimal) -> str | None:
    """Why money the provider collected cannot be recorded against the invoice (None: it can).
    The amount must be the balance still due, exactly: the invoice reissued or paid at the
    counter meanwhile leaves it to staff to refund."""
    if not at_invoice or invoice is None or settlement is None:
        return "the repair order is no longer awaiting payment: refund it (请退款)"
    if settlement.balance != amount:
        return (f"{amount} CNY was paid online but {settlement.balance} CNY is due now: "
                "refund it from the merchant platform (金额不符，请退款)")
    return None


def outcome_of(reported: PaymentNotification) -> OnlinePaymentStatus:
    """What the provider's trade state makes of a pending payment."""
    if reported.paid:
        return OnlinePaymentStatus.PAID
    if reported.trade_state in OPEN_STATES:
        return OnlinePaymentStatus.PENDING
    return OnlinePaymentStatus.FAILED  # CLOSED, REVOKED, PAYERROR, REFUND


def needs_reconciling(payment: Mapping[str, Any], now: datetime) -> bool:
    """A pending payment older than a minute whose provider was not asked in the last one."""
    if payment["status"] != OnlinePaymentStatus.PENDING:
        return False
    if (now - payment["created_at"]).total_seconds() < RECONCILE_AFTER_SECONDS:
        return False
    checked = payment["checked_at"]
    return checked is None or (now - checked).total_seconds() >= RECONCILE_AFTER_SECONDS


def page_still_open(payment: Mapping[str, Any], now: datetime) -> bool:
    return (now - payment["page_issued_at"]).total_seconds() < PAYMENT_PAGE_TTL_SECONDS - 30


def check_return_url(return_url: str, owner_portal_url: str) -> None:
    """At a site with an owner portal, the provider sends the browser back only to one of its
    pages, so no payment page of this site becomes an open redirect."""
    if not owner_portal_url:
        return
    back, portal = urlsplit(return_url), urlsplit(owner_portal_url)
    if (back.scheme, back.netloc) != (portal.scheme, portal.netloc):
        raise InvalidInput("return_url", f"must be a page of the owner portal "
                                         f"{portal.scheme}://{portal.netloc}")
