"""A dealer site keeps signing its staff in, and its services keep verifying their tokens, while
headquarters cannot be reached (the WAN link is cut, or headquarters is down).

D001 runs booking and its own identity; headquarters runs its identity elsewhere (its own
vhost and database). booking trusts exactly what deploy/local says: D001's issuer and
headquarters', both by their published JWKS over HTTP — no test issuer anywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import eventlet
import pytest
import requests

from booking.service import BookingService
from chassis.auth import Role
from chassis.testing import AMQP, auth, make_settings, service_database
from identity.commands import create_user
from services.booking.tests.integration.booking_site import booking_body, calendar_body
from services.identity.tests.integration.identity_stack import (
    PASSWORD,
    RunningIdentity,
    bearer,
    own_trust,
    start_identity,
)


@pytest.fixture
def hq_vhost(broker_admin):
    name = f"test-hq-{datetime.now(UTC):%H%M%S%f}"
    broker_admin.apply(name, ["identity"])
    yield f"{AMQP}/{name}"
    broker_admin.delete_vhost(name)


@pytest.fixture
def stacks(database, amqp_uri, hq_vhost, services, tmp_path):
    site = start_identity(database, amqp_uri, services, dealer_code="D001")
    hq = start_identity(database, hq_vhost, services, at_headquarters=True)
    settings = make_settings(
        "booking", service_database(database, BookingService), amqp_uri,
        trust=(own_trust(site.url, at_headquarters=False, dealer_code="D001"),
               own_trust(hq.url, at_headquarters=True, dealer_code="HQ")))
    services(BookingService, settings)
    # The site's first manager, made at its console; a call-centre agent at headquarters,
    # made by headquarters' operator.
    assert create_user(["--config", str(site.config_file(tmp_path)), "--username", "zhang.wei",
                        "--role", "dealer_manager"], read_password=lambda: PASSWORD) == 0
    hq.create_user(auth(Role.OPERATOR), "agent.7", "invitation_agent")
    yield site, hq, f"http://127.0.0.1:{settings.http_port}"
    site.engine.dispose()
    hq.engine.dispose()


def book(booking: str, headers: dict[str, str], hour: int) -> requests.Response:
    slot = (datetime.now(UTC) + timedelta(days=1)).replace(hour=hour, minute=0, second=0,
                                                           microsecond=0)
    return requests.post(f"{booking}/appointments", headers=headers, timeout=10,
                         json=booking_body(slot, plate=f"京A1234{hour % 10}"))


def test_staff_sign_in_and_their_tokens_verify_with_headquarters_unreachable(stacks):
    site, hq, booking = stacks
    manager = site.tokens("zhang.wei")
    requests.put(f"{booking}/calendar", headers=bearer(manager), json=calendar_body(),
                 timeout=10).raise_for_status()
    agent = hq.tokens("agent.7")
    assert book(booking, bearer(agent), 9).status_code == 201  # booking fetched HQ's keys

    stop(hq)  # headquarters is gone: its identity answers nothing
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{hq.url}/.well-known/jwks.json", timeout=2)

    # The site's people sign in at the site, and the site's services take their tokens.
    site.create_user(bearer(manager), "li.na", "advisor")
    advisor = site.tokens("li.na")
    assert book(booking, bearer(advisor), 10).status_code == 201
    refreshed = site.call("POST", "/refresh", json={"refresh_token": advisor["refresh_token"]})
    assert refreshed.status_code == 200
    assert book(booking, bearer(refreshed.json()), 11).status_code == 201
    # headquarters' token seen before the cut still verifies with the keys booking kept.
    assert book(booking, bearer(agent), 12).status_code == 201


def stop(identity: RunningIdentity) -> None:
    with eventlet.Timeout(10, False):
        identity.container.stop()
