"""Reading and writing booking's tables in the unit of work's transaction.

`AppointmentBook` holds the queries; `BookingUnitOfWork`, at the end, carries it for the use
cases (`booking.use_cases`). The locking that keeps slots from being over-booked lives here;
what "full" means is the domain's. Works on PostgreSQL (row locks) and SQLite (embedded
mode: one connection, so transactions are serial anyway and FOR UPDATE is left out by
SQLAlchemy).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from booking import models
from booking.dealer_calendar import Calendar, Slot, as_utc
from booking.domain import HOLDS_CAPACITY, OPEN, Appointment, CapacityHolder, Status
from chassis.unit_of_work import Emits, UnitOfWork

_appointments = models.appointments
_calendars = models.calendars
_slot_locks = models.slot_locks

# The hot path's statements, built once: building and hashing a statement per call cost
# more CPU than running it. Values come in as bound parameters.
_DEALER = sa.bindparam("dealer")
_CALENDAR_VERSION = (sa.select(_calendars.c.configured, _calendars.c.updated_at,
                               _calendars.c.updated_by)
                     .where(_calendars.c.dealer_code == _DEALER))
_CALENDAR_VERSION_LOCKED = {
    "share": _CALENDAR_VERSION.with_for_update(read=True),
    "update": _CALENDAR_VERSION.with_for_update(),
}
_CALENDAR_DOCUMENT = sa.select(_calendars.c.document).where(_calendars.c.dealer_code == _DEALER)
_HOLDING = (_appointments.c.dealer_code == _DEALER,
            _appointments.c.status.in_([str(s) for s in HOLDS_CAPACITY]),
            _appointments.c.slot_start < sa.bindparam("end"),
            _appointments.c.slot_end > sa.bindparam("start"))
_INTERVALS = sa.select(_appointments.c.slot_start, _appointments.c.slot_end).where(*_HOLDING)
_HOLDING_CAPACITY = sa.select(
    _appointments.c.id, _appointments.c.status, _appointments.c.slot_start,
    _appointments.c.slot_end, _appointments.c.plate, _appointments.c.vin).where(*_HOLDING)
_HOLDING_CAPACITY_BUT = _HOLDING_CAPACITY.where(_appointments.c.id != sa.bindparam("exclude"))
_ADD = _appointments.insert()
_APPOINTMENT = sa.select(_appointments).where(_appointments.c.id == sa.bindparam("id"),
                                              _appointments.c.dealer_code == _DEALER)
_APPOINTMENT_LOCKED = _APPOINTMENT.with_for_update()
# The columns to set come from the parameters given (every one but the key).
_SAVE = _appointments.update().where(_appointments.c.id == sa.bindparam("appointment_id"))
_OPEN = (_appointments.c.dealer_code == _DEALER,
         _appointments.c.status.in_([str(s) for s in OPEN]))
_OPEN_FROM = (sa.select(_appointments)
              .where(*_OPEN, _appointments.c.slot_start >= sa.bindparam("moment"))
              .order_by(_appointments.c.slot_start))
# Rows another worker holds (an advisor checking the customer in right now) are skipped.
_DUE_NO_SHOWS = (sa.select(_appointments)
                 .where(*_OPEN, _appointments.c.slot_start <= sa.bindparam("started_before"))
                 .order_by(_appointments.c.slot_start, _appointments.c.id)
                 .limit(sa.bindparam("limit")).with_for_update(skip_locked=True))


# ON CONFLICT DO UPDATE takes the row lock of a row that exists: one statement both creates
# the missing slot rows and locks them all, in ascending order of start.
_HOLD_SLOTS_POSTGRESQL = sa.text(
    "INSERT INTO slot_locks (dealer_code, slot_start) "
    "SELECT :dealer, start FROM unnest(:starts) AS start ORDER BY start "
    "ON CONFLICT (dealer_code, slot_start) DO UPDATE SET slot_start = excluded.slot_start"
).bindparams(sa.bindparam("starts", type_=postgresql.ARRAY(sa.DateTime(timezone=True))))
# SQLite (embedded mode, one connection: transactions are serial anyway) takes them one by one.
_HOLD_SLOT_SQLITE = sqlite.insert(_slot_locks).on_conflict_do_nothing()


@dataclass(frozen=True)
class StoredCalendar:
    calendar: Calendar
    configured: bool
    updated_at: datetime | None
    updated_by: str | None


@cache
def _default_calendar(time_zone: str) -> Calendar:
    return Calendar.default(time_zone)


class CalendarCache:
    """The site's parsed calendar, kept per process and keyed by the row's version
    (updated_at, updated_by): every request still reads the version (with its lock), but the
    document is read and parsed again only after a change, by this process or another."""

    def __init__(self) -> None:
        self._version: tuple[Any, ...] | None = None
        self._stored: StoredCalendar | None = None

    def get(self, version: tuple[Any, ...]) -> StoredCalendar | None:
        return self._stored if version == self._version else None

    def put(self, version: tuple[Any, ...], stored: StoredCalendar) -> None:
        self._version, self._stored = version, stored


class AppointmentBook:
    """The site's calendar and appointments, over one session (no commits: the unit of work's
    transaction is the framework's to end)."""

    def __init__(self, session: Session, dealer_code: str, default_time_zone: str,
                 calendars: CalendarCache | None = None) -> None:
        self.session = session
        self.dealer_code = dealer_code
        self.default_time_zone = default_time_zone
        self.calendars = calendars or CalendarCache()

    def _insert(self, table: sa.Table) -> Any:
        dialect = self.session.get_bind().dialect.name
        return (postgresql if dialect == "postgresql" else sqlite).insert(table)

    # -- the calendar ------------------------------------------------------------------------

    def calendar(self, *, lock: str | None = None) -> StoredCalendar:
        """The site's calendar; the default one until the manager sets it.

        lock="share": bookings hold it while they check capacity, so a calendar change waits
        for them (and they for it); lock="update": the calendar is about to change.
        """
        query = _CALENDAR_VERSION_LOCKED[lock] if lock else _CALENDAR_VERSION
        params = {"dealer": self.dealer_code}
        row = self.session.execute(query, params).first()
        if row is None and lock:
            # The row must exist to be locked: a fresh site gets a placeholder that stands
            # for the default calendar.
            self.session.execute(self._insert(_calendars).values(
                dealer_code=self.dealer_code, document=Calendar.default().to_document(),
                configured=False, updated_at=sa.func.now()).on_conflict_do_nothing())
            row = self.session.execute(query, params).first()
        if row is None or not row.configured:
            return StoredCalendar(_default_calendar(self.default_time_zone), False, None, None)
        version = (row.updated_at, row.updated_by)
        stored = self.calendars.get(version)
        if stored is None:
            document = self.session.scalar(_CALENDAR_DOCUMENT, params)
            stored = StoredCalendar(Calendar.from_document(document), True,
                                    as_utc(row.updated_at), row.updated_by)
            self.calendars.put(version, stored)
        return stored

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
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(_HOLD_SLOTS_POSTGRESQL,
                                 {"dealer": self.dealer_code, "starts": starts})
        else:
            self.session.execute(_HOLD_SLOT_SQLITE, [
                {"dealer_code": self.dealer_code, "slot_start": start} for start in starts])

    def intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """(start, end) of the appointments holding capacity between start and end."""
        params = {"dealer": self.dealer_code, "start": as_utc(start), "end": as_utc(end)}
        return [(as_utc(s), as_utc(e)) for s, e in self.session.execute(_INTERVALS, params)]

    def holding_capacity(self, start: datetime, end: datetime,
                         exclude: str | None = None) -> list[CapacityHolder]:
        """Appointments that hold capacity anywhere between start and end."""
        params = {"dealer": self.dealer_code, "start": as_utc(start), "end": as_utc(end)}
        query = _HOLDING_CAPACITY
        if exclude is not None:
            query, params["exclude"] = _HOLDING_CAPACITY_BUT, exclude
        return [CapacityHolder(r.id, Status(r.status), as_utc(r.slot_start), as_utc(r.slot_end),
                               r.plate, r.vin) for r in self.session.execute(query, params)]

    # -- appointments ----------------------------------------------------------------------

    def appointment(self, appointment_id: str, *, lock: bool = False) -> Appointment | None:
        """One appointment of this site; lock=True holds its row until the transaction ends."""
        query = _APPOINTMENT_LOCKED if lock else _APPOINTMENT
        row = self.session.execute(query, {"id": appointment_id, "dealer": self.dealer_code}
                                   ).mappings().first()
        return Appointment.from_row(row) if row else None

    def add(self, appointment: Appointment) -> None:
        self.session.execute(_ADD, _stored(appointment))

    def save(self, appointment: Appointment) -> None:
        values = _stored(appointment)
        values["appointment_id"] = values.pop("id")
        self.session.execute(_SAVE, values)

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
        params = {"dealer": self.dealer_code, "moment": as_utc(moment)}
        return [Appointment.from_row(r)
                for r in self.session.execute(_OPEN_FROM, params).mappings()]

    def due_no_shows(self, started_before: datetime, limit: int) -> list[Appointment]:
        """Open appointments whose slot started before the cut-off, locked; rows another
        worker holds (an advisor checking the customer in right now) are left alone."""
        params = {"dealer": self.dealer_code, "started_before": as_utc(started_before),
                  "limit": limit}
        return [Appointment.from_row(r)
                for r in self.session.execute(_DUE_NO_SHOWS, params).mappings()]


def _stored(appointment: Appointment) -> dict[str, Any]:
    values = appointment.as_row()
    values["status"] = str(appointment.status)
    return values


def booking_resources(settings: Any) -> dict[str, Any]:
    """What every booking unit of work of a process shares, built once at start: the site,
    the time zone of its default calendar (the `time_zone` setting, validated by the chassis)
    and the parsed calendar cache."""
    return {"dealer_code": settings.dealer_code, "time_zone": settings.time_zone,
            "calendars": CalendarCache()}


class BookingUnitOfWork(UnitOfWork):
    """One booking transaction: the appointment book, and the events written with it."""

    def __init__(self, session: Session, events: Emits, *, dealer_code: str, time_zone: str,
                 calendars: CalendarCache) -> None:
        super().__init__(session, events)
        self.appointments = AppointmentBook(session, dealer_code, time_zone, calendars)
