"""Booking's HTTP API on the real PostgreSQL and RabbitMQ: taking and reading appointments."""

from __future__ import annotations

import pytest
import requests

from booking.service import BookingService
from chassis.db import count_rows as count
from chassis.testing import auth, make_settings, service_database
from services.booking.tests.integration.booking_site import (
    AGENT,
    OTHER_DEALERS_ADVISOR,
    OTHER_OWNER_ID,
    OWNER_ID,
    TECHNICIAN,
    owner,
    tomorrow_at,
)
from tests.factories import ADVISOR, booking_request


@pytest.fixture
def booking(database, amqp_uri, services):
    settings = make_settings("booking", service_database(database, BookingService), amqp_uri)
    services(BookingService, settings)
    settings_url = f"http://127.0.0.1:{settings.http_port}"
    return settings_url, settings.database_url


def test_a_booking_is_stored_with_its_event_in_the_outbox(booking):
    url, db = booking
    response = requests.post(f"{url}/appointments", json=booking_request(), headers=ADVISOR,
                             timeout=10)
    assert response.status_code == 201
    appointment = response.json()
    assert response.headers["Location"] == f"/appointments/{appointment['id']}"
    assert appointment["status"] == "SCHEDULED"
    assert appointment["allowed_actions"] == ["confirm", "reschedule", "cancel", "check-in",
                                              "no-show"]
    fetched = requests.get(f"{url}/appointments/{appointment['id']}", headers=ADVISOR,
                           timeout=10)
    assert fetched.json() == appointment
    assert count(db, "outbox") == 1


def test_a_fresh_site_books_on_the_default_calendar(booking):
    url, _ = booking
    calendar = requests.get(f"{url}/calendar", headers=ADVISOR, timeout=10).json()
    assert calendar["configured"] is False
    assert (calendar["slot_minutes"], calendar["capacity_per_slot"]) == (30, 4)
    assert len(calendar["opening_hours"]) == 7
    body = booking_request(slot_start=tomorrow_at(17, 30).isoformat(), service_type="INSPECTION")
    assert requests.post(f"{url}/appointments", json=body, headers=ADVISOR,
                         timeout=10).status_code == 201


@pytest.mark.parametrize("change, field", [
    ({"channel": "FAX"}, "channel"),
    ({"service_type": "WASH_AND_WAX"}, "service_type"),
    ({"slot_start": "tomorrow at nine"}, "slot_start"),
    ({"slot_start": "2030-01-01T09:00:00"}, "slot_start"),  # no offset: whose nine o'clock?
    ({"customer": {"name": "王伟", "phone": "call me"}}, "customer"),
    ({"vehicle": {"vin": "1M8GDM9AXKP04278O"}}, "vehicle"),
    ({"vehicle": {}}, "vehicle"),
    ({"slot_start": "2001-01-01T09:00:00+08:00"}, "slot_start"),
    ({"loaner_requested": "yes"}, "loaner_requested"),
    ({"pickup_address": ""}, "pickup_address"),
    ({"reminder_id": "not an id!"}, "reminder_id"),
    ({"colour": "red"}, "colour"),  # unknown fields are refused, not ignored
])
def test_bad_input_is_refused_with_422_naming_the_field_and_nothing_is_stored(
        booking, change, field):
    url, db = booking
    response = requests.post(f"{url}/appointments", json=booking_request(**change),
                             headers=ADVISOR, timeout=10)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    assert count(db, "appointments") == 0
    assert count(db, "outbox") == 0


def test_a_vin_with_a_wrong_check_digit_is_refused_naming_vehicle_vin(booking):
    url, db = booking
    body = booking_request(vehicle={"vin": "1M8GDM9AXKP042789"})  # last digit mistyped
    response = requests.post(f"{url}/appointments", json=body, headers=ADVISOR, timeout=10)
    assert response.status_code == 422
    [reason] = response.json()["fields"]["vehicle"]["vin"]
    assert "check digit" in reason
    assert count(db, "appointments") == 0


def test_plates_and_vins_are_taken_as_people_type_them(booking):
    url, _ = booking
    body = booking_request(vehicle={"plate": "京a 12345", "vin": "1m8gdm9a xkp042788"})
    response = requests.post(f"{url}/appointments", json=body, headers=ADVISOR, timeout=10)
    assert response.status_code == 201, response.text
    assert response.json()["vehicle"] == {"plate": "京A12345", "vin": "1M8GDM9AXKP042788",
                                          "model": None}


def test_a_slot_off_the_calendar_is_refused_naming_slot_start(booking):
    url, _ = booking
    for slot in (tomorrow_at(9, 10), tomorrow_at(6), tomorrow_at(17, 30)):  # 17:30 + 1 h: late
        response = requests.post(f"{url}/appointments", headers=ADVISOR, timeout=10,
                                 json=booking_request(slot_start=slot.isoformat()))
        assert response.status_code == 422, slot
        assert "slot_start" in response.json()["fields"]


def test_a_missing_field_is_named(booking):
    url, _ = booking
    body = booking_request()
    del body["channel"]
    response = requests.post(f"{url}/appointments", json=body, headers=ADVISOR, timeout=10)
    assert response.status_code == 422
    assert response.json()["fields"] == {"channel": ["Missing data for required field."]}


