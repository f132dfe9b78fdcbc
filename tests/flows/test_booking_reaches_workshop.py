"""A booking taken at a dealer site reaches that site's workshop as an expected arrival."""

from __future__ import annotations

import requests

from booking.service import BookingService
from chassis.db import count_rows as count
from chassis.testing import make_settings, service_database, wait_for
from tests.factories import ADVISOR, booking_request
from workorder.service import WorkorderService


def test_a_booking_becomes_an_expected_arrival(database, amqp_uri, services):
    booking_db = service_database(database, BookingService)
    workorder_db = service_database(database, WorkorderService)
    booking = make_settings("booking", booking_db, amqp_uri)
    services(WorkorderService, make_settings("workorder", workorder_db, amqp_uri))
    services(BookingService, booking)

    response = requests.post(f"http://127.0.0.1:{booking.http_port}/appointments",
                             json=booking_request(), headers=ADVISOR, timeout=10)

    assert response.status_code == 201, response.text
    wait_for(lambda: count(workorder_db, "expected_arrivals") == 1, message="expected arrival")
    assert count(workorder_db, "inbox") == 1
    assert count(booking_db, "outbox", "published_at IS NOT NULL") == 1
