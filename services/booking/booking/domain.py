"""Booking rules, plain Python: what makes a request an appointment, what may happen to an
appointment next (the STAR appointment statuses), and the events each step announces.

    SCHEDULED ─confirm─▶ CONFIRMED
        │                    │
        ├──── check-in ──────┼──▶ CHECKED_IN   (the car arrived: reception takes over)
        ├──── cancel ────────┼──▶ CANCELLED    (frees its slots)
        └──── no-show ───────┴──▶ NO_SHOW      (slot started more than the grace period ago)

A SCHEDULED appointment may go straight to check-in, cancellation or no-show: a customer who
never answered the confirmation call still comes (or does not). Reschedule keeps the status,
except that a customer moving a CONFIRMED appointment makes it SCHEDULED again (the dealer
has not agreed to the new time yet).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from booking.dealer_calendar import Bookings, Calendar, Slot, as_utc, full_slots
from chassis.errors import Conflict, InvalidInput
from chassis.identity import Identity
from contracts.customer import customer_id_for
from contracts.plate import normal_plate
from contracts.vocabulary import ID as ID_PATTERN


class Status(StrEnum):
    SCHEDULED = "SCHEDULED"
    CONFIRMED = "CONFIRMED"
    CHECKED_IN = "CHECKED_IN"
    CANCELLED = "CANCELLED"
    NO_SHOW = "NO_SHOW"


# Appointments that hold their slots; cancelled and no-show ones give them back.
HOLDS_CAPACITY = frozenset({Status.SCHEDULED, Status.CONFIRMED, Status.CHECKED_IN})
OPEN = frozenset({Status.SCHEDULED, Status.CONFIRMED})  # not yet settled either way

# action (as in the URL) → the status it leads to; None keeps the status
ACTIONS: dict[str, Status | None] = {
    "confirm": Status.CONFIRMED,
    "reschedule": None,
    "cancel": Status.CANCELLED,
    "check-in": Status.CHECKED_IN,
    "no-show": Status.NO_SHOW,
}
ALLOWED_ACTIONS: dict[Status, tuple[str, ...]] = {
    Status.SCHEDULED: ("confirm", "reschedule", "cancel", "check-in", "no-show"),
    Status.CONFIRMED: ("reschedule", "cancel", "check-in", "no-show"),
    Status.CHECKED_IN: (),
    Status.CANCELLED: (),
    Status.NO_SHOW: (),
}

# Owners book from their own devices; the phone and the counter are the dealer's channels.
OWNER_CHANNELS = ("APP", "WECHAT", "WEB")
CUSTOMER, DEALER = "CUSTOMER", "DEALER"
ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class Actor:
    """Who acts: the customer themself, or someone on the dealer's side (advisor, manager,
    invitation agent)."""

    subject: str
    is_customer: bool

    @classmethod
    def of(cls, identity: Identity) -> Actor:
        return cls(subject=identity.subject, is_customer=identity.is_owner)

    @property
    def party(self) -> str:
        return CUSTOMER if self.is_customer else DEALER


@dataclass(frozen=True)
class Appointment:
    id: str
    dealer_code: str
    customer_id: str
    customer_name: str
    customer_phone: str
    service_type: str
    slot_start: datetime  # UTC
    slot_end: datetime    # UTC: when the service is expected to be done
    channel: str
    booked_at: datetime
    status: Status = Status.SCHEDULED
    plate: str | None = None
    vin: str | None = None
    model: str | None = None
    pickup_address: str | None = None
    loaner_requested: bool = False
    customer_waiting: bool = False
    advisor_id: str | None = None
    reminder_id: str | None = None
    lead_id: str | None = None
    booked_by: str | None = None
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    checked_in_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    cancel_note: str | None = None
    no_show_at: datetime | None = None
    reschedule_count: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Appointment:
        values = {name: row[name] for name in cls.__dataclass_fields__ if name in row}
        for name, value in values.items():
            if isinstance(value, datetime):
                values[name] = as_utc(value)
        values["status"] = Status(values["status"])
        return cls(**values)

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        return ALLOWED_ACTIONS[self.status]

    def belongs_to(self, actor: Actor) -> bool:
        return not actor.is_customer or actor.subject == self.customer_id


# -- booking ---------------------------------------------------------------------------------


def check_slot_time(calendar: Calendar, start: datetime, *, now: datetime, walk_in: bool,
                    field_name: str = "slot_start") -> None:
    """A booking is for a slot still to come (a walk-in may take the slot under way) and
    no further ahead than the dealer's booking horizon."""
    start = as_utc(start)
    cutoff = start + calendar.slot_length if walk_in else start
    if cutoff <= as_utc(now):
        raise InvalidInput(field_name, "is in the past")
    if calendar.local_date(start) > calendar.horizon_end(now):
        raise InvalidInput(field_name, f"is more than {calendar.booking_horizon_days} days "
                                       "ahead: this dealer does not book that far yet")


