"""The projection on PostgreSQL: the same facts and rollups whatever the arrival order and
however often an event arrives, and a rebuild from the event log equals the live result."""

from __future__ import annotations

import copy
import itertools
import random
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bi import kpis, reports
from bi.models import (
    FACT_TABLES,
    daily_rollups,
    event_log,
    monthly_rollups,
    repair_order_facts,
)
from bi.projection import Projection, rebuild
from bi.service import BiService
from chassis.runner import migrations_dir
from contracts import events as events_module
from services.bi.tests.integration.bi_history import history


@pytest.fixture
def new_session(database):
    opened: list[Session] = []

    def make() -> Session:
        engine = sa.create_engine(database("bi", migrations=migrations_dir(BiService)))
        opened.append(Session(engine))
        return opened[-1]

    yield make
    for session in opened:
        session.close()
        session.get_bind().dispose()


def snapshot(session: Session) -> dict[str, list[tuple]]:
    """Every fact and rollup row, in a canonical order."""
    tables = (*FACT_TABLES, daily_rollups, monthly_rollups)
    return {t.name: sorted(tuple(str(v) for v in row) for row in session.execute(sa.select(t)))
            for t in tables}


def applied(session: Session, envelopes: list[dict[str, Any]]) -> dict[str, list[tuple]]:
    projection = Projection(session)
    for envelope in envelopes:
        projection.apply(envelope)
        projection.flush()
    session.commit()
    return snapshot(session)


def test_any_order_and_any_number_of_copies_give_the_same_facts_and_rollups(new_session):
    events = history()
    in_order = applied(new_session(), events)
    reversed_twice = applied(new_session(), list(reversed(events)) * 2)
    shuffled = random.Random(7).sample(events * 2, k=len(events) * 2)
    assert reversed_twice == in_order
    assert applied(new_session(), shuffled) == in_order
    assert len(in_order["daily_rollups"]) > 0


def test_a_rebuild_from_the_event_log_equals_the_live_projection(new_session):
    events = random.Random(11).sample(history(), k=len(history()))
    session = new_session()
    projection = Projection(session)
    for envelope in events:
        projection.receive(envelope)
    session.commit()
    live = snapshot(session)

    seen: list[tuple[int, int]] = []
    assert rebuild(session, progress=lambda done, total: seen.append((done, total)),
                   page=10) == len(events)
    assert snapshot(session) == live
    assert seen[0] == (0, len(events)) and seen[-1] == (len(events), len(events))
    # The log is kept as it was: append-only, and without customers' names and phones.
    assert session.scalar(sa.select(sa.func.count()).select_from(event_log)) == len(events)
    logged = " ".join(str(e) for e in session.scalars(sa.select(event_log.c.envelope)))
    booked = next(e for e in events if e["type"].endswith("AppointmentBooked.v1"))
    assert booked["data"]["customer"]["phone"] not in logged
    assert booked["data"]["customer"]["name"] not in logged
    assert booked["data"]["vehicle"]["plate"] not in logged
    assert "comment" not in logged


