"""BI's use cases against a fake unit of work (facts in memory, no database): an event is
logged once and becomes facts and rollups; KPIs read from the rollups by dealer and region;
dealers are named; a rebuild from the log gives what live applying gave."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bi import use_cases
from bi.domain.facts import APPOINTMENTS, REPAIR_ORDERS
from bi.reports import Scope
from bi.settings import BiSettings
from contracts import events
from services.bi.tests.unit.fakes import FakeBiUnitOfWork

NOW = datetime(2025, 3, 20, 2, 0, tzinfo=UTC)
OPTIONS = BiSettings()
MARCH = Scope(date(2025, 3, 1), date(2025, 3, 31))
VIN = "LSVAU2187N2183740"


def envelope(contract: Any, dealer: str, sequence: int, **data: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": contract.type, "source": f"dealer/{dealer}",
            "dealercode": dealer, "subject": "x", "sequence": sequence, "data": data}


def booked(dealer: str, appointment_id: str, slot: str, **extra: Any) -> dict[str, Any]:
    return envelope(events.AppointmentBooked, dealer, 1, appointment_id=appointment_id,
                    slot_start=slot, status="SCHEDULED", channel="WECHAT",
                    service_type="MAINTENANCE", booked_at="2025-03-15T20:12:45+08:00",
                    **extra)


def checked_in(dealer: str, appointment_id: str, slot: str) -> dict[str, Any]:
    return envelope(events.AppointmentCheckedIn, dealer, 2, appointment_id=appointment_id,
                    slot_start=slot, checked_in_at=slot)


def opened(dealer: str, ro: str, at: str, concern: str = "P0301",
           appointment_id: str | None = None) -> dict[str, Any]:
    return envelope(events.RepairOrderOpened, dealer, 1, repair_order_id=ro, vin=VIN,
                    appointment_id=appointment_id, concerns=[{"code": concern}], opened_at=at,
                    promised_at=at.replace("09:", "17:"))


def delivered(dealer: str, ro: str, opened_at: str, promised: str, at: str) -> dict[str, Any]:
    return envelope(events.VehicleDelivered, dealer, 9, repair_order_id=ro, vin=VIN,
                    appointment_id=None, opened_at=opened_at, promised_at=promised,
                    delivered_at=at, totals_by_pay_type={
                        "CUSTOMER_PAY": "800.00", "WARRANTY": "0.00", "INTERNAL": "0.00"},
                    labour_total="300.00", parts_total="500.00", grand_total="800.00",
                    labour_hours_sold="2.0", clocked_hours="2.5")


def survey(dealer: str, ro: str, score: int) -> dict[str, Any]:
    return envelope(events.SurveyAnswered, "HQ", 1, survey_id=f"S-{ro}", repair_order_id=ro,
                    answered_at="2025-03-19T10:00:00+08:00", score=score) | {
        "dealercode": dealer}


def history() -> list[dict[str, Any]]:
    return [
        booked("D001", "A-1", "2025-03-18T09:30:00+08:00"),
        checked_in("D001", "A-1", "2025-03-18T09:30:00+08:00"),
        opened("D001", "RO-1", "2025-03-18T09:40:00+08:00", appointment_id="A-1"),
        delivered("D001", "RO-1", "2025-03-18T09:40:00+08:00", "2025-03-18T17:40:00+08:00",
                  "2025-03-18T17:00:00+08:00"),
        survey("D001", "RO-1", 10),
        # The same concern again ten days later: a comeback.
        opened("D001", "RO-2", "2025-03-28T09:10:00+08:00"),
        booked("D002", "A-2", "2025-03-18T14:00:00+08:00"),
        opened("D002", "RO-3", "2025-03-18T14:10:00+08:00", concern="P0420"),
        delivered("D002", "RO-3", "2025-03-18T14:10:00+08:00", "2025-03-18T16:00:00+08:00",
                  "2025-03-19T11:00:00+08:00"),
        survey("D002", "RO-3", 4),
    ]


def received(uow: FakeBiUnitOfWork, envelopes: list[dict[str, Any]]) -> None:
    for e in envelopes:
        use_cases.receive(uow, e, OPTIONS, now=NOW)


def test_an_event_is_logged_once_and_becomes_a_fact_and_a_rollup():
    uow = FakeBiUnitOfWork()
    event = booked("D001", "A-1", "2025-03-18T09:30:00+08:00")
    assert use_cases.receive(uow, event, OPTIONS, now=NOW) is True
    assert use_cases.receive(uow, event, OPTIONS, now=NOW) is False  # the same event again
    assert uow.log.count() == 1 and uow.log.locked == 2
    fact = uow.facts.row(APPOINTMENTS, appointment_id="A-1")
    assert (fact["status"], fact["day"]) == ("SCHEDULED", date(2025, 3, 18))
    assert uow.rollups.daily["D001", date(2025, 3, 18)]["appointments"] == 1
    assert uow.emitted == []  # BI publishes nothing


def test_the_kpis_of_a_month_count_what_happened():
    uow = FakeBiUnitOfWork()
    received(uow, history())
    report = use_cases.kpi_report(uow, MARCH)
    assert (report["from"], report["to"], report["dealer"]) == (MARCH.first, MARCH.last, None)
    values = report["kpis"]
    assert values["ro_count"] == 3 and values["ros_delivered"] == 2
    assert values["revenue"] == Decimal("1600.00")
    assert values["on_time_delivery"] == Decimal("0.5")  # D002 delivered a day late
    assert values["comeback_rate"] == Decimal("0.3333")  # RO-2 repeats RO-1's concern
    d001 = use_cases.kpi_report(uow, Scope(MARCH.first, MARCH.last, dealer_code="D001"))
    assert d001["kpis"]["csi"] == Decimal("10.00")
    assert d001["kpis"]["appointment_show_rate"] == Decimal(1)


def test_a_comeback_is_found_whichever_visit_arrives_first():
    uow = FakeBiUnitOfWork()
    received(uow, list(reversed(history())))
    second = uow.facts.row(REPAIR_ORDERS, repair_order_id="RO-2")
    assert second["comeback"] is True
    assert uow.facts.row(REPAIR_ORDERS, repair_order_id="RO-1")["comeback"] is False


def test_a_comeback_window_is_a_setting():
    uow = FakeBiUnitOfWork()
    for e in history():
        use_cases.receive(uow, e, BiSettings(comeback_days=7), now=NOW)
    assert uow.facts.row(REPAIR_ORDERS, repair_order_id="RO-2")["comeback"] is False


def test_dealers_are_named_and_put_in_regions_and_the_kpis_follow():
    uow = FakeBiUnitOfWork()
    received(uow, history())
    assert use_cases.name_dealer(uow, "D001", name="北京一店", region="NORTH", now=NOW) == {
        "dealer_code": "D001", "name": "北京一店", "region": "NORTH"}
    assert use_cases.dealers(uow) == [{"dealer_code": "D001", "name": "北京一店",
                                       "region": "NORTH"}]
    north = use_cases.kpi_report(uow, Scope(MARCH.first, MARCH.last, region="NORTH"))
    assert north["kpis"]["ro_count"] == 2
    rows = use_cases.kpis_by_dealer(uow, MARCH)
    assert [(r["dealer_code"], r["region"], r["kpis"]["ro_count"]) for r in rows] == [
        ("D001", "NORTH", 2), ("D002", "UNASSIGNED", 1)]


def test_a_ranking_puts_the_best_first():
    uow = FakeBiUnitOfWork()
    received(uow, history())
    assert [e["dealer_code"] for e in use_cases.ranking(uow, MARCH, "csi")] == ["D001", "D002"]


def test_a_rebuild_from_the_log_gives_what_live_applying_gave():
    uow = FakeBiUnitOfWork()
    received(uow, history() + history()[::2])  # late copies under new ids are logged too
    live_facts = {name: dict(rows) for name, rows in uow.facts.tables.items()}
    live_daily = dict(uow.rollups.daily)
    live_kpis = use_cases.kpi_report(uow, MARCH)
    seen: list[tuple[int, int]] = []
    replayed = use_cases.rebuild(uow, OPTIONS, progress=lambda *p: seen.append(p), page=3)
    assert replayed == uow.log.count()
    assert {name: dict(rows) for name, rows in uow.facts.tables.items()} == live_facts
    assert uow.rollups.daily == live_daily
    assert use_cases.kpi_report(uow, MARCH) == live_kpis
    assert seen[0] == (0, replayed) and seen[-1] == (replayed, replayed)
