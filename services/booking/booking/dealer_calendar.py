"""The dealer calendar: opening hours, closed dates, slots and their capacity. Plain Python.

A day's slots start at the opening time and follow each other every `slot_minutes` until
closing (only whole slots). A slot takes as many cars as the site has bays and advisors to
receive them, whichever is fewer. An appointment occupies every slot its service type's
duration spans; it must start on a slot and end by closing time.

All instants are timezone-aware and normalised to UTC; opening hours are wall-clock times in
the calendar's time zone (so "08:00" stays 08:00 across a daylight-saving change).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chassis.errors import InvalidInput
from contracts.vocabulary import SERVICE_TYPES as CONTRACT_SERVICE_TYPES

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
MAX_RANGE_DAYS = 31  # the longest availability query
DAY_MINUTES = 24 * 60
SLOT_CACHE_DAYS = 800  # days whose slots one calendar keeps (two years and more)

# Used by a site whose manager has not set a calendar yet, so a fresh site takes bookings.
# Open every day: most 4S shops in China trade seven days a week.
DEFAULT_OPENING = ("08:00", "18:00")
DEFAULT_SLOT_MINUTES = 30
DEFAULT_BAYS = 4
DEFAULT_ADVISORS = 4
DEFAULT_NO_SHOW_GRACE_MINUTES = 30
DEFAULT_BOOKING_HORIZON_DAYS = 90
DEFAULT_SERVICE_TYPES: dict[str, int] = {
    "MAINTENANCE": 60,
    "REPAIR": 120,
    "DIAGNOSIS": 60,
    "RECALL": 60,
    "BODY_AND_PAINT": 240,
    "TYRES": 45,
    "INSPECTION": 30,
}


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive value (SQLite hands those back) is read as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def hhmm_to_minutes(text: str) -> int:
    """'08:30' → 510; '24:00' means midnight at the end of the day."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def minutes_to_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime  # UTC
    end: datetime    # UTC


@dataclass(frozen=True)
class SlotLoad:
    """One slot of one day, with what is booked in it."""

    slot: Slot
    capacity: int
    booked: int
    bookable: bool  # a booking of the asked-for service type may start here now

    @property
    def free(self) -> int:
        return max(self.capacity - self.booked, 0)


@dataclass(frozen=True)
class DayLoad:
    day: date
    open: bool
    opens: str | None
    closes: str | None
    slots: tuple[SlotLoad, ...]


