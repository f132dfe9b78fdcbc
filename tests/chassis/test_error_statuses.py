"""One table turns errors into HTTP statuses; what the caller may do next follows from it."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from chassis.error_statuses import error_body, http_status
from chassis.errors import Conflict, InvalidInput, NotFound


@pytest.mark.parametrize(("error", "status"), [
    (NotFound("no such repair order"), 404),
    (Conflict("the slot is full"), 409),
    (InvalidInput("vin", "the check digit is wrong"), 422),
    (KeyError("a bug"), 500),
])
def test_refusals_and_bugs(error, status):
    assert http_status(error) == status


def test_a_database_that_refuses_connections_is_a_503_the_caller_may_retry():
    error = OperationalError("SELECT 1", {}, Exception("FATAL: sorry, too many clients already"))
    assert http_status(error) == 503
    body = error_body(error)
    assert body["error"] == "SERVICE_UNAVAILABLE" and "try again" in body["message"]
    assert "too many clients" not in body["message"]  # no internals leak to the caller
