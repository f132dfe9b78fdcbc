"""A consumer applies a batch in one transaction and falls back to a savepoint per message
only when a handler fails: the failing event is set aside, the others commit once each."""

from __future__ import annotations

import json
import logging

import kombu

from chassis.broker import ConfirmingPublisher, OutgoingMessage, connect, event_exchange
from chassis.deadletter import list_dead_letters
from chassis.testing import wait_for
from contracts import events
from tests.factories import booked_event
from tests.reliability import ledger
from tests.reliability.conftest import Ledger, run_ledger  # noqa: F401  # the fixture

QUEUE = "evt-booking-aftersales.AppointmentBooked.v1--ledger.on_booked"


def _queue_before_the_consumer(amqp_uri: str) -> None:
    # Declared (as the consumer declares it) before the service starts, so a burst published
    # now is waiting as one batch when the consumer comes up.
    with connect(amqp_uri) as connection:
        kombu.Queue(QUEUE, exchange=event_exchange("booking"),
                    routing_key=events.AppointmentBooked.type,
                    durable=True)(connection.channel()).declare()


def _publish_then_start(run_ledger, amqp_uri: str, burst: list[dict]) -> Ledger:  # noqa: F811
    _queue_before_the_consumer(amqp_uri)
    publisher = ConfirmingPublisher(amqp_uri)
    publisher.publish(OutgoingMessage(
        exchange=events.AppointmentBooked.exchange, routing_key=events.AppointmentBooked.type,
        body=json.dumps(event).encode(), message_id=event["id"]) for event in burst)
    publisher.close()
    return run_ledger()


def test_a_failing_event_in_a_batch_is_set_aside_and_the_rest_apply_once(
        run_ledger, amqp_uri, caplog):  # noqa: F811
    burst = [booked_event() for _ in range(20)]
    poison = burst[7]["data"]["appointment_id"]
    ledger.PERMANENT.add(poison)
    caplog.set_level(logging.INFO, logger="chassis.consumer")

    books = _publish_then_start(run_ledger, amqp_uri, burst)

    for event in burst:
        if event["data"]["appointment_id"] != poison:
            wait_for(lambda e=event: books.effects(e["data"]["appointment_id"]) == 1,
                     message="every other event's effect")
    letters = wait_for(lambda: list_dead_letters(amqp_uri, "ledger"), message="the dead letter")
    assert [letter.message_id for letter in letters] == [burst[7]["id"]]
    assert books.effects(poison) == 0  # each attempt's own insert was rolled back
    assert any("applying them one by one" in r.getMessage() for r in caplog.records)


def test_a_transient_failure_in_a_batch_is_retried_alone(run_ledger, amqp_uri):  # noqa: F811
    burst = [booked_event() for _ in range(10)]
    flaky = burst[3]["data"]["appointment_id"]
    ledger.FAILURES[flaky] = 1

    books = _publish_then_start(run_ledger, amqp_uri, burst)

    for event in burst:
        wait_for(lambda e=event: books.effects(e["data"]["appointment_id"]) == 1,
                 message="every event's effect, the flaky one after its retry")
    assert list_dead_letters(amqp_uri, "ledger") == []