@dataclass(frozen=True)
class Calendar:
    time_zone: str
    slot_minutes: int
    bays: int
    advisors: int
    # weekday (MON…SUN) → (opening, closing) in minutes after local midnight
    opening_hours: Mapping[str, tuple[int, int]]
    closed_dates: frozenset[date]
    # service type → how long it takes, in minutes
    service_types: Mapping[str, int]
    no_show_grace_minutes: int = DEFAULT_NO_SHOW_GRACE_MINUTES
    booking_horizon_days: int = DEFAULT_BOOKING_HORIZON_DAYS
    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    # Each day's slots, worked out once: a calendar is cached per process and asked about
    # the same days by every availability call and booking.
    _slots: dict[date, tuple[Slot, ...]] = field(init=False, repr=False, compare=False,
                                                 default_factory=dict)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput("time_zone", f"{self.time_zone!r} is not an IANA time zone, "
                                            "e.g. Asia/Shanghai") from None
        object.__setattr__(self, "zone", zone)
        if not 5 <= self.slot_minutes <= 240:
            raise InvalidInput("slot_minutes", "must be between 5 and 240")
        if self.bays < 1:
            raise InvalidInput("bays", "must be at least 1")
        if self.advisors < 1:
            raise InvalidInput("advisors", "must be at least 1")
        for weekday, (opens, closes) in self.opening_hours.items():
            if weekday not in WEEKDAYS:
                raise InvalidInput("opening_hours", f"{weekday!r} is not one of {WEEKDAYS}")
            if not 0 <= opens < closes <= DAY_MINUTES:
                raise InvalidInput("opening_hours",
                                   f"{weekday}: must open before it closes, within the day")
            if closes - opens < self.slot_minutes:
                raise InvalidInput("opening_hours",
                                   f"{weekday}: open for less than one {self.slot_minutes}-minute"
                                   " slot")
        if not self.service_types:
            raise InvalidInput("service_types", "offer at least one service type")
        for code, minutes in self.service_types.items():
            if code not in CONTRACT_SERVICE_TYPES:
                raise InvalidInput("service_types",
                                   f"{code!r} is not one of {', '.join(CONTRACT_SERVICE_TYPES)}")
            if minutes < 1:
                raise InvalidInput("service_types", f"{code}: the duration must be positive")

    # -- building and storing ------------------------------------------------------------

    @classmethod
    def default(cls, time_zone: str = "UTC") -> Calendar:
        opens, closes = (hhmm_to_minutes(t) for t in DEFAULT_OPENING)
        return cls(time_zone=time_zone, slot_minutes=DEFAULT_SLOT_MINUTES, bays=DEFAULT_BAYS,
                   advisors=DEFAULT_ADVISORS,
                   opening_hours={weekday: (opens, closes) for weekday in WEEKDAYS},
                   closed_dates=frozenset(), service_types=dict(DEFAULT_SERVICE_TYPES))

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Calendar:
        """From the JSON form (see `to_document`); raises InvalidInput naming the field."""
        opening: dict[str, tuple[int, int]] = {}
        for index, day in enumerate(document["opening_hours"]):
            if day["weekday"] in opening:
                raise InvalidInput(f"opening_hours.{index}.weekday",
                                   f"{day['weekday']} is given twice")
            opening[day["weekday"]] = (hhmm_to_minutes(day["opens"]),
                                       hhmm_to_minutes(day["closes"]))
        services: dict[str, int] = {}
        for index, service in enumerate(document["service_types"]):
            if service["code"] in services:
                raise InvalidInput(f"service_types.{index}.code",
                                   f"{service['code']} is given twice")
            services[service["code"]] = service["duration_minutes"]
        return cls(
            time_zone=document["time_zone"], slot_minutes=document["slot_minutes"],
            bays=document["bays"], advisors=document["advisors"], opening_hours=opening,
            closed_dates=frozenset(date.fromisoformat(d) for d in document["closed_dates"]),
            service_types=services,
            no_show_grace_minutes=document.get("no_show_grace_minutes",
                                               DEFAULT_NO_SHOW_GRACE_MINUTES),
            booking_horizon_days=document.get("booking_horizon_days",
                                              DEFAULT_BOOKING_HORIZON_DAYS))

    def to_document(self) -> dict[str, Any]:
        return {
            "time_zone": self.time_zone,
            "slot_minutes": self.slot_minutes,
            "bays": self.bays,
            "advisors": self.advisors,
            "opening_hours": [
                {"weekday": weekday, "opens": minutes_to_hhmm(self.opening_hours[weekday][0]),
                 "closes": minutes_to_hhmm(self.opening_hours[weekday][1])}
                for weekday in WEEKDAYS if weekday in self.opening_hours],
            "closed_dates": [d.isoformat() for d in sorted(self.closed_dates)],
            "service_types": [{"code": code, "duration_minutes": minutes}
                              for code, minutes in sorted(self.service_types.items())],
            "no_show_grace_minutes": self.no_show_grace_minutes,
            "booking_horizon_days": self.booking_horizon_days,
        }

    # -- reading the calendar ------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """Cars one slot takes: a car needs a bay and an advisor to receive it."""
        return min(self.bays, self.advisors)

    @property
    def slot_length(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    @property
    def no_show_grace(self) -> timedelta:
        return timedelta(minutes=self.no_show_grace_minutes)

    def local(self, moment: datetime) -> datetime:
        """An instant as the dealer's wall clock shows it (for answers and events)."""
        return as_utc(moment).astimezone(self.zone)

    def local_date(self, moment: datetime) -> date:
        return self.local(moment).date()

    def hours_on(self, day: date) -> tuple[int, int] | None:
        """(opening, closing) minutes on that date, or None when the site is closed."""
        if day in self.closed_dates:
            return None
        return self.opening_hours.get(WEEKDAYS[day.weekday()])

    def _at(self, day: date, minutes: int) -> datetime:
        # Wall-clock arithmetic in the dealer's zone, then the real instant in UTC.
        midnight = datetime.combine(day, time.min, tzinfo=self.zone)
        return (midnight + timedelta(minutes=minutes)).astimezone(UTC)

    def slots_on(self, day: date) -> list[Slot]:
        known = self._slots.get(day)
        if known is None:
            known = self._slots_on(day)
            if len(self._slots) >= SLOT_CACHE_DAYS:
                self._slots.clear()  # queries far apart in time: start again
            self._slots[day] = known
        return list(known)

    def _slots_on(self, day: date) -> tuple[Slot, ...]:
        hours = self.hours_on(day)
        if hours is None:
            return ()
        opens, closes = hours
        starts = range(opens, closes - self.slot_minutes + 1, self.slot_minutes)
        return tuple(Slot(self._at(day, m), self._at(day, m + self.slot_minutes))
                     for m in starts)

    def duration_of(self, service_type: str) -> timedelta:
        if service_type not in self.service_types:
            offered = ", ".join(sorted(self.service_types))
            raise InvalidInput("service_type", f"this dealer does not book {service_type} "
                                               f"(offered: {offered})")
        return timedelta(minutes=self.service_types[service_type])

    def slots_needed(self, service_type: str) -> int:
        return math.ceil(self.duration_of(service_type) / self.slot_length)

    def placement(self, start: datetime, service_type: str,
                  field_name: str = "slot_start") -> tuple[datetime, list[Slot]]:
        """Where a booking of `service_type` starting at `start` goes: (its end, the slots it
        occupies). Refuses (InvalidInput on `field_name`) a start that is not a slot of an
        open day or a service that would run past closing time."""
        start = as_utc(start)
        duration = self.duration_of(service_type)
        day = self.local_date(start)
        hours = self.hours_on(day)
        if hours is None:
            why = "a closed date" if day in self.closed_dates else "a day the workshop is closed"
            raise InvalidInput(field_name, f"{day.isoformat()} is {why}")
        slots = self.slots_on(day)
        starts = [slot.start for slot in slots]
        if start not in starts:
            opens, closes = (minutes_to_hhmm(m) for m in hours)
            raise InvalidInput(
                field_name, f"is not the start of a slot: slots are {self.slot_minutes} minutes "
                            f"from {opens} to {closes} ({self.time_zone})")
        end = start + duration
        if end > slots[-1].end:
            raise InvalidInput(
                field_name, f"a {service_type} takes {self.service_types[service_type]} minutes "
                            f"and would end after closing time "
                            f"({minutes_to_hhmm(hours[1])} {self.time_zone})")
        first = starts.index(start)
        return end, slots[first:first + self.slots_needed(service_type)]

    def occupied_slots(self, start: datetime, end: datetime) -> list[Slot]:
        """The slots of that day an appointment from `start` to `end` overlaps (it may no
        longer sit on the grid if the calendar changed since it was booked)."""
        start, end = as_utc(start), as_utc(end)
        return [slot for slot in self.slots_on(self.local_date(start))
                if slot.start < end and slot.end > start]

    def check_range(self, first: date, last: date) -> None:
        if last < first:
            raise InvalidInput("to", "must not be before from")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise InvalidInput("to", f"ask for at most {MAX_RANGE_DAYS} days at a time")

    def horizon_end(self, now: datetime) -> date:
        """The last date that may be booked today."""
        return self.local_date(now) + timedelta(days=self.booking_horizon_days)

    def day_window(self, first: date, last: date) -> tuple[datetime, datetime]:
        """UTC instants from the first date's local midnight to the end of the last date."""
        return self._at(first, 0), self._at(last + timedelta(days=1), 0)


# -- load arithmetic -------------------------------------------------------------------------


class Bookings:
    """How many appointments overlap any given slot, from their (start, end) intervals."""

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]]) -> None:
        pairs = [(as_utc(s), as_utc(e)) for s, e in intervals]
        self._starts = sorted(s for s, _ in pairs)
        self._ends = sorted(e for _, e in pairs)

    def __len__(self) -> int:
        return len(self._starts)

    def in_slot(self, slot: Slot) -> int:
        # Those that started before the slot ends, minus those already over when it starts
        # (an interval that ended by then also started before the slot ended).
        return bisect_left(self._starts, slot.end) - bisect_right(self._ends, slot.start)


