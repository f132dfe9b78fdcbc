"""Parts' privileged movements leave their audit entry (`uow.audit`), against the fake unit of
work: a stocktake that changes on hand, parts returned to the shelf, reservations released by
the clerk. Counts that confirm the books, and what workorder's events move, leave none."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chassis.errors import NotFound
from chassis.identity import Identity, Role
from parts import domain, use_cases
from services.parts.tests.unit.fakes import FakePartsUnitOfWork
from services.parts.tests.unit.test_parts_use_cases import (
    FILTER,
    NOW,
    RO,
    approve,
    issue,
    receive,
    stock,
)

pytestmark = pytest.mark.unit

CLERK = Identity("PC-003", Role.PARTS_CLERK, "D001", issuer="https://id.d001.test")


@pytest.fixture
def uow() -> FakePartsUnitOfWork:
    uow = FakePartsUnitOfWork()
    uow.catalogue.add(FILTER)
    return uow


def count(uow: FakePartsUnitOfWork, counted: str, reason: str = "年度盘点 (annual count)",
          **extra: object) -> dict:
    return use_cases.count(uow, {"part_number": FILTER, "counted": Decimal(counted),
                                 "reason": reason, **extra}, actor=CLERK, now=NOW)


# -- stocktakes ------------------------------------------------------------------------------


def test_a_stocktake_that_finds_less_is_audited_with_on_hand_before_and_after(uow):
    receive(uow, quantity="10")
    adjustment = count(uow, "8", reason="两件破损 (two damaged)")

    [entry] = uow.audited
    assert (entry["action"], entry["subject"]) == ("STOCK_ADJUSTED", FILTER)
    assert (entry["actor_subject"], entry["actor_role"], entry["actor_dealer_code"],
            entry["actor_issuer"]) == ("PC-003", "parts_clerk", "D001", "https://id.d001.test")
    assert entry["detail"] == {
        "adjustment_id": adjustment["adjustment_id"], "reason": "两件破损 (two damaged)",
        "on_hand_before": "10", "on_hand_after": "8", "difference": "-2", "unit": "EA",
        "reserved_before": "0", "reserved_after": "0", "batch_number": None,
        "serial_numbers": None}


def test_a_count_below_what_is_reserved_is_audited_with_the_reservations_giving_way(uow):
    receive(uow, quantity="5")
    approve(uow, ("L1", FILTER, "4"))
    count(uow, "3")

    [entry] = uow.audited
    assert (entry["detail"]["on_hand_before"], entry["detail"]["on_hand_after"]) == ("5", "3")
    assert (entry["detail"]["reserved_before"], entry["detail"]["reserved_after"]) == ("4", "3")
    assert stock(uow) == (3, 3)


def test_a_stocktake_that_finds_more_is_audited_too(uow):
    receive(uow, quantity="4")
    count(uow, "7", batch_number="B2503-0001")
    [entry] = uow.audited
    assert (entry["detail"]["difference"], entry["detail"]["batch_number"]) == (
        "3", "B2503-0001")


def test_a_count_that_confirms_the_books_changes_nothing_and_is_not_audited(uow):
    receive(uow, quantity="4")
    count(uow, "4")
    assert uow.audited == []
    assert [kind for kind, _ in uow.stock.documents][-1] == "adjustment"  # still on record


def test_a_stocktake_of_an_unknown_part_leaves_no_audit_entry(uow):
    with pytest.raises(NotFound):
        use_cases.count(uow, {"part_number": "NOPE-1", "counted": Decimal(1), "reason": "x"},
                        actor=CLERK, now=NOW)
    assert uow.audited == []


# -- returns ---------------------------------------------------------------------------------


def test_parts_returned_to_the_shelf_are_audited_with_the_quantities(uow):
    receive(uow, quantity="5")
    approve(uow, ("L1", FILTER, "2"))
    issue(uow, quantity="2")
    returned = use_cases.return_parts(uow, {"repair_order_id": RO, "quote_line_id": "L1",
                                            "quantity": Decimal(1), "reason": "NOT_USED",
                                            "note": "客户自带 (owner brought one)"},
                                      actor=CLERK, now=NOW)

    [entry] = uow.audited
    assert (entry["action"], entry["subject"], entry["actor_subject"]) == (
        "PARTS_RETURNED", RO, "PC-003")
    assert entry["detail"] == {
        "return_id": returned["return_id"], "quote_line_id": "L1", "part_number": FILTER,
        "quantity": "1", "unit": "EA", "reason": "NOT_USED",
        "note": "客户自带 (owner brought one)", "issued_to_line": "2", "returned_before": "0",
        "on_hand_before": "3", "on_hand_after": "4", "batch_number": None,
        "serial_numbers": None}


# -- reservations released by hand -----------------------------------------------------------


def test_the_clerk_releasing_a_line_is_audited_with_what_it_held(uow):
    receive(uow, quantity="5")
    approve(uow, ("L1", FILTER, "2"), ("L2", FILTER, "1"))
    use_cases.release(uow, RO, "L1", domain.CLERK_RELEASE, actor=CLERK, now=NOW)

    [entry] = uow.audited
    assert (entry["action"], entry["subject"]) == ("RESERVATION_RELEASED", RO)
    assert entry["detail"] == {
        "reason": "CLERK_RELEASE", "quote_line_id": "L1",
        "lines": [{"quote_line_id": "L1", "part_number": FILTER, "released": "2"}]}

    use_cases.release(uow, RO, "L1", domain.CLERK_RELEASE, actor=CLERK, now=NOW)
    assert len(uow.audited) == 1  # released already: nothing given back, nothing audited


def test_the_clerk_cancelling_a_repair_order_is_audited_with_every_line_given_back(uow):
    receive(uow, quantity="5")
    approve(uow, ("L1", FILTER, "2"), ("L2", FILTER, "1"))
    use_cases.release(uow, RO, None, domain.REPAIR_ORDER_CANCELLED, actor=CLERK, now=NOW)

    [entry] = uow.audited
    assert entry["detail"]["reason"] == "REPAIR_ORDER_CANCELLED"
    assert sorted((x["quote_line_id"], x["released"]) for x in entry["detail"]["lines"]) == [
        ("L1", "2"), ("L2", "1")]


def test_what_workorders_events_move_is_not_a_privileged_action(uow):
    receive(uow, quantity="5")
    approve(uow, ("L1", FILTER, "2"))
    approve(uow, declined=[("L1", FILTER, "2")], sequence=2)
    use_cases.repair_order_ended(uow, RO, status=domain.CLOSED,
                                 reason=domain.REPAIR_ORDER_CLOSED, actor="workorder-events",
                                 now=NOW)
    assert uow.audited == []
