"""A running booking service on the real PostgreSQL and RabbitMQ (fixture `site`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from booking.service import BookingService
from chassis.testing import make_settings, service_database
from services.booking.tests.integration.booking_site import Site


@pytest.fixture
def site(database, amqp_uri, services) -> Iterator[Site]:
    settings = make_settings("booking", service_database(database, BookingService), amqp_uri)
    services(BookingService, settings)
    running = Site(f"http://127.0.0.1:{settings.http_port}", settings.database_url)
    yield running
    running.engine.dispose()
