"""No personal field reaches a partner without the owner's consent, for every event type a
partner may be given (contracts' examples); with consent to that partner, they reach it and
no other (an owner's consent given at crm's API reaches partners through the broker). The
pull feed returns the same events as the webhooks, across a restart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from chassis.testing import make_settings, service_database, wait_for
from contracts import contract_for, events, personal
from crm.service import CrmService
from partners import models, use_cases
from partners.store import PartnersUnitOfWork, endpoint_sealer
from services.crm.tests.integration.crm_hq import CRM_EXTRA, Crm, booked
from services.crm.tests.integration.crm_hq import Publisher as CrmPublisher
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
    # the types that name no person: a part, a stock level, a campaign, a campaign done on a car
    impersonal = {events.PartReserved.type, events.StockLow.type,
                  events.RecallCampaignPublished.type, events.RecallCompleted.type}
    assert all(personal.personal_fields(t) for t in SHARED if t not in impersonal)
    feed = hq.feed(partner["client_id"])["events"]
    assert sorted(feed, key=lambda e: e["id"]) == sorted(
        (r.event for r in receiver.delivered()), key=lambda e: e["id"])


def _consent(hq, customer_id: str, partner_id: str, granted: bool = True) -> None:
    """What crm's ConsentChanged with purpose partner:<id> records, applied directly (the
    whole way from crm's API through the broker: see the test after the next)."""
    with Session(hq.engine) as session, session.begin():
        uow = PartnersUnitOfWork(session, None, sealer=endpoint_sealer("not-the-stack-key"))
        use_cases.consent_changed(uow, {"data": {
            "customer_id": customer_id, "aliases": [], "purpose": f"partner:{partner_id}",
            "channels": ["DATA"], "granted": granted,
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


def _partner_consent(hq, customer_id: str, partner_id: str) -> bool | None:
    with hq.engine.connect() as conn:
        return conn.execute(sa.select(models.consents.c.granted).where(
            models.consents.c.customer_id == customer_id,
            models.consents.c.partner_id == partner_id)).scalar()


def test_an_owners_consent_given_at_crm_reaches_partners_through_the_broker(
        hq, receiver, database, amqp_uri, services):
    """The call centre records at crm's real API that the owner allows sharing with one
    partner (purpose partner:<id>, channel DATA); crm publishes ConsentChanged, partners
    takes it from the broker and shows that owner's data to that partner only, until the
    owner withdraws it."""
    settings = make_settings("crm", service_database(database, CrmService), amqp_uri,
                             dealer_code="HQ", extra=dict(CRM_EXTRA))
    services(CrmService, settings)
    crm = Crm(f"http://127.0.0.1:{settings.http_port}", settings.database_url)
    sites = CrmPublisher(amqp_uri)
    try:
        trusted = hq.partner("QuoteApproved")
        other = hq.partner("QuoteApproved")
        for found, path in ((trusted, "/trusted"), (other, "/other")):
            receiver.secrets.append(
                hq.endpoint(found["partner_id"], receiver.url(path))["secret"])
        owner = f"D001-C-{uuid.uuid4().hex[:6]}"
        # crm learns the owner from the site's booking (not a type these partners take).
        sites.publish(booked("D001", f"APT-{uuid.uuid4().hex[:8]}", owner,
                             phone=f"139{uuid.uuid4().int % 10**8:08d}"))
        purpose = f"partner:{trusted['partner_id']}"

        def put(granted: bool) -> dict[str, Any] | None:
            answer = crm.put(f"/customers/{owner}/consents", {"consents": [
                {"purpose": purpose, "channel": "DATA", "granted": granted}]})
            return answer.json() if answer.status_code == 200 else None

        stored = wait_for(lambda: put(True), timeout=20, message="crm knows the owner")
        assert {"purpose": purpose, "channel": "DATA", "granted": True} in stored["consents"]
        crm_id = stored["customer_id"]
        wait_for(lambda: _partner_consent(hq, owner, trusted["partner_id"]) is True,
                 timeout=20, message="partners recorded the consent under the site's id")
        assert _partner_consent(hq, crm_id, trusted["partner_id"]) is True
        assert _partner_consent(hq, owner, other["partner_id"]) is None

        hq.events.publish(event_from_example(events.QuoteApproved, customer_id=owner))
        wait_for(lambda: len(receiver.delivered()) == 2, message="two deliveries")
        assert receiver.delivered("/trusted")[-1].event["data"]["customer_id"] == owner
        assert "customer_id" not in receiver.delivered("/other")[-1].event["data"]

        # A partner consent is no message consent: crm's reminders never see it.
        assert put(False) is not None  # withdrawn at the call centre: redacted again
        wait_for(lambda: _partner_consent(hq, owner, trusted["partner_id"]) is False,
                 timeout=20, message="partners recorded the withdrawal")
        hq.events.publish(event_from_example(events.QuoteApproved, customer_id=owner))
        wait_for(lambda: len(receiver.delivered()) == 4, message="four deliveries")
        assert "customer_id" not in receiver.delivered("/trusted")[-1].event["data"]
    finally:
        sites.close()
        crm.engine.dispose()


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
