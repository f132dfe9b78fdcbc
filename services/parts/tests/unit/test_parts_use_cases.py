"""Parts' use cases against a fake unit of work: catalogue and stock in memory, the events
checked against their contracts, no database and no broker."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chassis.errors import Conflict, InvalidInput
from chassis.identity import Identity, Role
from contracts import events, new_event
from parts import domain, use_cases
from services.parts.tests.unit.fakes import FakePartsUnitOfWork

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FILTER, GEARBOX = "06L115562B", "0CK300012"
RO, VIN = "RO-D001-20261123-0001", "LSVAU2187N2183740"
CLERK, TECHNICIAN = "PC-003", "T-017"
CLERK_IDENTITY = Identity(CLERK, Role.PARTS_CLERK, "D001")


@pytest.fixture
def uow() -> FakePartsUnitOfWork:
    uow = FakePartsUnitOfWork()
    uow.catalogue.add(FILTER, reorder_point=2, reorder_quantity=10)
    uow.catalogue.add(GEARBOX, name="变速箱", unit_price="18800.00", tracking=domain.SERIAL)
    return uow


def receive(uow, part_number=FILTER, quantity="5", batch="B2503-0001", serials=None):
    line = {"part_number": part_number, "batch_number": batch}
    if serials:
        line = {"part_number": part_number, "serial_numbers": serials}
    else:
        line["quantity"] = Decimal(quantity)
    return use_cases.receive(uow, {"reference": "DN-0001", "lines": [line]}, actor=CLERK,
                             now=NOW)


def approve(uow, *lines, sequence=1, declined=()):
    """workorder's QuoteApproved for PART lines (line id, part number, quantity)."""
    def part_line(line_id, part_number, quantity):
        return {"line_id": line_id, "kind": "PART", "description": "配件",
                "part_number": part_number, "quantity": quantity, "unit_price": "68.00",
                "amount": str(Decimal("68.00") * Decimal(quantity)),
                "pay_type": "CUSTOMER_PAY"}

    def total(of):
        return str(sum((Decimal(x["amount"]) for x in of), Decimal("0.00")))
    approved, declined = [part_line(*x) for x in lines], [part_line(*x) for x in declined]
    data = {"repair_order_id": RO, "quote_id": f"Q-{RO}", "round": 1,
            "customer_id": "8e3f2a10-6c5d-5b7e-9a41-0f2d3c4b5a69", "vin": VIN,
            "approved_lines": approved, "declined_lines": declined,
            "approved_total": total(approved), "declined_total": total(declined),
            "currency": "CNY",
            "signed_by": "8e3f2a10-6c5d-5b7e-9a41-0f2d3c4b5a69",
            "signed_at": "2026-11-23T09:00:00+08:00"}
    event = new_event(events.QuoteApproved, data, source="dealer/D001/workorder", subject=RO,
                      dealer_code="D001", correlation_id=RO, sequence=sequence)
    use_cases.quote_decided(uow, event, actor="workorder-events", now=NOW)


def issue(uow, line_id="L1", quantity="1", **extra):
    return use_cases.issue(uow, {"repair_order_id": RO, "quote_line_id": line_id,
                                 "quantity": Decimal(quantity), **extra},
                           actor=TECHNICIAN, now=NOW)


def stock(uow, part_number=FILTER):
    found = uow.on_hand(part_number)
    return found.on_hand, found.reserved


# -- receipts ----------------------------------------------------------------------------------


def test_a_receipt_puts_stock_on_the_shelf_with_its_batch_in_the_ledger(uow):
    receipt = receive(uow, quantity="5")

    assert stock(uow) == (5, 0)
    assert receipt["stock"][0]["available"] == 5
    assert [(k, d["id"]) for k, d in uow.stock.documents] == [("receipt",
                                                                receipt["receipt_id"])]
    [row] = uow.stock.ledger
    assert (row["kind"], row["batch_number"], row["on_hand_after"]) == (
        domain.RECEIPT, "B2503-0001", 5)
    assert uow.emitted == []  # nobody waits for it and it is not low


def test_a_part_not_in_the_catalogue_cannot_be_received(uow):
    with pytest.raises(InvalidInput):
        receive(uow, part_number="NOT-A-PART")
    assert uow.stock.documents == []


def test_a_serial_number_already_on_the_shelf_is_refused(uow):
    receive(uow, GEARBOX, serials=["GB-0001"])
    with pytest.raises(Conflict):
        receive(uow, GEARBOX, serials=["GB-0001"])


# -- reservations --------------------------------------------------------------------------


def test_an_approved_line_reserves_what_is_on_the_shelf(uow):
    receive(uow, quantity="5")

    approve(uow, ("L1", FILTER, "2"))

    assert stock(uow) == (5, 2)
    line = uow.stock.reservations_of(RO)["L1"]
    assert (line.reserved, line.shortfall, line.from_stock) == (2, 0, True)
    assert uow.events.types() == [events.PartReserved.type]


def test_a_line_the_shelf_cannot_cover_waits_and_the_next_receipt_fills_it(uow):
    receive(uow, quantity="1")
    approve(uow, ("L1", FILTER, "3"))
    assert uow.stock.reservations_of(RO)["L1"].shortfall == 2

    receive(uow, quantity="5", batch="B2503-0002")

    line = uow.stock.reservations_of(RO)["L1"]
    assert (line.reserved, line.shortfall, line.from_stock) == (3, 0, False)
    assert stock(uow) == (6, 3)


