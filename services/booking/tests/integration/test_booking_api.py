"""Booking's HTTP API on the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import pytest
import requests

from booking.service import BookingService
from chassis.db import count_rows as count
from chassis.testing import make_settings, service_database
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
    fetched = requests.get(f"{url}/appointments/{appointment['id']}", headers=ADVISOR,
                           timeout=10)
    assert fetched.json()["id"] == appointment["id"]
    assert count(db, "outbox") == 1


@pytest.mark.parametrize("change, field", [
    ({"channel": "FAX"}, "channel"),
    ({"service_type": "WASH_AND_WAX"}, "service_type"),
    ({"slot_start": "tomorrow at nine"}, "slot_start"),
    ({"slot_start": "2030-01-01T09:00:00"}, "slot_start"),  # no offset: whose nine o'clock?
    ({"customer": {"name": "王伟", "phone": "call me"}}, "customer"),
    ({"vehicle": {"vin": "1M8GDM9AXKP04278O"}}, "vehicle"),
    ({"vehicle": {}}, "vehicle"),
    ({"slot_start": "2001-01-01T09:00:00+08:00"}, "slot_start"),
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
