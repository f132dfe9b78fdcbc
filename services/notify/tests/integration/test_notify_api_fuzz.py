"""notify's HTTP API under schema-driven fuzzing (the site services' harness): no answer is
a server error, and every refusal says why."""

from __future__ import annotations

from chassis.testing import make_settings, service_database
from notify.service import NotifyService
from tests.security.test_api_fuzz import fuzz_service


def test_fuzzing_notifys_api_finds_no_server_error(database, amqp_uri, services):
    settings = make_settings("notify", service_database(database, NotifyService), amqp_uri,
                             dealer_code="HQ",
                             extra={"channels": {"sms": {"adapter": "sms_gateway",
                                                         "url": "http://127.0.0.1:9",
                                                         "api_key": "k", "api_secret": "s"}},
                                    "dispatch_loop": False})
    services(NotifyService, settings)
    failures = fuzz_service(NotifyService, f"http://127.0.0.1:{settings.http_port}")
    assert failures == [], "\n".join(failures[:20])
