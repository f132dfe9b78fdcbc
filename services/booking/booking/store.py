"""Reading and writing booking's tables for one worker's transaction.

The locking that keeps slots from being over-booked lives here; what "full" means is the
domain's. Works on PostgreSQL (row locks) and SQLite (embedded mode: one connection, so
transactions are serial anyway and FOR UPDATE is left out by SQLAlchemy).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from nameko.extensions import DependencyProvider
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from booking import models
from booking.dealer_calendar import Calendar, Slot, as_utc
from booking.domain import HOLDS_CAPACITY, OPEN, Appointment
from chassis.db import find_database

_appointments = models.appointments


@dataclass(frozen=True)
class StoredCalendar:
    calendar: Calendar
    configured: bool
    updated_at: datetime | None
    updated_by: str | None


class BookingStore:
    def __init__(self, session: Session, dealer_code: str, default_time_zone: str) -> None:
        self.session = session
        self.dealer_code = dealer_code
        self.default_time_zone = default_time_zone

    def _insert(self, table: sa.Table) -> Any:
        dialect = self.session.get_bind().dialect.name
        return (postgresql if dialect == "postgresql" else sqlite).insert(table)

    # -- the calendar ------------------------------------------------------------------------

    def calendar(self, *, lock: str | None = None) -> StoredCalendar:
        """The site's calendar; the default one until the manager sets it.

        lock="share": bookings hold it while they check capacity, so a calendar change waits
        for them (and they for it); lock="update": the calendar is about to change.
        """
        table = models.calendars
        query = sa.select(table).where(table.c.dealer_code == self.dealer_code)
        if lock:
            query = query.with_for_update(read=lock == "share")
        row = self.session.execute(query).mappings().first()
        if row is None and lock:
            # The row must exist to be locked: a fresh site gets a placeholder that stands
            # for the default calendar.
            self.session.execute(self._insert(table).values(
                dealer_code=self.dealer_code, document=Calendar.default().to_document(),
                configured=False, updated_at=sa.func.now()).on_conflict_do_nothing())
            row = self.session.execute(query).mappings().first()
        if row is None or not row["configured"]:
            return StoredCalendar(Calendar.default(self.default_time_zone), False, None, None)
        return StoredCalendar(Calendar.from_document(row["document"]), True,
                              as_utc(row["updated_at"]), row["updated_by"])

    def save_calendar(self, calendar: Calendar, *, by: str, now: datetime) -> StoredCalendar:
        """Replace the calendar (the caller holds it with lock="update")."""
        table = models.calendars
        self.session.execute(table.update().where(table.c.dealer_code == self.dealer_code)
                             .values(document=calendar.to_document(), configured=True,
                                     updated_at=as_utc(now), updated_by=by))
        return StoredCalendar(calendar, True, as_utc(now), by)

    # -- capacity --------------------------------------------------------------------------

    def hold_slots(self, slots: Iterable[Slot]) -> None:
        """Lock the slots' rows until commit, creating them on first use.

        Always in ascending order of slot start, both the inserts and the locks, so two
        bookings that need overlapping slots queue behind each other instead of deadlocking.
        """
        starts = sorted({as_utc(slot.start) for slot in slots})
        if not starts:
            return
        table = models.slot_locks
        self.session.execute(self._insert(table).values(
            [{"dealer_code": self.dealer_code, "slot_start": s} for s in starts])
            .on_conflict_do_nothing())
        self.session.execute(
            sa.select(table.c.slot_start)
            .where(table.c.dealer_code == self.dealer_code, table.c.slot_start.in_(starts))
            .order_by(table.c.slot_start).with_for_update()).all()

    def intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """(start, end) of the appointments holding capacity between start and end."""
        query = (sa.select(_appointments.c.slot_start, _appointments.c.slot_end)
                 .where(_appointments.c.dealer_code == self.dealer_code,
                        _appointments.c.status.in_([str(s) for s in HOLDS_CAPACITY]),
                        _appointments.c.slot_start < as_utc(end),
                        _appointments.c.slot_end > as_utc(start)))
        return [(as_utc(s), as_utc(e)) for s, e in self.session.execute(query)]

    def holding_capacity(self, start: datetime, end: datetime,
                         exclude: str | None = None) -> list[Appointment]:
        """Appointments that hold capacity anywhere between start and end."""
        query = (sa.select(_appointments)
                 .where(_appointments.c.dealer_code == self.dealer_code,
                        _appointments.c.status.in_([str(s) for s in HOLDS_CAPACITY]),
                        _appointments.c.slot_start < as_utc(end),
                        _appointments.c.slot_end > as_utc(start)))
        if exclude is not None:
            query = query.where(_appointments.c.id != exclude)
        return [Appointment.from_row(r) for r in self.session.execute(query).mappings()]

    # -- appointments ----------------------------------------------------------------------

    def appointment(self, appointment_id: str, *, lock: bool = False) -> Appointment | None:
        query = sa.select(_appointments).where(_appointments.c.id == appointment_id,
                                               _appointments.c.dealer_code == self.dealer_code)
        if lock:
            query = query.with_for_update()
        row = self.session.execute(query).mappings().first()
        return Appointment.from_row(row) if row else None

    def add(self, appointment: Appointment) -> None:
        self.session.execute(_appointments.insert().values(**_stored(appointment)))

    def save(self, appointment: Appointment) -> None:
        values = _stored(appointment)
        del values["id"]
        self.session.execute(_appointments.update()
                             .where(_appointments.c.id == appointment.id).values(**values))

    def appointments(self, calendar: Calendar, *, customer_id: str | None = None,
                     first: date | None = None, last: date | None = None,
                     status: str | None = None, limit: int = 100) -> list[Appointment]:
        query = sa.select(_appointments).where(_appointments.c.dealer_code == self.dealer_code)
        if customer_id is not None:
            query = query.where(_appointments.c.customer_id == customer_id)
        if first is not None:
            query = query.where(_appointments.c.slot_start >= calendar.day_window(first, first)[0])
        if last is not None:
            query = query.where(_appointments.c.slot_start < calendar.day_window(last, last)[1])
        if status is not None:
            query = query.where(_appointments.c.status == status)
        query = query.order_by(_appointments.c.slot_start, _appointments.c.id).limit(limit)
        return [Appointment.from_row(r) for r in self.session.execute(query).mappings()]

    def open_from(self, moment: datetime) -> list[Appointment]:
        """Open appointments (not yet arrived, cancelled or missed) from `moment` on."""
        query = (sa.select(_appointments)
                 .where(_appointments.c.dealer_code == self.dealer_code,
                        _appointments.c.status.in_([str(s) for s in OPEN]),
                        _appointments.c.slot_start >= as_utc(moment))
                 .order_by(_appointments.c.slot_start))
        return [Appointment.from_row(r) for r in self.session.execute(query).mappings()]

    def due_no_shows(self, started_before: datetime, limit: int) -> list[Appointment]:
        """Open appointments whose slot started before the cut-off, locked; rows another
        worker holds (an advisor checking the customer in right now) are left alone."""
        query = (sa.select(_appointments)
                 .where(_appointments.c.dealer_code == self.dealer_code,
                        _appointments.c.status.in_([str(s) for s in OPEN]),
                        _appointments.c.slot_start <= as_utc(started_before))
                 .order_by(_appointments.c.slot_start, _appointments.c.id).limit(limit)
                 .with_for_update(skip_locked=True))
        return [Appointment.from_row(r) for r in self.session.execute(query).mappings()]


def _stored(appointment: Appointment) -> dict[str, Any]:
    values = appointment.as_row()
    values["status"] = str(appointment.status)
    return values


class AppointmentBook(DependencyProvider):
    """Declare `store = AppointmentBook()` on the service: each worker gets a BookingStore on
    the worker's own session (the one `self.db` and `self.outbox` use).

    The site's time zone for the default calendar is the site's `time_zone` setting
    (validated at start by the chassis).
    """

    def setup(self) -> None:
        settings = self.container.config["AFTERSALES"]
        self.dealer_code = settings.dealer_code
        self.time_zone = settings.time_zone
        self.database = find_database(self.container)

    def get_dependency(self, worker_ctx: Any) -> BookingStore:
        return BookingStore(self.database.session_for(worker_ctx), self.dealer_code,
                            self.time_zone)
