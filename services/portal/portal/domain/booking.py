"""What the owner's booking and "my car now" pages show and send. Plain Python.

The appointment book is booking's: its calendar names the service types the dealer books, its
availability the free slots, and the booking it takes is its `BookingRequestSchema` (the
customer, the car, the service type, a slot's start, the channel, pickup and delivery or a
loaner car). Booking checks it all again under its own locks and rules (the slot's capacity,
the phone the owner signed in with); the checks here only let the page point at the field to
fix before asking.

The timeline is the visit as the owner follows it: the appointment, then the repair order
workorder opened from it, its STAR stages folded into the eight steps an owner knows
(booked → received → inspected → quote waiting → in work → quality check → ready →
delivered).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# The owner books through the portal in a browser: booking's channel for that.
CHANNEL = "WEB"
# How many days ahead the booking page offers slots (booking answers at most 31 at a time).
DAYS_AHEAD = 7
# How the car gets to the dealer: the owner drops it off (and may want a loaner car), waits
# in the lounge while it is done, or has it picked up and brought back (取送车).
DROP_OFF, WAIT, PICKUP = "drop_off", "wait", "pickup"
ARRIVALS = (DROP_OFF, WAIT, PICKUP)
# Booking's limits (its schemas): a name of 1-100, an address of 1-200, a plate of 2-16
# characters, a model of 1-60; a phone of 6-15 digits, optionally after +.
MAX_NAME, MAX_ADDRESS, MAX_MODEL = 100, 200, 60
MIN_PLATE, MAX_PLATE = 2, 16
PHONE = re.compile(r"\+?\d{6,15}")
VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
# Why an owner cancels (booking's CANCEL_REASONS that are the owner's to give).
OWNER_CANCEL_REASONS = ("CUSTOMER_REQUEST", "VEHICLE_SOLD", "SERVICED_ELSEWHERE", "OTHER")
DEFAULT_CANCEL_REASON = "CUSTOMER_REQUEST"
# Booking's field names (a nested refusal flattened with '.') → the form's field they concern.
FORM_FIELDS = {
    "customer.name": "name", "customer.phone": "phone", "customer.customer_id": "phone",
    "customer": "phone", "vehicle.plate": "plate", "vehicle.vin": "vin",
    "vehicle.model": "model", "vehicle": "plate", "service_type": "service_type",
    "slot_start": "slot_start", "pickup_address": "pickup_address",
    "customer_waiting": "arrival", "loaner_requested": "loaner", "channel": "slot_start",
    "reminder_id": "slot_start",
}


# -- the dealer's free slots ---------------------------------------------------------------


def service_types_of(calendar: Mapping[str, Any]) -> list[str]:
    """The service types the dealer's calendar books, in its order."""
    return [str(t["code"]) for t in calendar.get("service_types") or [] if t.get("code")]


# What most owners come for: the form starts there unless they booked something else before.
USUAL_SERVICE = "MAINTENANCE"


def default_service_type(types: list[str], last: Mapping[str, Any] | None = None) -> str:
    """The service type the form starts with: the owner's last one, else maintenance, else
    the dealer's first (each only if the dealer books it)."""
    for candidate in ((last or {}).get("service_type"), USUAL_SERVICE):
        if candidate in types:
            return str(candidate)
    return types[0] if types else ""


def coming_days(today: date, days: int = DAYS_AHEAD) -> tuple[date, date]:
    """The first and last day the booking page asks booking's availability for."""
    return today, today + timedelta(days=days - 1)


@dataclass(frozen=True)
class FreeSlot:
    start: str      # booking's slot start as it gave it (ISO, the dealer's clock and offset)
    time: str       # "09:30", on the dealer's clock
    free: int       # places left in the slot

    @property
    def key(self) -> str:
        """The radio's id on the page: the start without the characters ids do not take."""
        return "slot-" + re.sub(r"[^0-9A-Za-z]", "", self.start)


@dataclass(frozen=True)
class FreeDay:
    day: date
    slots: list[FreeSlot]

    @property
    def weekday(self) -> int:
        return self.day.weekday()


