"""What the invoice and payment pages show: workorder's invoice by who pays, in cents, what the
owner owes (the customer-pay share after the discount), where it stands, and an online
payment's status in words that never say paid before workorder does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from portal.domain.payment import (
    NOTHING_DUE,
    PAID,
    PART_PAID,
    PENDING,
    UNPAID,
    at_provider,
    cents,
    group_by_pay_type,
    inconsistencies,
    invoice_view,
    online_status,
    read_choice,
    refusal_key,
    result_path,
    yuan,
)
from portal.pages import LANGUAGES, Pages, catalogue


def quote_line(line_id: str, kind: str, amount: str, pay_type: str = "CUSTOMER_PAY",
               **more: Any) -> dict[str, Any]:
    base = {"line_id": line_id, "round": 1, "kind": kind, "description": f"line {line_id}",
            "operation_code": None, "flat_rate_hours": None, "skill": None,
            "part_number": None, "quantity": None, "unit": None, "available_at_quote": None,
            "issued_quantity": "0.000", "unit_price": "0.00", "amount": amount,
            "pay_type": pay_type, "status": "APPROVED"}
    return {**base, **more}


# As workorder's GET /repair-orders/<ro>/invoice answers: an oil change the owner pays, a
# recall arm under warranty, a loaner day on the dealer, less a discount of 10.
INVOICE: dict[str, Any] = {
    "repair_order_id": "RO-D001-1", "invoice_number": "INV-RO-D001-1", "currency": "CNY",
    "labour_total": "420.00", "parts_total": "643.50", "sundries_total": "170.00",
    "discount_total": "10.00", "coupon_code": None, "tax_total": "141.95",
    "grand_total": "1223.50",
    "totals_by_pay_type": {"CUSTOMER_PAY": "513.50", "WARRANTY": "560.00",
                           "INTERNAL": "150.00"},
    "labour_hours_sold": "1.30",
    "sundries": [{"description": "废油处理", "amount": "20.00", "pay_type": "CUSTOMER_PAY"},
                 {"description": "代步车一天", "amount": "150.00", "pay_type": "INTERNAL"}],
    "lines": [
        quote_line("L1", "LABOUR", "220.00", flat_rate_hours="0.50",
                   description="更换机油及机油滤清器"),
        quote_line("L2", "PART", "283.50", part_number="G-052-195-M4", quantity="4.500",
                   unit="L", unit_price="63.00"),
        quote_line("L3", "LABOUR", "200.00", "WARRANTY", flat_rate_hours="0.80"),
        quote_line("L4", "PART", "360.00", "WARRANTY", part_number="5Q0407366B",
                   quantity="1.000", unit="EA", unit_price="360.00"),
    ],
    "payments": [], "paid": "0.00", "balance": "513.50", "signed": False,
    "signed_by_name": None, "signed_at": None, "issued_at": "2026-12-07T05:00:00+00:00",
}


def paid(amount: str, **changes: Any) -> dict[str, Any]:
    return {**INVOICE, "paid": amount,
            "balance": str(Decimal("513.50") - Decimal(amount)),
            "payments": [{"method": "WECHAT_PAY", "amount": amount, "reference": "4200001",
                          "received_at": "2026-12-07T06:00:00+00:00"}], **changes}


def test_amounts_are_whole_cents_and_back_as_yuan():
    assert cents("368.00") == 36800 and cents("0.1") == 10 and cents(12) == 1200
    assert cents(None) == 0 and cents("abc") == 0 and cents("NaN") == 0
    assert yuan(51350) == Decimal("513.50") and str(yuan(5)) == "0.05"


def test_the_lines_are_grouped_by_who_pays_the_owners_share_first():
    view = invoice_view(INVOICE)
    assert [g.pay_type for g in view.groups] == ["CUSTOMER_PAY", "WARRANTY", "INTERNAL"]
    customer, warranty, internal = view.groups
    assert customer.owners_share and not warranty.owners_share
    assert [(line.line_id, line.kind) for line in customer.lines] == [
        ("L1", "LABOUR"), ("L2", "PART"), (None, "SUNDRY")]
    assert customer.subtotal_cents == 22000 + 28350 + 2000
    assert [line.line_id for line in warranty.lines] == ["L3", "L4"]
    assert internal.lines[0].description == "代步车一天" and internal.subtotal_cents == 15000
    oil = customer.lines[1]
    assert (oil.quantity, oil.unit, oil.unit_price, oil.amount) == (
        "4.500", "L", Decimal("63.00"), Decimal("283.50"))
    assert customer.lines[0].hours == "0.50" and oil.hours is None
    # Every line workorder holds is on the page, once.
    assert sorted(line.line_id or line.description for line in view.lines) == sorted(
        ["L1", "L2", "L3", "L4", "废油处理", "代步车一天"])


def test_the_owner_owes_the_customer_pay_share_after_the_discount():
    view = invoice_view(INVOICE)
    assert (view.owed_cents, view.balance_cents, view.paid_cents) == (51350, 51350, 0)
    assert view.owed == Decimal("513.50") and view.grand_total == Decimal("1223.50")
    assert view.others_pay_cents == 56000 + 15000
    assert (view.discount, view.tax) == (Decimal("10.00"), Decimal("141.95"))
    assert inconsistencies(view) == []
    assert view.status == UNPAID and view.payable


def test_a_pay_type_the_page_does_not_know_is_listed_last_not_dropped():
    lines = invoice_view({**INVOICE, "lines": [
        *INVOICE["lines"], quote_line("L9", "LABOUR", "50.00", "GOODWILL"),
        quote_line("L8", "PART", "80.00", "INSURANCE")]}).lines
    groups = group_by_pay_type(lines)
    assert [g.pay_type for g in groups] == ["CUSTOMER_PAY", "WARRANTY", "INSURANCE",
                                            "INTERNAL", "GOODWILL"]
    assert groups[-1].words == "payment.pay_type.other"
    assert groups[2].words == "payment.pay_type.insurance"


@pytest.mark.parametrize(("invoice", "status"), [
    (INVOICE, UNPAID), (paid("100.00"), PART_PAID), (paid("513.50"), PAID),
    ({**INVOICE, "totals_by_pay_type": {"CUSTOMER_PAY": "0.00"}, "balance": "0.00"},
     NOTHING_DUE),
])
def test_where_the_invoice_stands(invoice, status):
    view = invoice_view(invoice)
    assert view.status == status
    assert view.payable is (status in (UNPAID, PART_PAID))
    assert view.status_key in catalogue()["en"]


def test_lines_that_do_not_add_up_to_workorders_totals_are_noticed():
    assert inconsistencies(invoice_view({**INVOICE, "grand_total": "1300.00"})) == [
        "grand total"]
    assert "customer pay" in inconsistencies(invoice_view(
        {**INVOICE, "totals_by_pay_type": {"CUSTOMER_PAY": "600.00"}}))
    assert inconsistencies(invoice_view(paid("100.00"))) == []


@pytest.mark.parametrize(("values", "choice"), [
    ({"method": "online"}, "online"), ({"method": " counter "}, "counter"),
    ({"method": "cash"}, None), ({}, None)])
def test_the_owners_choice_of_how_to_pay(values, choice):
    assert read_choice(values) == choice


def test_an_online_payment_is_paid_only_when_workorder_says_paid():
    assert online_status({"status": "paid"}) == PAID
    assert online_status({"status": "failed"}) == "failed"
    for unsure in ({"status": "PAID"}, {"status": "success"}, {}, {"status": None}):
        assert online_status(unsure) == PENDING


@pytest.mark.parametrize(("status", "reason", "key"), [
    (409, "nothing_due", "payment.refused_paid"),
    (409, "online_payment_not_configured", "payment.refused_not_offered"),
    (503, None, "payment.refused_unavailable"),
    (409, "not_at_stage", "payment.refused_other"), (422, None, "payment.refused_other")])
def test_a_refused_online_payment_is_worded_in_place(status, reason, key):
    assert refusal_key(status, reason) == key
    assert key in catalogue()["zh-CN"]


def test_the_browser_is_sent_only_to_the_sites_payment_provider():
    provider = "http://127.0.0.1:8109"
    assert at_provider("http://127.0.0.1:8109/cgi-bin/mmpayweb-bin/checkmweb?x=1", provider)
    for elsewhere in ("https://evil.example/pay", "http://127.0.0.1:8110/pay",
                      "javascript:alert(1)", "", None):
        assert not at_provider(elsewhere, provider)
    assert not at_provider("http://127.0.0.1:8109/pay", "")
    assert result_path("RO/1", "p?1") == "/repair-orders/RO%2F1/online-payments/p%3F1"


# -- the pages render in both languages with what the page groups pass -------------------


def _request(lang: str) -> Request:
    return Request(EnvironBuilder(path=f"/repair-orders/RO-D001-1/invoice?lang={lang}")
                   .get_environ())


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("invoice", [INVOICE, paid("513.50")])
def test_the_invoice_page_shows_every_line_and_offers_to_pay_only_what_is_owed(lang, invoice):
    view = invoice_view(invoice)
    page = Pages(zone="Asia/Shanghai", payment_origin="http://127.0.0.1:8109").render(
        _request(lang), "invoice.html", invoice=view, mismatch=[], action="/x/payment",
        online_offered=True, problem=None, refused=None).get_data(as_text=True)
    for line_id in ("L1", "L2", "L3", "L4"):
        assert f'data-line-id="{line_id}"' in page
    assert "¥513.50" in page and "¥1,223.50" in page and "代步车一天" in page
    assert ('name="method"' in page) is view.payable


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("status", ["pending", "paid", "failed"])
def test_the_result_page_says_paid_only_for_a_paid_payment(lang, status):
    payment = {"payment_id": "p1", "amount": "513.50", "status": status,
               "transaction_id": "4200001" if status == "paid" else None,
               "paid_at": "2026-12-07T14:00:00+08:00" if status == "paid" else None,
               "failure_reason": "the provider reports CLOSED" if status == "failed" else None}
    invoice = invoice_view(paid("513.50") if status == "paid" else INVOICE)
    page = Pages(zone="Asia/Shanghai").render(
        _request(lang), "payment_result.html", payment=payment, outcome=status,
        paid=status == "paid", failed=status == "failed", invoice=invoice,
        invoice_path="/repair-orders/RO-D001-1/invoice", action="/x/payment",
        online_offered=True, config={"poll": status == "pending"}).get_data(as_text=True)
    words = catalogue()[lang]
    assert (words["payment.result_paid"] in page) is (status == "paid")
    assert ('id="try-again"' in page) is (status == "failed")
