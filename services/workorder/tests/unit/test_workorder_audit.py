"""Workorder's privileged actions leave their audit entry (`uow.audit`), against the fake unit
of work: staff approving a quote for the owner, a labour line below the site's rate, a
discount on the invoice. What the owner does themself, and what is refused, leaves none."""

from __future__ import annotations

import base64
from decimal import Decimal as D

import pytest

from chassis.errors import Conflict, InvalidInput
from chassis.identity import Identity, Role
from services.workorder.tests.unit.fakes import FakeWorkorderUnitOfWork, Parts
from services.workorder.tests.unit.test_workorder_use_cases import (
    ALIGNMENT,
    BRAKES,
    CATALOGUE,
    CUSTOMER,
    NOW,
    OIL,
    OIL_PART,
    OWNER,
    PNG,
    at_invoice,
    decide,
    inspected,
    quoted,
)
from workorder import use_cases as uc

pytestmark = pytest.mark.unit

SITE_ISSUER = "https://id.d001.test"
ADVISOR = Identity("SA-017", Role.ADVISOR, "D001", issuer=SITE_ISSUER)
SITE_RATE = D("300.00")


@pytest.fixture
def uow() -> FakeWorkorderUnitOfWork:
    return FakeWorkorderUnitOfWork()


@pytest.fixture
def parts() -> Parts:
    return Parts(CATALOGUE)


def on_the_phone(uow: FakeWorkorderUnitOfWork, ro_id: str, **decisions: str) -> None:
    uc.approve_quote(uow, actor=ADVISOR, ro_id=ro_id, approved_via="PHONE",
                     signature={"name": "王伟"}, signed_from="10.0.0.31", now=NOW,
                     decisions=[{"line_id": k, "decision": v} for k, v in decisions.items()])


# -- the quote approved on the owner's behalf ----------------------------------------------


def test_an_advisor_approving_for_the_owner_on_the_phone_is_audited_with_what_was_decided(
        uow, parts):
    ro_id = quoted(uow, parts, OIL, OIL_PART, BRAKES, ALIGNMENT)
    on_the_phone(uow, ro_id, L1="APPROVED", L2="APPROVED", L3="APPROVED", L4="DECLINED")

    [entry] = uow.audited
    assert entry["action"] == "QUOTE_APPROVED_ON_BEHALF"
    assert entry["subject"] == ro_id
    assert (entry["actor_subject"], entry["actor_role"], entry["actor_dealer_code"],
            entry["actor_issuer"]) == ("SA-017", "advisor", "D001", SITE_ISSUER)
    assert entry["detail"] == {
        "on_behalf_of": CUSTOMER, "quote_id": f"Q-{ro_id}-1", "round": 1,
        "approved_via": "PHONE", "signed_by": "SA-017", "signer_name": "王伟",
        "signature_sha256": None, "signed_from": "10.0.0.31",
        "approved_lines": ["L1", "L2", "L3"], "declined_lines": ["L4"],
        # 150.00 + 441.00 + 360.00 approved, the 300.00 alignment declined
        "approved_total": "951.00", "declined_total": "300.00", "currency": "CNY"}


def test_an_approval_at_the_counter_is_audited_with_the_signature_captured(uow, parts):
    ro_id = quoted(uow, parts, OIL)
    uc.approve_quote(uow, actor=ADVISOR, ro_id=ro_id, approved_via="IN_PERSON",
                     signature={"name": "王伟", "image": base64.b64encode(PNG).decode()},
                     signed_from=None, now=NOW,
                     decisions=[{"line_id": "L1", "decision": "APPROVED"}])

    [entry] = uow.audited
    sha = uow.quotes.rounds(ro_id)[0]["signature_sha256"]
    assert entry["action"] == "QUOTE_APPROVED_ON_BEHALF"
    assert (entry["detail"]["approved_via"], entry["detail"]["signature_sha256"]) == (
        "IN_PERSON", sha)
    assert sha and uow.media.read(sha) == PNG


def test_the_owner_approving_their_own_quote_is_no_privileged_action(uow, parts):
    ro_id = quoted(uow, parts, OIL, BRAKES)
    decide(uow, ro_id, OWNER, L1="APPROVED", L2="DECLINED")

    assert uow.events_of("QuoteApproved")  # decided, and announced as ever
    assert uow.audited == []


