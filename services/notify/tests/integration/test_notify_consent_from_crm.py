"""crm owns consent and notify keeps in step: a consent granted at crm lets the marketing
reminder out; a 退订 reply is applied at once and sent to crm; notices about the owner's own
car still go out; redelivered or out-of-order consent changes change nothing."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import requests
import sqlalchemy as sa

from chassis.auth import Role
from chassis.testing import auth, wait_for
from contracts import events
from notify import models
from notify.channels import sign
from services.notify.tests.integration.notify_hq import (
    GATEWAY_SECRET,
    booked,
    new_id,
    site_event,
)

OPERATOR = auth(Role.OPERATOR, subject="ops-1")
EVERY_CHANNEL = ["SMS", "WECHAT", "PHONE", "APP", "EMAIL"]


def consent_changed(customer_id: str, granted: bool, changed_at: str, *,
                    channels: list[str] | None = None, aliases: list[str] | None = None,
                    sequence: int = 1) -> dict[str, Any]:
    return site_event(events.ConsentChanged, dealer="HQ", sequence=sequence,
                      customer_id=customer_id, purpose="MARKETING",
                      channels=channels or ["SMS"], granted=granted, via="CALL_CENTRE",
                      changed_at=changed_at, aliases=aliases)


def reminder(customer_id: str, reason: str = "MAINTENANCE") -> dict[str, Any]:
    return site_event(events.ReminderDue, reminder_id=new_id("RMD"), customer_id=customer_id,
                      reason=reason, source_repair_order_id=None,
                      campaign_code="RC-2025-07" if reason == "RECALL" else None)


def applied(hq, count: int) -> None:
    wait_for(lambda: hq.inbox() >= count, message=f"{count} event(s) applied")


def consents(hq, customer_id: str) -> dict[str, tuple[bool, str]]:
    table = models.consents
    with hq.engine.connect() as conn:
        return {row.channel: (row.granted, row.via) for row in conn.execute(
            sa.select(table).where(table.c.customer_id == customer_id,
                                   table.c.purpose == "MARKETING"))}


def expressed(hq) -> list[dict[str, Any]]:
    with hq.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT payload FROM outbox WHERE event_type = :t "
                                    "ORDER BY id"), {"t": events.ConsentExpressed.type})
        return [json.loads(r) for r in rows.scalars()]


def td_reply(hq, phone: str) -> requests.Response:
    body = f'{{"from": "{phone}", "text": "TD"}}'.encode()
    stamp = str(int(time.time()))
    return requests.post(f"{hq.url}/inbound/sms", data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-Timestamp": stamp,
        "X-Signature": sign(GATEWAY_SECRET, stamp, body)})


def test_a_consent_granted_at_crm_lets_the_marketing_reminder_out(hq):
    customer = new_id("C")
    hq.events.publish(booked(customer),
                      consent_changed(customer, True, "2025-03-16T10:00:00+08:00"))
    applied(hq, 2)
    hq.events.publish(reminder(customer))
    [row] = hq.wait_for_deliveries(1, kind="REMINDER_DUE")
    assert row["purpose"] == "MARKETING"
    hq.dispatch()
    assert hq.deliveries(kind="REMINDER_DUE")[0]["status"] == "SENT"
    assert "回复TD退订" in hq.gateway.received[-1]["text"]  # marketing carries its way out


def test_a_TD_reply_stops_reminders_at_once_tells_crm_and_spares_notices_about_the_car(hq):
    customer = new_id("C")
    hq.events.publish(booked(customer, phone="13900004444"),
                      consent_changed(customer, True, "2025-03-16T10:00:00+08:00"))
    applied(hq, 2)
    hq.events.publish(reminder(customer))
    hq.wait_for_deliveries(1, kind="REMINDER_DUE")

    answer = td_reply(hq, "13900004444")
    assert answer.status_code == 200 and answer.json()["customers"] == 1
    assert consents(hq, customer) == {c: (False, "SMS_REPLY") for c in EVERY_CHANNEL}
    [told] = expressed(hq)
    assert (told["subject"], told["source"]) == (customer, "hq/notify")
    assert {k: told["data"][k] for k in ("customer_id", "purpose", "granted", "via")} == {
        "customer_id": customer, "purpose": "MARKETING", "granted": False, "via": "SMS_REPLY"}
    assert sorted(told["data"]["channels"]) == sorted(EVERY_CHANNEL)
    # A second reply changes nothing and tells crm nothing new.
    assert td_reply(hq, "13900004444").status_code == 200
    assert len(expressed(hq)) == 1

    # The queued reminder is stopped; the booking confirmation and a recall still go out.
    hq.events.publish(reminder(customer, "RECALL"))
    hq.wait_for_deliveries(2, kind="REMINDER_DUE")
    hq.dispatch()
    outcome = {(d["kind"], d["purpose"]): (d["status"], d["reason"]) for d in hq.deliveries()}
    assert outcome == {("BOOKING_CONFIRMED", "SERVICE"): ("SENT", None),
                       ("REMINDER_DUE", "MARKETING"): ("SUPPRESSED", "UNSUBSCRIBED"),
                       ("REMINDER_DUE", "SERVICE"): ("SENT", None)}
    view = requests.get(f"{hq.url}/customers/{customer}/preferences", timeout=10,
                        headers=OPERATOR).json()
    assert (view["marketing_consent"], view["unsubscribed"]) == (False, True)


def test_redelivered_and_out_of_order_consent_changes_change_nothing(hq):
    customer, site_id = new_id("C"), new_id("D002-C")
    withdrawn = consent_changed(customer, False, "2025-03-20T10:05:11+08:00",
                                channels=["SMS", "APP"], aliases=[site_id], sequence=2)
    older_grant = consent_changed(customer, True, "2025-03-16T10:00:00+08:00",
                                  channels=["SMS", "APP"], aliases=[site_id], sequence=1)
    # The same withdrawal sent again as a new event (a replayed outbox), and a grant at the
    # very same instant: a withdrawal wins a tie.
    again = {**withdrawn, "id": str(uuid.uuid4())}
    tie = consent_changed(customer, True, "2025-03-20T10:05:11+08:00",
                          channels=["SMS"], aliases=[site_id], sequence=3)
    hq.events.publish(withdrawn, older_grant, withdrawn, again, tie)
    applied(hq, 4)  # the redelivered copy of `withdrawn` is skipped by the inbox
    expected = {"SMS": (False, "CALL_CENTRE"), "APP": (False, "CALL_CENTRE")}
    assert consents(hq, customer) == expected
    assert consents(hq, site_id) == expected  # the site's id of the same person
    assert expressed(hq) == []  # crm's own changes are not sent back to it