def free_days(availability: Mapping[str, Any], *, keep: str | None = None) -> list[FreeDay]:
    """Booking's availability grouped per day: only the slots the service type can start in
    (its `bookable`: every slot it spans has room), days with none left out. `keep` (an
    appointment's own start, when rescheduling) is never offered: it is taken already."""
    found: list[FreeDay] = []
    for day in availability.get("days") or []:
        if not day.get("open", True):
            continue
        slots = [FreeSlot(str(s["start"]), _clock(str(s["start"])), int(s.get("free", 0)))
                 for s in day.get("slots") or []
                 if s.get("bookable") and not same_moment(str(s["start"]), keep)]
        if slots:
            found.append(FreeDay(date.fromisoformat(str(day["date"])), slots))
    return found


def day_of(days: Iterable[FreeDay], start: str) -> date | None:
    """The day whose free slots hold `start` (the page opens that day's group)."""
    for day in days:
        if any(same_moment(slot.start, start) for slot in day.slots):
            return day.day
    return None


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def same_moment(one: str | None, other: str | None) -> bool:
    """Two of booking's instants are the same one (whatever offset each is written in)."""
    a, b = _moment(one), _moment(other)
    return a is not None and b is not None and a == b


def _clock(text: str) -> str:
    moment = _moment(text) or datetime.fromisoformat(text)
    return moment.strftime("%H:%M")


# -- reading the booking form --------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    """Booking's body when the form was good, else the fields to fix (each an i18n key)."""

    body: dict[str, Any] | None
    problems: dict[str, str]


def read_booking(values: Mapping[str, str], *, service_types: Iterable[str]) -> Booking:
    """The posted booking form as booking's `POST /appointments` body."""
    problems: dict[str, str] = {}
    service_type = _text(values, "service_type")
    if service_type not in set(service_types):
        problems["service_type"] = "booking.problem_service_type"
    slot = _text(values, "slot_start")
    if not slot:
        problems["slot_start"] = "booking.problem_slot_missing"
    elif _moment(slot) is None:
        problems["slot_start"] = "booking.problem_slot_invalid"
    name = _text(values, "name")
    if not name:
        problems["name"] = "booking.problem_name"
    elif len(name) > MAX_NAME:
        problems["name"] = "booking.problem_name_long"
    phone = "".join(_text(values, "phone").split())
    if not PHONE.fullmatch(phone):
        problems["phone"] = "booking.problem_phone"
    plate = "".join(_text(values, "plate").split()).upper()
    vin = "".join(_text(values, "vin").split()).upper()
    if not plate and not vin:
        problems["plate"] = "booking.problem_vehicle"
    elif plate and not MIN_PLATE <= len(plate) <= MAX_PLATE:
        problems["plate"] = "booking.problem_plate"
    if vin and not VIN.fullmatch(vin):
        problems["vin"] = "booking.problem_vin"
    model = _text(values, "model")
    if len(model) > MAX_MODEL:
        problems["model"] = "booking.problem_model"
    arrival = _text(values, "arrival") or DROP_OFF
    if arrival not in ARRIVALS:
        problems["arrival"] = "booking.problem_arrival"
    address = _text(values, "pickup_address")
    if arrival == PICKUP and not address:
        problems["pickup_address"] = "booking.problem_address"
    elif arrival == PICKUP and len(address) > MAX_ADDRESS:
        problems["pickup_address"] = "booking.problem_address_long"
    if problems:
        return Booking(None, problems)
    vehicle = {k: v for k, v in (("plate", plate), ("vin", vin), ("model", model)) if v}
    body: dict[str, Any] = {
        "customer": {"name": name, "phone": phone}, "vehicle": vehicle,
        "service_type": service_type, "slot_start": slot, "channel": CHANNEL,
        # A loaner car is for an owner who leaves the car (dropped off or picked up).
        "loaner_requested": arrival != WAIT and _checked(values, "loaner"),
        "customer_waiting": arrival == WAIT}
    if arrival == PICKUP:
        body["pickup_address"] = address
    reminder = _text(values, "reminder_id")
    if reminder and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", reminder):
        body["reminder_id"] = reminder  # the reminder message that led here (its link)
    return Booking(body, {})


