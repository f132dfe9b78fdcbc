"""What the outbox relay publishes is a structured-mode CloudEvent that any CloudEvents SDK
reads: every event type goes through the real relay to the real RabbitMQ, is taken off a
queue raw and parsed with the SDK's RabbitMQ (AMQP 0-9-1) and AMQP bindings; every attribute
and the data come back. The platform's own consumers still apply it, and what was published as
plain JSON before."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import kombu
import nameko.serialization
import pytest
import sqlalchemy as sa
from cloudevents.core.bindings import amqp as ce_amqp
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings import rabbitmq as ce_rabbitmq
from cloudevents.core.exceptions import CloudEventValidationError
from sqlalchemy.orm import Session

from chassis.broker import OutgoingMessage, connect, event_exchange
from chassis.db import define_backbone_tables
from chassis.outbox import EventEmitter, OutboxRelay
from chassis.testing import wait_for
from contracts import CONTRACTS, events, wire
from tests.factories import booked_event
from tests.reliability.conftest import run_ledger  # noqa: F401  # the fixture

pytestmark = pytest.mark.integration

ALL = sorted(CONTRACTS.values(), key=lambda c: c.type)
METADATA = sa.MetaData()
define_backbone_tables(METADATA)
OUTBOX = METADATA.tables["outbox"]


def _queues(channel: Any) -> dict[str, kombu.Queue]:
    """One queue per producing service, bound to everything it publishes."""
    queues = {}
    for producer in sorted({c.producer for c in ALL}):
        queue = kombu.Queue(f"wire-probe-{producer}", exchange=event_exchange(producer),
                            routing_key="#", durable=True)
        queue(channel).declare()
        queues[producer] = queue
    return queues


def _emit_every_example(url: str, package_dir) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    emitted = []
    with Session(engine) as session:
        for contract in ALL:
            example = json.loads((package_dir / contract.example_file).read_text("utf-8"))
            emitter = EventEmitter(session, OUTBOX, example["source"], example["dealercode"])
            emitted.append(emitter.emit(contract, example["data"], subject=example["subject"],
                                        correlation_id=example["correlationid"]))
        session.commit()
    engine.dispose()
    return emitted


def _same_event(parsed: Any, sent: dict[str, Any]) -> None:
    attributes = parsed.get_attributes()
    assert set(attributes) == set(sent) - {"data"}
    for name, value in sent.items():
        if name == "data":
            assert parsed.get_data() == value
        elif name == "time":  # the SDK gives a datetime: the same instant, the same offset
            assert attributes["time"] == datetime.fromisoformat(value)
            assert attributes["time"].utcoffset() == datetime.fromisoformat(value).utcoffset()
        else:
            assert attributes[name] == value and type(attributes[name]) is type(value), name


def test_every_event_type_published_by_the_relay_is_read_by_the_cloudevents_sdk(
        database, amqp_uri, package_dir):
    url = database("wire", metadata=METADATA)
    with connect(amqp_uri) as conn:
        queues = _queues(conn.channel())
        sent = _emit_every_example(url, package_dir)
        engine = sa.create_engine(url)
        OutboxRelay("wire", engine, OUTBOX, amqp_uri).drain()
        engine.dispose()
        received: dict[str, kombu.Message] = {}
        for queue in queues.values():
            while (message := queue(conn.channel()).get(no_ack=True)) is not None:
                received[message.properties["message_id"]] = message

    assert set(received) == {event["id"] for event in sent}
    for event in sent:
        message = received[event["id"]]
        assert message.content_type == "application/cloudevents+json"
        assert message.content_encoding == "utf-8"
        assert message.delivery_info["routing_key"] == event["type"]
        # RabbitMQ (AMQP 0-9-1) binding: the content type alone says "structured mode".
        _same_event(ce_rabbitmq.from_rabbitmq_event(ce_rabbitmq.RabbitMQMessage(
            headers=dict(message.headers), content_type=message.content_type,
            body=message.body)), event)
        # AMQP 1.0 binding, the same properties.
        _same_event(ce_amqp.from_amqp_event(ce_amqp.AMQPMessage(
            properties={"content-type": message.content_type},
            application_properties=dict(message.headers), application_data=message.body)),
            event)
        # The same bytes as a webhook's body (HTTP binding, structured mode).
        _same_event(ce_http.from_http_event(ce_http.HTTPMessage(
            headers={"content-type": message.content_type}, body=message.body)), event)
        # kombu decodes it as JSON (the content type is registered by chassis.broker).
        assert message.decode() == event
    # `sequence` is the platform's integer (see the CHANGELOG): a JSON number, as sent.
    assert all(type(e["sequence"]) is int for e in sent)


def test_the_old_plain_json_would_not_be_read_as_a_structured_event(example_of):
    # Why the content type matters: under application/json the bindings take the body for
    # the event's data and look for the attributes in headers, where there are none.
    body = wire.encode(example_of(events.StockLow))
    with pytest.raises(CloudEventValidationError, match="source"):
        ce_rabbitmq.from_rabbitmq_event(ce_rabbitmq.RabbitMQMessage(
            headers={}, content_type="application/json", body=body))


def test_a_nameko_consumer_may_accept_the_cloudevents_content_type():
    # A stock nameko @event_handler decodes by content type: with "cloudevents" in its
    # ACCEPT it takes these events, which needs the serializer name to be registered.
    import chassis.broker  # noqa: F401  (registers it)

    serializer, accept = nameko.serialization.setup(
        {"serializer": "json", "ACCEPT": ["json", "cloudevents"]})
    assert (serializer, accept) == ("json", ["json", "cloudevents"])
    content_type, encoding, body = kombu.serialization.dumps({"a": "汉字"}, "cloudevents")
    assert (content_type, encoding) == ("application/cloudevents+json", "utf-8")
    # What a kombu Consumer (nameko's among them) does with its accept list of names:
    taken = kombu.serialization.prepare_accept_content(accept)
    assert kombu.serialization.loads(body, content_type, encoding, accept=taken) == {"a": "汉字"}


def test_the_platforms_consumer_applies_events_in_both_content_types(
        run_ledger, amqp_uri):  # noqa: F811
    books = run_ledger()
    structured, plain = booked_event(), booked_event()
    # As the relay publishes it now (the default content type of OutgoingMessage) ...
    books.publish(structured)
    # ... and as it did before 1.1: still in queues and dead-letter queues after an upgrade.
    books.publisher.publish([OutgoingMessage(
        exchange=events.AppointmentBooked.exchange, routing_key=events.AppointmentBooked.type,
        body=wire.encode(plain), message_id=plain["id"], content_type="application/json")])
    for event in (structured, plain):
        wait_for(lambda e=event: books.effects(e["data"]["appointment_id"]) == 1,
                 message="the event's effect")
