"""BI's API under generated requests (the platform's fuzzer): bad input is a 4xx with a
message, never a server error."""

from __future__ import annotations

from bi.service import BiService
from chassis.testing import make_settings, service_database
from tests.security.test_api_fuzz import fuzz_service


def test_fuzzing_the_bi_api_finds_no_server_error(database, amqp_uri, services):
    settings = make_settings("bi", service_database(database, BiService), amqp_uri,
                             dealer_code="HQ")
    services(BiService, settings)

    failures = fuzz_service(BiService, f"http://127.0.0.1:{settings.http_port}")

    assert failures == [], "\n".join(failures[:20])
