"""What the booking and my-car pages show and send: the free slots grouped per day, the
booking form read as booking's body (or the fields to fix), booking's refusals pointed at the
form's fields, and the visit's timeline from the appointment and the repair order."""

from __future__ import annotations

from datetime import date

import pytest

from portal.domain import booking
from portal.domain.booking import (
    CURRENT,
    DONE,
    SKIPPED,
    STEPS,
    TODO,
    Visit,
    current_visit,
    free_days,
    read_booking,
    read_cancel,
    read_reschedule,
    refused_fields,
    timeline,
)
from portal.pages import catalogue

TYPES = ["MAINTENANCE", "REPAIR", "TYRES"]
SLOT = "2026-12-09T09:00:00+08:00"


def slot(start: str, *, free: int = 2, bookable: bool = True) -> dict:
    return {"start": start, "end": start, "capacity": 4, "booked": 4 - free, "free": free,
            "bookable": bookable}


AVAILABILITY = {"service_type": "MAINTENANCE", "days": [
    {"date": "2026-12-08", "open": True, "slots": [slot("2026-12-08T17:30:00+08:00",
                                                        bookable=False)]},
    {"date": "2026-12-09", "open": True, "slots": [slot(SLOT), slot(
        "2026-12-09T09:30:00+08:00", free=1), slot("2026-12-09T10:00:00+08:00", free=0,
                                                   bookable=False)]},
    {"date": "2026-12-10", "open": False, "slots": []},
    {"date": "2026-12-11", "open": True, "slots": [slot("2026-12-11T08:00:00+08:00")]},
]}


def test_free_slots_are_grouped_per_day_and_only_bookable_ones_shown():
    days = free_days(AVAILABILITY)
    assert [(d.day, [s.time for s in d.slots]) for d in days] == [
        (date(2026, 12, 9), ["09:00", "09:30"]), (date(2026, 12, 11), ["08:00"])]
    assert days[0].slots[1].free == 1 and days[0].weekday == 2
    assert days[0].slots[0].key == "slot-20261209T0900000800"
    # Rescheduling never offers the appointment's own time (written in another offset too).
    kept = free_days(AVAILABILITY, keep="2026-12-09T01:00:00+00:00")
    assert [s.time for s in kept[0].slots] == ["09:30"]
    assert booking.day_of(days, SLOT) == date(2026, 12, 9)
    assert booking.day_of(days, "") is None


def test_the_coming_days_and_the_dealers_service_types():
    assert booking.coming_days(date(2026, 12, 30)) == (date(2026, 12, 30), date(2027, 1, 5))
    calendar = {"service_types": [{"code": "MAINTENANCE", "duration_minutes": 60},
                                  {"code": "TYRES", "duration_minutes": 45}]}
    assert booking.service_types_of(calendar) == ["MAINTENANCE", "TYRES"]
    assert booking.service_types_of({}) == []


GOOD = {"service_type": "MAINTENANCE", "slot_start": SLOT, "name": " 李娜 ",
        "phone": "139 0000 1234", "plate": "沪a 12345", "vin": "", "model": "Model Y",
        "arrival": "drop_off", "loaner": "1"}


def test_a_good_form_is_bookings_body():
    read = read_booking(GOOD, service_types=TYPES)
    assert read.problems == {}
    assert read.body == {
        "customer": {"name": "李娜", "phone": "13900001234"},
        "vehicle": {"plate": "沪A12345", "model": "Model Y"}, "service_type": "MAINTENANCE",
        "slot_start": SLOT, "channel": "WEB", "loaner_requested": True,
        "customer_waiting": False}


