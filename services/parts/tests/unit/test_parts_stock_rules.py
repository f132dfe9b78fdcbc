"""Stock arithmetic, FIFO over batches, serial numbers and reorder suggestions, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from chassis.errors import Conflict, InvalidInput
from parts import domain
from parts.domain import BATCH, SERIAL, Lot, Stock

T0 = datetime(2026, 3, 18, 8, 0, tzinfo=UTC)


def lot(id, remaining, *, batch=None, serial=None, days=0):
    return Lot(id, batch, serial, D(remaining), T0 + timedelta(days=days))


# -- stock ------------------------------------------------------------------------------------


def test_available_is_on_hand_minus_reserved():
    assert Stock("P", D(10), D(4)).available == D(6)


def test_a_reservation_takes_what_is_available_and_no_more():
    stock, granted = Stock("P", D(10), D(7)).reserve(D(5))
    assert granted == D(3)
    assert (stock.on_hand, stock.reserved, stock.available) == (D(10), D(10), D(0))


def test_nothing_is_granted_when_nothing_is_available():
    stock, granted = Stock("P", D(2), D(2)).reserve(D(1))
    assert granted == 0
    assert stock.reserved == D(2)


def test_an_issue_takes_reserved_units_off_the_shelf():
    stock = Stock("P", D(10), D(4)).issue_reserved(D(3))
    assert (stock.on_hand, stock.reserved, stock.available) == (D(7), D(1), D(6))


def test_more_than_is_reserved_cannot_be_issued():
    with pytest.raises(Conflict):
        Stock("P", D(10), D(2)).issue_reserved(D(3))


def test_a_transfer_may_take_only_what_no_repair_order_holds():
    assert Stock("P", D(10), D(4)).take_available(D(6)).on_hand == D(4)
    with pytest.raises(Conflict) as refused:
        Stock("P", D(10), D(4)).take_available(D(7))
    assert refused.value.detail["reason"] == "NOT_ENOUGH_AVAILABLE"


@pytest.mark.parametrize("on_hand, reserved", [(-1, 0), (1, -1), (1, 2)])
def test_stock_that_breaks_the_invariants_cannot_exist(on_hand, reserved):
    with pytest.raises(Conflict):
        Stock("P", D(on_hand), D(reserved))


def test_litres_are_counted_in_decimals():
    stock, granted = Stock("OIL", D("20.5")).reserve(D("4.5"))
    assert granted == D("4.5")
    assert stock.issue_reserved(D("4.5")).on_hand == D("16.0")


# -- FIFO and lots -----------------------------------------------------------------------------


def test_issues_take_the_oldest_batch_first_and_span_batches():
    lots = [lot(2, 5, batch="B-NEW", days=2), lot(1, 3, batch="B-OLD", days=0),
            lot(3, 4, batch="B-MID", days=1)]
    picks = domain.pick_lots(domain.fifo(lots), D(6), tracking=BATCH)
    assert [(p.lot.batch_number, p.quantity) for p in picks] == [("B-OLD", D(3)),
                                                                  ("B-MID", D(3))]


def test_lots_received_together_go_in_the_order_they_were_booked():
    lots = [lot(9, 1, batch="B2"), lot(8, 1, batch="B1")]
    assert [p.lot.id for p in domain.pick_lots(domain.fifo(lots), D(2), tracking=BATCH)] == \
        [8, 9]


def test_a_named_batch_is_taken_from_that_batch_only():
    lots = [lot(1, 3, batch="B-OLD"), lot(2, 5, batch="B-NEW", days=1)]
    picks = domain.pick_lots(domain.fifo(lots), D(4), tracking=BATCH, batch_number="B-NEW")
    assert [(p.lot.batch_number, p.quantity) for p in picks] == [("B-NEW", D(4))]


def test_a_batch_short_of_the_quantity_is_refused():
    with pytest.raises(Conflict) as refused:
        domain.pick_lots(domain.fifo([lot(1, 3, batch="B1")]), D(4), tracking=BATCH)
    assert refused.value.detail["found"] == "3"


def test_serial_numbers_go_oldest_first_unless_named():
    lots = [lot(1, 1, serial="SN-A"), lot(2, 1, serial="SN-B", days=1),
            lot(3, 1, serial="SN-C", days=2)]
    oldest = domain.pick_lots(domain.fifo(lots), D(2), tracking=SERIAL)
    assert [p.lot.serial_number for p in oldest] == ["SN-A", "SN-B"]
    named = domain.pick_lots(domain.fifo(lots), D(1), tracking=SERIAL, serial_numbers=["SN-C"])
    assert [p.lot.serial_number for p in named] == ["SN-C"]


def test_a_serial_number_not_on_the_shelf_is_refused():
    with pytest.raises(Conflict) as refused:
        domain.pick_lots(domain.fifo([lot(1, 1, serial="SN-A")]), D(1), tracking=SERIAL,
                         serial_numbers=["SN-X"])
    assert refused.value.detail["serial_numbers"] == ["SN-X"]


def test_serial_numbered_parts_come_in_whole_units():
    with pytest.raises(InvalidInput):
        domain.pick_lots(domain.fifo([lot(1, 1, serial="SN-A")]), D("0.5"), tracking=SERIAL)


def test_one_event_per_batch_and_one_for_all_serial_numbers():
    picks = [domain.Pick(lot(1, 3, batch="B1"), D(3)), domain.Pick(lot(2, 5, batch="B1"), D(1)),
             domain.Pick(lot(3, 5, batch="B2"), D(2))]
    assert domain.group_for_events(picks) == [domain.LotGroup(D(4), batch_number="B1"),
                                              domain.LotGroup(D(2), batch_number="B2")]
    serials = [domain.Pick(lot(4, 1, serial="S1"), D(1)), domain.Pick(lot(5, 1, serial="S2"),
                                                                       D(1))]
    assert domain.group_for_events(serials) == [
        domain.LotGroup(D(2), serial_numbers=("S1", "S2"))]


def test_a_receipt_of_a_batch_part_needs_batch_number_and_quantity():
    assert domain.incoming_lots(BATCH, quantity=D(5), batch_number="B1",
                                serial_numbers=None) == [domain.IncomingLot("B1", None, D(5))]
    with pytest.raises(InvalidInput) as refused:
        domain.incoming_lots(BATCH, quantity=D(5), batch_number=None, serial_numbers=None,
                             field="lines.0.")
    assert "lines.0.batch_number" in refused.value.detail["fields"]


def test_a_receipt_of_a_serial_part_makes_one_lot_per_serial_number():
    lots = domain.incoming_lots(SERIAL, quantity=None, batch_number=None,
                                serial_numbers=["S1", "S2"])
    assert [(x.serial_number, x.quantity) for x in lots] == [("S1", D(1)), ("S2", D(1))]
    with pytest.raises(InvalidInput):
        domain.incoming_lots(SERIAL, quantity=D(3), batch_number=None,
                             serial_numbers=["S1", "S2"])
    with pytest.raises(InvalidInput):
        domain.incoming_lots(SERIAL, quantity=None, batch_number=None,
                             serial_numbers=["S1", "S1"])


# -- low stock and reorder suggestions ------------------------------------------------------


def test_low_stock_suggests_enough_to_reach_reorder_point_plus_reorder_quantity():
    stock = Stock("P", D(6), D(3), reorder_point=D(5), reorder_quantity=D(20))
    suggestion = domain.reorder_suggestion(stock, D(0), "EA")
    assert suggestion.available == D(3)
    assert suggestion.suggested_quantity == D(22)  # 5 + 20 - 3


def test_stock_exactly_at_the_reorder_point_orders_the_reorder_quantity():
    stock = Stock("P", D(5), D(0), reorder_point=D(5), reorder_quantity=D(20))
    assert domain.reorder_suggestion(stock, D(0), "EA").suggested_quantity == D(20)


def test_stock_above_the_reorder_point_needs_no_order():
    stock = Stock("P", D(6), D(0), reorder_point=D(5), reorder_quantity=D(20))
    assert domain.reorder_suggestion(stock, D(0), "EA") is None


def test_lines_waiting_for_a_part_count_against_it():
    stock = Stock("P", D(4), D(4), reorder_point=D(2), reorder_quantity=D(10))
    suggestion = domain.reorder_suggestion(stock, D(6), "EA")
    assert suggestion.suggested_quantity == D(18)  # 2 + 10 - (0 - 6)


def test_a_part_not_kept_on_the_shelf_is_ordered_only_for_waiting_lines():
    empty = Stock("P", D(0))
    assert domain.reorder_suggestion(empty, D(0), "EA") is None
    assert domain.reorder_suggestion(empty, D(2), "EA").suggested_quantity == D(2)


def test_whole_units_are_rounded_up_and_litres_are_not():
    stock = Stock("P", D("1.5"), D(0), reorder_point=D(2), reorder_quantity=D(1))
    assert domain.reorder_suggestion(stock, D(0), "EA").suggested_quantity == D(2)
    assert domain.reorder_suggestion(stock, D(0), "L").suggested_quantity == D("1.5")


def test_stock_low_is_raised_when_a_movement_makes_things_worse_only():
    policy = dict(reorder_point=D(5), reorder_quantity=D(10))
    before, after = Stock("P", D(6), **policy), Stock("P", D(4), **policy)
    assert domain.low_stock_alert((before, D(0)), (after, D(0)), "EA") is not None
    # a receipt that leaves it still low is an improvement: quiet
    better = Stock("P", D(5), **policy)
    assert domain.low_stock_alert((after, D(0)), (better, D(0)), "EA") is None
    # an issue of reserved units does not change what may be promised: quiet
    held = Stock("P", D(4), D(2), **policy)
    assert domain.low_stock_alert((held, D(0)), (held.issue_reserved(D(2)), D(0)), "EA") is None


# -- vehicles and notation ---------------------------------------------------------------------


def test_a_vin_maps_to_the_model_of_its_longest_registered_prefix():
    known = {"LSV": "VW-ANY", "LSVAU218": "PASSAT-B8", "LSVAU2187": "PASSAT-B8-330"}
    assert domain.model_for_vin("LSVAU2187N2183740", known) == "PASSAT-B8-330"
    assert domain.model_for_vin("LSVAU2188N2183740", known) == "PASSAT-B8"
    assert domain.model_for_vin("LSVCC2187N2183740", known) == "VW-ANY"
    assert domain.model_for_vin("WVWZZZ1KZAW000001", known) is None


@pytest.mark.parametrize("value, text", [("10.000", "10"), ("4.500", "4.5"), ("0.000", "0"),
                                         ("100", "100"), ("0.125", "0.125")])
def test_quantities_are_written_as_the_contract_expects(value, text):
    assert domain.quantity_text(D(value)) == text
