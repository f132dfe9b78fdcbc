"""Quote and invoice arithmetic: exact decimals, VAT included, split by who pays."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from chassis.errors import InvalidInput
from workorder.domain.pricing import (
    BillableLine,
    LineKind,
    PayType,
    Settlement,
    Sundry,
    invoice_totals,
    labour_amount,
    money,
    part_amount,
    vat_included,
)
from workorder.domain.quote import PartPrice, labour_line, part_line, part_price

LABOUR, PART = LineKind.LABOUR, LineKind.PART
CP, WTY, INT = PayType.CUSTOMER_PAY, PayType.WARRANTY, PayType.INTERNAL


def test_labour_is_flat_rate_hours_times_the_rate():
    assert labour_amount(D("1.2"), D("300.00")) == D("360.00")
    assert labour_amount(D("0.5"), D("300.00")) == D("150.00")
    assert labour_amount(D("0.33"), D("285.50")) == D("94.22")  # 94.215 rounds half up


def test_parts_are_quantity_times_unit_price_rounded_to_the_fen():
    assert part_amount(D("4.5"), D("98.00")) == D("441.00")
    assert part_amount(D("0.333"), D("10.00")) == D("3.33")
    assert part_amount(D("1"), D("0.005")) == D("0.01")


def test_vat_is_the_tax_contained_in_the_gross_amount():
    # 1619.00 gross at 13 % holds 1619 − 1619 / 1.13 = 186.256… → 186.26 (the contract example)
    assert vat_included(D("1619.00")) == D("186.26")
    assert vat_included(D("113.00")) == D("13.00")
    assert vat_included(D("0.00")) == D("0.00")


def test_money_never_goes_through_floats():
    assert money("0.1") + money("0.2") == D("0.30")


def test_the_contract_example_invoice_adds_up():
    lines = [BillableLine(LABOUR, D("150.00"), CP, D("0.5")),
             BillableLine(PART, D("441.00"), CP), BillableLine(PART, D("68.00"), CP),
             BillableLine(LABOUR, D("360.00"), CP, D("1.2")), BillableLine(PART, D("680.00"), CP)]
    totals = invoice_totals(lines, [Sundry("废油处理 (waste oil disposal)", D("20.00"))],
                            discount=D("100.00"))
    assert (totals.labour_total, totals.parts_total, totals.sundries_total) == (
        D("510.00"), D("1189.00"), D("20.00"))
    assert totals.grand_total == D("1619.00")
    assert totals.tax_total == D("186.26")
    assert totals.labour_hours_sold == D("1.7")
    assert totals.by_pay_type == {CP: D("1619.00"), WTY: D("0.00"), INT: D("0.00")}


def test_warranty_and_internal_lines_are_split_out_and_the_owner_pays_only_their_share():
    lines = [BillableLine(LABOUR, D("300.00"), WTY, D("1")), BillableLine(PART, D("500.00"), WTY),
             BillableLine(LABOUR, D("150.00"), CP, D("0.5")),
             BillableLine(PART, D("80.00"), INT)]
    totals = invoice_totals(lines, [Sundry("洗车 (wash)", D("30.00"), INT)], discount=D("50.00"))
    assert totals.by_pay_type == {CP: D("100.00"), WTY: D("800.00"), INT: D("110.00")}
    assert sum(totals.by_pay_type.values()) == totals.grand_total == D("1010.00")
    assert totals.customer_pays == D("100.00")
    assert totals.labour_hours_sold == D("1.5")  # hours sold count every pay type


def test_a_discount_larger_than_what_the_customer_pays_is_refused():
    lines = [BillableLine(PART, D("100.00"), CP), BillableLine(PART, D("900.00"), WTY)]
    with pytest.raises(InvalidInput) as refused:
        invoice_totals(lines, discount=D("100.01"))
    assert "discount" in refused.value.detail["fields"]


def test_an_invoice_with_everything_declined_is_zero_and_valid():
    totals = invoice_totals([], [], D("0"))
    assert totals.grand_total == totals.tax_total == D("0.00")


def test_partial_payments_bring_the_balance_to_zero():
    settlement = Settlement(due=D("1619.00"))
    assert settlement.pay(D("1000.00")) == D("619.00")
    assert settlement.pay(D("619.00")) == D("0.00")
    assert settlement.paid == D("1619.00")


@pytest.mark.parametrize(("amount", "why"), [
    (D("619.01"), "more than the balance"),
    (D("0"), "more than 0"),
    (D("-5.00"), "more than 0"),
    (D("1.005"), "two decimals"),
])
def test_overpayment_and_odd_amounts_are_refused_naming_amount(amount, why):
    settlement = Settlement(due=D("1619.00"), payments=[D("1000.00")])
    with pytest.raises(InvalidInput) as refused:
        settlement.pay(amount)
    assert why in refused.value.message
    assert list(refused.value.detail["fields"]) == ["amount"]
    assert settlement.balance == D("619.00")


def test_a_labour_line_uses_the_site_rate_unless_one_is_given():
    request = {"kind": "LABOUR", "description": "更换前刹车片", "operation_code": "BRK-PAD-F",
               "flat_rate_hours": D("1.2"), "pay_type": "CUSTOMER_PAY"}
    line = labour_line(request, number=4, round_=1, default_rate=D("300"))
    assert (line["line_id"], line["unit_price"], line["amount"], line["skill"]) == (
        "L4", D("300.00"), D("360.00"), "GENERAL")
    line = labour_line({**request, "labour_rate": D("280.00")}, number=5, round_=2,
                       default_rate=D("300"))
    assert (line["amount"], line["round"], line["status"]) == (D("336.00"), 2, "DRAFT")


def test_a_part_line_is_priced_from_the_parts_answer():
    price = part_price({"unit_price": "98.00", "name": "机油 0W-20", "unit": "L",
                        "available": "40"}, "G-052-195-M4", "lines.0.part_number")
    assert price == PartPrice(D("98.00"), "机油 0W-20", "L", D("40"))
    line = part_line({"kind": "PART", "part_number": "G-052-195-M4", "quantity": D("4.5"),
                      "pay_type": "CUSTOMER_PAY"}, price, number=2, round_=1)
    assert (line["amount"], line["description"], line["unit"]) == (D("441.00"), "机油 0W-20", "L")


@pytest.mark.parametrize("answer", [None, {}, {"unit_price": "free"}, {"unit_price": "-1"},
                                    "98.00"])
def test_an_unknown_or_unpriced_part_is_the_requests_fault(answer):
    with pytest.raises(InvalidInput) as refused:
        part_price(answer, "NO-SUCH-PART", "lines.0.part_number")
    assert list(refused.value.detail["fields"]) == ["lines.0.part_number"]