def test_pickup_sends_the_address_and_waiting_wants_no_loaner():
    picked = read_booking({**GOOD, "arrival": "pickup", "pickup_address": "世纪大道 100 号"},
                          service_types=TYPES).body
    assert picked["pickup_address"] == "世纪大道 100 号" and not picked["customer_waiting"]
    waiting = read_booking({**GOOD, "arrival": "wait", "pickup_address": "ignored"},
                           service_types=TYPES).body
    assert waiting["customer_waiting"] and not waiting["loaner_requested"]
    assert "pickup_address" not in waiting
    # The link of a reminder message is carried into the booking.
    assert read_booking({**GOOD, "reminder_id": "RMD-1"},
                        service_types=TYPES).body["reminder_id"] == "RMD-1"
    assert "reminder_id" not in read_booking({**GOOD, "reminder_id": "../x"},
                                             service_types=TYPES).body


@pytest.mark.parametrize(("change", "problems"), [
    ({"service_type": "PAINTING"}, {"service_type": "booking.problem_service_type"}),
    ({"slot_start": ""}, {"slot_start": "booking.problem_slot_missing"}),
    ({"slot_start": "2026-12-09T09:00"}, {"slot_start": "booking.problem_slot_invalid"}),
    ({"name": ""}, {"name": "booking.problem_name"}),
    ({"name": "x" * 101}, {"name": "booking.problem_name_long"}),
    ({"phone": "12ab"}, {"phone": "booking.problem_phone"}),
    ({"plate": "", "vin": ""}, {"plate": "booking.problem_vehicle"}),
    ({"plate": "A"}, {"plate": "booking.problem_plate"}),
    ({"vin": "LSVAU2180N2I83456"}, {"vin": "booking.problem_vin"}),
    ({"model": "m" * 61}, {"model": "booking.problem_model"}),
    ({"arrival": "fly"}, {"arrival": "booking.problem_arrival"}),
    ({"arrival": "pickup"}, {"pickup_address": "booking.problem_address"}),
    ({"arrival": "pickup", "pickup_address": "a" * 201},
     {"pickup_address": "booking.problem_address_long"}),
])
def test_a_bad_form_names_each_field_to_fix_and_sends_nothing(change, problems):
    read = read_booking({**GOOD, **change}, service_types=TYPES)
    assert (read.body, read.problems) == (None, problems)
    assert all(key in catalogue()["zh-CN"] for key in problems.values())


def test_reschedule_and_cancel_forms():
    assert read_reschedule({"slot_start": SLOT}).body == {"slot_start": SLOT, "channel": "WEB"}
    assert read_reschedule({}).problems == {"slot_start": "booking.problem_slot_missing"}
    assert read_reschedule({"slot_start": "soon"}).body is None
    assert read_cancel({}).body == {"reason": "CUSTOMER_REQUEST"}
    assert read_cancel({"reason": "VEHICLE_SOLD"}).body == {"reason": "VEHICLE_SOLD"}
    # DEALER_UNAVAILABLE and DUPLICATE are the dealer's reasons, not the owner's.
    assert read_cancel({"reason": "DEALER_UNAVAILABLE"}).body is None
    assert all(f"booking.reason.{r}" in catalogue()["en"] for r in booking.OWNER_CANCEL_REASONS)


def test_bookings_refusals_point_at_the_forms_fields():
    # Its schema's nested errors and its rules' dotted names alike.
    assert refused_fields({"customer": {"phone": ["must be 6-15 digits"]}}) == {
        "phone": "customer.phone: must be 6-15 digits"}
    assert refused_fields({"customer.phone": ["owners book with the phone they signed in "
                                              "with"]})["phone"].startswith("customer.phone")
    assert set(refused_fields({"vehicle": ["give the plate"], "slot_start": ["is in the past"],
                               "customer_waiting": ["x"], "unknown": "y"})) == {
        "plate", "slot_start", "arrival"}
    assert booking.taken({"full_slots": [SLOT], "capacity": 4})
    assert not booking.taken({"existing_appointment_id": "A-1"})