def read_reschedule(values: Mapping[str, str]) -> Booking:
    """The reschedule form as booking's body: another free slot's start."""
    slot = _text(values, "slot_start")
    if not slot:
        return Booking(None, {"slot_start": "booking.problem_slot_missing"})
    if _moment(slot) is None:
        return Booking(None, {"slot_start": "booking.problem_slot_invalid"})
    return Booking({"slot_start": slot, "channel": CHANNEL}, {})


def read_cancel(values: Mapping[str, str]) -> Booking:
    """The cancel form as booking's body: the owner's reason (asking for it again if it is
    none of theirs)."""
    reason = _text(values, "reason") or DEFAULT_CANCEL_REASON
    if reason not in OWNER_CANCEL_REASONS:
        return Booking(None, {"reason": "booking.problem_reason"})
    return Booking({"reason": reason}, {})


def _text(values: Mapping[str, str], name: str) -> str:
    return (values.get(name) or "").strip()


def _checked(values: Mapping[str, str], name: str) -> bool:
    return _text(values, name) in ("1", "on", "true", "yes")


def form_values_of(appointment: Mapping[str, Any] | None) -> dict[str, str]:
    """The form's fields filled from the owner's latest appointment (their name, phone and
    car), so a returning owner types nothing but the time."""
    if not appointment:
        return {}
    customer = appointment.get("customer") or {}
    vehicle = appointment.get("vehicle") or {}
    found = {"name": customer.get("name"), "phone": customer.get("phone"),
             "plate": vehicle.get("plate"), "vin": vehicle.get("vin"),
             "model": vehicle.get("model")}
    return {k: str(v) for k, v in found.items() if v}


def refused_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """Booking's refused fields ({"customer": {"phone": [...]}} from its schema, or
    {"customer.phone": [...]} from its rules) as {form field: booking's reason}."""
    found: dict[str, str] = {}
    for name, reasons in _flat(fields, ""):
        target = FORM_FIELDS.get(name) or FORM_FIELDS.get(name.split(".")[0]) or "slot_start"
        found.setdefault(target, f"{name}: {reasons}")
    return found


def _flat(fields: Mapping[str, Any], prefix: str) -> Iterable[tuple[str, str]]:
    for key, value in fields.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flat(value, f"{name}.")
        elif isinstance(value, list | tuple):
            yield name, "; ".join(str(v) for v in value)
        else:
            yield name, str(value)


def taken(detail: Mapping[str, Any]) -> bool:
    """Booking's 409 says the slot is full (its `full_slots`), not another conflict (the car
    already booked then, an appointment that cannot move any more)."""
    return bool(detail.get("full_slots"))


# -- the owner's appointments ------------------------------------------------------------

OPEN_STATUSES = ("SCHEDULED", "CONFIRMED")


