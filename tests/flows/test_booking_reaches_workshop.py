"""A booking taken at a dealer site reaches that site's workshop as an expected arrival."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests
import sqlalchemy as sa

from booking.service import BookingService
from chassis.testing import make_settings, service_database, wait_for
from workorder.service import WorkorderService


def booking_request(**overrides):
    slot = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0,
                                                           microsecond=0)
    body = {"customer": {"name": "王伟", "phone": "13812345678"},
            "vehicle": {"plate": "京A12345", "vin": "1M8GDM9AXKP042788"},
            "service_type": "MAINTENANCE", "slot_start": slot.isoformat(), "channel": "WECHAT"}
    body.update(overrides)
    return body


def count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))
    engine.dispose()
    return value


def test_a_booking_becomes_an_expected_arrival(database, amqp_uri, services):
    booking_db = service_database(database, BookingService)
    workorder_db = service_database(database, WorkorderService)
    booking = make_settings("booking", booking_db, amqp_uri)
    services(WorkorderService, make_settings("workorder", workorder_db, amqp_uri))
    services(BookingService, booking)

    response = requests.post(f"http://127.0.0.1:{booking.http_port}/appointments",
                             json=booking_request(), timeout=10)

    assert response.status_code == 201, response.text
    wait_for(lambda: count(workorder_db, "expected_arrivals") == 1, message="expected arrival")
    assert count(workorder_db, "inbox") == 1
    assert count(booking_db, "outbox WHERE published_at IS NOT NULL") == 1
