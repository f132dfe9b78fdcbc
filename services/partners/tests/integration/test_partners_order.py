"""For one endpoint, the events of one subject go in sequence order, each waiting until the
one before was delivered or given up, while other subjects go on; under retries too."""

from __future__ import annotations

import pytest

from chassis.testing import wait_for
from contracts import events
from services.partners.tests.integration.partners_hq import Hq, event_from_example, start_partners

CHAIN = (events.RepairOrderOpened, events.InspectionUploaded, events.QuoteApproved,
         events.VehicleDelivered)


@pytest.fixture
def slow_hq(database, amqp_uri, services) -> Hq:
    # Retries after 2 s of the dispatcher's clock, which the test moves on.
    found = start_partners(database, amqp_uri, services,
                           extra={"retry_schedule_seconds": [2.0] * 7})
    yield found
    found.events.close()
    found.engine.dispose()


def _chain(repair_order_id: str) -> list[dict]:
    return [event_from_example(c, sequence=n, repair_order_id=repair_order_id)
            for n, c in enumerate(CHAIN, start=1)]


def test_a_subjects_events_wait_for_the_one_before_while_others_go_on(slow_hq, receiver):
    hq = slow_hq
    partner = hq.partner(*(c.name for c in CHAIN))
    endpoint = hq.endpoint(partner["partner_id"], receiver.url())
    receiver.secrets.append(endpoint["secret"])
    held, free = _chain("RO-D001-HELD"), _chain("RO-D001-FREE")
    receiver.answer_event(held[0]["id"], 500)   # the first of the held chain fails once,
    receiver.answer_event(held[1]["id"], 503)   # and so does its second

    hq.events.publish(held[0])
    wait_for(lambda: [r for r in hq.deliveries() if r["status"] == "PENDING"
                      and r["attempts"] == 1], message="the first attempt failed")
    hq.events.publish(*reversed(held[1:]), *free)
    # The other repair order is not held up by the failing one.
    wait_for(lambda: len(hq.deliveries(status="DELIVERED")) == 4, message="the free chain")
    # (in the order they reached headquarters: nothing held any of them back)
    assert sorted(receiver.delivered_ids()) == sorted(e["id"] for e in free)
    waiting = hq.deliveries(status="WAITING")
    assert sorted(r["sequence"] for r in waiting) == [2, 3, 4]

    hq.clock.advance(seconds=3)  # the first one's retry is due: delivered, the second fails
    wait_for(lambda: [r for r in hq.deliveries(sequence=2) if r["subject_key"].endswith("HELD")
                      and r["status"] == "PENDING" and r["attempts"] == 1],
             message="the second held one failed once")
    assert sorted(r["sequence"] for r in hq.deliveries(status="WAITING")) == [3, 4]
    hq.clock.advance(seconds=3)
    wait_for(lambda: len(hq.deliveries(status="DELIVERED")) == 8, message="everything")
    held_ids = [e["id"] for e in held]
    assert [i for i in receiver.delivered_ids() if i in held_ids] == held_ids
    sequences = [r.event["sequence"] for r in receiver.received
                 if r.event["subject"] == "RO-D001-HELD"]
    assert sequences == [1, 1, 2, 2, 3, 4]


def test_a_subject_given_up_on_lets_the_next_one_go(hq, receiver):
    partner = hq.partner(*(c.name for c in CHAIN))
    endpoint = hq.endpoint(partner["partner_id"], receiver.url())
    receiver.secrets.append(endpoint["secret"])
    chain = _chain("RO-D001-GIVEN-UP")
    receiver.answer_event(chain[0]["id"], *[500] * 8)
    hq.events.publish(chain[0])
    wait_for(lambda: hq.deliveries(), message="the first delivery")
    hq.events.publish(*chain[1:])
    rows = hq.settled(4)
    assert [r["status"] for r in sorted(rows, key=lambda r: r["sequence"])] == \
        ["FAILED", "DELIVERED", "DELIVERED", "DELIVERED"]
    assert receiver.delivered_ids() == [e["id"] for e in chain[1:]]
