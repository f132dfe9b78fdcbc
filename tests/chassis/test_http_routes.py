"""A request no route answers gets the platform's JSON error, not werkzeug's HTML page."""

from __future__ import annotations

import requests

from booking.service import BookingService
from chassis.testing import make_settings, service_database


def test_a_path_or_method_no_route_matches_gets_a_json_error_with_a_message(
        database, amqp_uri, services):
    settings = make_settings("booking", service_database(database, BookingService), amqp_uri)
    services(BookingService, settings)
    base = f"http://127.0.0.1:{settings.http_port}"

    missing = requests.get(f"{base}/no/such/path%0A", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"] == "NOT_FOUND" and missing.json()["message"]

    wrong_method = requests.delete(f"{base}/health", timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json()["message"]