@pytest.mark.parametrize("body", ["not json", "[1, 2]", ""])
def test_a_body_that_is_not_a_json_object_gets_400(booking, body):
    url, db = booking
    response = requests.post(f"{url}/appointments", data=body, headers=ADVISOR, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == "MALFORMED_REQUEST"


def test_an_unknown_appointment_is_404(booking):
    url, _ = booking
    response = requests.get(f"{url}/appointments/00000000-0000-0000-0000-000000000000",
                            headers=ADVISOR, timeout=10)
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"


def test_who_may_book(booking):
    url, db = booking
    body = booking_request()

    def status(headers):
        return requests.post(f"{url}/appointments", json=body, headers=headers,
                             timeout=10).status_code

    assert status({}) == 401
    assert status(TECHNICIAN) == 403
    assert status(OTHER_DEALERS_ADVISOR) == 403
    assert status(auth("oem_analyst")) == 403
    assert count(db, "appointments") == 0
    assert status(AGENT) == 201  # the OEM call centre books for any dealer's customers


def test_an_owner_books_for_themself_and_sees_only_their_own(booking):
    url, _ = booking
    mine = requests.post(f"{url}/appointments", headers=owner(OWNER_ID), timeout=10,
                         json=booking_request(channel="APP"))
    assert mine.status_code == 201, mine.text
    assert mine.json()["customer"]["customer_id"] == OWNER_ID
    theirs = requests.post(f"{url}/appointments", headers=ADVISOR, timeout=10,
                           json=booking_request(vehicle={"plate": "沪B54321"},
                                                customer={"name": "李娜",
                                                          "phone": "13900000000"}))
    assert theirs.status_code == 201

    def get(appointment_id, headers):
        return requests.get(f"{url}/appointments/{appointment_id}", headers=headers, timeout=10)

    assert get(mine.json()["id"], owner(OWNER_ID)).status_code == 200
    assert get(theirs.json()["id"], owner(OWNER_ID)).status_code == 404
    assert get(mine.json()["id"], owner(OTHER_OWNER_ID)).status_code == 404
    listed = requests.get(f"{url}/appointments", headers=owner(OWNER_ID), timeout=10).json()
    assert [a["id"] for a in listed["items"]] == [mine.json()["id"]]
    everyone = requests.get(f"{url}/appointments", headers=ADVISOR, timeout=10).json()
    assert everyone["count"] == 2


@pytest.mark.parametrize("change, field", [
    ({"channel": "PHONE"}, "channel"),  # the dealer's channel, not the owner's
    # another number than the one the owner confirmed: it would be texted unasked
    ({"customer": {"name": "王伟", "phone": "13900000099"}}, "customer.phone"),
    ({"customer": {"name": "王伟", "phone": "13812345678", "customer_id": OTHER_OWNER_ID}},
     "customer.customer_id"),
])
def test_an_owner_cannot_book_as_the_dealer_or_for_someone_else(booking, change, field):
    url, _ = booking
    response = requests.post(f"{url}/appointments", headers=owner(OWNER_ID), timeout=10,
                             json=booking_request(**{"channel": "APP", **change}))
    assert response.status_code == 422
    assert field in response.json()["fields"]


def test_the_same_car_cannot_be_booked_twice_at_the_same_time(booking):
    url, db = booking
    first = requests.post(f"{url}/appointments", json=booking_request(), headers=ADVISOR,
                          timeout=10)
    again = requests.post(f"{url}/appointments", json=booking_request(), headers=ADVISOR,
                          timeout=10)
    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json()["existing_appointment_id"] == first.json()["id"]
    assert count(db, "appointments") == 1


def test_appointments_are_listed_by_date_and_status(booking):
    url, _ = booking
    for n, hour in enumerate((9, 11, 14)):
        requests.post(f"{url}/appointments", headers=ADVISOR, timeout=10,
                      json=booking_request(slot_start=tomorrow_at(hour).isoformat(),
                                           vehicle={"plate": f"京A1000{n}"})).raise_for_status()
    day = tomorrow_at(0).date().isoformat()
    listed = requests.get(f"{url}/appointments", headers=ADVISOR, timeout=10,
                          params={"from": day, "to": day, "status": "SCHEDULED"}).json()
    assert [a["vehicle"]["plate"] for a in listed["items"]] == ["京A10000", "京A10001",
                                                                "京A10002"]
    assert requests.get(f"{url}/appointments", headers=ADVISOR, timeout=10,
                        params={"from": day, "to": day, "status": "NO_SHOW"}).json()["count"] == 0
    assert requests.get(f"{url}/appointments", headers=ADVISOR, timeout=10,
                        params={"limit": 2}).json()["count"] == 2


@pytest.mark.parametrize("params, field", [
    ({"from": "yesterday"}, "from"),
    ({"status": "LOST"}, "status"),
    ({"limit": "0"}, "limit"),
    ({"from": "2026-12-02", "to": "2026-12-01"}, "to"),
    ({"sort": "plate"}, "sort"),
])
def test_a_bad_list_query_is_refused_naming_the_parameter(booking, params, field):
    url, _ = booking
    response = requests.get(f"{url}/appointments", headers=ADVISOR, params=params, timeout=10)
    assert response.status_code == 422
    assert field in response.json()["fields"]
