"""Stock never goes negative and no more is issued than was reserved, however many requests
arrive at once."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import eventlet
import pytest
import sqlalchemy as sa

from .conftest import CLERK, TECHNICIAN, new_ro

FILTER = "06L115562B"


def _at_once(calls):
    """Run the calls concurrently (green threads: the HTTP requests overlap in the server)."""
    pool = eventlet.GreenPool(len(calls))
    return list(pool.imap(lambda call: call(), calls))


def test_fifty_parallel_issues_against_ten_in_stock_issue_exactly_ten(parts_site):
    parts_site.part(FILTER)
    parts_site.receive(FILTER, 4, batch="B-OLD")
    parts_site.receive(FILTER, 6, batch="B-NEW")
    ro = new_ro()
    # 50 units of demand, 10 on the shelf: 10 are reserved, 40 are a visible shortfall
    parts_site.approve(ro, [("L1", FILTER, "50")])
    line = parts_site.reservations(ro)["L1"]
    assert (line["reserved"], line["shortfall"]) == ("10", "40")

    responses = _at_once([lambda: parts_site.issue(ro, "L1", quantity="1",
                                                   headers=TECHNICIAN)] * 50)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 10, 409: 40}, statuses
    assert {r.json()["reason"] for r in responses if r.status_code == 409} == {
        "NOT_ENOUGH_RESERVED"}
    assert parts_site.stock(FILTER) == {"on_hand": 0, "reserved": 0, "available": 0}
    line = parts_site.reservations(ro)["L1"]
    assert (line["issued"], line["reserved"], line["shortfall"]) == ("10", "0", "40")
    issued = parts_site.emitted("PartIssued")
    assert len(issued) == 10
    assert Counter(e["batch_number"] for e in issued) == {"B-OLD": 4, "B-NEW": 6}  # FIFO
    # never negative at any step of the ledger, and the lots add up to what is on hand
    balances = parts_site.rows("SELECT on_hand_after, reserved_after FROM stock_movements "
                               "WHERE part_number = :p ORDER BY id", p=FILTER)
    assert min(on_hand for on_hand, _ in balances) == 0
    assert all(0 <= reserved <= on_hand for on_hand, reserved in balances)
    assert sorted(on_hand for on_hand, _ in balances[-10:]) == [Decimal(n) for n in range(10)]
    assert parts_site.scalar("SELECT sum(quantity_remaining) FROM stock_lots") == 0
    # one outbox sequence per event of the repair order, none shared
    sequences = [s for (s,) in parts_site.rows(
        "SELECT sequence FROM outbox WHERE aggregate_id = :ro ORDER BY sequence", ro=ro)]
    assert sequences == list(range(1, len(sequences) + 1))


def test_parallel_transfers_cannot_send_more_than_is_available(parts_site):
    parts_site.part(FILTER, on_hand=12)
    parts_site.approve(new_ro(), [("L1", FILTER, "2")])  # 2 of the 12 are spoken for

    responses = _at_once([lambda: parts_site.post(
        "/transfers", {"part_number": FILTER, "quantity": "1", "to_dealer_code": "D002"},
        CLERK)] * 20)

    assert Counter(r.status_code for r in responses) == {201: 10, 409: 10}
    assert parts_site.stock(FILTER) == {"on_hand": 2, "reserved": 2, "available": 0}
    assert len(parts_site.emitted("StockTransferred")) == 10


def test_the_database_refuses_negative_or_over_reserved_stock_as_a_last_line(parts_site):
    parts_site.part(FILTER, on_hand=3)
    engine = sa.create_engine(parts_site.db)
    try:
        for change in ("on_hand = -1", "reserved = -1", "reserved = on_hand + 1"):
            with pytest.raises(sa.exc.IntegrityError):
                with engine.begin() as conn:
                    conn.execute(sa.text(f"UPDATE stock_levels SET {change}"))
        with pytest.raises(sa.exc.IntegrityError):
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE stock_lots SET quantity_remaining = -1"))
    finally:
        engine.dispose()
    assert parts_site.stock(FILTER)["on_hand"] == 3
