"""crm owns consent: every change at the call centre is announced (ConsentChanged), and a
退订 the owner gave at notify (ConsentExpressed) is recorded, so the next reminder run skips
them; stale, repeated and redelivered changes change nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from chassis.testing import wait_for
from contracts import events, new_event
from services.crm.tests.integration.crm_hq import booked, consents
from services.crm.tests.integration.test_crm_reminder_run_api import visit_history

CHANGED = "aftersales.ConsentChanged.v1"


def said_at_notify(customer_id: str, granted: bool, at: str, *, sequence: int = 1,
                   via: str = "SMS_REPLY") -> dict[str, Any]:
    return new_event(events.ConsentExpressed, {
        "customer_id": customer_id, "purpose": "MARKETING",
        "channels": ["SMS", "WECHAT", "PHONE", "APP", "EMAIL"], "granted": granted,
        "via": via, "expressed_at": at}, source="hq/notify", subject=customer_id,
        dealer_code="HQ", correlation_id=customer_id, sequence=sequence)


def marketing(crm, customer_id: str) -> dict[str, tuple[bool, str]]:
    view = crm.get(f"/customers/{customer_id}").json()
    return {c["channel"]: (c["granted"], c["recorded_by"]) for c in view["consents"]
            if c["purpose"] == "MARKETING"}


def test_a_change_at_the_call_centre_is_announced_once_with_the_sites_ids(crm, sites) -> None:
    sites.publish(booked("D001", "APT-1", "D001-C-1"), booked("D002", "APT-2", "D002-C-7"))
    wait_for(lambda: crm.inbox() == 2, message="both bookings applied")
    [customer] = crm.get("/customers", phone="13812345678").json()["customers"]
    cid = customer["customer_id"]
    assert crm.put(f"/customers/{cid}/consents", consents("MARKETING", True, "SMS", "APP")
                   ).status_code == 200
    [event] = crm.outbox(CHANGED)
    other = ({"D001-C-1", "D002-C-7"} - {cid}).pop()
    assert (event["subject"], event["source"], event["dealercode"]) == (cid, "hq/crm", "HQ")
    data = event["data"]
    assert (data["customer_id"], data["aliases"], data["purpose"], data["granted"],
            data["via"], sorted(data["channels"])) == (
        cid, [other], "MARKETING", True, "CALL_CENTRE", ["APP", "SMS"])
    # Saying the same again changes nothing, so nothing is announced; a site's id works too.
    assert crm.put(f"/customers/{other}/consents", consents("MARKETING", True, "SMS")
                   ).status_code == 200
    assert len(crm.outbox(CHANGED)) == 1
    bad = crm.put(f"/customers/{cid}/consents",
                  {"consents": [{"purpose": "SPAM", "channel": "SMS", "granted": True}]})
    assert bad.status_code == 422 and "consents" in bad.text


def test_a_TD_at_notify_withdraws_marketing_and_the_next_run_skips_the_customer(
        crm, sites) -> None:
    visit_history(sites, crm)  # cust-1, opted in at the call centre
    before = crm.post("/reminder-runs", {"date": "2025-06-10"}).json()
    assert before["raised"] == 1  # the declined alignment

    # The owner replies TD a little after the call centre recorded their opt-in.
    td_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    td = said_at_notify("cust-1", False, td_at.isoformat())
    sites.publish(td)
    wait_for(lambda: crm.inbox() == 6, message="the 退订 applied")
    assert marketing(crm, "cust-1")["SMS"] == (False, "notify:SMS_REPLY")
    assert set(marketing(crm, "cust-1")) == {"SMS", "WECHAT", "PHONE", "APP", "EMAIL"}
    announced = crm.outbox(CHANGED)[-1]["data"]
    assert (announced["granted"], announced["via"], announced["changed_at"]) == (
        False, "SMS_REPLY", td_at.isoformat())

    run = crm.post("/reminder-runs", {"date": "2025-09-10"}).json()
    assert (run["raised"], run["suppressed"]) == (0, {"OPTED_OUT": 1})  # maintenance

    # Redelivered, replayed as a new event, and an older opt-in arriving late: no change.
    count = len(crm.outbox(CHANGED))
    older = said_at_notify("cust-1", True, (td_at - timedelta(seconds=10)).isoformat(),
                           via="PREFERENCES")
    sites.publish(td, {**td, "id": str(uuid.uuid4())}, older)
    wait_for(lambda: crm.inbox() == 8, message="the late changes applied")
    assert marketing(crm, "cust-1")["SMS"] == (False, "notify:SMS_REPLY")
    assert len(crm.outbox(CHANGED)) == count


def test_a_TD_from_an_owner_crm_has_not_met_yet_is_kept_for_them(crm, sites) -> None:
    sites.publish(said_at_notify("D003-C-9", False, "2025-03-20T10:00:00+08:00"))
    wait_for(lambda: crm.inbox() == 1, message="the 退订 applied")
    sites.publish(booked("D003", "APT-9", "D003-C-9", phone="13900009999"))
    wait_for(lambda: crm.inbox() == 2, message="the booking applied")
    assert marketing(crm, "D003-C-9")["SMS"] == (False, "notify:SMS_REPLY")


def test_an_owner_allows_sharing_with_one_partner_on_the_data_channel(crm, sites) -> None:
    """purpose partner:<partner id> on the channel DATA: recorded, announced, and no message
    consent (the reminder run still takes the owner as not opted in)."""
    visit_history(sites, crm, opt_in=False)
    purpose = "partner:ptn_4e1f0a9c7b2d"
    answer = crm.put("/customers/cust-1/consents", {"consents": [
        {"purpose": purpose, "channel": "DATA", "granted": True}]})
    assert answer.status_code == 200, answer.text
    assert {"purpose": purpose, "channel": "DATA", "granted": True} in answer.json()["consents"]
    [event] = [e for e in crm.outbox(CHANGED) if e["data"]["purpose"] == purpose]
    assert (event["data"]["channels"], event["data"]["granted"], event["data"]["via"]) == (
        ["DATA"], True, "CALL_CENTRE")
    run = crm.post("/reminder-runs", {"date": "2025-09-10"}).json()
    assert run["raised"] == 0 and run["suppressed"].get("OPTED_OUT", 0) >= 1

    for consent in ({"purpose": purpose, "channel": "SMS"},
                    {"purpose": "MARKETING", "channel": "DATA"},
                    {"purpose": "partner:", "channel": "DATA"},
                    {"purpose": "partner:a/b", "channel": "DATA"}):
        bad = crm.put("/customers/cust-1/consents", {"consents": [{**consent, "granted": True}]})
        assert bad.status_code == 422 and "consents" in bad.text, (consent, bad.text)

