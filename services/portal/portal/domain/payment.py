"""What the owner's invoice and payment pages show and send. Plain Python.

The invoice is workorder's (`GET /repair-orders/<ro>/invoice`): the approved lines of the
quote (labour, parts), the sundries, the discount, the VAT the total includes, the split by
who pays (pay type) and the payments taken. The page shows exactly those and adds nothing up
on its own account but to check it reads them right: what the owner owes is the customer-pay
share after the discount (warranty is the manufacturer's, internal the dealer's), and the
balance is workorder's. Amounts are kept in cents (fen) as whole numbers, so nothing is
rounded on the way.

An online payment is workorder's too (`/repair-orders/<ro>/online-payments/<id>`): pending,
paid or failed. The page says paid only when workorder does, which it does only once the
provider's signed notification came or the provider said so when asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit

CUSTOMER_PAY = "CUSTOMER_PAY"
# Who pays a line, in the order the invoice lists them: the owner's share first. Workorder
# knows customer pay, warranty and internal today; an insurer's claim is worded for when it
# does, and a pay type the page does not know is still listed (as "other"), never dropped.
PAY_TYPES = (CUSTOMER_PAY, "WARRANTY", "INSURANCE", "INTERNAL")
PAY_TYPE_WORDS = {CUSTOMER_PAY: "payment.pay_type.customer_pay",
                  "WARRANTY": "payment.pay_type.warranty",
                  "INSURANCE": "payment.pay_type.insurance",
                  "INTERNAL": "payment.pay_type.internal"}
OTHER_PAY_TYPE = "payment.pay_type.other"
KIND_WORDS = {"LABOUR": "payment.kind.labour", "PART": "payment.kind.part"}
SUNDRY_WORDS = "payment.kind.sundry"
# How the cashier took a payment (workorder's PaymentMethod).
METHOD_WORDS = {"CASH": "payment.method.cash", "CARD": "payment.method.card",
                "WECHAT_PAY": "payment.method.wechat_pay", "ALIPAY": "payment.method.alipay",
                "TRANSFER": "payment.method.transfer"}

# The owner's choice on the invoice page (the form's `method`).
ONLINE, COUNTER = "online", "counter"
CHOICES = (ONLINE, COUNTER)

# Where the invoice stands for the owner.
PAID, PART_PAID, UNPAID, NOTHING_DUE = "paid", "part_paid", "unpaid", "nothing_due"
# An online payment as workorder reports it.
PENDING, FAILED = "pending", "failed"
ONLINE_STATUSES = (PENDING, PAID, FAILED)


# -- money --------------------------------------------------------------------------------


def cents(value: Any) -> int:
    """An amount as workorder writes it ("368.00") in whole cents; not an amount: 0."""
    try:
        found = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return 0
    if not found.is_finite():
        return 0
    return int((found * 100).to_integral_value())


def yuan(amount_cents: int) -> Decimal:
    """Cents back as yuan with two places, for the page's `money` filter."""
    return (Decimal(amount_cents) / 100).quantize(Decimal("0.01"))


# -- the invoice --------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of the invoice: an approved quote line (labour or part) or a sundry."""

    line_id: str | None      # workorder's quote line id; None for a sundry
    kind: str                # LABOUR, PART or SUNDRY
    description: str
    pay_type: str
    amount_cents: int
    hours: str | None = None        # labour: flat-rate hours
    quantity: str | None = None     # part: quantity, unit and unit price
    unit: str | None = None
    unit_price_cents: int | None = None
    part_number: str | None = None

    @property
    def amount(self) -> Decimal:
        return yuan(self.amount_cents)

    @property
    def unit_price(self) -> Decimal | None:
        return None if self.unit_price_cents is None else yuan(self.unit_price_cents)

    @property
    def kind_key(self) -> str:
        return KIND_WORDS.get(self.kind, SUNDRY_WORDS)


@dataclass(frozen=True)
class PayTypeGroup:
    """The lines one payer pays, with their sum (before the discount, which is the owner's)."""

    pay_type: str
    lines: tuple[Line, ...]

    @property
    def words(self) -> str:
        return PAY_TYPE_WORDS.get(self.pay_type, OTHER_PAY_TYPE)

    @property
    def owners_share(self) -> bool:
        return self.pay_type == CUSTOMER_PAY

    @property
    def subtotal_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)

    @property
    def subtotal(self) -> Decimal:
        return yuan(self.subtotal_cents)


