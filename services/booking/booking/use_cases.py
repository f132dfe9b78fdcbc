"""Booking's service layer: one function per use case, in the caller's unit of work.

Each reads and writes through `uow.appointments` (the store) and announces what happened with
`uow.emit(...)`; the rules are `booking.domain`'s and `booking.dealer_calendar`'s. Nothing here
commits: the entrypoint's framework does, after the use case returned.

Locks, in the order every use case takes them (so two of them never wait on each other in a
cycle): the appointment's row, then the calendar's row (share: bookings; update: a calendar
change), then the slot rows in ascending order of start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from booking import dealer_calendar, domain
from booking.dealer_calendar import Bookings, Calendar, DayLoad, Slot
from booking.domain import Actor, Appointment, ToReview
from chassis.errors import InvalidInput, NotFound
from contracts import EventContract, events

if TYPE_CHECKING:  # the store's types, for annotations only: no SQL is reached from here
    from booking.store import BookingUnitOfWork, StoredCalendar

NO_SHOW_BATCH = 500  # per sweep call; a site misses far fewer in a day


# -- the calendar ----------------------------------------------------------------------------


def calendar(uow: BookingUnitOfWork) -> StoredCalendar:
    """The site's calendar as stored (the built-in default until the manager sets one)."""
    return uow.appointments.calendar()


def put_calendar(uow: BookingUnitOfWork, document: Mapping[str, Any], *, by: str,
                 now: datetime) -> tuple[StoredCalendar, list[ToReview]]:
    """Replace the calendar; the open appointments it no longer fits are listed for the
    manager to call (they stay booked)."""
    new = Calendar.from_document(document)
    uow.appointments.calendar(lock="update")  # waits for bookings checking the old one
    stored = uow.appointments.save_calendar(new, by=by, now=now)
    return stored, domain.appointments_to_review(new, uow.appointments.open_from(now))


def availability(uow: BookingUnitOfWork, *, first: date, last: date, service_type: str,
                  now: datetime) -> tuple[list[DayLoad], Calendar]:
    """Every slot from `first` to `last` with its load, and whether a `service_type` booking
    may start there now."""
    site = uow.appointments.calendar().calendar
    site.check_range(first, last)
    site.duration_of(service_type)  # refuses a service type this dealer does not book
    bookings = Bookings(uow.appointments.intervals(*site.day_window(first, last)))
    return dealer_calendar.availability(site, first, last, service_type, bookings, now), site


# -- the appointment book ----------------------------------------------------------------------


def book(uow: BookingUnitOfWork, request: Mapping[str, Any], *, actor: Actor, dealer_code: str,
         now: datetime) -> tuple[Appointment, Calendar]:
    """A new appointment, if its slots have room and the car has no other appointment then
    → AppointmentBooked."""
    site = uow.appointments.calendar(lock="share").calendar
    appointment, slots = domain.book(request, calendar=site, actor=actor,
                                     dealer_code=dealer_code, now=now)
    _check_room(uow, site, appointment, slots, actor=actor)
    uow.appointments.add(appointment)
    _announce(uow, appointment, events.AppointmentBooked,
              domain.booked_event(appointment, site))
    return appointment, site


def appointments(uow: BookingUnitOfWork, *, actor: Actor, first: date | None = None,
                 last: date | None = None, status: str | None = None,
                 limit: int = 100) -> tuple[list[Appointment], Calendar]:
    """Appointments by date and status, in slot order; an owner sees only their own."""
    if first and last and last < first:
        raise InvalidInput("to", "must not be before from")
    site = uow.appointments.calendar().calendar
    found = uow.appointments.appointments(
        site, customer_id=actor.subject if actor.is_customer else None, first=first,
        last=last, status=status, limit=limit)
    return found, site


def appointment(uow: BookingUnitOfWork, appointment_id: str, *,
                actor: Actor) -> tuple[Appointment, Calendar]:
    """One appointment the caller may see."""
    found = _visible(uow, appointment_id, actor)
    return found, uow.appointments.calendar().calendar


# -- what happens next -----------------------------------------------------------------------


def confirm(uow: BookingUnitOfWork, appointment_id: str, *, actor: Actor,
            now: datetime) -> tuple[Appointment, Calendar]:
    """The customer, or the dealer after calling them, confirms → AppointmentConfirmed."""
    before = _visible(uow, appointment_id, actor, lock=True)
    site = uow.appointments.calendar().calendar
    after = domain.confirm(before, actor=actor, now=now)
    return _changed(uow, after, site, events.AppointmentConfirmed,
                    domain.confirmed_event(after, site))


