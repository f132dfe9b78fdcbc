"""The dealer calendar's arithmetic: slots, opening hours, closed dates, capacity, load."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from booking.dealer_calendar import (
    MAX_RANGE_DAYS,
    Bookings,
    Calendar,
    Slot,
    availability,
    full_slots,
)
from chassis.errors import InvalidInput

MONDAY = date(2026, 11, 23)
SUNDAY = date(2026, 11, 29)


def document(**changes):
    body = {
        "time_zone": "Asia/Shanghai",
        "slot_minutes": 30,
        "bays": 8,
        "advisors": 3,
        "opening_hours": [{"weekday": d, "opens": "08:30", "closes": "17:30"}
                          for d in ("MON", "TUE", "WED", "THU", "FRI", "SAT")],
        "closed_dates": ["2026-11-25"],
        "service_types": [{"code": "MAINTENANCE", "duration_minutes": 60},
                          {"code": "REPAIR", "duration_minutes": 120},
                          {"code": "TYRES", "duration_minutes": 45}],
        "no_show_grace_minutes": 20,
        "booking_horizon_days": 30,
    }
    body.update(changes)
    return body


CALENDAR = Calendar.from_document(document())


def beijing(day: date, hh: int, mm: int = 0) -> datetime:
    """That wall-clock time in Beijing (UTC+8, no daylight saving), as a UTC instant."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - timedelta(hours=8)


def refused(call, *args, **kwargs) -> dict:
    with pytest.raises(InvalidInput) as error:
        call(*args, **kwargs)
    return error.value.detail["fields"]


def test_a_slot_takes_as_many_cars_as_there_are_bays_and_advisors_whichever_is_fewer():
    assert CALENDAR.capacity == 3
    assert Calendar.from_document(document(bays=2, advisors=6)).capacity == 2


def test_slots_run_from_opening_to_closing_in_the_dealers_time_zone():
    slots = CALENDAR.slots_on(MONDAY)
    assert len(slots) == 18  # 08:30 to 17:30
    assert slots[0] == Slot(beijing(MONDAY, 8, 30), beijing(MONDAY, 9))
    assert slots[-1].end == beijing(MONDAY, 17, 30)


def test_only_whole_slots_fit_before_closing():
    calendar = Calendar.from_document(document(slot_minutes=60))
    assert calendar.slots_on(MONDAY)[-1] == Slot(beijing(MONDAY, 16, 30), beijing(MONDAY, 17, 30))
    assert len(calendar.slots_on(MONDAY)) == 9


def test_closed_dates_and_days_without_opening_hours_have_no_slots():
    assert CALENDAR.slots_on(date(2026, 11, 25)) == []
    assert CALENDAR.slots_on(SUNDAY) == []


def test_a_booking_starts_on_a_slot_and_occupies_every_slot_it_spans():
    end, slots = CALENDAR.placement(beijing(MONDAY, 9), "TYRES")
    assert end == beijing(MONDAY, 9, 45)
    assert [s.start for s in slots] == [beijing(MONDAY, 9), beijing(MONDAY, 9, 30)]


def test_a_start_between_slots_is_refused():
    fields = refused(CALENDAR.placement, beijing(MONDAY, 9, 10), "MAINTENANCE")
    assert "08:30 to 17:30 (Asia/Shanghai)" in fields["slot_start"][0]


def test_a_service_that_would_run_past_closing_is_refused():
    fields = refused(CALENDAR.placement, beijing(MONDAY, 16), "REPAIR")
    assert "after closing time" in fields["slot_start"][0]
    CALENDAR.placement(beijing(MONDAY, 15, 30), "REPAIR")  # ends exactly at closing


def test_a_closed_day_is_refused_with_the_reason():
    assert "closed date" in refused(CALENDAR.placement, beijing(date(2026, 11, 25), 9),
                                    "MAINTENANCE")["slot_start"][0]
    assert "closed" in refused(CALENDAR.placement, beijing(SUNDAY, 9),
                               "MAINTENANCE")["slot_start"][0]


def test_counting_bookings_in_a_slot():
    slots = CALENDAR.slots_on(MONDAY)
    bookings = Bookings([
        (beijing(MONDAY, 9), beijing(MONDAY, 11)),        # 9:00-11:00
        (beijing(MONDAY, 9, 30), beijing(MONDAY, 10, 15)),  # 9:30-10:15
        (beijing(MONDAY, 10), beijing(MONDAY, 10, 30)),    # 10:00-10:30
    ])
    by_start = {s.start: bookings.in_slot(s) for s in slots}
    assert by_start[beijing(MONDAY, 8, 30)] == 0
    assert by_start[beijing(MONDAY, 9)] == 1
    assert by_start[beijing(MONDAY, 9, 30)] == 2
    assert by_start[beijing(MONDAY, 10)] == 3
    assert by_start[beijing(MONDAY, 10, 30)] == 1
    assert by_start[beijing(MONDAY, 11)] == 0  # one that ends as a slot starts is not in it
    assert full_slots(CALENDAR, slots, bookings) == [Slot(beijing(MONDAY, 10),
                                                          beijing(MONDAY, 10, 30))]