def test_a_returning_owner_finds_their_name_phone_and_car_filled_in():
    older = {"booked_at": "2026-11-01T10:00:00+08:00", "customer": {"name": "旧", "phone": "1"},
             "vehicle": {"plate": "沪B1"}}
    newer = {"booked_at": "2026-12-01T10:00:00+08:00",
             "customer": {"name": "李娜", "phone": "13900001234"},
             "vehicle": {"plate": "沪A12345", "vin": None, "model": "Model Y"}}
    assert booking.form_values_of(booking.latest_booked([older, newer])) == {
        "name": "李娜", "phone": "13900001234", "plate": "沪A12345", "model": "Model Y"}
    assert booking.form_values_of(None) == {}
    assert [a["status"] for a in booking.upcoming([
        {"status": "CANCELLED", "slot_start": "1"}, {"status": "CONFIRMED", "slot_start": "3"},
        {"status": "SCHEDULED", "slot_start": "2"}])] == ["SCHEDULED", "CONFIRMED"]


# -- the timeline ----------------------------------------------------------------------------

APPOINTMENT = {"id": "A-1", "status": "SCHEDULED", "booked_at": "2026-12-07T10:00:00+08:00",
               "checked_in_at": None}


def order(stage: str, *history: tuple[str, str], appointment_id: str | None = "A-1") -> dict:
    return {"id": "RO-1", "stage": stage, "appointment_id": appointment_id,
            "opened_at": "2026-12-09T01:00:00+00:00", "delivered_at": None,
            "history": [{"stage": s, "action": a, "at": f"2026-12-09T0{i + 1}:00:00+00:00"}
                        for i, (s, a) in enumerate(history)]}


def states(line) -> list[str]:
    return [step.state for step in line.steps]


def test_an_appointment_alone_is_booked_and_a_checked_in_one_received():
    line = timeline(APPOINTMENT, None)
    assert line.current == "booked" and states(line) == [CURRENT] + [TODO] * 7
    assert line.steps[0].at == APPOINTMENT["booked_at"] and not line.final
    arrived = timeline({**APPOINTMENT, "status": "CHECKED_IN",
                        "checked_in_at": "2026-12-09T09:00:00+08:00"}, None)
    assert arrived.current == "received" and states(arrived)[:2] == [DONE, CURRENT]
    cancelled = timeline({**APPOINTMENT, "status": "CANCELLED"}, None)
    assert cancelled.ended == "cancelled" and cancelled.final


RECEIVED = ("VEHICLE_RECEIVED", "RECEIVE")


@pytest.mark.parametrize(("stage", "history", "current", "attention"), [
    ("VEHICLE_RECEIVED", [RECEIVED], "received", None),
    ("EVALUATION", [RECEIVED, ("EVALUATION", "START_INSPECTION")], "received", None),
    ("PROPOSAL_BUILD", [RECEIVED, ("PROPOSAL_BUILD", "SUBMIT_INSPECTION")], "inspected", None),
    ("AWAITING_CUSTOMER_AUTHORIZATION", [RECEIVED], "quote_waiting", "quote"),
    ("WORK_IN_PROGRESS", [RECEIVED, ("WORK_IN_PROGRESS", "AUTHORIZE_WORK")], "in_work", None),
    ("QUALITY_ASSURANCE", [RECEIVED, ("WORK_IN_PROGRESS", "AUTHORIZE_WORK")],
     "quality_check", None),
    ("INVOICE", [RECEIVED, ("WORK_IN_PROGRESS", "AUTHORIZE_WORK")], "ready", "invoice"),
    ("VEHICLE_DELIVERED", [RECEIVED, ("WORK_IN_PROGRESS", "AUTHORIZE_WORK")], "delivered",
     None),
    ("CLOSED", [RECEIVED, ("WORK_IN_PROGRESS", "AUTHORIZE_WORK")], "delivered", None),
    # Additional work (增修) once work was approved: still in work, the new round to decide.
    ("PROPOSAL_BUILD", [RECEIVED, ("WORK_IN_PROGRESS", "AUTHORIZE_WORK"),
                        ("PROPOSAL_BUILD", "ADD_WORK")], "in_work", None),
    ("AWAITING_CUSTOMER_AUTHORIZATION", [RECEIVED, ("WORK_IN_PROGRESS", "AUTHORIZE_WORK"),
                                         ("PROPOSAL_BUILD", "ADD_WORK")],
     "in_work", "additional_quote"),
])
def test_workorders_stages_are_the_owners_steps(stage, history, current, attention):
    line = timeline(APPOINTMENT, order(stage, *history))
    assert (line.current, line.attention, line.stage) == (current, attention, stage)
    at = STEPS.index(current)
    assert [s.state for s in line.steps[:at]] == [DONE] * at
    assert line.steps[at].state == CURRENT
    assert all(s.state == TODO for s in line.steps[at + 1:])
    assert line.final is (current == "delivered")
    assert line.repair_order_id == "RO-1" and line.appointment_id == "A-1"
    assert line.steps[1].at == "2026-12-09T01:00:00+00:00"  # received: when it was opened


