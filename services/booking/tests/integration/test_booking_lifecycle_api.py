"""An appointment's next steps over HTTP: confirm, reschedule, cancel, check-in, no-show."""

from __future__ import annotations

import pytest

from services.booking.tests.integration.booking_site import (
    ADVISOR,
    AGENT,
    MANAGER,
    OTHER_OWNER_ID,
    OWNER_ID,
    TECHNICIAN,
    owner,
    tomorrow_at,
)


@pytest.fixture
def appointment(site) -> dict:
    site.set_calendar()  # capacity 3, grace period 15 minutes
    return site.book(tomorrow_at(10), owner(OWNER_ID), channel="APP").json()


def test_confirm_then_check_in_each_writes_its_event(site, appointment):
    confirmed = site.act(appointment["id"], "confirm", AGENT)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "CONFIRMED"
    checked_in = site.act(appointment["id"], "check-in", ADVISOR)
    assert checked_in.status_code == 200
    assert checked_in.json()["status"] == "CHECKED_IN"
    assert checked_in.json()["advisor_id"] == "staff-1"
    assert checked_in.json()["allowed_actions"] == []
    events = site.events(appointment["id"])
    assert [e["type"] for e in events] == ["aftersales.AppointmentBooked.v1",
                                           "aftersales.AppointmentConfirmed.v1",
                                           "aftersales.AppointmentCheckedIn.v1"]
    assert [e["sequence"] for e in events] == [1, 2, 3]
    assert {e["correlationid"] for e in events} == {appointment["id"]}
    assert events[1]["data"]["confirmed_by"] == "DEALER"


def test_the_owner_confirms_their_own_appointment(site, appointment):
    response = site.act(appointment["id"], "confirm", owner(OWNER_ID), body={})
    assert response.status_code == 200
    assert site.events(appointment["id"])[-1]["data"]["confirmed_by"] == "CUSTOMER"


def test_an_illegal_step_is_409_with_the_allowed_next_steps(site, appointment):
    site.act(appointment["id"], "confirm").raise_for_status()
    again = site.act(appointment["id"], "confirm")
    assert again.status_code == 409
    assert again.json()["allowed_actions"] == ["reschedule", "cancel", "check-in", "no-show"]
    site.act(appointment["id"], "cancel", body={"reason": "VEHICLE_SOLD"}).raise_for_status()
    after_cancel = site.act(appointment["id"], "check-in")
    assert after_cancel.status_code == 409
    assert after_cancel.json()["status"] == "CANCELLED"
    assert after_cancel.json()["allowed_actions"] == []
    assert site.event_types(appointment["id"]) == ["AppointmentBooked", "AppointmentConfirmed",
                                                   "AppointmentCancelled"]


def test_another_owner_cannot_see_or_touch_the_appointment(site, appointment):
    stranger = owner(OTHER_OWNER_ID)
    assert site.call("GET", f"/appointments/{appointment['id']}", stranger).status_code == 404
    for action, body in (("confirm", None), ("cancel", {"reason": "OTHER"}),
                         ("reschedule", {"slot_start": tomorrow_at(14).isoformat()})):
        response = site.act(appointment["id"], action, stranger, body=body)
        assert response.status_code == 404, action
    assert site.event_types(appointment["id"]) == ["AppointmentBooked"]


def test_who_may_take_each_step(site, appointment):
    appointment_id = appointment["id"]
    assert site.act(appointment_id, "check-in", owner(OWNER_ID)).status_code == 403
    assert site.act(appointment_id, "no-show", AGENT).status_code == 403
    assert site.act(appointment_id, "confirm", TECHNICIAN).status_code == 403
    assert site.call("POST", f"/appointments/{appointment_id}/confirm").status_code == 401
    assert site.act("no-such-appointment", "confirm").status_code == 404


def test_cancel_needs_a_known_reason(site, appointment):
    for body, field in (({}, "reason"), ({"reason": "BORED"}, "reason"),
                        ({"reason": "OTHER", "note": "x" * 201}, "note"),
                        ({"reason": "OTHER", "refund": True}, "refund")):
        response = site.act(appointment["id"], "cancel", body=body)
        assert response.status_code == 422, body
        assert field in response.json()["fields"]
    malformed = site.call("POST", f"/appointments/{appointment['id']}/cancel", ADVISOR,
                          data="reason=OTHER")
    assert malformed.status_code == 400


def test_cancelling_frees_the_slot(site):
    site.set_calendar(bays=1)
    first = site.book(tomorrow_at(10), plate="京A30001").json()
    full = site.book(tomorrow_at(10), plate="京A30002", expect=409)
    assert full.json()["full_slots"] and full.json()["capacity"] == 1
    cancelled = site.act(first["id"], "cancel", ADVISOR,
                         body={"reason": "CUSTOMER_REQUEST", "note": "改天再来"})
    assert cancelled.status_code == 200
    assert cancelled.json()["cancel_reason"] == "CUSTOMER_REQUEST"
    assert cancelled.json()["cancelled_by"] == "DEALER"
    site.book(tomorrow_at(10), plate="京A30002")
    event = site.events(first["id"])[-1]
    assert event["data"]["reason"] == "CUSTOMER_REQUEST" and event["data"]["note"] == "改天再来"