def test_a_refused_approval_for_the_owner_leaves_no_audit_entry(uow, parts):
    ro_id = quoted(uow, parts, OIL, BRAKES)
    with pytest.raises(InvalidInput, match="missing: L2"):
        on_the_phone(uow, ro_id, L1="APPROVED")
    with pytest.raises(InvalidInput, match="PHONE or IN_PERSON"):
        uc.approve_quote(uow, actor=ADVISOR, ro_id=ro_id, approved_via="APP",
                         signature={"name": "王伟"}, signed_from=None, now=NOW,
                         decisions=[{"line_id": "L1", "decision": "APPROVED"},
                                    {"line_id": "L2", "decision": "APPROVED"}])
    assert uow.audited == []
    on_the_phone(uow, ro_id, L1="APPROVED", L2="APPROVED")
    with pytest.raises(Conflict):  # decided already: a second decision is no second entry
        on_the_phone(uow, ro_id, L1="APPROVED", L2="APPROVED")
    assert [e["action"] for e in uow.audited] == ["QUOTE_APPROVED_ON_BEHALF"]


# -- discounts -----------------------------------------------------------------------------


def test_a_labour_line_below_the_sites_rate_is_audited_as_a_discount_on_the_quote(uow, parts):
    ro_id = inspected(uow)
    cheap_brakes = {**BRAKES, "labour_rate": D("250.00")}
    dearer_alignment = {**ALIGNMENT, "labour_rate": D("320.00")}
    uc.add_quote_lines(uow, parts, actor=ADVISOR, ro_id=ro_id,
                       lines=[OIL, OIL_PART, cheap_brakes, dearer_alignment],
                       labour_rate=SITE_RATE, now=NOW)

    [entry] = uow.audited
    assert (entry["action"], entry["subject"], entry["actor_subject"]) == (
        "QUOTE_LINE_DISCOUNTED", ro_id, "SA-017")
    # Only the brakes: the oil is at the site's rate, the alignment above it (the owner
    # sees both on the quote and decides).
    assert entry["detail"] == {
        "round": 1, "site_labour_rate": "300.00", "currency": "CNY",
        "discount_total": "60.00",
        "lines": [{"line_id": "L3", "operation_code": "BRK-PAD-F", "flat_rate_hours": "1.2",
                   "labour_rate": "250.00", "amount": "300.00",
                   "amount_at_site_rate": "360.00", "discount": "60.00",
                   "pay_type": "CUSTOMER_PAY"}]}


def test_quote_lines_at_the_sites_rate_leave_no_audit_entry(uow, parts):
    quoted(uow, parts, OIL, OIL_PART, {**BRAKES, "labour_rate": SITE_RATE})
    assert uow.audited == []


def test_a_discount_on_the_invoice_is_audited_with_what_it_came_off(uow, parts):
    ro_id = at_invoice(uow, parts)
    uc.issue_invoice(uow, actor=ADVISOR, ro_id=ro_id, sundries=[], discount=D("0.00"),
                     coupon_code=None, now=NOW)
    assert uow.audited == []  # an invoice without a discount is not privileged

    uc.issue_invoice(uow, actor=ADVISOR, ro_id=ro_id, sundries=[], discount=D("100.00"),
                     coupon_code="VIP2025", now=NOW)

    [entry] = uow.audited
    assert (entry["action"], entry["subject"], entry["actor_role"]) == (
        "INVOICE_DISCOUNTED", ro_id, "advisor")
    assert entry["detail"] == {
        "invoice_number": f"INV-{ro_id}", "discount": "100.00", "coupon_code": "VIP2025",
        "customer_pay_before_discount": "951.00", "customer_pay_total": "851.00",
        "grand_total": "851.00", "replaces_discount": "0.00", "currency": "CNY"}


def test_an_invoice_refused_for_a_discount_beyond_customer_pay_leaves_no_audit_entry(
        uow, parts):
    ro_id = at_invoice(uow, parts)
    with pytest.raises(InvalidInput, match="exceeds the customer-pay amount"):
        uc.issue_invoice(uow, actor=ADVISOR, ro_id=ro_id, sundries=[],
                         discount=D("951.01"), coupon_code=None, now=NOW)
    assert uow.audited == [] and uow.invoices.invoice(ro_id) is None


def test_taking_a_payment_is_not_audited(uow, parts):
    """Workorder takes payments and never refunds one (no such use case): nothing to audit."""
    ro_id = at_invoice(uow, parts)
    uc.issue_invoice(uow, actor=ADVISOR, ro_id=ro_id, sundries=[], discount=D("0.00"),
                     coupon_code=None, now=NOW)
    cashier = Identity("CA-1", Role.CASHIER, "D001")
    uc.record_payment(uow, actor=cashier, ro_id=ro_id, method="CASH", amount=D("951.00"),
                      reference=None, now=NOW)
    assert uow.audited == []