def upcoming(appointments: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The owner's appointments still to come (open ones), soonest first."""
    return sorted((a for a in appointments if a.get("status") in OPEN_STATUSES),
                  key=lambda a: str(a.get("slot_start")))


def latest_booked(appointments: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return max(appointments, key=lambda a: str(a.get("booked_at") or ""), default=None)


# -- my car now: the timeline ----------------------------------------------------------------

BOOKED, RECEIVED, INSPECTED, QUOTE_WAITING = "booked", "received", "inspected", "quote_waiting"
IN_WORK, QUALITY_CHECK, READY, DELIVERED = "in_work", "quality_check", "ready", "delivered"
STEPS = (BOOKED, RECEIVED, INSPECTED, QUOTE_WAITING, IN_WORK, QUALITY_CHECK, READY, DELIVERED)
DONE, CURRENT, TODO, SKIPPED = "done", "current", "todo", "skipped"
# workorder's stages (workorder.domain.stages) as the owner's steps: the inspection (环检) is
# part of the car being received until it is submitted; settlement (结算) is "ready".
STAGE_STEPS = {
    "VEHICLE_RECEIVED": RECEIVED, "EVALUATION": RECEIVED, "PROPOSAL_BUILD": INSPECTED,
    "AWAITING_CUSTOMER_AUTHORIZATION": QUOTE_WAITING, "WORK_IN_PROGRESS": IN_WORK,
    "QUALITY_ASSURANCE": QUALITY_CHECK, "INVOICE": READY, "VEHICLE_DELIVERED": DELIVERED,
    "CLOSED": DELIVERED,
}
# Once work is approved, a new quote round for additional work (增修) does not stop it: the
# car stays "in work" and the page asks the owner to decide the new round.
AFTER_APPROVAL = {"PROPOSAL_BUILD", "AWAITING_CUSTOMER_AUTHORIZATION"}
WORK_STARTED = {"AUTHORIZE_WORK"}
WAITING_FOR_OWNER = "AWAITING_CUSTOMER_AUTHORIZATION"
# The timeline stops being polled once the visit is over either way.
FINAL_STEPS = {DELIVERED}
CANCELLED, NO_SHOW = "cancelled", "no_show"


@dataclass(frozen=True)
class Step:
    code: str
    state: str
    at: str | None = None   # when the car got there (ISO), if it did


@dataclass(frozen=True)
class Timeline:
    """The visit's steps, the one it is at, and what (if anything) waits for the owner."""

    steps: list[Step]
    current: str
    ended: str | None = None          # cancelled, no_show: the visit will not happen
    attention: str | None = None      # quote, additional_quote, invoice: the owner's turn
    repair_order_id: str | None = None
    appointment_id: str | None = None
    stage: str | None = None          # workorder's own stage, as it said it

    @property
    def final(self) -> bool:
        return self.ended is not None or self.current in FINAL_STEPS

    def as_json(self, *, labels: Mapping[str, str] | None = None,
                clock: Any = None) -> dict[str, Any]:
        """What timeline.js reads to redraw the page (the same facts the page shows)."""
        at = clock or (lambda value: value or "")
        return {"current": self.current, "ended": self.ended, "attention": self.attention,
                "final": self.final, "repair_order_id": self.repair_order_id,
                "appointment_id": self.appointment_id, "stage": self.stage,
                "steps": [{"code": s.code, "state": s.state, "at": at(s.at) if s.at else ""}
                          for s in self.steps],
                **({"label": labels.get(self.current, self.current)} if labels else {})}


def timeline(appointment: Mapping[str, Any] | None,
             repair_order: Mapping[str, Any] | None) -> Timeline:
    """The owner's timeline of one visit: the appointment alone until the car is received,
    then the repair order's stage (and its history: when each step was reached, what was
    skipped)."""
    if repair_order is None and appointment is None:
        raise ValueError("a timeline needs an appointment or a repair order")
    appointment_id = (appointment or {}).get("id") or (repair_order or {}).get("appointment_id")
    if repair_order is None:
        assert appointment is not None
        status = str(appointment.get("status") or "")
        ended = {"CANCELLED": CANCELLED, "NO_SHOW": NO_SHOW}.get(status)
        # Checked in (到店): the car is at the dealer, its repair order about to open.
        current = RECEIVED if status == "CHECKED_IN" else BOOKED
        reached = {BOOKED: appointment.get("booked_at"),
                   RECEIVED: appointment.get("checked_in_at")}
        return Timeline(_steps(current, reached, skipped=set()), current, ended=ended,
                        appointment_id=appointment_id, stage=None)

    stage = str(repair_order.get("stage") or "")
    history = list(repair_order.get("history") or [])
    actions = {str(h.get("action")) for h in history}
    entered: dict[str, str] = {}
    for entry in history:  # the first time each step was reached
        step = STAGE_STEPS.get(str(entry.get("stage")))
        if step and step not in entered and entry.get("at"):
            entered[step] = str(entry["at"])
    entered.setdefault(RECEIVED, str(repair_order.get("opened_at") or "") or "")
    if repair_order.get("delivered_at"):
        entered.setdefault(DELIVERED, str(repair_order["delivered_at"]))
    entered[BOOKED] = str((appointment or {}).get("booked_at") or "")

    work_approved = bool(actions & WORK_STARTED) or IN_WORK in entered
    attention = None
    if stage in AFTER_APPROVAL and work_approved:
        current = IN_WORK
        attention = "additional_quote" if stage == WAITING_FOR_OWNER else None
    elif stage == "CANCELLED":
        current = _furthest(entered) or RECEIVED
    else:
        current = STAGE_STEPS.get(stage, RECEIVED)
        if stage == WAITING_FOR_OWNER:
            attention = "quote"
        elif current == READY:
            attention = "invoice"
    skipped: set[str] = set()
    if not repair_order.get("appointment_id") and appointment is None:
        skipped.add(BOOKED)  # a walk-in: never booked
    if STEPS.index(current) > STEPS.index(QUALITY_CHECK) and not work_approved:
        skipped |= {IN_WORK, QUALITY_CHECK}  # nothing approved: straight to settlement
    return Timeline(_steps(current, entered, skipped=skipped), current,
                    ended=CANCELLED if stage == "CANCELLED" else None, attention=attention,
                    repair_order_id=str(repair_order.get("id") or "") or None,
                    appointment_id=appointment_id, stage=stage)


def _furthest(entered: Mapping[str, str]) -> str | None:
    reached = [s for s in STEPS if entered.get(s) and s != BOOKED]
    return reached[-1] if reached else None


def _steps(current: str, reached: Mapping[str, Any], *, skipped: set[str]) -> list[Step]:
    at_current = STEPS.index(current)
    steps = []
    for index, code in enumerate(STEPS):
        if code in skipped:
            state = SKIPPED
        elif index < at_current:
            state = DONE
        elif index == at_current:
            state = CURRENT
        else:
            state = TODO
        when = reached.get(code) if state in (DONE, CURRENT) else None
        steps.append(Step(code, state, str(when) if when else None))
    return steps


def clock(value: str | None, zone: str, pattern: str = "%m-%d %H:%M") -> str:
    """An instant of the services (ISO with its offset) on the dealer's clock."""
    moment = _moment(value)
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime(pattern)


def repair_order_of(appointment_id: str,
                    repair_orders: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The repair order workorder opened from an appointment (newest, should there be two)."""
    found = [ro for ro in repair_orders if ro.get("appointment_id") == appointment_id]
    return max(found, key=lambda ro: str(ro.get("opened_at") or ""), default=None)


OPEN_STAGES = set(STAGE_STEPS) - {"VEHICLE_DELIVERED", "CLOSED"}


@dataclass(frozen=True)
class Visit:
    """Which of the owner's visits "my car now" shows: a repair order, or an appointment."""

    repair_order_id: str | None = None
    appointment_id: str | None = None


def current_visit(appointments: Iterable[Mapping[str, Any]],
                  repair_orders: Iterable[Mapping[str, Any]]) -> Visit | None:
    """The car in the workshop now (its newest open repair order); else the next appointment
    (or one checked in whose repair order is not open yet); else the car last delivered."""
    orders = sorted(repair_orders, key=lambda ro: str(ro.get("opened_at") or ""), reverse=True)
    for ro in orders:
        if ro.get("stage") in OPEN_STAGES:
            return Visit(repair_order_id=str(ro["id"]))
    opened_from = {ro.get("appointment_id") for ro in orders}
    waiting = [a for a in appointments if a.get("status") in (*OPEN_STATUSES, "CHECKED_IN")
               and a.get("id") not in opened_from]
    if waiting:
        soonest = min(waiting, key=lambda a: str(a.get("slot_start")))
        return Visit(appointment_id=str(soonest["id"]))
    delivered = [ro for ro in orders if ro.get("stage") != "CANCELLED"]
    if delivered:
        return Visit(repair_order_id=str(delivered[0]["id"]))
    return None
