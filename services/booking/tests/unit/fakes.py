"""Booking's unit of work without a database: an appointment book kept in memory.

It answers like `booking.store.AppointmentBook` (the same methods, the same domain objects)
with none of its locking: a unit test runs one use case at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from booking.dealer_calendar import Calendar, Slot, as_utc
from booking.domain import HOLDS_CAPACITY, OPEN, Appointment, CapacityHolder
from booking.store import StoredCalendar
from chassis.unit_of_work import FakeUnitOfWork


class InMemoryAppointmentBook:
    def __init__(self, dealer_code: str = "D001",
                 calendar: Calendar | None = None) -> None:
        self.dealer_code = dealer_code
        self.stored = (StoredCalendar(calendar, True, None, "test") if calendar
                       else StoredCalendar(Calendar.default(), False, None, None))
        self.rows: dict[str, Appointment] = {}
        self.held: list[datetime] = []  # slot starts held, in the order asked

    # -- the calendar ----------------------------------------------------------------------

    def calendar(self, *, lock: str | None = None) -> StoredCalendar:
        return self.stored

    def save_calendar(self, calendar: Calendar, *, by: str, now: datetime) -> StoredCalendar:
        self.stored = StoredCalendar(calendar, True, as_utc(now), by)
        return self.stored

    # -- capacity --------------------------------------------------------------------------

    def hold_slots(self, slots: Iterable[Slot]) -> None:
        self.held.extend(sorted({as_utc(slot.start) for slot in slots}))

    def _holding(self, start: datetime, end: datetime) -> list[Appointment]:
        return [a for a in self.rows.values() if a.status in HOLDS_CAPACITY
                and a.slot_start < end and a.slot_end > start]

    def intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        return [(a.slot_start, a.slot_end) for a in self._holding(start, end)]

    def holding_capacity(self, start: datetime, end: datetime,
                         exclude: str | None = None) -> list[CapacityHolder]:
        return [CapacityHolder(a.id, a.status, a.slot_start, a.slot_end, a.plate, a.vin)
                for a in self._holding(start, end) if a.id != exclude]

    # -- appointments ----------------------------------------------------------------------

    def appointment(self, appointment_id: str, *, lock: bool = False) -> Appointment | None:
        return self.rows.get(appointment_id)

    def add(self, appointment: Appointment) -> None:
        assert appointment.id not in self.rows, "added twice"
        self.rows[appointment.id] = appointment

    def save(self, appointment: Appointment) -> None:
        assert appointment.id in self.rows, "saved before it was added"
        self.rows[appointment.id] = appointment

    def appointments(self, calendar: Calendar, *, customer_id: str | None = None,
                     first: date | None = None, last: date | None = None,
                     status: str | None = None, limit: int = 100) -> list[Appointment]:
        found = [a for a in self.rows.values()
                 if (customer_id is None or a.customer_id == customer_id)
                 and (first is None or calendar.local_date(a.slot_start) >= first)
                 and (last is None or calendar.local_date(a.slot_start) <= last)
                 and (status is None or a.status == status)]
        return sorted(found, key=lambda a: (a.slot_start, a.id))[:limit]

    def open_from(self, moment: datetime) -> list[Appointment]:
        return sorted((a for a in self.rows.values()
                       if a.status in OPEN and a.slot_start >= as_utc(moment)),
                      key=lambda a: a.slot_start)

    def due_no_shows(self, started_before: datetime, limit: int) -> list[Appointment]:
        due = [a for a in self.rows.values()
               if a.status in OPEN and a.slot_start <= as_utc(started_before)]
        return sorted(due, key=lambda a: (a.slot_start, a.id))[:limit]


class FakeBookingUnitOfWork(FakeUnitOfWork):
    """What `booking.use_cases` get from the framework, in memory; `emitted` holds the events
    (validated against their contracts)."""

    def __init__(self, calendar: Calendar | None = None, dealer_code: str = "D001",
                 **kwargs: Any) -> None:
        super().__init__(dealer_code=dealer_code, **kwargs)
        self.appointments = InMemoryAppointmentBook(dealer_code, calendar)
