"""The dealer calendar and availability over HTTP: the manager sets it, bookings follow it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.service import BookingService
from chassis.testing import make_settings, service_database
from services.booking.tests.integration.booking_site import (
    ADVISOR,
    AGENT,
    MANAGER,
    OWNER_ID,
    TECHNICIAN,
    Site,
    calendar_body,
    owner,
    tomorrow_at,
)


def test_the_manager_sets_the_calendar_and_everyone_who_books_can_read_it(site):
    saved = site.set_calendar(bays=6, advisors=2)
    assert saved["configured"] is True
    assert saved["capacity_per_slot"] == 2
    assert saved["updated_by"] == "manager-1"
    assert saved["appointments_to_review"] == []
    for headers in (ADVISOR, AGENT, owner(OWNER_ID), MANAGER):
        read = site.call("GET", "/calendar", headers).json()
        assert read["bays"] == 6 and read["configured"] is True


def test_only_the_manager_changes_the_calendar(site):
    for headers in (ADVISOR, AGENT, owner(OWNER_ID)):
        assert site.call("PUT", "/calendar", headers, json=calendar_body()).status_code == 403
    assert site.call("PUT", "/calendar", json=calendar_body()).status_code == 401
    assert site.call("GET", "/calendar", TECHNICIAN).status_code == 403
    assert site.call("GET", "/calendar", ADVISOR).json()["configured"] is False


@pytest.mark.parametrize("changes, field", [
    ({"slot_minutes": 1}, "slot_minutes"),
    ({"slot_minutes": "30"}, "slot_minutes"),
    ({"bays": 0}, "bays"),
    ({"advisors": 1000}, "advisors"),
    ({"time_zone": "Asia/Atlantis"}, "time_zone"),
    ({"opening_hours": [{"weekday": "MON", "opens": "8am", "closes": "18:00"}]},
     "opening_hours"),
    ({"opening_hours": [{"weekday": "MON", "opens": "18:00", "closes": "08:00"}]},
     "opening_hours"),
    ({"closed_dates": ["2026-02-30"]}, "closed_dates"),
    ({"service_types": [{"code": "CAR_WASH", "duration_minutes": 20}]}, "service_types"),
    ({"service_types": [{"code": "TYRES", "duration_minutes": 0}]}, "service_types"),
    ({"no_show_grace_minutes": -1}, "no_show_grace_minutes"),
    ({"opening_hours": None}, "opening_hours"),
    ({"parking_spaces": 12}, "parking_spaces"),
])
def test_an_impossible_calendar_is_refused_naming_the_field(site, changes, field):
    response = site.call("PUT", "/calendar", MANAGER, json=calendar_body(**changes))
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    assert site.call("GET", "/calendar", MANAGER).json()["configured"] is False


def test_a_calendar_that_is_not_json_is_400(site):
    response = site.call("PUT", "/calendar", MANAGER, data="{opening_hours: always}")
    assert response.status_code == 400


def test_bookings_follow_the_new_calendar(site):
    day = tomorrow_at(0).date()
    site.set_calendar(closed_dates=[day.isoformat()])
    refused = site.book(tomorrow_at(9), expect=422)
    assert "closed date" in refused.json()["fields"]["slot_start"][0]
    site.set_calendar(slot_minutes=60)
    assert "slot_start" in site.book(tomorrow_at(9, 30), expect=422).json()["fields"]
    site.book(tomorrow_at(9))
    assert "service_type" in site.book(tomorrow_at(12), service_type="DIAGNOSIS",
                                       expect=422).json()["fields"]


def test_closing_a_day_with_bookings_lists_them_for_review_and_keeps_them(site):
    site.set_calendar()
    booked = site.book(tomorrow_at(10)).json()
    saved = site.set_calendar(closed_dates=[tomorrow_at(0).date().isoformat()])
    assert [(r["appointment_id"], r["reason"]) for r in saved["appointments_to_review"]] == [
        (booked["id"], "CLOSED")]
    kept = site.call("GET", f"/appointments/{booked['id']}", ADVISOR).json()
    assert kept["status"] == "SCHEDULED"


def test_availability_shows_free_capacity_per_slot(site):
    site.set_calendar()  # capacity 3
    for n in range(2):
        site.book(tomorrow_at(10), plate=f"京A2000{n}")
    site.book(tomorrow_at(10, 30), plate="京A20002", service_type="TYRES")  # 10:30-11:15
    day = tomorrow_at(0).date()
    response = site.call("GET", "/availability", owner(OWNER_ID), params={
        "service_type": "MAINTENANCE", "from": day.isoformat(),
        "to": (day + timedelta(days=1)).isoformat()})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["duration_minutes"], answer["slot_minutes"]) == (60, 30)
    first, second = answer["days"]
    assert first["date"] == day.isoformat() and first["open"] is True
    slots = {s["start"][11:16]: s for s in first["slots"]}
    assert len(slots) == 20
    assert {k: slots[k]["booked"] for k in ("09:30", "10:00", "10:30", "11:00", "11:30")} == {
        "09:30": 0, "10:00": 2, "10:30": 3, "11:00": 1, "11:30": 0}
    assert slots["10:30"]["free"] == 0 and slots["10:30"]["bookable"] is False
    assert slots["10:00"]["free"] == 1 and slots["10:00"]["bookable"] is False  # needs 10:30
    assert slots["11:00"]["bookable"] is True
    assert slots["17:30"]["bookable"] is False  # would end at 18:30
    assert all(s["booked"] == 0 for s in second["slots"])


GOOD = {"service_type": "MAINTENANCE", "from": "2026-12-01", "to": "2026-12-07"}


@pytest.mark.parametrize("query, field", [
    ({**GOOD, "to": "2027-01-15"}, "to"),  # more than 31 days
    ({**GOOD, "to": "2026-11-30"}, "to"),
    ({"service_type": "MAINTENANCE", "from": "2026-12-01"}, "to"),
    ({"service_type": "MAINTENANCE", "to": "2026-12-01"}, "from"),
    ({**GOOD, "from": "1 Dec"}, "from"),
    ({**GOOD, "service_type": "CAR_WASH"}, "service_type"),
    ({**GOOD, "service_type": "OTHER"}, "service_type"),  # in the contract, not this calendar
    ({**GOOD, "slot": "09:00"}, "slot"),
])
def test_a_bad_availability_query_is_refused_naming_the_parameter(site, query, field):
    response = site.call("GET", "/availability", ADVISOR, params=query)
    assert response.status_code == 422, (query, response.text)
    assert field in response.json()["fields"]


def test_availability_is_for_those_who_book(site):
    params = {"service_type": "MAINTENANCE", "from": "2026-12-01", "to": "2026-12-01"}
    assert site.call("GET", "/availability", TECHNICIAN, params=params).status_code == 403
    assert site.call("GET", "/availability", params=params).status_code == 401


def test_the_default_calendar_keeps_the_sites_time_zone(database, amqp_uri, services):
    settings = make_settings("booking", service_database(database, BookingService), amqp_uri,
                             time_zone="Asia/Shanghai")
    services(BookingService, settings)
    site = Site(f"http://127.0.0.1:{settings.http_port}", settings.database_url)
    calendar = site.call("GET", "/calendar", ADVISOR).json()
    assert (calendar["time_zone"], calendar["configured"]) == ("Asia/Shanghai", False)
    # 09:00 in Beijing is 01:00 UTC: the first slots of the day there.
    booked = site.book(tomorrow_at(1), expect=201).json()
    assert booked["slot_start"].endswith("T09:00:00+08:00")
    site.engine.dispose()

