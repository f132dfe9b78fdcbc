"""Owners sign in at headquarters with a code sent by SMS, end to end on the real stack:
identity asks notify over RPC, notify's SMS adapter speaks the gateway's protocol to a local
gateway, the code comes back from the owner, and the token names the customer of that phone.
The rate limits answer 429 with Retry-After; the code is never on the event bus."""

from __future__ import annotations

import re
from collections.abc import Iterator

import jwt
import pytest

from chassis.auth import TokenVerifier
from chassis.testing import make_settings, rows, service_database
from contracts.customer import customer_id_for
from notify.service import NotifyService
from services.identity.tests.integration.identity_stack import (
    RunningIdentity,
    own_trust,
    start_identity,
)
from services.notify.tests.integration.notify_hq import GATEWAY_KEY, GATEWAY_SECRET
from services.notify.tests.integration.provider_servers import SmsGatewayServer

PHONE = "13812345678"


@pytest.fixture
def gateway() -> Iterator[SmsGatewayServer]:
    with SmsGatewayServer(GATEWAY_KEY, GATEWAY_SECRET) as server:
        yield server


@pytest.fixture
def notify_db(database, amqp_uri, services, gateway) -> str:
    """Headquarters' notify on the same broker, its SMS channel the local gateway."""
    settings = make_settings(
        "notify", service_database(database, NotifyService), amqp_uri, dealer_code="HQ",
        extra={"channels": {"sms": {"adapter": "sms_gateway", "url": gateway.url,
                                    "api_key": GATEWAY_KEY, "api_secret": GATEWAY_SECRET}},
               "dispatch_loop": False, "quiet_hours": {"start": "00:00", "end": "23:59"}})
    services(NotifyService, settings)
    return settings.database_url


@pytest.fixture
def hq(database, amqp_uri, services, notify_db) -> Iterator[RunningIdentity]:
    running = start_identity(database, amqp_uri, services, at_headquarters=True,
                             owner_codes_per_address_per_hour=4)
    yield running
    running.engine.dispose()


def ask_code(hq: RunningIdentity, phone: str = PHONE):
    return hq.call("POST", "/owner/codes", json={"phone": phone})


def code_in(message: dict) -> str:
    return re.search(r"\d{6}", message["text"]).group(0)


def test_an_owner_signs_in_with_the_code_the_gateway_delivered(hq, gateway, notify_db):
    answer = ask_code(hq)
    assert (answer.status_code, answer.json()) == (202, {"sent": True, "expires_in": 300})
    (message,) = gateway.received
    assert message["to"] == PHONE and "5分钟" in message["text"]
    code = code_in(message)

    wrong = hq.call("POST", "/owner/sign-in",
                    json={"phone": PHONE, "code": f"{(int(code) + 1) % 10**6:06d}"})
    assert wrong.status_code == 401
    signed_in = hq.call("POST", "/owner/sign-in", json={"phone": PHONE, "code": code})
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["role"], claims["phone"]) == (
        customer_id_for(PHONE), "owner", PHONE)
    verifier = TokenVerifier([own_trust(hq.url, at_headquarters=True, dealer_code="HQ")])
    assert verifier.verify(token).subject == customer_id_for(PHONE)
    again = hq.call("POST", "/owner/sign-in", json={"phone": PHONE, "code": code})
    assert again.status_code == 401  # a code signs in once

    # Neither the code nor the phone is kept in clear; notify kept no message, sent no event.
    kept = " ".join(str(r) for r in hq.rows("SELECT * FROM owner_codes"))
    assert code not in kept and PHONE not in kept
    audit = " ".join(str(r) for r in hq.rows("SELECT * FROM audit_log"))
    assert PHONE not in audit and "138****5678" in audit
    assert rows(notify_db, "SELECT count(*) FROM deliveries")[0][0] == 0
    assert rows(notify_db, "SELECT count(*) FROM outbox")[0][0] == 0


def test_codes_are_rate_limited_per_phone_and_per_address(hq, gateway):
    assert ask_code(hq).status_code == 202
    again = ask_code(hq)
    assert again.status_code == 429
    assert 1 <= int(again.headers["Retry-After"]) <= 60
    for number in range(3):  # four codes an hour from one address, in this test's settings
        assert ask_code(hq, f"1390000000{number}").status_code == 202
    refused = ask_code(hq, "13900000009")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
    assert len(gateway.received) == 4


def test_a_gateway_failure_is_a_503_and_keeps_no_code(hq, gateway):
    gateway.fail_first, gateway.fail_status = 1, 503
    failed = ask_code(hq)
    assert failed.status_code == 503, failed.text
    assert hq.rows("SELECT count(*) FROM owner_codes")[0][0] == 0
    assert ask_code(hq).status_code == 202  # not counted: nothing was sent


def test_owners_do_not_sign_in_at_a_dealer_site(site_identity):
    assert ask_code(site_identity).status_code == 404