def book(request: Mapping[str, Any], *, calendar: Calendar, actor: Actor, dealer_code: str,
         now: datetime) -> tuple[Appointment, list[Slot]]:
    """Turn a validated booking request into an appointment and the slots it needs, or refuse
    it naming the field. Capacity is checked separately (`check_capacity`), under lock."""
    vehicle = request["vehicle"]
    if not vehicle.get("plate") and not vehicle.get("vin"):
        raise InvalidInput("vehicle", "give the plate or the VIN (or both)")
    customer = request["customer"]
    channel = request["channel"]
    if actor.is_customer:
        if customer.get("customer_id", actor.subject) != actor.subject:
            raise InvalidInput("customer.customer_id", "owners book for themselves")
        # An owner's customer id is that of the phone they confirmed by code when signing in:
        # a booking for another number would text someone who never asked (staff may do it).
        if customer_id_for(customer["phone"]) != actor.subject:
            raise InvalidInput("customer.phone", "owners book with the phone they signed in with")
        if channel not in OWNER_CHANNELS:
            raise InvalidInput("channel", f"owners book through {', '.join(OWNER_CHANNELS)}")
        customer_id = actor.subject
    else:
        customer_id = customer.get("customer_id") or customer_id_for(customer["phone"])
    if request.get("pickup_address") and request.get("customer_waiting"):
        raise InvalidInput("customer_waiting",
                           "the car is picked up: the customer cannot also wait in the lounge")
    start = as_utc(request["slot_start"])
    service_type = request["service_type"]
    end, slots = calendar.placement(start, service_type)
    check_slot_time(calendar, start, now=now, walk_in=channel == "WALK_IN")
    plate = vehicle.get("plate")
    appointment = Appointment(
        id=str(uuid.uuid4()), dealer_code=dealer_code, customer_id=customer_id,
        customer_name=customer["name"], customer_phone=customer["phone"],
        service_type=service_type, slot_start=start, slot_end=end, channel=channel,
        booked_at=as_utc(now), plate=normal_plate(plate) if plate else None,
        vin=vehicle.get("vin"), model=vehicle.get("model"),
        pickup_address=request.get("pickup_address"),
        loaner_requested=request.get("loaner_requested", False),
        customer_waiting=request.get("customer_waiting", False),
        advisor_id=request.get("advisor_id"), reminder_id=request.get("reminder_id"),
        lead_id=request.get("lead_id"), booked_by=actor.subject)
    return appointment, slots


def check_capacity(calendar: Calendar, slots: list[Slot], bookings: Bookings) -> None:
    """409 when any slot the appointment needs is already full (the others are named)."""
    full = full_slots(calendar, slots, bookings)
    if full:
        raise Conflict("the slot is fully booked: choose another time",
                       full_slots=[calendar.local(s.start).isoformat() for s in full],
                       capacity=calendar.capacity)


@dataclass(frozen=True)
class CapacityHolder:
    """What the capacity and double-booking checks need of an appointment already in the
    slots (the booking path reads only these columns)."""

    id: str
    status: Status
    slot_start: datetime
    slot_end: datetime
    plate: str | None
    vin: str | None


def check_not_double_booked(appointment: Appointment,
                            others: Iterable[Appointment | CapacityHolder],
                            *, reveal_ids: bool) -> None:
    """One car, one appointment at a time: a second booking overlapping the first is almost
    always a repeated click or a second caller, and it would waste a bay."""
    for other in others:
        if other.id == appointment.id or other.status not in HOLDS_CAPACITY:
            continue
        overlaps = other.slot_start < appointment.slot_end and other.slot_end > \
            appointment.slot_start
        same_car = (appointment.plate and other.plate == appointment.plate) or \
                   (appointment.vin and other.vin == appointment.vin)
        if overlaps and same_car:
            detail = {"existing_appointment_id": other.id} if reveal_ids else {}
            raise Conflict("this vehicle already has an appointment at that time", **detail)


# -- what may happen next ------------------------------------------------------------------


