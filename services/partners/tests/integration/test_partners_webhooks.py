"""Deliveries by Standard Webhooks to a local receiver that verifies each one with the
`standardwebhooks` package: signed, the event id as webhook-id, the CloudEvent after
redaction as the body; the pull feed holds the same events, across a restart."""

from __future__ import annotations

import sqlalchemy as sa

from chassis.config import development_secret
from chassis.testing import wait_for
from contracts import events
from partners import models
from partners.store import endpoint_sealer
from services.partners.tests.integration.partners_hq import event_from_example


def test_a_delivery_is_signed_and_verified_and_the_feed_holds_the_same_event(hq, receiver):
    partner = hq.partner("QuoteApproved", "VehicleDelivered")
    endpoint = hq.endpoint(partner["partner_id"], receiver.url())
    assert endpoint["secret"].startswith("whsec_")
    receiver.secrets.append(endpoint["secret"])
    with hq.engine.connect() as conn:  # sealed at rest: the clear secret is not in the table
        (stored,) = conn.scalars(sa.select(models.endpoint_secrets.c.secret).where(
            models.endpoint_secrets.c.endpoint_id == endpoint["endpoint_id"])).all()
    assert not stored.startswith("whsec_") and endpoint["secret"] not in stored
    assert endpoint_sealer(development_secret("partners", "secret_encryption_key")
                           ).unseal(stored) == endpoint["secret"]

    approved = event_from_example(events.QuoteApproved)
    hq.events.publish(approved, event_from_example(events.RepairOrderOpened))
    wait_for(lambda: receiver.delivered(), message="a delivery")
    (got,) = receiver.delivered()
    assert got.headers["webhook-id"] == approved["id"]
    assert got.headers["content-type"].startswith("application/cloudevents+json")
    assert got.event["type"] == approved["type"]
    assert "customer_id" not in got.event["data"] and "signed_by" not in got.event["data"]
    assert got.event["data"]["approved_total"] == approved["data"]["approved_total"]
    (row,) = hq.settled(1)
    assert row["status"] == "DELIVERED" and row["attempts"] == 1

    feed = hq.feed(partner["client_id"])
    assert feed["events"] == [got.event]