def test_the_kpis_of_the_history_match_a_hand_count(new_session):
    session = new_session()
    applied(session, history())
    march = dict(first=date(2025, 3, 1), last=date(2025, 3, 31))
    d001 = kpis.compute_all(reports.totals(session, reports.Scope(dealer_code="D001", **march)))
    d002 = kpis.compute_all(reports.totals(session, reports.Scope(dealer_code="D002", **march)))
    # D001: RO-1 and RO-2 opened, RO-2 repeats RO-1's brake noise 10 days later → 1 ÷ 2
    assert (d001["ro_count"], d001["comeback_rate"]) == (2, Decimal("0.5000"))
    # the declined brake pads (1 line) were sold on RO-2 → recapture 1 ÷ 1
    assert d001["declined_work_recapture"] == Decimal("1.0000")
    # 2 approved lines (L1 on RO-1, L1 on RO-2) ÷ 3 decided; value 630 ÷ 1 110
    assert d001["quote_approval_rate"] == Decimal("0.6667")
    assert d001["quote_approval_rate_value"] == Decimal("0.5676")
    # one appointment (moved to 14:00, checked in) → show rate 1; its reminder converted
    assert (d001["appointment_show_rate"], d001["reminder_arrival_rate"]) == \
        (Decimal("1.0000"), Decimal("1.0000"))
    # ISS-1 from stock, ISS-2 bought in → 0.5; QC: 1 failed of 3 checks
    assert (d001["parts_fill_rate"], d001["qc_rework_rate"]) == \
        (Decimal("0.5000"), Decimal("0.3333"))
    # booked 2025-03-15 20:00 → opened 03-18 14:03:10 = 66 h 03 min 10 s → 66.05 h
    assert d001["cycle_time_booking_to_reception"] == Decimal("66.05")
    # opened 14:03:10 → inspected 14:33:10 = 0.50 h; QC passed 16:50 → delivered 17:20 = 0.50 h
    assert d001["cycle_time_reception_to_inspection"] == Decimal("0.50")
    assert d001["cycle_time_qc_to_delivery"] == Decimal("0.50")
    # 150.00 labour ÷ 1.00 h; 1.00 sold ÷ 1.25 clocked = 0.8; delivered 17:20 ≤ 17:30
    assert (d001["effective_labour_rate"], d001["technician_efficiency"],
            d001["on_time_delivery"]) == (Decimal("150.00"), Decimal("0.8000"),
                                          Decimal("1.0000"))
    assert (d001["csi"], d001["nps"]) == (Decimal("10.00"), Decimal("100.00"))
    # D002: one cancelled (not expected), one no-show → 0 ÷ 1; late delivery; detractor
    assert d002["appointment_show_rate"] == Decimal("0.0000")
    assert d002["lead_arrival_rate"] == Decimal("0.0000")
    assert (d002["revenue"], d002["revenue_warranty"], d002["on_time_delivery"]) == \
        (Decimal("1000.00"), Decimal("800.00"), Decimal("0.0000"))
    assert d002["nps"] == Decimal("-100.00")


def test_months_read_from_monthly_rollups_sum_to_the_same_as_their_days(new_session):
    session = new_session()
    applied(session, history())
    ranges = [
        (date(2025, 3, 1), date(2025, 3, 31)),   # one whole month
        (date(2025, 2, 20), date(2025, 4, 2)),   # days, a month, days
        (date(2025, 3, 18), date(2025, 3, 28)),  # days only
        (date(2025, 1, 1), date(2025, 12, 31)),  # a year
    ]
    for (first, last), dealer in itertools.product(ranges, (None, "D001", "D002")):
        scope = reports.Scope(first, last, dealer_code=dealer)
        assert reports.totals(session, scope) == reports.totals(session, scope, months=False)


def _with_odd_values(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history with words that need escaping and hours finer than the stored cent."""
    odd = []
    for envelope in events:
        envelope = copy.deepcopy(envelope)
        data = envelope["data"]
        if envelope["type"] == events_module.RepairOrderOpened.type and \
                data["repair_order_id"] == "RO-D002-1":
            data["concerns"] = [{"description": 'Rattle\tat "speed"\\ 80\nkm/h'}]
        if envelope["type"] == events_module.VehicleDelivered.type:
            data["clocked_hours"] = "2.505"
        odd.append(envelope)
    return odd


def test_a_rebuild_of_a_shuffled_history_sent_again_equals_the_live_result(new_session):
    """Sites send late, twice, and some again under a new event id: whatever the log holds,
    its rebuild writes exactly the facts and rollups the live projection stored."""
    events = _with_odd_values(history())
    resent = [{**e, "id": str(uuid.uuid4())} for e in events[::2]]
    arrivals = random.Random(23).sample(events * 2 + resent, k=2 * len(events) + len(resent))
    session = new_session()
    projection = Projection(session)
    for envelope in arrivals:
        projection.receive(envelope)
    session.commit()
    live = snapshot(session)

    assert rebuild(session, page=7) == len(events) + len(resent)
    assert snapshot(session) == live
    assert applied(new_session(), events) == live
    concerns = session.scalar(sa.select(repair_order_facts.c.concerns).where(
        repair_order_facts.c.repair_order_id == "RO-D002-1"))
    assert concerns == ['text:rattle at "speed"\\ 80 km/h']
    assert session.scalars(sa.select(repair_order_facts.c.clocked_hours).where(
        repair_order_facts.c.delivered_at.is_not(None))).all() == [Decimal("2.51")] * 2