def test_rescheduling_moves_the_booking_and_frees_the_old_slot(site):
    site.set_calendar(bays=1)
    early = site.book(tomorrow_at(10), plate="京A40001").json()
    late = site.book(tomorrow_at(12), plate="京A40002").json()
    blocked = site.act(late["id"], "reschedule", body={"slot_start": tomorrow_at(10, 30)
                                                        .isoformat()})
    assert blocked.status_code == 409  # 10:30 is taken by the 10:00-11:00 job
    moved = site.act(early["id"], "reschedule", MANAGER,
                     body={"slot_start": tomorrow_at(14).isoformat(), "reason": "车间调整",
                           "channel": "PHONE"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["slot_start"].startswith(tomorrow_at(14).isoformat()[:16])
    assert moved.json()["reschedule_count"] == 1
    freed = site.act(late["id"], "reschedule", body={"slot_start": tomorrow_at(10, 30)
                                                      .isoformat(), "service_type": "TYRES"})
    assert freed.status_code == 200, freed.text
    assert freed.json()["service_type"] == "TYRES"
    event = site.events(early["id"])[-1]
    assert event["type"] == "aftersales.AppointmentRescheduled.v1"
    assert event["data"]["previous_slot_start"].startswith(tomorrow_at(10).isoformat()[:16])
    assert (event["data"]["initiated_by"], event["data"]["reason"]) == ("DEALER", "车间调整")


def test_an_appointment_may_move_within_its_own_slots(site):
    site.set_calendar(bays=1)
    booked = site.book(tomorrow_at(10), service_type="REPAIR").json()  # 10:00-12:00
    moved = site.act(booked["id"], "reschedule",
                     body={"slot_start": tomorrow_at(10, 30).isoformat()})
    assert moved.status_code == 200, moved.text  # it does not compete with itself


def test_a_bad_reschedule_is_refused_naming_the_field(site, appointment):
    for body, field in (({}, "slot_start"), ({"slot_start": "soon"}, "slot_start"),
                        ({"slot_start": tomorrow_at(10, 10).isoformat()}, "slot_start"),
                        ({"slot_start": tomorrow_at(10).isoformat()}, "slot_start"),
                        ({"slot_start": tomorrow_at(11).isoformat(), "channel": "FAX"},
                         "channel")):
        response = site.act(appointment["id"], "reschedule", body=body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["fields"]


def test_a_customer_moving_a_confirmed_appointment_makes_it_scheduled_again(site, appointment):
    site.act(appointment["id"], "confirm").raise_for_status()
    moved = site.act(appointment["id"], "reschedule", owner(OWNER_ID),
                     body={"slot_start": tomorrow_at(15).isoformat()})
    assert moved.json()["status"] == "SCHEDULED"
    assert site.events(appointment["id"])[-1]["data"]["initiated_by"] == "CUSTOMER"


def test_a_no_show_is_refused_before_the_grace_period_and_recorded_after(site, appointment):
    early = site.act(appointment["id"], "no-show")
    assert early.status_code == 409
    assert "no_show_from" in early.json()
    site.move_into_the_past(appointment["id"], hours=1)
    marked = site.act(appointment["id"], "no-show")
    assert marked.status_code == 200, marked.text
    assert marked.json()["status"] == "NO_SHOW"
    assert site.event_types(appointment["id"])[-1] == "AppointmentNoShow"


def test_the_sweep_marks_every_open_appointment_past_its_grace_period(site):
    site.set_calendar()
    due = [site.book(tomorrow_at(9), plate=f"京A5000{n}").json() for n in range(2)]
    arrived = site.book(tomorrow_at(9), plate="京A50009").json()
    not_yet = site.book(tomorrow_at(11), plate="京A50008").json()
    site.act(due[0]["id"], "confirm").raise_for_status()
    site.act(arrived["id"], "check-in").raise_for_status()
    for booked in (*due, arrived):
        site.move_into_the_past(booked["id"], hours=1)
    site.move_into_the_past(not_yet["id"], hours=0.1)  # six minutes late: still in grace

    swept = site.call("POST", "/no-show-sweeps", MANAGER)
    assert swept.status_code == 200, swept.text
    assert sorted(swept.json()["marked"]) == sorted(a["id"] for a in due)
    assert site.call("POST", "/no-show-sweeps", ADVISOR, json={}).json()["count"] == 0
    assert site.event_types(arrived["id"])[-1] == "AppointmentCheckedIn"
    assert site.event_types(not_yet["id"]) == ["AppointmentBooked"]
    assert site.call("POST", "/no-show-sweeps", AGENT).status_code == 403
    assert site.call("POST", "/no-show-sweeps", MANAGER, data="now").status_code == 400


def test_check_in_may_name_the_receiving_advisor(site, appointment):
    response = site.act(appointment["id"], "check-in", MANAGER, body={"advisor_id": "SA-002"})
    assert response.json()["advisor_id"] == "SA-002"
    bad = site.act(appointment["id"], "check-in", MANAGER, body={"advisor_id": "张 三"})
    assert bad.status_code == 422 and "advisor_id" in bad.json()["fields"]
