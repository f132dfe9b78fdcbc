"""Booking's use cases against a fake unit of work: the appointment book in memory, the events
checked against their contracts, no database and no broker."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from booking import use_cases
from booking.dealer_calendar import Calendar
from booking.domain import Actor, Status
from chassis.errors import Conflict, NotFound
from contracts import events
from contracts.customer import customer_id_for
from services.booking.tests.unit.fakes import FakeBookingUnitOfWork

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
NINE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TWO_BAYS = replace(Calendar.default(), bays=2, advisors=2)  # 08:00-18:00 UTC, 30-min slots
ADVISOR = Actor("SA-017", is_customer=False)
OWNER = Actor(customer_id_for("13812345678"), is_customer=True)  # signed in with that phone


def booking(plate: str, slot: datetime = NINE, **changes: object) -> dict:
    body = {"customer": {"name": "王伟", "phone": "13812345678"}, "vehicle": {"plate": plate},
            "service_type": "MAINTENANCE", "slot_start": slot, "channel": "PHONE"}
    return {**body, **changes}


def book(uow: FakeBookingUnitOfWork, plate: str, slot: datetime = NINE, *,
         actor: Actor = ADVISOR, **changes: object):
    appointment, _ = use_cases.book(uow, booking(plate, slot, **changes), actor=actor,
                                    dealer_code="D001", now=NOW)
    return appointment


@pytest.fixture
def uow() -> FakeBookingUnitOfWork:
    return FakeBookingUnitOfWork(TWO_BAYS)


# -- booking -----------------------------------------------------------------------------------


def test_a_booking_is_stored_and_announced(uow):
    appointment = book(uow, "京a 12345")

    assert uow.appointments.rows[appointment.id].status is Status.SCHEDULED
    assert appointment.plate == "京A12345"  # stored in the one normal form crm searches by
    assert uow.events.types() == [events.AppointmentBooked.type]
    assert uow.emitted[0]["subject"] == appointment.id


def test_a_booking_holds_its_slots_before_counting_what_is_in_them(uow):
    book(uow, "京A12345", service_type="REPAIR")  # two hours: four 30-minute slots
    assert [h.strftime("%H:%M") for h in uow.appointments.held] == [
        "09:00", "09:30", "10:00", "10:30"]


def test_a_full_slot_refuses_the_next_booking_and_stores_nothing(uow):
    book(uow, "京A00001")
    book(uow, "京A00002")

    with pytest.raises(Conflict) as full:
        book(uow, "京A00003")

    assert full.value.detail["capacity"] == 2
    assert len(uow.appointments.rows) == 2
    assert len(uow.emitted) == 2


def test_a_longer_service_is_refused_when_any_slot_it_spans_is_full(uow):
    book(uow, "京A00001", NINE + timedelta(minutes=30))
    book(uow, "京A00002", NINE + timedelta(minutes=30))

    with pytest.raises(Conflict):
        book(uow, "京A00003", NINE)  # 60 minutes: 09:00 has room, 09:30 has none
    assert book(uow, "京A00003", NINE, service_type="INSPECTION").slot_start == NINE


def test_one_car_cannot_be_booked_twice_at_the_same_time(uow):
    first = book(uow, "京A12345")

    with pytest.raises(Conflict) as twice:
        book(uow, "京a12345", NINE + timedelta(minutes=30))  # overlaps, same car

    assert twice.value.detail["existing_appointment_id"] == first.id


def test_an_owner_is_not_told_which_appointment_is_in_the_way(uow):
    book(uow, "京A12345", actor=OWNER, channel="APP")
    with pytest.raises(Conflict) as twice:
        book(uow, "京A12345", actor=OWNER, channel="APP")
    assert "existing_appointment_id" not in twice.value.detail


# -- what happens next ------------------------------------------------------------------------


def test_rescheduling_frees_the_old_slot(uow):
    moving = book(uow, "京A00001")
    book(uow, "京A00002")
    ten = NINE + timedelta(hours=1)

    moved, _ = use_cases.reschedule(uow, moving.id, {"slot_start": ten}, actor=ADVISOR,
                                    now=NOW)

    assert moved.slot_start == ten and moved.reschedule_count == 1
    assert book(uow, "京A00003").slot_start == NINE  # the place it left is free again
    assert uow.events.types()[-2] == events.AppointmentRescheduled.type


def test_rescheduling_into_a_full_slot_is_refused_and_keeps_the_old_time(uow):
    moving = book(uow, "京A00001")
    ten = NINE + timedelta(hours=1)
    book(uow, "京A00002", ten)
    book(uow, "京A00003", ten)

    with pytest.raises(Conflict):
        use_cases.reschedule(uow, moving.id, {"slot_start": ten}, actor=ADVISOR, now=NOW)

    assert uow.appointments.rows[moving.id].slot_start == NINE


def test_rescheduling_within_its_own_slots_does_not_count_itself(uow):
    moving = book(uow, "京A00001")
    book(uow, "京A00002", NINE + timedelta(minutes=30))

    moved, _ = use_cases.reschedule(uow, moving.id,
                                    {"slot_start": NINE + timedelta(minutes=30)},
                                    actor=ADVISOR, now=NOW)
    assert moved.slot_start == NINE + timedelta(minutes=30)


def test_a_cancelled_appointment_gives_its_place_back(uow):
    first = book(uow, "京A00001")
    book(uow, "京A00002")

    cancelled, _ = use_cases.cancel(uow, first.id, actor=ADVISOR, reason="CUSTOMER_REQUEST",
                                    now=NOW)

    assert cancelled.status is Status.CANCELLED and cancelled.cancelled_by == "DEALER"
    assert book(uow, "京A00003").status is Status.SCHEDULED
    assert events.AppointmentCancelled.type in uow.events.types()


def test_check_in_hands_the_car_to_the_advisor_who_received_it(uow):
    appointment = book(uow, "京A00001")

    arrived, _ = use_cases.check_in(uow, appointment.id, actor=ADVISOR, now=NINE)

    assert arrived.status is Status.CHECKED_IN and arrived.advisor_id == "SA-017"
    assert uow.events.types()[-1] == events.AppointmentCheckedIn.type
    with pytest.raises(Conflict):  # settled: nothing more happens to it
        use_cases.cancel(uow, appointment.id, actor=ADVISOR, reason="CUSTOMER_REQUEST",
                         now=NINE)


def test_an_owner_cannot_see_or_change_someone_elses_appointment(uow):
    appointment = book(uow, "京A00001")
    stranger = Actor(customer_id_for("13900000099"), is_customer=True)
    with pytest.raises(NotFound):
        use_cases.confirm(uow, appointment.id, actor=stranger, now=NOW)
    with pytest.raises(NotFound):
        use_cases.appointment(uow, appointment.id, actor=stranger)


# -- no-shows ----------------------------------------------------------------------------------


def test_the_sweep_marks_only_appointments_past_their_grace_period(uow):
    missed = book(uow, "京A00001", NINE)
    arrived = book(uow, "京A00002", NINE)
    later = book(uow, "京A00003", NINE + timedelta(hours=1))
    use_cases.check_in(uow, arrived.id, actor=ADVISOR, now=NINE)

    marked = use_cases.sweep_no_shows(uow, now=NINE + timedelta(minutes=31))

    assert marked == [missed.id]
    assert uow.appointments.rows[missed.id].status is Status.NO_SHOW
    assert uow.appointments.rows[later.id].status is Status.SCHEDULED
    assert uow.events.types()[-1] == events.AppointmentNoShow.type
    assert use_cases.sweep_no_shows(uow, now=NINE + timedelta(minutes=32)) == []


def test_a_no_show_is_refused_before_the_grace_period_is_over(uow):
    appointment = book(uow, "京A00001")
    with pytest.raises(Conflict):
        use_cases.no_show(uow, appointment.id, actor=ADVISOR, now=NINE + timedelta(minutes=5))


# -- the calendar ------------------------------------------------------------------------------


def test_a_new_calendar_lists_the_appointments_it_no_longer_fits(uow):
    appointment = book(uow, "京A00001")
    document = Calendar.default().to_document()
    document["closed_dates"] = [NINE.date().isoformat()]

    stored, review = use_cases.put_calendar(uow, document, by="M-001", now=NOW)

    assert stored.configured and stored.updated_by == "M-001"
    assert [(r.appointment_id, r.reason) for r in review] == [(appointment.id, "CLOSED")]
    assert uow.appointments.rows[appointment.id].status is Status.SCHEDULED  # still booked


def test_availability_counts_what_is_booked_in_each_slot(uow):
    book(uow, "京A00001")

    days, _ = use_cases.availability(uow, first=NINE.date(), last=NINE.date(),
                                     service_type="MAINTENANCE", now=NOW)

    nine = next(s for s in days[0].slots if s.slot.start == NINE)
    assert (nine.booked, nine.free, nine.bookable) == (1, 1, True)
