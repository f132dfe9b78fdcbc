"""Who may do what, as a table: every endpoint of every site service, every role.

The table below is the policy. The first test holds each service's declarations to it (an
endpoint added or a role changed without updating the policy fails); the second calls every
endpoint with every role, from this dealer and from another, with tokens the identity services
issued to people who signed in, and checks the entrypoint enforces it; the rest check an owner
cannot reach another owner's records.
"""

from __future__ import annotations

import itertools
import re

import pytest
import requests

from chassis.auth import CROSS_DEALER, DEALER_STAFF, Role, SigningKey, issue_token
from chassis.openapi import build_openapi
from chassis.runner import service_class
from chassis.testing import HQ_ISSUER, auth, make_settings, service_database, site_issuer, token
from contracts.customer import customer_id_for
from services.notify.tests.integration.notify_hq import GATEWAY_KEY, GATEWAY_SECRET
from services.notify.tests.integration.provider_servers import SmsGatewayServer
from tests.factories import booking_request
from tests.security.signed_in import SignedIn, start_identities

OWNER, ADVISOR, TECH, QC, CLERK, CASHIER, MANAGER, AGENT, ANALYST, OPERATOR = (
    "owner", "advisor", "technician", "qc_inspector", "parts_clerk", "cashier",
    "dealer_manager", "invitation_agent", "oem_analyst", "operator")
PUBLIC: set[str] = set()
BOOKERS = {OWNER, ADVISOR, AGENT, MANAGER}
PARTS_READERS = {ADVISOR, MANAGER, CLERK, TECH}
STAFF = {ADVISOR, TECH, QC, CASHIER, MANAGER}

