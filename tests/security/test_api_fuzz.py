"""Bad input never breaks a service: schema-driven fuzzing of each site service's OpenAPI
document finds no 500. Malformed, missing and out-of-range fields all get a 4xx whose JSON
body says what was wrong; nothing is left half-written.

Each operation is called with a token of a role it admits (so requests reach validation),
with data both valid and deliberately invalid for its schema (schemathesis' positive and
negative generation).
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from booking.service import BookingService
from chassis.openapi import build_openapi
from chassis.runner import service_class
from chassis.testing import auth, make_settings, service_database

SITE_SERVICES = ["booking", "workorder", "parts"]
EXAMPLES_PER_OPERATION = 25


def fuzz_service(cls: type, base_url: str) -> list[str]:
    """Every operation, both generation modes; returns the failures found."""
    schema = schemathesis.openapi.from_dict(build_openapi(cls))
    failures: list[str] = []
    session = requests.Session()

    def check(case: schemathesis.Case, headers: dict[str, str], mode: GenerationMode) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=15)
        where = f"{case.method} {case.formatted_path} ({mode.value})"
        if response.status_code >= 500:
            failures.append(f"{where}: {response.status_code} {response.text[:300]}")
        elif response.status_code >= 400:
            try:
                message = response.json().get("message")
            except ValueError:
                message = None
            if not message:
                failures.append(f"{where}: {response.status_code} without a message: "
                                f"{response.text[:200]}")

    def checker(headers: dict[str, str], mode: GenerationMode):  # noqa: ANN202
        def run(case: schemathesis.Case) -> None:
            check(case, headers, mode)

        return run

    for result in schema.get_all_operations():
        operation = result.ok()
        roles = operation.definition.raw.get("x-roles")
        headers = auth(roles[0], subject="fuzz-1") if roles else {}
        for mode in GenerationMode:
            run = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                           suppress_health_check=list(HealthCheck))(
                given(case=operation.as_strategy(generation_mode=mode))(
                    checker(headers, mode)))
            try:
                run()
            except Unsatisfiable:
                pass  # nothing to make invalid (no parameters, no body): positive mode covers it
    return failures


@pytest.mark.parametrize("name", SITE_SERVICES)
def test_fuzzing_the_api_finds_no_server_error(name, database, amqp_uri, services):
    cls = service_class(name)
    settings_ = make_settings(name, service_database(database, cls), amqp_uri)
    services(cls, settings_)

    failures = fuzz_service(cls, f"http://127.0.0.1:{settings_.http_port}")

    assert failures == [], "\n".join(failures[:20])


def test_the_fuzzer_would_notice_a_server_error(database, amqp_uri, services):
    """The harness itself: a server error is reported, not hidden (here the database is
    missing, which the services answer with 503)."""
    settings_ = make_settings(
        "booking", "postgresql+psycopg2://postgres@127.0.0.1:5432/no_such_database",
        amqp_uri)
    services(BookingService, settings_)
    failures = fuzz_service(BookingService, f"http://127.0.0.1:{settings_.http_port}")
    assert any(": 503 " in failure for failure in failures)
