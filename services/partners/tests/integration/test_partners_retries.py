"""Retries after failures, exhaustion, 410 Gone, an endpoint failing for days, replays and
secret rotation, against the local receiver (short retry waits from the settings; the
dispatcher's clock moved by the test where days must pass)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from chassis.auth import Role
from chassis.testing import auth, wait_for
from contracts import events, validate_event
from services.partners.tests.integration.partners_hq import EventTap, event_from_example


def _connected(hq, receiver, *types: str):
    partner = hq.partner(*(types or ("QuoteApproved",)))
    endpoint = hq.endpoint(partner["partner_id"], receiver.url())
    receiver.secrets.append(endpoint["secret"])
    return partner, endpoint


def test_failed_attempts_are_retried_until_one_succeeds_and_each_is_logged(hq, receiver):
    _, endpoint = _connected(hq, receiver)
    receiver.answer(500, 503, 429)
    event = event_from_example(events.QuoteApproved)
    hq.events.publish(event)
    (row,) = hq.settled(1)
    assert (row["status"], row["attempts"]) == ("DELIVERED", 4)
    assert [r.headers["webhook-id"] for r in receiver.received] == [event["id"]] * 4
    assert len({r.headers["webhook-timestamp"] for r in receiver.received}) >= 1
    log = hq.call("GET", f"/deliveries/{row['delivery_id']}/attempts")["items"]
    assert [a["status_code"] for a in log] == [500, 503, 429, 200]
    assert [a["outcome"] for a in log] == ["failed", "failed", "failed", "delivered"]
    assert len(log[0]["response_excerpt"]) == 4096  # the receiver's 10 kB answer, capped
    assert log[-1]["response_excerpt"] == "thanks" and log[-1]["latency_ms"] >= 0
    assert hq.endpoint_row(endpoint["endpoint_id"])["failing_since"] is None


def test_a_delivery_is_failed_after_its_last_attempt(hq, receiver):
    _connected(hq, receiver)
    receiver.answer(*[500] * 8)
    hq.events.publish(event_from_example(events.QuoteApproved))
    (row,) = hq.settled(1)
    assert (row["status"], row["attempts"]) == ("FAILED", 8)
    assert row["last_status_code"] == 500 and len(receiver.received) == 8


def test_410_gone_disables_the_endpoint_and_the_partner_is_told(hq, receiver, amqp_uri):
    tap = EventTap(amqp_uri, "partners", events.PartnerEndpointDisabled.type)
    partner, endpoint = _connected(hq, receiver)
    receiver.answer(410)
    hq.events.publish(event_from_example(events.QuoteApproved))
    (row,) = hq.settled(1)
    assert (row["status"], row["attempts"]) == ("FAILED", 1)
    found = hq.endpoint_row(endpoint["endpoint_id"])
    assert (found["status"], found["disabled_because"]) == ("DISABLED", "GONE")
    # Nothing more is sent to it; its partner reads why with its own token.
    hq.events.publish(event_from_example(events.QuoteApproved))
    wait_for(lambda: len(hq.feed(partner["client_id"])["events"]) == 2, message="the feed")
    assert len(receiver.received) == 1 and len(hq.deliveries()) == 1
    notices = hq.call("GET", "/notices", headers=auth(Role.PARTNER,
                                                      subject=partner["client_id"]))["items"]
    assert notices[0]["kind"] == "ENDPOINT_DISABLED_GONE" and receiver.url() in \
        notices[0]["text"]
    # Headquarters hears of it too: PartnerEndpointDisabled on partners' exchange.
    try:
        (told,) = wait_for(lambda: tap.drain() or None, timeout=15,
                           message="PartnerEndpointDisabled published")
    finally:
        tap.close()
    validate_event(told)
    assert (told["type"], told["source"], told["subject"], told["dealercode"]) == (
        events.PartnerEndpointDisabled.type, "hq/partners", endpoint["endpoint_id"], "HQ")
    assert told["correlationid"] == partner["partner_id"]
    data = told["data"]
    assert {k: data[k] for k in ("partner_id", "endpoint_id", "url", "reason")} == {
        "partner_id": partner["partner_id"], "endpoint_id": endpoint["endpoint_id"],
        "url": receiver.url(), "reason": "GONE"}
    assert datetime.fromisoformat(data["disabled_at"]) == found["disabled_at"]


def test_an_endpoint_failing_for_five_days_is_disabled(hq, receiver):
    partner, endpoint = _connected(hq, receiver)
    receiver.answer(*[500] * 100)
    hq.events.publish(event_from_example(events.QuoteApproved))
    wait_for(lambda: hq.endpoint_row(endpoint["endpoint_id"])["failing_since"],
             message="the first failure")
    wait_for(lambda: [r for r in hq.deliveries() if r["status"] == "PENDING"],
             message="a retry waiting")
    hq.clock.advance(days=5, minutes=1)
    wait_for(lambda: hq.endpoint_row(endpoint["endpoint_id"])["status"] == "DISABLED",
             message="the endpoint disabled")
    found = hq.endpoint_row(endpoint["endpoint_id"])
    assert found["disabled_because"] == "FAILING"
    notices = hq.call("GET", "/notices", headers=auth(Role.PARTNER,
                                                      subject=partner["client_id"]))["items"]
    assert notices[0]["kind"] == "ENDPOINT_DISABLED_FAILING"
    # Enabled again by the operator, what waited goes out.
    receiver.script.clear()
    hq.call("POST", f"/endpoints/{endpoint['endpoint_id']}/enable")
    hq.settled(1)


def test_replays_of_one_message_of_a_range_and_of_everything_failed_since(hq, receiver):
    _, endpoint = _connected(hq, receiver)
    endpoint_id = endpoint["endpoint_id"]
    first = [event_from_example(events.QuoteApproved, repair_order_id=f"RO-A-{n}")
             for n in range(3)]
    hq.events.publish(*first)
    hq.settled(3)
    middle = datetime.now(UTC)
    receiver.answer(*[500] * 16)
    later = [event_from_example(events.QuoteApproved, repair_order_id=f"RO-B-{n}")
             for n in range(2)]
    hq.events.publish(*later)
    rows = hq.settled(5)
    assert sorted(r["status"] for r in rows) == ["DELIVERED"] * 3 + ["FAILED"] * 2
    receiver.received.clear()

    # Everything failed since a moment: the two.
    replayed = hq.call("POST", "/replays", json={"endpoint_id": endpoint_id,
                                                  "failed_since": middle.isoformat()})
    assert replayed["replayed"] == 2
    wait_for(lambda: len(receiver.delivered()) == 2, message="two replayed")
    hq.quiet()
    assert sorted(receiver.delivered_ids()) == sorted(e["id"] for e in later)
    receiver.received.clear()

    # A time range: the first three (already delivered once) go again.
    answer = hq.call("POST", "/replays", json={
        "endpoint_id": endpoint_id, "from": (middle - timedelta(hours=1)).isoformat(),
        "to": middle.isoformat()})
    assert answer["replayed"] == 3
    wait_for(lambda: len(receiver.delivered()) == 3, message="three replayed")
    hq.quiet()
    assert sorted(receiver.delivered_ids()) == sorted(e["id"] for e in first)
    receiver.received.clear()

    # One message.
    hq.call("POST", "/replays", json={"endpoint_id": endpoint_id, "event_id": first[1]["id"]})
    wait_for(lambda: receiver.delivered(), message="one replayed")
    assert receiver.delivered_ids() == [first[1]["id"]]
    missing = requests.post(f"{hq.url}/replays", timeout=10, headers=auth(Role.OPERATOR), json={
        "endpoint_id": endpoint_id, "event_id": "0d3c4b5a-6e7f-4a1b-9c2d-3e4f5a6b7c8d"})
    assert missing.status_code == 404


def test_while_a_secret_rotates_both_sign_and_the_receiver_verifies_with_either(hq, receiver):
    _, endpoint = _connected(hq, receiver)
    old = endpoint["secret"]
    hq.events.publish(event_from_example(events.QuoteApproved))
    hq.settled(1)
    assert len(receiver.received[0].signatures) == 1

    rotated = hq.call("POST", f"/endpoints/{endpoint['endpoint_id']}/secret-rotations",
                      json={"overlap_hours": 1})
    new = rotated["secret"]
    assert new.startswith("whsec_") and new != old
    receiver.secrets.append(new)
    hq.events.publish(event_from_example(events.QuoteApproved))
    hq.settled(2)
    during = receiver.received[-1]
    assert len(during.signatures) == 2 and set(during.verified_with) == {old, new}

    # Once the overlap is over, the new secret alone signs.
    hq.clock.advance(hours=1, minutes=1)
    hq.events.publish(event_from_example(events.QuoteApproved))
    hq.settled(3)
    after = receiver.received[-1]
    assert len(after.signatures) == 1 and after.verified_with == [new]
    assert receiver.refused == []