@dataclass(frozen=True)
class Received:
    """A payment workorder recorded against the invoice."""

    method: str
    amount_cents: int
    reference: str | None
    received_at: str | None

    @property
    def amount(self) -> Decimal:
        return yuan(self.amount_cents)

    @property
    def method_key(self) -> str:
        return METHOD_WORDS.get(self.method, "payment.method.other")


class _Yuan:
    """`view.owed` for `view.owed_cents`, in yuan."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.source = f"{name}_cents"

    def __get__(self, view: Any, owner: type | None = None) -> Any:
        return self if view is None else yuan(getattr(view, self.source))


@dataclass(frozen=True)
class InvoiceView:
    repair_order_id: str
    invoice_number: str
    issued_at: str | None
    groups: tuple[PayTypeGroup, ...]
    labour_cents: int
    parts_cents: int
    sundries_cents: int
    discount_cents: int
    coupon_code: str | None
    tax_cents: int          # the VAT the total includes (价税合计, not added on top)
    grand_total_cents: int  # every payer's lines, less the discount
    owed_cents: int         # the customer-pay share after the discount: the owner's
    paid_cents: int
    balance_cents: int
    payments: tuple[Received, ...] = field(default=())
    signed: bool = False

    @property
    def status(self) -> str:
        """Paid, part paid, unpaid, or nothing due (all of it warranty or the dealer's)."""
        if self.owed_cents <= 0:
            return NOTHING_DUE
        if self.balance_cents <= 0:
            return PAID
        return PART_PAID if self.paid_cents > 0 else UNPAID

    @property
    def status_key(self) -> str:
        return f"payment.status.{self.status}"

    @property
    def payable(self) -> bool:
        """Something is still owed: the page offers to pay it."""
        return self.balance_cents > 0

    @property
    def others_pay_cents(self) -> int:
        """What warranty, the dealer (internal) and any other payer cover."""
        return sum(g.subtotal_cents for g in self.groups if not g.owners_share)

    @property
    def lines(self) -> tuple[Line, ...]:
        return tuple(line for group in self.groups for line in group.lines)

    # The same amounts in yuan, for the template's `money` filter.
    labour = _Yuan()
    parts = _Yuan()
    sundries = _Yuan()
    discount = _Yuan()
    tax = _Yuan()
    grand_total = _Yuan()
    owed = _Yuan()
    paid = _Yuan()
    balance = _Yuan()
    others_pay = _Yuan()


def _line(raw: Mapping[str, Any]) -> Line:
    kind = str(raw.get("kind") or "")
    return Line(
        line_id=str(raw["line_id"]) if raw.get("line_id") else None, kind=kind,
        description=str(raw.get("description") or ""),
        pay_type=str(raw.get("pay_type") or CUSTOMER_PAY), amount_cents=cents(raw.get("amount")),
        hours=str(raw["flat_rate_hours"]) if kind == "LABOUR" and raw.get("flat_rate_hours")
        else None,
        quantity=str(raw["quantity"]) if kind == "PART" and raw.get("quantity") else None,
        unit=str(raw["unit"]) if kind == "PART" and raw.get("unit") else None,
        unit_price_cents=cents(raw["unit_price"]) if kind == "PART" and raw.get("unit_price")
        else None,
        part_number=str(raw["part_number"]) if raw.get("part_number") else None)


def _sundry(raw: Mapping[str, Any]) -> Line:
    return Line(line_id=None, kind="SUNDRY", description=str(raw.get("description") or ""),
                pay_type=str(raw.get("pay_type") or CUSTOMER_PAY),
                amount_cents=cents(raw.get("amount")))


def group_by_pay_type(lines: Iterable[Line]) -> tuple[PayTypeGroup, ...]:
    """The lines by who pays: the owner's first, then warranty, insurance, the dealer's, then
    any the page does not know; labour before parts before sundries within each, as quoted."""
    order = {kind: i for i, kind in enumerate(("LABOUR", "PART", "SUNDRY"))}
    by_type: dict[str, list[Line]] = {}
    for line in lines:
        by_type.setdefault(line.pay_type, []).append(line)
    ranked = sorted(by_type, key=lambda t: (PAY_TYPES.index(t) if t in PAY_TYPES
                                            else len(PAY_TYPES), t))
    return tuple(PayTypeGroup(t, tuple(sorted(by_type[t],
                                              key=lambda line: order.get(line.kind, 3))))
                 for t in ranked)


def invoice_view(invoice: Mapping[str, Any]) -> InvoiceView:
    """Workorder's invoice as the page shows it."""
    lines = [_line(raw) for raw in invoice.get("lines") or []]
    lines += [_sundry(raw) for raw in invoice.get("sundries") or []]
    by_pay_type = invoice.get("totals_by_pay_type") or {}
    payments = tuple(Received(method=str(p.get("method") or ""),
                              amount_cents=cents(p.get("amount")),
                              reference=p.get("reference") or None,
                              received_at=p.get("received_at") or None)
                     for p in invoice.get("payments") or [])
    return InvoiceView(
        repair_order_id=str(invoice.get("repair_order_id") or ""),
        invoice_number=str(invoice.get("invoice_number") or ""),
        issued_at=invoice.get("issued_at") or None, groups=group_by_pay_type(lines),
        labour_cents=cents(invoice.get("labour_total")),
        parts_cents=cents(invoice.get("parts_total")),
        sundries_cents=cents(invoice.get("sundries_total")),
        discount_cents=cents(invoice.get("discount_total")),
        coupon_code=invoice.get("coupon_code") or None,
        tax_cents=cents(invoice.get("tax_total")),
        grand_total_cents=cents(invoice.get("grand_total")),
        owed_cents=cents(by_pay_type.get(CUSTOMER_PAY, "0")),
        paid_cents=cents(invoice.get("paid")), balance_cents=cents(invoice.get("balance")),
        payments=payments, signed=bool(invoice.get("signed")))


def inconsistencies(view: InvoiceView) -> list[str]:
    """Where the lines do not add up to workorder's totals (empty when they do): a page that
    shows lines summing to something other than the total would mislead the owner."""
    found = []
    customer = next((g.subtotal_cents for g in view.groups if g.owners_share), 0)
    if customer - view.discount_cents != view.owed_cents:
        found.append("customer pay")
    if sum(g.subtotal_cents for g in view.groups) - view.discount_cents \
            != view.grand_total_cents:
        found.append("grand total")
    if view.owed_cents - view.paid_cents != view.balance_cents:
        found.append("balance")
    return found


# -- paying ------------------------------------------------------------------------------


def read_choice(values: Mapping[str, str]) -> str | None:
    """How the owner chose to pay (the form's `method`), None when it is not a choice."""
    chosen = (values.get("method") or "").strip()
    return chosen if chosen in CHOICES else None


def online_status(payment: Mapping[str, Any]) -> str:
    """Workorder's status of an online payment; anything it did not say is still pending (the
    page never takes a payment for paid that workorder did not call paid)."""
    status = str(payment.get("status") or "")
    return status if status in ONLINE_STATUSES else PENDING


def refusal_key(status: int, reason: str | None) -> str:
    """Why paying online was refused, as the invoice page words it in place: already paid,
    not offered at this site, the provider not answering, or workorder's own reason."""
    if reason == "nothing_due":
        return "payment.refused_paid"
    if reason == "online_payment_not_configured":
        return "payment.refused_not_offered"
    if status == 503:
        return "payment.refused_unavailable"
    return "payment.refused_other"


def path_segment(value: str) -> str:
    """An id as one segment of a path (never a '/', '?' or '#' of its own)."""
    return quote(value, safe="")


def result_path(ro_id: str, payment_id: str) -> str:
    """The portal's page of one online payment, where the provider sends the browser back."""
    return f"/repair-orders/{path_segment(ro_id)}/online-payments/{path_segment(payment_id)}"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def at_provider(payment_url: str | None, provider_origin: str) -> bool:
    """The page workorder named is on the payment provider's origin, the only one the page
    sends a browser to (and the one its CSP lets a form go to): never an open redirect."""
    return bool(payment_url and provider_origin
                and origin_of(payment_url) == provider_origin
                and urlsplit(payment_url).scheme in ("http", "https"))
