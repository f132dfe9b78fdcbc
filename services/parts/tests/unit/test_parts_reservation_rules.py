"""Reservations of approved quote lines, shortages and the issue rule, without I/O."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from chassis.errors import Conflict
from parts import domain
from parts.domain import ACTIVE, DECLINED, RELEASED, LineDecision, Reservation, Stock

RO = "RO-D001-20260318-0042"


def part_line(line_id, part="06L115562B", quantity="1", price="68.00"):
    return {"line_id": line_id, "kind": "PART", "description": "机油滤清器",
            "part_number": part, "quantity": quantity, "unit_price": price,
            "amount": price, "pay_type": "CUSTOMER_PAY"}


def labour_line(line_id):
    return {"line_id": line_id, "kind": "LABOUR", "description": "更换机油",
            "operation_code": "MNT-OIL-01", "flat_rate_hours": "0.5", "unit_price": "300.00",
            "amount": "150.00", "pay_type": "CUSTOMER_PAY"}


def approve(quantity, part="P"):
    return LineDecision("L1", True, part, D(quantity), D("68.00"))


def decline(part="P"):
    return LineDecision("L1", False, part, D(1), D("68.00"))


# -- what a QuoteApproved event decides ---------------------------------------------------------


def test_only_part_lines_are_decided_and_labour_is_left_out():
    data = {"approved_lines": [labour_line("L1"), part_line("L2", quantity="4.5")],
            "declined_lines": [part_line("L3")]}
    decisions = domain.part_line_decisions(data, {}, sequence=3)
    assert [(d.line_id, d.approved, d.quantity) for d in decisions] == [
        ("L2", True, D("4.5")), ("L3", False, D(1))]


def test_a_line_decided_by_a_later_event_is_not_decided_again_by_an_older_one():
    data = {"approved_lines": [part_line("L2"), part_line("L4")], "declined_lines": []}
    decisions = domain.part_line_decisions(data, {"L2": 7}, sequence=5)
    assert [d.line_id for d in decisions] == ["L4"]


def test_a_line_both_approved_and_declined_counts_as_declined():
    data = {"approved_lines": [part_line("L2")], "declined_lines": [part_line("L2")]}
    [decision] = domain.part_line_decisions(data, {}, sequence=1)
    assert decision.approved is False


# -- reserving ----------------------------------------------------------------------------------


def test_an_approved_line_is_reserved_in_full_when_stock_allows():
    stock, change = domain.approve_line(Stock("P", D(10)), None, approve(3),
                                        repair_order_id=RO, sequence=1)
    line = change.reservation
    assert (line.approved, line.reserved, line.shortfall) == (D(3), D(3), D(0))
    assert line.from_stock is True
    assert change.reserved_change == D(3)
    assert stock.reserved == D(3)


def test_a_shortage_reserves_what_there_is_and_keeps_the_shortfall_visible():
    stock, change = domain.approve_line(Stock("P", D(10)), None, approve(50),
                                        repair_order_id=RO, sequence=1)
    line = change.reservation
    assert (line.reserved, line.shortfall) == (D(10), D(40))
    assert line.from_stock is False
    assert stock.available == 0


def test_an_unknown_part_is_recorded_as_a_shortage():
    stock, change = domain.approve_line(None, None, approve(2, part="NEW-PART"),
                                        repair_order_id=RO, sequence=1)
    assert stock is None
    assert (change.reservation.reserved, change.reservation.shortfall) == (D(0), D(2))


def test_a_lower_approved_quantity_gives_back_the_excess():
    stock, first = domain.approve_line(Stock("P", D(10)), None, approve(4),
                                       repair_order_id=RO, sequence=1)
    stock, second = domain.approve_line(stock, first.reservation, approve(1),
                                        repair_order_id=RO, sequence=2)
    assert second.reserved_change == D(-3)
    assert second.reason == domain.QUANTITY_REDUCED
    assert (second.reservation.reserved, stock.reserved) == (D(1), D(1))


def test_what_was_issued_already_is_not_reserved_again():
    issued = Reservation("R1", RO, "L1", "P", approved=D(4), reserved=D(0), issued=D(3))
    stock, change = domain.approve_line(Stock("P", D(10)), issued, approve(4),
                                        repair_order_id=RO, sequence=2)
    assert change.reservation.reserved == D(1)


def test_a_declined_line_releases_what_it_held():
    stock, held = domain.approve_line(Stock("P", D(10)), None, approve(3),
                                      repair_order_id=RO, sequence=1)
    stock, change = domain.decline_line(stock, held.reservation, decline(), repair_order_id=RO,
                                        sequence=2)
    assert change.reservation.status == DECLINED
    assert change.reserved_change == D(-3)
    assert change.reason == domain.LINE_DECLINED
    assert stock.reserved == 0


def test_a_line_declined_first_is_remembered_without_holding_anything():
    stock, change = domain.decline_line(Stock("P", D(10)), None, decline(), repair_order_id=RO,
                                        sequence=4)
    assert (change.reservation.status, change.reservation.reserved) == (DECLINED, D(0))
    assert change.reservation.decided_sequence == 4
    assert stock.reserved == 0


def test_a_line_that_changes_part_must_release_the_old_part_first():
    held = Reservation("R1", RO, "L1", "OLD", approved=D(1), reserved=D(1))
    with pytest.raises(ValueError):
        domain.approve_line(Stock("NEW", D(5)), held, approve(1, part="NEW"),
                            repair_order_id=RO, sequence=2)
    _, released = domain.release_line(Stock("OLD", D(1), D(1)), held, status=RELEASED,
                                      reason=domain.LINE_CHANGED)
    stock, change = domain.approve_line(Stock("NEW", D(5)), released.reservation,
                                        approve(1, part="NEW"), repair_order_id=RO,
                                        sequence=2)
    assert (change.reservation.part_number, change.reservation.reserved) == ("NEW", D(1))


def test_a_receipt_fills_waiting_lines_first_approved_first_served():
    waiting = [Reservation("R1", "RO-1", "L1", "P", approved=D(3)),
               Reservation("R2", "RO-2", "L1", "P", approved=D(4)),
               Reservation("R3", "RO-3", "L1", "P", approved=D(2))]
    stock, changes = domain.fill_shortfalls(Stock("P", D(5)), waiting)
    assert [(c.reservation.id, c.reserved_change) for c in changes] == [("R1", D(3)),
                                                                         ("R2", D(2))]
    assert changes[1].reservation.shortfall == D(2)
    assert stock.available == 0


def test_a_stocktake_below_what_is_reserved_takes_from_the_latest_reservations():
    stock = Stock("P", D(6), D(6))
    newest_first = [Reservation("R2", "RO-2", "L1", "P", approved=D(2), reserved=D(2)),
                    Reservation("R1", "RO-1", "L1", "P", approved=D(4), reserved=D(4))]
    stock, changes = domain.shrink_reservations(stock, D(3), newest_first)
    assert [(c.reservation.id, c.reserved_change) for c in changes] == [("R2", D(-2)),
                                                                         ("R1", D(-1))]
    assert changes[1].reservation.shortfall == D(1)
    assert stock.reserved == D(3)


def test_returned_parts_do_not_reopen_demand():
    line = Reservation("R1", RO, "L1", "P", approved=D(5), reserved=D(0), issued=D(5),
                       returned=D(1))
    assert line.shortfall == 0
    assert line.returnable == D(4)


# -- the issue rule: no part for a line that is not approved ---------------------------------


def test_a_line_never_approved_cannot_get_parts():
    with pytest.raises(Conflict) as refused:
        domain.check_issue(None, D(1), repair_order_id=RO, quote_line_id="L9")
    assert refused.value.detail["reason"] == "LINE_NOT_APPROVED"
    assert "never approved" in refused.value.message


def test_a_declined_line_cannot_get_parts():
    declined = Reservation("R1", RO, "L1", "P", approved=D(0), status=DECLINED)
    with pytest.raises(Conflict) as refused:
        domain.check_issue(declined, D(1), repair_order_id=RO, quote_line_id="L1")
    assert refused.value.detail["reason"] == "LINE_DECLINED"


def test_a_released_line_cannot_get_parts():
    released = Reservation("R1", RO, "L1", "P", approved=D(1), status=RELEASED)
    with pytest.raises(Conflict) as refused:
        domain.check_issue(released, D(1), repair_order_id=RO, quote_line_id="L1")
    assert refused.value.detail["reason"] == "RELEASED"


def test_no_more_than_is_reserved_can_be_issued():
    short = Reservation("R1", RO, "L1", "P", approved=D(5), reserved=D(2))
    domain.check_issue(short, D(2), repair_order_id=RO, quote_line_id="L1")
    with pytest.raises(Conflict) as refused:
        domain.check_issue(short, D(3), repair_order_id=RO, quote_line_id="L1")
    assert refused.value.detail == {"reason": "NOT_ENOUGH_RESERVED", "reserved": "2",
                                    "shortfall": "3"}


def test_the_scanned_part_must_be_the_approved_one():
    line = Reservation("R1", RO, "L1", "P", approved=D(1), reserved=D(1), status=ACTIVE)
    with pytest.raises(Conflict) as refused:
        domain.check_issue(line, D(1), repair_order_id=RO, quote_line_id="L1",
                           part_number="OTHER")
    assert refused.value.detail["reason"] == "WRONG_PART"
