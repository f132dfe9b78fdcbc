"""Booking rules, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking import domain
from chassis.errors import InvalidInput
from contracts import events, new_event

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def request(**changes):
    body = {"customer": {"name": "王伟", "phone": "13812345678"},
            "vehicle": {"plate": "京A12345"}, "service_type": "MAINTENANCE",
            "slot_start": NOW + timedelta(days=1), "channel": "WECHAT",
            "loaner_requested": False}
    body.update(changes)
    return body


def test_a_booking_takes_the_service_types_duration():
    appointment = domain.book(request(service_type="REPAIR"), dealer_code="D001", now=NOW)
    assert appointment.slot_end - appointment.slot_start == timedelta(hours=2)
    assert appointment.status == "SCHEDULED"
    assert appointment.dealer_code == "D001"


def test_the_same_phone_is_the_same_customer():
    first = domain.book(request(), dealer_code="D001", now=NOW)
    second = domain.book(request(vehicle={"vin": "1M8GDM9AXKP042788"}), dealer_code="D001",
                         now=NOW)
    assert first.customer_id == second.customer_id
    assert first.id != second.id


def test_a_vehicle_needs_a_plate_or_a_vin():
    with pytest.raises(InvalidInput) as refused:
        domain.book(request(vehicle={"model": "帕萨特"}), dealer_code="D001", now=NOW)
    assert refused.value.detail["fields"] == {"vehicle": ["give the plate or the VIN (or both)"]}


def test_a_slot_in_the_past_is_refused():
    with pytest.raises(InvalidInput) as refused:
        domain.book(request(slot_start=NOW - timedelta(minutes=1)), dealer_code="D001", now=NOW)
    assert "slot_start" in refused.value.detail["fields"]


def test_the_booked_event_satisfies_the_published_contract():
    appointment = domain.book(request(pickup_address="北京市朝阳区建国路 88 号"),
                              dealer_code="D001", now=NOW)
    envelope = new_event(events.AppointmentBooked, domain.booked_event(appointment),
                         source="dealer/D001/booking", subject=appointment.id,
                         dealer_code="D001", correlation_id=appointment.id, sequence=1)
    assert envelope["data"]["pickup_address"].startswith("北京市")
    assert envelope["data"]["vehicle"] == {"plate": "京A12345"}