POLICY: dict[tuple[str, str], set[str]] = {
    ("booking", "GET /calendar"): BOOKERS,
    ("booking", "PUT /calendar"): {MANAGER},
    ("booking", "GET /availability"): BOOKERS,
    ("booking", "GET /appointments"): BOOKERS,
    ("booking", "POST /appointments"): BOOKERS,
    ("booking", "GET /appointments/{appointment_id}"): BOOKERS,
    ("booking", "POST /appointments/{appointment_id}/confirm"): BOOKERS,
    ("booking", "POST /appointments/{appointment_id}/reschedule"): BOOKERS,
    ("booking", "POST /appointments/{appointment_id}/cancel"): BOOKERS,
    ("booking", "POST /appointments/{appointment_id}/check-in"): {ADVISOR, MANAGER},
    ("booking", "POST /appointments/{appointment_id}/no-show"): {ADVISOR, MANAGER},
    ("booking", "POST /no-show-sweeps"): {ADVISOR, MANAGER},
    ("parts", "GET /parts"): PARTS_READERS,
    ("parts", "POST /parts"): {CLERK},
    ("parts", "GET /parts/{part_number}"): PARTS_READERS,
    ("parts", "PATCH /parts/{part_number}"): {CLERK},
    ("parts", "GET /vin-models"): PARTS_READERS,
    ("parts", "PUT /vin-models/{vin_prefix}"): {CLERK},
    ("parts", "DELETE /vin-models/{vin_prefix}"): {CLERK},
    ("parts", "POST /receipts"): {CLERK},
    ("parts", "POST /requisitions"): {CLERK, TECH},
    ("parts", "POST /returns"): {CLERK},
    ("parts", "POST /transfers"): {CLERK},
    ("parts", "GET /stocktakes"): {CLERK, MANAGER},
    ("parts", "POST /stocktakes"): {CLERK},
    ("parts", "GET /reservations"): PARTS_READERS,
    ("parts", "POST /repair-orders/{repair_order_id}/release"): {CLERK},
    ("parts", "GET /reorder-suggestions"): {CLERK, MANAGER},
    ("parts", "GET /movements"): {CLERK, MANAGER},
    ("parts", "GET /trace/batches/{batch_number}"): {CLERK, MANAGER},
    ("parts", "GET /trace/serials/{serial_number}"): {CLERK, MANAGER},
    ("parts", "GET /trace/vehicles/{vin}"): {CLERK, MANAGER},
    ("workorder", "GET /checklist-templates"): {ADVISOR, MANAGER, QC, TECH},
    ("workorder", "GET /expected-arrivals"): {ADVISOR, MANAGER},
    ("workorder", "GET /repair-orders"): STAFF | {OWNER},
    ("workorder", "POST /repair-orders"): {ADVISOR},
    ("workorder", "GET /repair-orders/{ro_id}"): STAFF | {OWNER},
    ("workorder", "POST /repair-orders/{ro_id}/additional-work"): {ADVISOR, TECH},
    ("workorder", "POST /repair-orders/{ro_id}/cancel"): {ADVISOR},
    ("workorder", "POST /repair-orders/{ro_id}/close"): {ADVISOR, MANAGER},
    ("workorder", "POST /repair-orders/{ro_id}/hand-over"): {ADVISOR},
    ("workorder", "GET /repair-orders/{ro_id}/inspection"): STAFF | {OWNER},
    ("workorder", "POST /repair-orders/{ro_id}/inspection"): {ADVISOR, TECH},
    ("workorder", "PUT /repair-orders/{ro_id}/inspection/items/{code}"): {TECH},
    ("workorder", "POST /repair-orders/{ro_id}/inspection/report-link"): {ADVISOR, OWNER},
    ("workorder", "POST /repair-orders/{ro_id}/inspection/submit"): {TECH},
    ("workorder", "POST /repair-orders/{ro_id}/inspector-check"): {QC},
    ("workorder", "GET /repair-orders/{ro_id}/invoice"): {ADVISOR, CASHIER, MANAGER, OWNER},
    ("workorder", "POST /repair-orders/{ro_id}/invoice"): {ADVISOR},
    ("workorder", "POST /repair-orders/{ro_id}/invoice/signature"): {ADVISOR, OWNER},
    ("workorder", "GET /repair-orders/{ro_id}/jobs"): {ADVISOR, MANAGER, QC, TECH},
    ("workorder", "POST /repair-orders/{ro_id}/jobs/{line_id}/assign"): {ADVISOR, MANAGER},
    ("workorder", "POST /repair-orders/{ro_id}/jobs/{line_id}/clock-off"): {TECH},
    ("workorder", "POST /repair-orders/{ro_id}/jobs/{line_id}/clock-on"): {TECH},
    ("workorder", "GET /repair-orders/{ro_id}/part-issues"): {ADVISOR, MANAGER, CLERK, QC, TECH},
    ("workorder", "POST /repair-orders/{ro_id}/payments"): {CASHIER},
    # Paying online: the owner from the invoice page, or the counter for the owner's phone.
    ("workorder", "POST /repair-orders/{ro_id}/online-payments"): {OWNER, ADVISOR, CASHIER},
    ("workorder", "GET /repair-orders/{ro_id}/online-payments/{payment_id}"):
        {ADVISOR, CASHIER, MANAGER, OWNER},
    ("workorder", "POST /repair-orders/{ro_id}/photos"): {ADVISOR, TECH},
    ("workorder", "GET /repair-orders/{ro_id}/photos/{content_hash}"): STAFF | {OWNER},
    ("workorder", "GET /repair-orders/{ro_id}/quote"): STAFF | {OWNER},
    ("workorder", "POST /repair-orders/{ro_id}/quote-lines"): {ADVISOR},
    ("workorder", "DELETE /repair-orders/{ro_id}/quote-lines/{line_id}"): {ADVISOR},
    ("workorder", "POST /repair-orders/{ro_id}/quote/approval"): {ADVISOR, OWNER},
    ("workorder", "POST /repair-orders/{ro_id}/quote/send"): {ADVISOR},
    ("workorder", "POST /repair-orders/{ro_id}/self-check"): {TECH},
    ("workorder", "GET /technicians"): {ADVISOR, MANAGER, QC, TECH},
    ("workorder", "POST /technicians"): {MANAGER},
    ("workorder", "GET /vehicles/{vin}/open-campaigns"): {ADVISOR, MANAGER, TECH},
    ("workorder", "GET /workshop-board"): STAFF,
    # The owner's inspection link: the signed token in the URL is the permission.
    ("workorder", "GET /inspection-reports/{token}"): PUBLIC,
    ("workorder", "GET /photos/{content_hash}"): PUBLIC,
    # The owner's quote link: the site's signed grant in the URL decides that one round.
    ("workorder", "GET /quote-links/{grant}"): PUBLIC,
    ("workorder", "POST /quote-links/{grant}/approval"): PUBLIC,
    # The payment provider's notification: its signature, checked against the provider's
    # platform certificate, is the permission.
    ("workorder", "POST /payment-notifications/wechatpay"): PUBLIC,
}
for _service in ("booking", "workorder", "parts"):
    for _path in ("/health", "/ready", "/metrics", "/openapi.json"):
        POLICY[(_service, f"GET {_path}")] = PUBLIC

SERVICES = sorted({service for service, _ in POLICY})


def declared(name: str) -> dict[tuple[str, str], set[str]]:
    document = build_openapi(service_class(name))
    return {(name, f"{method.upper()} {path}"): set(operation.get("x-roles", []))
            for path, operations in document["paths"].items()
            for method, operation in operations.items()}