def require(appointment: Appointment, action: str) -> None:
    """409 with the allowed next steps when `action` is not one of them."""
    if action not in appointment.allowed_actions:
        allowed = appointment.allowed_actions
        raise Conflict(
            f"a {appointment.status} appointment cannot {action.replace('-', ' ')}",
            status=str(appointment.status), allowed_actions=list(allowed),
            allowed_next=sorted({str(ACTIONS[a]) for a in allowed if ACTIONS[a]}))


def confirm(appointment: Appointment, *, actor: Actor, now: datetime) -> Appointment:
    require(appointment, "confirm")
    return replace(appointment, status=Status.CONFIRMED, confirmed_at=as_utc(now),
                   confirmed_by=actor.party)


def check_in(appointment: Appointment, *, actor: Actor, now: datetime,
             advisor_id: str | None = None) -> Appointment:
    require(appointment, "check-in")
    # The advisor who receives the car, unless another one was named.
    receiving = None if actor.is_customer or not ID.fullmatch(actor.subject) else actor.subject
    return replace(appointment, status=Status.CHECKED_IN, checked_in_at=as_utc(now),
                   advisor_id=advisor_id or receiving or appointment.advisor_id)


def cancel(appointment: Appointment, *, actor: Actor, reason: str, note: str | None,
           now: datetime) -> Appointment:
    require(appointment, "cancel")
    return replace(appointment, status=Status.CANCELLED, cancelled_at=as_utc(now),
                   cancelled_by=actor.party, cancel_reason=reason, cancel_note=note)


def no_show_from(calendar: Calendar, appointment: Appointment) -> datetime:
    """When the customer counts as not coming: the slot's start plus the grace period."""
    return appointment.slot_start + calendar.no_show_grace


def mark_no_show(appointment: Appointment, *, calendar: Calendar, now: datetime) -> Appointment:
    require(appointment, "no-show")
    due = no_show_from(calendar, appointment)
    if as_utc(now) < due:
        raise Conflict("too early to record a no-show: the customer may still come",
                       no_show_from=calendar.local(due).isoformat())
    return replace(appointment, status=Status.NO_SHOW, no_show_at=as_utc(now))


def reschedule(appointment: Appointment, request: Mapping[str, Any], *, calendar: Calendar,
               actor: Actor, now: datetime) -> tuple[Appointment, list[Slot]]:
    """The appointment at its new time and the slots it needs there; capacity is checked
    separately, under lock, without counting the appointment itself."""
    require(appointment, "reschedule")
    start = as_utc(request["slot_start"])
    service_type = request.get("service_type", appointment.service_type)
    if start == appointment.slot_start and service_type == appointment.service_type:
        raise InvalidInput("slot_start", "is already this appointment's time")
    end, slots = calendar.placement(start, service_type)
    check_slot_time(calendar, start, now=now, walk_in=False)
    status = appointment.status
    if actor.is_customer and status is Status.CONFIRMED:
        status = Status.SCHEDULED  # the dealer has yet to agree to the new time
    moved = replace(appointment, slot_start=start, slot_end=end, service_type=service_type,
                    status=status, reschedule_count=appointment.reschedule_count + 1,
                    confirmed_at=None if status is Status.SCHEDULED else appointment.confirmed_at,
                    confirmed_by=None if status is Status.SCHEDULED else appointment.confirmed_by)
    return moved, slots


# -- events (see contracts/payloads.py) -----------------------------------------------------


def _stamp(calendar: Calendar, moment: datetime) -> str:
    return calendar.local(moment).isoformat()


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "")}


def booked_event(appointment: Appointment, calendar: Calendar) -> dict[str, Any]:
    """The `AppointmentBooked` data."""
    return {
        "appointment_id": appointment.id,
        "dealer_code": appointment.dealer_code,
        "status": str(appointment.status),
        "customer": {"customer_id": appointment.customer_id, "name": appointment.customer_name,
                     "phone": appointment.customer_phone},
        "vehicle": _present(plate=appointment.plate, vin=appointment.vin,
                            model=appointment.model),
        "service_type": appointment.service_type,
        "slot_start": _stamp(calendar, appointment.slot_start),
        "slot_end": _stamp(calendar, appointment.slot_end),
        "channel": appointment.channel,
        "loaner_requested": appointment.loaner_requested,
        "customer_waiting": appointment.customer_waiting,
        "booked_at": _stamp(calendar, appointment.booked_at),
        **_present(pickup_address=appointment.pickup_address,
                   advisor_id=appointment.advisor_id, reminder_id=appointment.reminder_id,
                   lead_id=appointment.lead_id),
    }


