"""Money on a repair order: quote lines, the invoice and its payments.

All amounts are `Decimal` in CNY with VAT included (含税价), as the event contract states;
the VAT on an invoice is the part of the gross total that is tax (13 % for parts and repair
services in China), rounded to the fen. Nothing here uses floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from chassis.errors import InvalidInput

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
VAT_RATE = Decimal("0.13")
CURRENCY = "CNY"


class PayType(StrEnum):
    CUSTOMER_PAY = "CUSTOMER_PAY"
    WARRANTY = "WARRANTY"          # paid by the OEM through a warranty claim
    INTERNAL = "INTERNAL"          # the dealer's own cost (used cars, goodwill)


class LineKind(StrEnum):
    LABOUR = "LABOUR"
    PART = "PART"


class PaymentMethod(StrEnum):
    CASH = "CASH"
    CARD = "CARD"
    WECHAT_PAY = "WECHAT_PAY"
    ALIPAY = "ALIPAY"
    TRANSFER = "TRANSFER"


def money(value: Decimal | str | int) -> Decimal:
    """An amount rounded half-up to the fen (0.01)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def decimal_of(value: object, field_name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(field_name, f"{value!r} is not a decimal number") from None
    if not number.is_finite():
        raise InvalidInput(field_name, "must be a finite number")
    return number


def labour_amount(flat_rate_hours: Decimal, labour_rate: Decimal) -> Decimal:
    """Flat-rate hours (标准工时) × the labour rate per hour."""
    return money(flat_rate_hours * labour_rate)


def part_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return money(quantity * unit_price)


def vat_included(gross: Decimal, rate: Decimal = VAT_RATE) -> Decimal:
    """The VAT contained in a gross (VAT-inclusive) amount: gross − gross / (1 + rate)."""
    return money(gross - gross / (1 + rate))


@dataclass(frozen=True)
class BillableLine:
    """An approved quote line as the invoice sees it."""

    kind: LineKind
    amount: Decimal
    pay_type: PayType
    flat_rate_hours: Decimal = ZERO


@dataclass(frozen=True)
class Sundry:
    """Other charges (其他费用): waste oil disposal, consumables, a loaner day …"""

    description: str
    amount: Decimal
    pay_type: PayType = PayType.CUSTOMER_PAY


@dataclass(frozen=True)
class InvoiceTotals:
    labour_total: Decimal
    parts_total: Decimal
    sundries_total: Decimal
    discount_total: Decimal
    grand_total: Decimal
    tax_total: Decimal
    by_pay_type: dict[PayType, Decimal]
    labour_hours_sold: Decimal

    @property
    def customer_pays(self) -> Decimal:
        """What the owner pays at the counter; warranty and internal are settled elsewhere."""
        return self.by_pay_type[PayType.CUSTOMER_PAY]

    def as_event_fields(self) -> dict[str, object]:
        return {
            "labour_total": self.labour_total, "parts_total": self.parts_total,
            "sundries_total": self.sundries_total, "discount_total": self.discount_total,
            "tax_total": self.tax_total, "grand_total": self.grand_total,
            "totals_by_pay_type": {k.value: v for k, v in self.by_pay_type.items()},
            "labour_hours_sold": self.labour_hours_sold,
        }


def invoice_totals(lines: Iterable[BillableLine], sundries: Iterable[Sundry] = (),
                   discount: Decimal = ZERO) -> InvoiceTotals:
    """Invoice = labour + parts + sundries − discount, split by who pays.

    A coupon or discount is the customer's: it reduces the customer-pay share and may not
    exceed it (a warranty claim is never discounted at the OEM's expense).
    """
    lines, sundries = list(lines), list(sundries)
    discount = money(discount)
    if discount < 0:
        raise InvalidInput("discount", "must not be negative")
    by_pay_type = {pay_type: ZERO for pay_type in PayType}
    for item in [*lines, *sundries]:
        by_pay_type[item.pay_type] += item.amount
    if discount > by_pay_type[PayType.CUSTOMER_PAY]:
        raise InvalidInput("discount", f"{discount} exceeds the customer-pay amount "
                                       f"{by_pay_type[PayType.CUSTOMER_PAY]}")
    by_pay_type[PayType.CUSTOMER_PAY] -= discount
    labour = sum((line.amount for line in lines if line.kind is LineKind.LABOUR), ZERO)
    parts = sum((line.amount for line in lines if line.kind is LineKind.PART), ZERO)
    sundries_total = sum((s.amount for s in sundries), ZERO)
    grand = labour + parts + sundries_total - discount
    hours = sum((line.flat_rate_hours for line in lines if line.kind is LineKind.LABOUR),
                Decimal(0))
    return InvoiceTotals(labour_total=labour, parts_total=parts, sundries_total=sundries_total,
                         discount_total=discount, grand_total=grand, tax_total=vat_included(grand),
                         by_pay_type=by_pay_type, labour_hours_sold=hours)


@dataclass
class Settlement:
    """What the owner owes and has paid (partial payments allowed, never overpaid)."""

    due: Decimal
    payments: list[Decimal] = field(default_factory=list)

    @property
    def paid(self) -> Decimal:
        return sum(self.payments, ZERO)

    @property
    def balance(self) -> Decimal:
        return self.due - self.paid

    def pay(self, amount: Decimal) -> Decimal:
        """Record a payment; returns the balance left. 422 naming `amount` when it is not a
        positive amount in fen or would pay more than is owed."""
        if amount != amount.quantize(CENT):
            raise InvalidInput("amount", "must have at most two decimals (fen)")
        if amount <= 0:
            raise InvalidInput("amount", "must be more than 0")
        if amount > self.balance:
            raise InvalidInput("amount", f"{amount} is more than the balance {self.balance}",
                               balance=str(self.balance))
        self.payments.append(amount)
        return self.balance


def totals_by_pay_type_dict(totals: Mapping[PayType, Decimal]) -> dict[str, str]:
    return {pay_type.value: str(amount) for pay_type, amount in totals.items()}