def reschedule(uow: BookingUnitOfWork, appointment_id: str, request: Mapping[str, Any], *,
               actor: Actor, now: datetime) -> tuple[Appointment, Calendar]:
    """Move an appointment to other slots, which must have room without counting the
    appointment itself (its old slots are freed) → AppointmentRescheduled."""
    before = _visible(uow, appointment_id, actor, lock=True)
    site = uow.appointments.calendar(lock="share").calendar
    after, slots = domain.reschedule(before, request, calendar=site, actor=actor, now=now)
    _check_room(uow, site, after, slots, actor=actor, moving=before.id)
    data = domain.rescheduled_event(before, after, site, actor=actor, now=now,
                                    reason=request.get("reason"),
                                    channel=request.get("channel"))
    return _changed(uow, after, site, events.AppointmentRescheduled, data)


def cancel(uow: BookingUnitOfWork, appointment_id: str, *, actor: Actor, reason: str,
           note: str | None = None, now: datetime) -> tuple[Appointment, Calendar]:
    """Cancel with a reason; the slots are free again → AppointmentCancelled."""
    before = _visible(uow, appointment_id, actor, lock=True)
    site = uow.appointments.calendar().calendar
    after = domain.cancel(before, actor=actor, reason=reason, note=note, now=now)
    return _changed(uow, after, site, events.AppointmentCancelled,
                    domain.cancelled_event(after, site))


def check_in(uow: BookingUnitOfWork, appointment_id: str, *, actor: Actor,
             advisor_id: str | None = None, now: datetime) -> tuple[Appointment, Calendar]:
    """The customer arrived (到店): reception takes over → AppointmentCheckedIn."""
    before = _visible(uow, appointment_id, actor, lock=True)
    site = uow.appointments.calendar().calendar
    after = domain.check_in(before, actor=actor, now=now, advisor_id=advisor_id)
    return _changed(uow, after, site, events.AppointmentCheckedIn,
                    domain.checked_in_event(after, site))


def no_show(uow: BookingUnitOfWork, appointment_id: str, *, actor: Actor,
            now: datetime) -> tuple[Appointment, Calendar]:
    """The customer did not come, and the grace period is over → AppointmentNoShow."""
    before = _visible(uow, appointment_id, actor, lock=True)
    site = uow.appointments.calendar().calendar
    after = domain.mark_no_show(before, calendar=site, now=now)
    return _changed(uow, after, site, events.AppointmentNoShow,
                    domain.no_show_event(after, site))


def sweep_no_shows(uow: BookingUnitOfWork, *, now: datetime,
                   batch: int = NO_SHOW_BATCH) -> list[str]:
    """Mark every open appointment whose slot started more than the grace period ago as a
    no-show (up to `batch` of them); their ids, in slot order."""
    site = uow.appointments.calendar().calendar
    marked = []
    for before in uow.appointments.due_no_shows(now - site.no_show_grace, batch):
        after = domain.mark_no_show(before, calendar=site, now=now)
        uow.appointments.save(after)
        _announce(uow, after, events.AppointmentNoShow, domain.no_show_event(after, site))
        marked.append(after.id)
    return marked


# -- shared steps ----------------------------------------------------------------------------


def _visible(uow: BookingUnitOfWork, appointment_id: str, actor: Actor, *,
             lock: bool = False) -> Appointment:
    """The appointment, if the caller may see it: staff see their site's, an owner only
    their own (anyone else's is 'not found', so its existence is not revealed)."""
    found = uow.appointments.appointment(appointment_id, lock=lock)
    if found is None or not found.belongs_to(actor):
        raise NotFound(f"appointment {appointment_id} not found")
    return found


def _check_room(uow: BookingUnitOfWork, site: Calendar, appointment: Appointment,
                slots: list[Slot], *, actor: Actor, moving: str | None = None) -> None:
    """Hold the slots (their rows stay locked until the transaction ends), then refuse a
    second appointment of the same car and slots with no room left. `moving`: the
    appointment being rescheduled, which does not count against itself."""
    uow.appointments.hold_slots(slots)
    others = uow.appointments.holding_capacity(slots[0].start, slots[-1].end, exclude=moving)
    domain.check_not_double_booked(appointment, others, reveal_ids=not actor.is_customer)
    domain.check_capacity(site, slots, Bookings((o.slot_start, o.slot_end) for o in others))


def _changed(uow: BookingUnitOfWork, appointment: Appointment, site: Calendar,
             contract: EventContract, data: dict[str, Any]) -> tuple[Appointment, Calendar]:
    """Store the appointment's new state with the event announcing it."""
    uow.appointments.save(appointment)
    _announce(uow, appointment, contract, data)
    return appointment, site


def _announce(uow: BookingUnitOfWork, appointment: Appointment, contract: EventContract,
              data: dict[str, Any]) -> None:
    uow.emit(contract, data, subject=appointment.id, correlation_id=appointment.id)
