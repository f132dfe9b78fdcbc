"""No personal field reaches a partner without the owner's consent, for every event type a
partner may be given (contracts' examples); with consent to that partner, they reach it and
no other. The pull feed returns the same events as the webhooks, across a restart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from chassis.testing import wait_for
from contracts import ContractViolation, contract_for, events, personal
from partners import use_cases
from partners.store import PartnersUnitOfWork
from services.partners.tests.integration.partners_hq import event_from_example

SHARED = sorted(use_cases.SHARED_TYPES)


def present(data: Any, path: str) -> bool:
    """Whether the JSON path (`a.b`, `a[].b`) names anything in `data`."""
    head, _, rest = path.partition(".")
    many = head.endswith("[]")
    name = head.removesuffix("[]")
    if not isinstance(data, dict) or name not in data:
        return False
    value = data[name]
    if not rest:
        return True
    items = value if many and isinstance(value, list) else [value]
    return any(present(item, rest) for item in items)


def _events() -> list[dict[str, Any]]:
    return [event_from_example(contract_for(t)) for t in SHARED]


def test_every_shared_type_reaches_the_partner_without_its_personal_fields(hq, receiver):
    partner = hq.partner(*SHARED)
    endpoint = hq.endpoint(partner["partner_id"], receiver.url())
    receiver.secrets.append(endpoint["secret"])
    sent = _events()
    hq.events.publish(*sent)
    wait_for(lambda: len(receiver.delivered()) == len(sent), timeout=30,
             message="every type delivered")
    for got in receiver.delivered():
        for path in personal.personal_fields(got.event["type"]):
            assert not present(got.event["data"], path), (got.event["type"], path)
    assert {r.event["type"] for r in receiver.delivered()} == set(SHARED)
    assert all(personal.personal_fields(t) for t in SHARED
               if t != events.PartReserved.type and t != events.StockLow.type
               and t != events.RecallCampaignPublished.type)
    feed = hq.feed(partner["client_id"])["events"]
    assert sorted(feed, key=lambda e: e["id"]) == sorted(
        (r.event for r in receiver.delivered()), key=lambda e: e["id"])


def _consent(hq, customer_id: str, partner_id: str, granted: bool = True) -> None:
    """What crm's ConsentChanged with purpose partner:<id> records (applied directly: the
    contract's purposes do not name partners yet, see below)."""
    with Session(hq.engine) as session, session.begin():
        use_cases.consent_changed(PartnersUnitOfWork(session, None), {"data": {
            "customer_id": customer_id, "aliases": [], "purpose": f"partner:{partner_id}",
            "channels": ["APP"], "granted": granted,
            "changed_at": datetime.now(UTC).isoformat()}})


def test_an_owner_who_consented_to_one_partner_is_shown_to_that_partner_only(hq, receiver):
    trusted = hq.partner("QuoteApproved", "AppointmentBooked")
    other = hq.partner("QuoteApproved", "AppointmentBooked")
    for found, path in ((trusted, "/trusted"), (other, "/other")):
        receiver.secrets.append(hq.endpoint(found["partner_id"], receiver.url(path))["secret"])
    owner = f"D001-C-{uuid.uuid4().hex[:6]}"
    _consent(hq, owner, trusted["partner_id"])
    booked = event_from_example(events.AppointmentBooked, customer={
        "customer_id": owner, "name": "王磊", "phone": "13812345678"})
    approved = event_from_example(events.QuoteApproved, customer_id=owner)
    hq.events.publish(booked, approved)
    wait_for(lambda: len(receiver.delivered()) == 4, message="four deliveries")
    mine = {r.event["type"]: r.event["data"] for r in receiver.delivered("/trusted")}
    theirs = {r.event["type"]: r.event["data"] for r in receiver.delivered("/other")}
    assert mine[events.AppointmentBooked.type]["customer"]["phone"] == "13812345678"
    assert mine[events.QuoteApproved.type]["customer_id"] == owner
    assert "customer" not in theirs[events.AppointmentBooked.type]
    assert "customer_id" not in theirs[events.QuoteApproved.type]

    _consent(hq, owner, trusted["partner_id"], granted=False)  # withdrawn: redacted again
    hq.events.publish(event_from_example(events.QuoteApproved, customer_id=owner))
    wait_for(lambda: len(receiver.delivered()) == 6, message="six deliveries")
    assert "customer_id" not in receiver.delivered("/trusted")[-1].event["data"]


def test_crm_consent_events_with_a_partner_purpose(hq, receiver):
    """crm's ConsentChanged carries the purpose `partner:<id>` once the contract allows it."""
    try:
        consent = event_from_example(events.ConsentChanged, purpose="partner:ptn_x",
                                     granted=True)
    except ContractViolation:
        pytest.skip("contracts' CONSENT_PURPOSES has no partner:<id> purpose yet")
    hq.events.publish(consent)


def test_the_feed_returns_what_the_webhooks_carried_across_a_restart(hq, receiver):
    partner = hq.partner("QuoteApproved", "VehicleDelivered", "PartIssued")
    endpoint = hq.endpoint(partner["partner_id"], receiver.url())
    receiver.secrets.append(endpoint["secret"])
    before = [event_from_example(events.QuoteApproved), event_from_example(events.PartIssued),
              event_from_example(events.VehicleDelivered)]
    hq.events.publish(*before)
    hq.settled(3)
    page = hq.feed(partner["client_id"], limit=2)
    assert page["count"] == 2

    hq.restart()
    after = [event_from_example(events.QuoteApproved), event_from_example(events.PartIssued)]
    hq.events.publish(*after)
    hq.settled(5)
    rest = hq.feed(partner["client_id"], after=page["cursor"])
    assert rest["count"] == 3
    assert hq.feed(partner["client_id"], after=rest["cursor"])["events"] == []
    from_feed = page["events"] + rest["events"]
    by_webhook = {r.event["id"]: r.event for r in receiver.delivered()}
    assert len(by_webhook) == 5
    assert {e["id"]: e for e in from_feed} == by_webhook
    # The whole feed from the start says the same, in the same order, after the restart.
    assert hq.feed(partner["client_id"])["events"] == from_feed
