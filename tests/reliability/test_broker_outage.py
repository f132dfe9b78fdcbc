"""With the broker down a dealer site keeps taking bookings; when it is back every event
arrives and is applied once."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import requests

from booking.service import BookingService
from chassis.db import count_rows as count
from chassis.testing import make_settings, service_database, wait_for
from tests.factories import ADVISOR, booking_request
from workorder.service import WorkorderService

pytestmark = pytest.mark.faults


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def test_bookings_taken_while_the_broker_is_down_arrive_once_when_it_is_back(
        database, amqp_uri, services):
    booking_db = service_database(database, BookingService)
    workorder_db = service_database(database, WorkorderService)
    booking = make_settings("booking", booking_db, amqp_uri)
    services(WorkorderService, make_settings("workorder", workorder_db, amqp_uri))
    services(BookingService, booking)
    url = f"http://127.0.0.1:{booking.http_port}/appointments"

    rabbitmqctl("stop_app")  # whatever happens below, the finally starts it again
    try:
        # Five cars in five slots: a car holds one appointment at a time, a slot has room
        # for four.
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0,
                                                                   microsecond=0)
        statuses = [requests.post(url, headers=ADVISOR, timeout=10, json=booking_request(
            vehicle={"plate": f"京A1000{n}"},
            slot_start=tomorrow.replace(hour=9 + n).isoformat())).status_code
            for n in range(5)]
        assert statuses == [201] * 5
        assert count(booking_db, "appointments") == 5
        assert count(booking_db, "outbox", "published_at IS NULL") == 5
        ready = requests.get(f"http://127.0.0.1:{booking.http_port}/ready", timeout=10)
        assert ready.status_code == 503 and ready.json()["broker"].startswith("down")
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")

    wait_for(lambda: count(workorder_db, "expected_arrivals") == 5, timeout=90,
             message="the five bookings to reach the workshop")
    assert count(booking_db, "outbox", "published_at IS NULL") == 0
    assert count(workorder_db, "inbox") == 5
