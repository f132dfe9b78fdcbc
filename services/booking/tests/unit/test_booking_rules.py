"""Booking rules, without I/O: what a booking request becomes, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from booking import domain
from booking.dealer_calendar import Bookings, Calendar
from chassis.errors import Conflict, InvalidInput
from contracts import events, new_event
from contracts.customer import customer_id_for

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # a Sunday
TOMORROW_NINE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CALENDAR = Calendar.default()  # every day 08:00-18:00 UTC, 30-minute slots, capacity 4
ADVISOR = domain.Actor("SA-017", is_customer=False)
OWNER = domain.Actor(customer_id_for("13812345678"), is_customer=True)  # signed in with that phone


def request(**changes):
    body = {"customer": {"name": "王伟", "phone": "13812345678"},
            "vehicle": {"plate": "京A12345"}, "service_type": "MAINTENANCE",
            "slot_start": TOMORROW_NINE, "channel": "WECHAT", "loaner_requested": False}
    body.update(changes)
    return body


def book(actor=ADVISOR, now=NOW, calendar=CALENDAR, **changes):
    return domain.book(request(**changes), calendar=calendar, actor=actor, dealer_code="D001",
                       now=now)


def refused_field(call, *args, **kwargs) -> dict:
    with pytest.raises(InvalidInput) as refused:
        call(*args, **kwargs)
    return refused.value.detail["fields"]


def test_a_booking_takes_the_service_types_duration_and_the_slots_it_spans():
    appointment, slots = book(service_type="REPAIR")
    assert appointment.slot_end - appointment.slot_start == timedelta(hours=2)
    assert [s.start.strftime("%H:%M") for s in slots] == ["09:00", "09:30", "10:00", "10:30"]
    assert appointment.status == domain.Status.SCHEDULED
    assert appointment.dealer_code == "D001"


def test_a_service_shorter_than_its_last_slot_still_takes_that_slot():
    _, slots = book(service_type="TYRES")  # 45 minutes in 30-minute slots
    assert len(slots) == 2


def test_times_are_kept_in_utc_whatever_offset_the_caller_used():
    beijing = timezone(timedelta(hours=8))
    appointment, _ = book(slot_start=datetime(2026, 11, 23, 17, 0, tzinfo=beijing))
    assert appointment.slot_start == TOMORROW_NINE
    assert appointment.slot_start.tzinfo is UTC


def test_the_same_phone_is_the_same_customer_when_staff_book():
    first, _ = book()
    second, _ = book(vehicle={"vin": "1M8GDM9AXKP042788"})
    assert first.customer_id == second.customer_id == domain.customer_id_for("13812345678")
    assert first.id != second.id
    assert first.booked_by == "SA-017"


def test_staff_may_name_the_customer_from_crm():
    appointment, _ = book(customer={"name": "王伟", "phone": "13812345678",
                                    "customer_id": "C-000123"})
    assert appointment.customer_id == "C-000123"


def test_an_owner_books_for_themself():
    appointment, _ = book(actor=OWNER, channel="APP")
    assert appointment.customer_id == OWNER.subject


def test_an_owner_cannot_book_for_someone_else():
    fields = refused_field(book, actor=OWNER, channel="APP",
                           customer={"name": "李娜", "phone": "13900000000",
                                     "customer_id": "cust-99"})
    assert "customer.customer_id" in fields


def test_an_owner_books_with_the_phone_they_signed_in_with_only():
    # Another number would be texted reminders and links it never asked for.
    fields = refused_field(book, actor=OWNER, channel="APP",
                           customer={"name": "王伟", "phone": "13900000000"})
    assert "customer.phone" in fields


@pytest.mark.parametrize("channel", ["PHONE", "WALK_IN"])
def test_owners_book_through_their_own_channels_only(channel):
    assert "channel" in refused_field(book, actor=OWNER, channel=channel)


def test_a_vehicle_needs_a_plate_or_a_vin():
    fields = refused_field(book, vehicle={"model": "帕萨特"})
    assert fields == {"vehicle": ["give the plate or the VIN (or both)"]}


def test_plates_are_compared_without_spaces_or_case():
    appointment, _ = book(vehicle={"plate": "京a 12345"})
    assert appointment.plate == "京A12345"


def test_a_picked_up_car_leaves_no_customer_waiting_in_the_lounge():
    fields = refused_field(book, pickup_address="北京市朝阳区建国路 88 号", customer_waiting=True)
    assert "customer_waiting" in fields


def test_a_slot_in_the_past_is_refused():
    assert "slot_start" in refused_field(book, now=TOMORROW_NINE + timedelta(minutes=1))


def test_a_walk_in_may_take_the_slot_under_way_but_not_one_that_is_over():
    appointment, _ = book(channel="WALK_IN", now=TOMORROW_NINE + timedelta(minutes=7))
    assert appointment.slot_start == TOMORROW_NINE
    assert "slot_start" in refused_field(book, channel="WALK_IN",
                                         now=TOMORROW_NINE + timedelta(minutes=30))


def test_a_slot_beyond_the_booking_horizon_is_refused():
    fields = refused_field(book, slot_start=TOMORROW_NINE + timedelta(days=90))
    assert "90 days" in fields["slot_start"][0]


def test_a_service_type_the_dealer_does_not_offer_is_refused():
    assert "service_type" in refused_field(book, service_type="OTHER")


def test_a_full_slot_is_a_conflict_naming_the_full_slots():
    _, slots = book(service_type="REPAIR")
    taken = Bookings([(slots[2].start, slots[2].end)] * CALENDAR.capacity)
    with pytest.raises(Conflict) as refused:
        domain.check_capacity(CALENDAR, slots, taken)
    assert refused.value.detail["full_slots"] == ["2026-11-23T10:00:00+00:00"]
    assert refused.value.detail["capacity"] == 4


def test_a_slot_with_room_for_one_more_is_not_full():
    _, slots = book()
    domain.check_capacity(CALENDAR, slots, Bookings([(slots[0].start, slots[0].end)] * 3))


def test_the_same_car_cannot_hold_two_overlapping_appointments():
    first, _ = book()
    second, _ = book(slot_start=TOMORROW_NINE + timedelta(minutes=30))
    with pytest.raises(Conflict) as refused:
        domain.check_not_double_booked(second, [first], reveal_ids=True)
    assert refused.value.detail == {"existing_appointment_id": first.id}
    with pytest.raises(Conflict) as hidden:
        domain.check_not_double_booked(second, [first], reveal_ids=False)
    assert hidden.value.detail == {}


def test_another_car_or_a_later_time_is_not_a_double_booking():
    first, _ = book()
    other_car, _ = book(vehicle={"plate": "沪B54321"})
    later, _ = book(slot_start=TOMORROW_NINE + timedelta(hours=1))
    domain.check_not_double_booked(other_car, [first], reveal_ids=True)
    domain.check_not_double_booked(later, [first], reveal_ids=True)


def test_the_booked_event_satisfies_the_published_contract():
    appointment, _ = book(pickup_address="北京市朝阳区建国路 88 号", reminder_id="R-1",
                          vehicle={"plate": "京A12345", "vin": "1M8GDM9AXKP042788"})
    beijing_calendar = Calendar.default("Asia/Shanghai")
    data = domain.booked_event(appointment, beijing_calendar)
    envelope = new_event(events.AppointmentBooked, data, source="dealer/D001/booking",
                         subject=appointment.id, dealer_code="D001",
                         correlation_id=appointment.id, sequence=1)
    assert envelope["data"]["pickup_address"].startswith("北京市")
    assert envelope["data"]["vehicle"] == {"plate": "京A12345", "vin": "1M8GDM9AXKP042788"}
    assert envelope["data"]["slot_start"] == "2026-11-23T17:00:00+08:00"  # the dealer's clock
    assert envelope["data"]["reminder_id"] == "R-1"
