"""What may happen to an appointment next (STAR statuses), and the events each step writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking import domain
from booking.dealer_calendar import Calendar
from booking.domain import Status
from chassis.errors import Conflict, InvalidInput
from contracts import events, new_event
from contracts.customer import customer_id_for

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
SLOT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CALENDAR = Calendar.default()  # grace period 30 minutes
ADVISOR = domain.Actor("SA-017", is_customer=False)
OWNER = domain.Actor(customer_id_for("13812345678"), is_customer=True)  # signed in with that phone


def booked(actor=OWNER) -> domain.Appointment:
    appointment, _ = domain.book(
        {"customer": {"name": "王伟", "phone": "13812345678"}, "vehicle": {"plate": "京A12345"},
         "service_type": "MAINTENANCE", "slot_start": SLOT, "channel": "APP"},
        calendar=CALENDAR, actor=actor, dealer_code="D001", now=NOW)
    return appointment


def confirmed() -> domain.Appointment:
    return domain.confirm(booked(), actor=ADVISOR, now=NOW)


def conflict(call, *args, **kwargs) -> dict:
    with pytest.raises(Conflict) as refused:
        call(*args, **kwargs)
    return refused.value.detail


def in_contract(contract, data: dict) -> dict:
    """Build the envelope as the outbox does: it raises if the data breaks the contract."""
    return new_event(contract, data, source="dealer/D001/booking", subject=data["appointment_id"],
                     dealer_code="D001", correlation_id=data["appointment_id"], sequence=2)


def test_a_new_appointment_may_be_confirmed_moved_cancelled_checked_in_or_missed():
    assert booked().allowed_actions == ("confirm", "reschedule", "cancel", "check-in", "no-show")


def test_confirming_records_who_confirmed():
    appointment = confirmed()
    assert appointment.status is Status.CONFIRMED
    assert appointment.confirmed_by == "DEALER"
    assert appointment.allowed_actions == ("reschedule", "cancel", "check-in", "no-show")
    data = domain.confirmed_event(appointment, CALENDAR)
    assert in_contract(events.AppointmentConfirmed, data)["data"]["confirmed_by"] == "DEALER"


def test_an_owner_confirming_is_the_customer():
    assert domain.confirm(booked(), actor=OWNER, now=NOW).confirmed_by == "CUSTOMER"


def test_confirming_twice_is_a_conflict_listing_the_next_steps():
    detail = conflict(domain.confirm, confirmed(), actor=ADVISOR, now=NOW)
    assert detail["status"] == "CONFIRMED"
    assert detail["allowed_actions"] == ["reschedule", "cancel", "check-in", "no-show"]
    assert detail["allowed_next"] == ["CANCELLED", "CHECKED_IN", "NO_SHOW"]


@pytest.mark.parametrize("settle", [
    lambda a: domain.check_in(a, actor=ADVISOR, now=SLOT),
    lambda a: domain.cancel(a, actor=OWNER, reason="CUSTOMER_REQUEST", note=None, now=NOW),
    lambda a: domain.mark_no_show(a, calendar=CALENDAR, now=SLOT + timedelta(hours=1)),
], ids=["checked-in", "cancelled", "no-show"])
def test_a_settled_appointment_allows_nothing_more(settle):
    appointment = settle(confirmed())
    assert appointment.allowed_actions == ()
    for action in (lambda: domain.confirm(appointment, actor=ADVISOR, now=NOW),
                   lambda: domain.cancel(appointment, actor=ADVISOR, reason="OTHER", note=None,
                                         now=NOW),
                   lambda: domain.check_in(appointment, actor=ADVISOR, now=NOW),
                   lambda: domain.reschedule(appointment, {"slot_start": SLOT + timedelta(
                       hours=2)}, calendar=CALENDAR, actor=ADVISOR, now=NOW)):
        detail = conflict(action)
        assert detail["allowed_actions"] == [] and detail["allowed_next"] == []


def test_check_in_needs_no_confirmation_and_names_the_receiving_advisor():
    appointment = domain.check_in(booked(), actor=ADVISOR, now=SLOT - timedelta(minutes=5))
    assert appointment.status is Status.CHECKED_IN
    assert appointment.advisor_id == "SA-017"
    data = in_contract(events.AppointmentCheckedIn,
                       domain.checked_in_event(appointment, CALENDAR))["data"]
    assert data["advisor_id"] == "SA-017"
    named = domain.check_in(booked(), actor=ADVISOR, now=SLOT, advisor_id="SA-002")
    assert named.advisor_id == "SA-002"


def test_cancelling_keeps_the_reason_and_who_cancelled():
    appointment = domain.cancel(booked(), actor=OWNER, reason="SERVICED_ELSEWHERE",
                                note="朋友的店", now=NOW)
    assert (appointment.status, appointment.cancelled_by) == (Status.CANCELLED, "CUSTOMER")
    data = in_contract(events.AppointmentCancelled,
                       domain.cancelled_event(appointment, CALENDAR))["data"]
    assert (data["reason"], data["note"]) == ("SERVICED_ELSEWHERE", "朋友的店")


def test_a_no_show_is_recorded_only_after_the_grace_period():
    detail = conflict(domain.mark_no_show, booked(), calendar=CALENDAR,
                      now=SLOT + timedelta(minutes=29))
    assert detail["no_show_from"] == "2026-11-23T09:30:00+00:00"
    appointment = domain.mark_no_show(booked(), calendar=CALENDAR,
                                      now=SLOT + timedelta(minutes=30))
    assert appointment.status is Status.NO_SHOW
    in_contract(events.AppointmentNoShow, domain.no_show_event(appointment, CALENDAR))


def test_only_cancelled_and_missed_appointments_give_their_slots_back():
    assert domain.HOLDS_CAPACITY == {Status.SCHEDULED, Status.CONFIRMED, Status.CHECKED_IN}


def test_a_customer_moving_a_confirmed_appointment_needs_it_confirmed_again():
    moved, slots = domain.reschedule(confirmed(), {"slot_start": SLOT + timedelta(hours=3)},
                                     calendar=CALENDAR, actor=OWNER, now=NOW)
    assert moved.status is Status.SCHEDULED and moved.confirmed_at is None
    assert moved.slot_start == SLOT + timedelta(hours=3)
    assert moved.slot_end == SLOT + timedelta(hours=4)
    assert moved.reschedule_count == 1
    assert [s.start for s in slots] == [SLOT + timedelta(hours=3),
                                        SLOT + timedelta(hours=3, minutes=30)]


def test_the_dealer_moving_a_confirmed_appointment_keeps_it_confirmed():
    moved, _ = domain.reschedule(confirmed(), {"slot_start": SLOT + timedelta(hours=3),
                                               "service_type": "REPAIR"},
                                 calendar=CALENDAR, actor=ADVISOR, now=NOW)
    assert moved.status is Status.CONFIRMED
    assert moved.slot_end - moved.slot_start == timedelta(hours=2)
    data = domain.rescheduled_event(confirmed(), moved, CALENDAR, actor=ADVISOR, now=NOW,
                                    reason="车间临时调整", channel="PHONE")
    envelope = in_contract(events.AppointmentRescheduled, data)
    assert envelope["data"]["previous_slot_start"] == "2026-11-23T09:00:00+00:00"
    assert envelope["data"]["initiated_by"] == "DEALER"


def test_rescheduling_follows_the_calendar_like_booking():
    with pytest.raises(InvalidInput) as refused:
        domain.reschedule(booked(), {"slot_start": SLOT + timedelta(minutes=10)},
                          calendar=CALENDAR, actor=OWNER, now=NOW)
    assert "slot_start" in refused.value.detail["fields"]
    with pytest.raises(InvalidInput):
        domain.reschedule(booked(), {"slot_start": SLOT}, calendar=CALENDAR, actor=OWNER,
                          now=NOW)  # the same time is no move


def test_an_owner_sees_only_their_own_appointments_staff_see_all():
    appointment = booked()
    assert appointment.belongs_to(OWNER)
    assert not appointment.belongs_to(domain.Actor("cust-99", is_customer=True))
    assert appointment.belongs_to(ADVISOR)


def test_after_a_calendar_change_the_appointments_that_no_longer_fit_are_listed():
    monday = [domain.book(
        {"customer": {"name": "王伟", "phone": "1381234567" + str(n)},
         "vehicle": {"plate": f"京A1234{n}"}, "service_type": "MAINTENANCE",
         "slot_start": SLOT, "channel": "PHONE"},
        calendar=CALENDAR, actor=ADVISOR, dealer_code="D001", now=NOW)[0] for n in range(3)]
    late = domain.book(
        {"customer": {"name": "李娜", "phone": "13900000000"}, "vehicle": {"plate": "沪B1"},
         "service_type": "MAINTENANCE", "slot_start": SLOT.replace(hour=16),
         "channel": "PHONE"}, calendar=CALENDAR, actor=ADVISOR, dealer_code="D001",
        now=NOW)[0]
    document = CALENDAR.to_document()
    document.update(bays=2, opening_hours=[{"weekday": d, "opens": "08:00", "closes": "16:30"}
                                           for d in ("MON", "TUE")])
    smaller = Calendar.from_document(document)
    review = domain.appointments_to_review(smaller, [*monday, late])
    assert {r.reason for r in review if r.appointment_id == late.id} == {"OUTSIDE_SLOTS"}
    assert sorted(r.appointment_id for r in review if r.reason == "OVER_CAPACITY") == sorted(
        a.id for a in monday)
    document.update(closed_dates=["2026-11-23"])
    closed = domain.appointments_to_review(Calendar.from_document(document), monday)
    assert {r.reason for r in closed} == {"CLOSED"}