def test_availability_shows_the_load_and_where_a_service_can_still_start():
    bookings = Bookings([(beijing(MONDAY, 10), beijing(MONDAY, 10, 30))] * 3)  # 10:00 is full
    now = beijing(MONDAY, 7)
    [monday] = availability(CALENDAR, MONDAY, MONDAY, "MAINTENANCE", bookings, now)
    by_start = {load.slot.start: load for load in monday.slots}
    full = by_start[beijing(MONDAY, 10)]
    assert (full.capacity, full.booked, full.free, full.bookable) == (3, 3, 0, False)
    # A one-hour service starting at 9:30 would need the full 10:00 slot too.
    assert by_start[beijing(MONDAY, 9, 30)].bookable is False
    assert by_start[beijing(MONDAY, 9, 30)].free == 3
    assert by_start[beijing(MONDAY, 9)].bookable is True
    assert by_start[beijing(MONDAY, 10, 30)].bookable is True
    assert by_start[beijing(MONDAY, 17)].bookable is False  # would end after closing
    assert (monday.open, monday.opens, monday.closes) == (True, "08:30", "17:30")


def test_availability_does_not_offer_slots_that_have_started():
    [monday] = availability(CALENDAR, MONDAY, MONDAY, "MAINTENANCE", Bookings([]),
                            beijing(MONDAY, 12))
    assert not any(load.bookable for load in monday.slots if load.slot.start <= beijing(MONDAY,
                                                                                         12))
    assert all(load.bookable for load in monday.slots
               if beijing(MONDAY, 12) < load.slot.start <= beijing(MONDAY, 16, 30))


def test_availability_lists_closed_days_without_slots():
    days = availability(CALENDAR, MONDAY, SUNDAY, "MAINTENANCE", Bookings([]),
                        beijing(MONDAY, 7))
    assert [d.open for d in days] == [True, True, False, True, True, True, False]
    assert days[2].slots == () and days[2].opens is None


def test_availability_is_asked_for_at_most_a_month_at_a_time():
    last = MONDAY + timedelta(days=MAX_RANGE_DAYS - 1)
    availability(CALENDAR, MONDAY, last, "MAINTENANCE", Bookings([]), beijing(MONDAY, 7))
    fields = refused(availability, CALENDAR, MONDAY, last + timedelta(days=1), "MAINTENANCE",
                     Bookings([]), beijing(MONDAY, 7))
    assert "to" in fields
    assert "to" in refused(CALENDAR.check_range, MONDAY, MONDAY - timedelta(days=1))


def test_the_default_calendar_lets_a_fresh_site_take_bookings_every_day():
    calendar = Calendar.default()
    assert (calendar.slot_minutes, calendar.capacity, calendar.time_zone) == (30, 4, "UTC")
    for offset in range(7):
        slots = calendar.slots_on(MONDAY + timedelta(days=offset))
        assert slots[0].start.strftime("%H:%M") == "08:00"
        assert slots[-1].end.strftime("%H:%M") == "18:00"
    assert Calendar.default("Asia/Shanghai").slots_on(MONDAY)[0].start == beijing(MONDAY, 8)


def test_the_calendar_reads_back_what_it_wrote():
    assert Calendar.from_document(CALENDAR.to_document()) == CALENDAR
    assert CALENDAR.to_document()["closed_dates"] == ["2026-11-25"]


def test_midnight_may_close_a_day():
    calendar = Calendar.from_document(document(opening_hours=[
        {"weekday": "MON", "opens": "00:00", "closes": "24:00"}]))
    assert len(calendar.slots_on(MONDAY)) == 48
    assert calendar.to_document()["opening_hours"][0]["closes"] == "24:00"


def test_opening_hours_follow_the_wall_clock_across_daylight_saving():
    calendar = Calendar.from_document(document(time_zone="Europe/Berlin", opening_hours=[
        {"weekday": d, "opens": "08:00", "closes": "18:00"} for d in ("SAT", "MON")]))
    before, after = date(2026, 10, 24), date(2026, 10, 26)  # clocks go back on the 25th
    assert calendar.slots_on(before)[0].start.hour == 6  # 08:00 CEST = 06:00 UTC
    assert calendar.slots_on(after)[0].start.hour == 7   # 08:00 CET = 07:00 UTC


@pytest.mark.parametrize("changes, field", [
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"opening_hours": [{"weekday": "MON", "opens": "18:00", "closes": "08:00"}]},
     "opening_hours"),
    ({"opening_hours": [{"weekday": "MON", "opens": "08:00", "closes": "08:15"}]},
     "opening_hours"),
    ({"opening_hours": [{"weekday": "MON", "opens": "08:00", "closes": "18:00"},
                        {"weekday": "MON", "opens": "09:00", "closes": "12:00"}]},
     "opening_hours.1.weekday"),
    ({"service_types": []}, "service_types"),
    ({"service_types": [{"code": "CAR_WASH", "duration_minutes": 30}]}, "service_types"),
    ({"service_types": [{"code": "TYRES", "duration_minutes": 30},
                        {"code": "TYRES", "duration_minutes": 45}]}, "service_types.1.code"),
    ({"slot_minutes": 2}, "slot_minutes"),
    ({"bays": 0}, "bays"),
])
def test_an_impossible_calendar_is_refused_naming_the_field(changes, field):
    assert field in refused(Calendar.from_document, document(**changes))


def test_a_days_slots_are_worked_out_once_and_handed_out_as_copies():
    calendar = Calendar.default("Asia/Shanghai")
    day = date(2026, 12, 1)
    first = calendar.slots_on(day)
    first.clear()  # a caller changing its list changes nobody else's
    again = calendar.slots_on(day)
    assert len(again) == 20
    assert again == Calendar.default("Asia/Shanghai").slots_on(day)
    assert again[0].start == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