def full_slots(calendar: Calendar, slots: Iterable[Slot], bookings: Bookings) -> list[Slot]:
    """The slots among `slots` with no capacity left for one more car."""
    return [slot for slot in slots if bookings.in_slot(slot) >= calendar.capacity]


def availability(calendar: Calendar, first: date, last: date, service_type: str,
                 bookings: Bookings, now: datetime) -> list[DayLoad]:
    """Every slot from `first` to `last` (dealer-local dates) with its capacity and load,
    and whether a `service_type` booking could start there now."""
    calendar.check_range(first, last)
    needed = calendar.slots_needed(service_type)
    duration = calendar.duration_of(service_type)
    horizon = calendar.horizon_end(now)
    days = []
    day = first
    while day <= last:
        slots = calendar.slots_on(day)
        loads = [bookings.in_slot(slot) for slot in slots]
        rows = []
        for index, slot in enumerate(slots):
            span = range(index, index + needed)
            fits = (index + needed <= len(slots)
                    and slot.start + duration <= slots[-1].end
                    and all(loads[i] < calendar.capacity for i in span))
            bookable = fits and slot.start > as_utc(now) and day <= horizon
            rows.append(SlotLoad(slot, calendar.capacity, loads[index], bookable))
        hours = calendar.hours_on(day)
        days.append(DayLoad(day, hours is not None,
                            minutes_to_hhmm(hours[0]) if hours else None,
                            minutes_to_hhmm(hours[1]) if hours else None, tuple(rows)))
        day += timedelta(days=1)
    return days