def confirmed_event(appointment: Appointment, calendar: Calendar) -> dict[str, Any]:
    """The `AppointmentConfirmed` data."""
    assert appointment.confirmed_at is not None and appointment.confirmed_by is not None
    return {
        "appointment_id": appointment.id,
        "customer_id": appointment.customer_id,
        "slot_start": _stamp(calendar, appointment.slot_start),
        "slot_end": _stamp(calendar, appointment.slot_end),
        "confirmed_by": appointment.confirmed_by,
        "confirmed_at": _stamp(calendar, appointment.confirmed_at),
        **_present(advisor_id=appointment.advisor_id),
    }


def rescheduled_event(before: Appointment, after: Appointment, calendar: Calendar, *,
                      actor: Actor, now: datetime, reason: str | None = None,
                      channel: str | None = None) -> dict[str, Any]:
    """The `AppointmentRescheduled` data."""
    return {
        "appointment_id": after.id,
        "customer_id": after.customer_id,
        "status": str(after.status),
        "previous_slot_start": _stamp(calendar, before.slot_start),
        "previous_slot_end": _stamp(calendar, before.slot_end),
        "slot_start": _stamp(calendar, after.slot_start),
        "slot_end": _stamp(calendar, after.slot_end),
        "initiated_by": actor.party,
        "rescheduled_at": _stamp(calendar, now),
        **_present(advisor_id=after.advisor_id, channel=channel, reason=reason),
    }


def cancelled_event(appointment: Appointment, calendar: Calendar) -> dict[str, Any]:
    """The `AppointmentCancelled` data."""
    assert appointment.cancelled_at is not None
    return {
        "appointment_id": appointment.id,
        "customer_id": appointment.customer_id,
        "reason": appointment.cancel_reason,
        "cancelled_by": appointment.cancelled_by,
        "slot_start": _stamp(calendar, appointment.slot_start),
        "cancelled_at": _stamp(calendar, appointment.cancelled_at),
        **_present(note=appointment.cancel_note),
    }


def no_show_event(appointment: Appointment, calendar: Calendar) -> dict[str, Any]:
    """The `AppointmentNoShow` data."""
    assert appointment.no_show_at is not None
    return {
        "appointment_id": appointment.id,
        "customer_id": appointment.customer_id,
        "slot_start": _stamp(calendar, appointment.slot_start),
        "slot_end": _stamp(calendar, appointment.slot_end),
        "recorded_at": _stamp(calendar, appointment.no_show_at),
    }


def checked_in_event(appointment: Appointment, calendar: Calendar) -> dict[str, Any]:
    """The `AppointmentCheckedIn` data."""
    assert appointment.checked_in_at is not None
    return {
        "appointment_id": appointment.id,
        "customer_id": appointment.customer_id,
        "slot_start": _stamp(calendar, appointment.slot_start),
        "checked_in_at": _stamp(calendar, appointment.checked_in_at),
        **_present(advisor_id=appointment.advisor_id),
    }


# -- after the calendar changed ------------------------------------------------------------


@dataclass(frozen=True)
class ToReview:
    appointment_id: str
    slot_start: datetime
    reason: str  # CLOSED | OUTSIDE_SLOTS | OVER_CAPACITY


def appointments_to_review(calendar: Calendar,
                           appointments: Iterable[Appointment]) -> list[ToReview]:
    """Open appointments the new calendar no longer fits: on a closed day, off the slot grid
    or past closing, or in a slot now over capacity. They stay booked (the customer was told
    a time); the manager calls them to move or cancel."""
    review: list[ToReview] = []
    placed: list[Appointment] = []
    for appointment in appointments:
        day = calendar.local_date(appointment.slot_start)
        slots = calendar.slots_on(day)
        if calendar.hours_on(day) is None:
            review.append(ToReview(appointment.id, appointment.slot_start, "CLOSED"))
        elif (appointment.slot_start not in {s.start for s in slots}
              or appointment.slot_end > slots[-1].end):
            review.append(ToReview(appointment.id, appointment.slot_start, "OUTSIDE_SLOTS"))
        else:
            placed.append(appointment)
    bookings = Bookings((a.slot_start, a.slot_end) for a in placed)
    for appointment in placed:
        occupied = calendar.occupied_slots(appointment.slot_start, appointment.slot_end)
        if full_slots_over(calendar, occupied, bookings):
            review.append(ToReview(appointment.id, appointment.slot_start, "OVER_CAPACITY"))
    return sorted(review, key=lambda r: (r.slot_start, r.appointment_id))


def full_slots_over(calendar: Calendar, slots: Iterable[Slot], bookings: Bookings) -> bool:
    return any(bookings.in_slot(slot) > calendar.capacity for slot in slots)