def test_a_declined_line_reserves_nothing(uow):
    receive(uow, quantity="5")
    approve(uow, declined=[("L1", FILTER, "2")])
    assert stock(uow) == (5, 0)
    assert uow.stock.reservations_of(RO)["L1"].status == domain.DECLINED


def test_an_older_quote_arriving_late_does_not_undo_a_newer_one(uow):
    receive(uow, quantity="5")
    approve(uow, declined=[("L1", FILTER, "2")], sequence=2)
    approve(uow, ("L1", FILTER, "2"), sequence=1)
    assert stock(uow) == (5, 0)


# -- issues and returns ----------------------------------------------------------------------


def test_parts_are_issued_only_against_a_reservation(uow):
    receive(uow, quantity="5")
    with pytest.raises(Conflict) as never_approved:
        issue(uow)
    assert never_approved.value.detail["reason"] == "LINE_NOT_APPROVED"

    approve(uow, ("L1", FILTER, "2"))
    with pytest.raises(Conflict) as too_many:
        issue(uow, quantity="3")
    assert too_many.value.detail["reason"] == "NOT_ENOUGH_RESERVED"
    assert stock(uow) == (5, 2)


def test_an_issue_takes_the_oldest_batch_first_and_announces_it(uow):
    receive(uow, quantity="1", batch="OLD")
    receive(uow, quantity="5", batch="NEW")
    approve(uow, ("L1", FILTER, "2"))

    issued = issue(uow, quantity="2")

    assert stock(uow) == (4, 0)
    assert [(i["batch_number"], i["quantity"]) for i in issued["issues"]] == [
        ("OLD", 1), ("NEW", 1)]
    assert issued["vin"] == VIN and issued["reserved_left"] == 0
    part_issued = [e["data"] for e in uow.emitted if e["type"] == events.PartIssued.type]
    assert [d["batch_number"] for d in part_issued] == ["OLD", "NEW"]


def test_a_part_that_comes_back_goes_back_on_the_shelf(uow):
    receive(uow, quantity="5")
    approve(uow, ("L1", FILTER, "2"))
    issue(uow, quantity="2")

    returned = use_cases.return_parts(uow, {"repair_order_id": RO, "quote_line_id": "L1",
                                            "quantity": Decimal(1), "reason": "NOT_USED"},
                                      actor=CLERK_IDENTITY, now=NOW)

    assert returned["lots"] == [{"quantity": 1, "batch_number": "B2503-0001"}]
    assert stock(uow) == (4, 0)
    assert uow.events.types()[-1] == events.PartReturned.type
    with pytest.raises(Conflict):  # one of the two issued is back; one more, not two
        use_cases.return_parts(uow, {"repair_order_id": RO, "quote_line_id": "L1",
                                     "quantity": Decimal(2), "reason": "NOT_USED"},
                               actor=CLERK_IDENTITY, now=NOW)


def test_delivery_puts_what_was_never_fitted_back_and_closes_the_repair_order(uow):
    receive(uow, quantity="5")
    approve(uow, ("L1", FILTER, "2"))

    released = use_cases.repair_order_ended(uow, RO, status=domain.CLOSED,
                                            reason=domain.REPAIR_ORDER_CLOSED, vin=VIN,
                                            actor="workorder-events", now=NOW)

    assert [line.quote_line_id for line in released] == ["L1"]
    assert stock(uow) == (5, 0)
    approve(uow, ("L2", FILTER, "1"), sequence=2)  # a late quote finds it closed
    assert "L2" not in uow.stock.reservations_of(RO)


# -- transfers ---------------------------------------------------------------------------------


def test_a_transfer_sends_only_what_no_repair_order_waits_for(uow):
    receive(uow, quantity="5")
    approve(uow, ("L1", FILTER, "3"))
    request = {"part_number": FILTER, "to_dealer_code": "D002"}

    with pytest.raises(Conflict) as reserved:
        use_cases.transfer(uow, {**request, "quantity": Decimal(3)}, dealer_code="D001",
                           actor=CLERK, now=NOW)
    assert reserved.value.detail["reason"] == "NOT_ENOUGH_AVAILABLE"

    sent = use_cases.transfer(uow, {**request, "quantity": Decimal(2)}, dealer_code="D001",
                              actor=CLERK, now=NOW)

    assert stock(uow) == (3, 3)
    assert sent["lots"] == [{"quantity": 2, "batch_number": "B2503-0001"}]
    assert events.StockTransferred.type in uow.events.types()


def test_a_transfer_goes_to_another_site(uow):
    receive(uow, quantity="5")
    with pytest.raises(InvalidInput):
        use_cases.transfer(uow, {"part_number": FILTER, "quantity": Decimal(1),
                                 "to_dealer_code": "D001"}, dealer_code="D001",
                           actor=CLERK, now=NOW)


def test_stock_falling_to_the_reorder_point_raises_stock_low(uow):
    receive(uow, quantity="5")

    approve(uow, ("L1", FILTER, "3"))  # available 2: the reorder point

    [low] = [e["data"] for e in uow.emitted if e["type"] == events.StockLow.type]
    assert (low["available"], low["suggested_order_quantity"]) == ("2", "10")