def test_nothing_approved_skips_the_work_and_a_walk_in_was_never_booked():
    declined = timeline(None, order("INVOICE", RECEIVED, ("INVOICE", "DECLINE_ALL_WORK"),
                                    appointment_id=None))
    assert states(declined) == [SKIPPED, DONE, DONE, DONE, SKIPPED, SKIPPED, CURRENT, TODO]
    assert declined.appointment_id is None
    cancelled = timeline(APPOINTMENT, order("CANCELLED", RECEIVED,
                                            ("CANCELLED", "CANCEL")))
    assert cancelled.ended == "cancelled" and cancelled.current == "received"


def test_the_json_carries_what_timeline_js_redraws():
    shown = timeline(APPOINTMENT, order("PROPOSAL_BUILD", RECEIVED,
                                        ("PROPOSAL_BUILD", "SUBMIT_INSPECTION"))).as_json(
        clock=lambda value: booking.clock(value, "Asia/Shanghai"))
    assert shown["current"] == "inspected" and shown["final"] is False
    assert shown["steps"][2] == {"code": "inspected", "state": "current", "at": "12-09 10:00"}
    assert shown["steps"][3] == {"code": "quote_waiting", "state": "todo", "at": ""}
    assert booking.clock("not a time", "Asia/Shanghai") == ""
    words = catalogue()["zh-CN"]
    assert all(f"car.step_{code}" in words for code in STEPS)


def test_my_car_now_is_the_car_in_the_workshop_else_the_next_appointment():
    delivered = {**order("CLOSED"), "id": "RO-0", "opened_at": "2026-11-01T00:00:00+00:00"}
    working = order("WORK_IN_PROGRESS")
    later = {**APPOINTMENT, "id": "A-2", "slot_start": "2026-12-20T09:00:00+08:00"}
    sooner = {**APPOINTMENT, "id": "A-3", "slot_start": "2026-12-10T09:00:00+08:00"}
    assert current_visit([later, sooner], [delivered, working]) == Visit(repair_order_id="RO-1")
    assert current_visit([later, sooner], [delivered]) == Visit(appointment_id="A-3")
    # An appointment whose repair order is open already is that repair order.
    assert current_visit([{**APPOINTMENT, "status": "CHECKED_IN", "slot_start": "1"}],
                         []) == Visit(appointment_id="A-1")
    assert current_visit([], [delivered]) == Visit(repair_order_id="RO-0")
    assert current_visit([], []) is None
    assert booking.repair_order_of("A-1", [delivered, working])["id"] == "RO-1"
    assert booking.repair_order_of("A-9", [working]) is None


def test_the_form_starts_with_the_owners_last_service_else_maintenance():
    types = ["BODY_AND_PAINT", "MAINTENANCE", "TYRES"]
    assert booking.default_service_type(types) == "MAINTENANCE"
    assert booking.default_service_type(types, {"service_type": "TYRES"}) == "TYRES"
    assert booking.default_service_type(["TYRES"], {"service_type": "RECALL"}) == "TYRES"
    assert booking.default_service_type([]) == ""