@pytest.mark.parametrize("name", SERVICES)
def test_every_endpoint_declares_exactly_the_roles_of_the_policy(name):
    ours = {key: roles for key, roles in POLICY.items() if key[0] == name}
    assert declared(name) == ours


def concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "X0000000001", path)


@pytest.fixture
def gateway():
    with SmsGatewayServer(GATEWAY_KEY, GATEWAY_SECRET) as server:
        yield server


@pytest.fixture
def signed_in(database, amqp_uri, services, gateway, tmp_path) -> SignedIn:
    """Every role signed in at running identity services: D001's and D002's staff at their
    own sites', everyone else at headquarters' (owners by SMS code, partners by credentials)."""
    return start_identities(database, amqp_uri, services, gateway, tmp_path)


@pytest.mark.parametrize("name", SERVICES)
def test_the_entrypoints_enforce_the_policy_for_every_role_here_and_at_another_dealer(
        name, database, amqp_uri, services, signed_in):
    cls = service_class(name)
    settings = make_settings(name, service_database(database, cls), amqp_uri,
                             trust=signed_in.trust("D001"))
    services(cls, settings)
    base = f"http://127.0.0.1:{settings.http_port}"
    refused_wrongly, admitted_wrongly = [], []
    for (service, endpoint), allowed in sorted(POLICY.items()):
        if service != name or not allowed:
            continue
        method, path = endpoint.split(" ", 1)
        url = base + concrete(path)
        assert requests.request(method, url, timeout=10).status_code == 401, endpoint
        for role, dealer in itertools.product(Role, ("D001", "D002")):
            if dealer == "D002" and role in CROSS_DEALER:
                continue  # not bound to a dealer: the same token either way
            status = requests.request(method, url, json={}, timeout=10,
                                      headers=signed_in.headers(role, dealer)).status_code
            should_pass = role in allowed and (dealer == "D001" or role in CROSS_DEALER)
            if should_pass and status in (401, 403):
                refused_wrongly.append(f"{endpoint} {role}@{dealer}: {status}")
            # Another site's staff are refused at the door: D002's issuer is not trusted here.
            expected = 401 if dealer == "D002" and role in DEALER_STAFF else 403
            if not should_pass and status != expected:
                admitted_wrongly.append(f"{endpoint} {role}@{dealer}: {status}")
    assert refused_wrongly == []
    assert admitted_wrongly == []


@pytest.mark.parametrize("token", [
    "not-a-token",
    issue_token(SigningKey.generate(), issuer=HQ_ISSUER, subject="x", role=Role.ADVISOR,
                dealer_code="D001"),
    token(Role.ADVISOR, ttl_seconds=-60),
    token(Role.ADVISOR, dealer_code="D002", issuer=site_issuer("D002")),
    token(Role.OEM_ANALYST, issuer=site_issuer("D001")),
], ids=["not a token", "headquarters' name, another key", "expired", "another site's issuer",
        "an HQ role from the site's own issuer"])
def test_a_forged_or_expired_token_is_refused_with_401(token, database, amqp_uri, services):
    cls = service_class("booking")
    settings = make_settings("booking", service_database(database, cls), amqp_uri)
    services(cls, settings)
    response = requests.get(f"http://127.0.0.1:{settings.http_port}/calendar", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "UNAUTHORIZED"


def test_an_owner_cannot_see_or_change_another_owners_appointment(database, amqp_uri, services):
    cls = service_class("booking")
    settings = make_settings("booking", service_database(database, cls), amqp_uri)
    services(cls, settings)
    base = f"http://127.0.0.1:{settings.http_port}"
    # Owners as identity signs them in: the customer id of the phone each confirmed.
    alice = auth(OWNER, subject=customer_id_for(booking_request()["customer"]["phone"]))
    bob = auth(OWNER, subject=customer_id_for("13900000099"))
    booked = requests.post(f"{base}/appointments", json=booking_request(channel="APP"),
                           headers=alice, timeout=10)
    assert booked.status_code == 201, booked.text
    appointment = booked.json()["id"]

    assert requests.get(f"{base}/appointments/{appointment}", headers=alice,
                        timeout=10).status_code == 200
    assert requests.get(f"{base}/appointments/{appointment}", headers=bob,
                        timeout=10).status_code == 404
    assert requests.post(f"{base}/appointments/{appointment}/cancel", headers=bob, timeout=10,
                         json={"reason": "CUSTOMER_REQUEST"}).status_code == 404
    listed = requests.get(f"{base}/appointments", headers=bob, timeout=10).json()["items"]
    assert appointment not in [item["id"] for item in listed]
