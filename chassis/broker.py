"""Talking to RabbitMQ (or kombu's in-memory transport in embedded mode): connections, a
publisher that waits for the broker's confirms once per batch, and the kombu declarations of
the exchanges and queues `chassis.broker_names` names.

`memory://` URIs need `chassis.embedded.register()` first (the runner calls it for embedded
settings); this module does not import embedded mode."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import kombu
import kombu.serialization
from nameko.standalone.events import get_event_exchange

from chassis.broker_names import DEAD_LETTER_EXCHANGE, dead_letter_queue_name
from contracts import wire

log = logging.getLogger(__name__)

PERSISTENT = 2

# Events travel as structured-mode CloudEvents (`application/cloudevents+json`), which kombu
# does not know: registered as JSON under the name "cloudevents", `message.decode()` reads
# them, and a kombu or nameko consumer that lists "cloudevents" in its accepted content
# (nameko: ACCEPT: [json, cloudevents]) takes them. Our own consumer parses the body itself.
kombu.serialization.register(
    "cloudevents", encoder=lambda envelope: wire.encode(envelope).decode(wire.CONTENT_ENCODING),
    decoder=wire.decode, content_type=wire.CONTENT_TYPE, content_encoding=wire.CONTENT_ENCODING)


class PublishError(Exception):
    """The broker refused (nack) or did not confirm a publish in time."""


def dead_letter_queue(service: str) -> kombu.Queue:
    exchange = kombu.Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)
    return kombu.Queue(dead_letter_queue_name(service), exchange=exchange, routing_key=service,
                       durable=True)


def event_exchange(service: str) -> kombu.Exchange:
    """The producer's topic exchange, declared exactly as nameko declares it."""
    return get_event_exchange(service, {"AUTO_DELETE_EVENT_EXCHANGES": False})


def connect(amqp_uri: str, **kwargs: Any) -> kombu.Connection:
    kwargs.setdefault("connect_timeout", 5)
    kwargs.setdefault("transport_options", {"max_retries": 0})
    return kombu.Connection(amqp_uri, **kwargs)


def supports_confirms(connection: kombu.Connection) -> bool:
    return connection.transport.driver_type == "amqp"


def authenticated_user(amqp_uri: str) -> str | None:
    """The RabbitMQ user a connection to `amqp_uri` logs in as (kombu's default `guest` when
    the URI names none). None when the URI does not say: the in-memory transport, which
    authenticates no one, and certificate (EXTERNAL) logins, whose user is the certificate's.
    """
    if not amqp_uri.startswith(("amqp://", "amqps://", "pyamqp://")):
        return None
    info = kombu.Connection(amqp_uri).info()  # not connected: only the URI is read
    return str(info["userid"]) if info.get("login_method") in ("PLAIN", "AMQPLAIN") else None


@dataclass(frozen=True)
class OutgoingMessage:
    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    headers: Mapping[str, Any] = field(default_factory=dict)
    # What the platform publishes on an events exchange is a CloudEvent; others say theirs.
    content_type: str = wire.CONTENT_TYPE
    # Declared (idempotently) before the first publish to it; "" is the default exchange.
    exchange_type: str = "topic"


class ConfirmingPublisher:
    """Publishes a batch and returns once the broker has confirmed every message of it.

    Confirming per batch instead of per message is what lets the outbox relay publish
    thousands of events a second while still knowing each one is safe in the broker.
    On kombu's memory transport (no confirms) a publish is complete when it returns.
    """

    def __init__(self, amqp_uri: str, confirm_timeout: float = 10.0) -> None:
        self.amqp_uri = amqp_uri
        self.confirm_timeout = confirm_timeout
        self._connection: kombu.Connection | None = None
        self._channel: Any = None
        self._declared: set[str] = set()
        self._outstanding: set[int] = set()
        self._nacked: set[int] = set()
        self._next_tag = 1
        # Stamped as `user_id` on every message: RabbitMQ checks it against the login, so a
        # consumer can tell who published (headquarters' consumers trust their own user's
        # messages, e.g. replayed dead letters, and a site's only from that site's link).
        self._user_id = authenticated_user(amqp_uri)

    def _ensure_channel(self) -> Any:
        if self._channel is not None:
            return self._channel
        connection = connect(self.amqp_uri)
        connection.connect()
        channel = connection.channel()
        if supports_confirms(connection):
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
        self._connection, self._channel = connection, channel
        self._declared.clear()
        self._outstanding.clear()
        self._nacked.clear()
        self._next_tag = 1
        return channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._outstanding = {t for t in self._outstanding if t > delivery_tag}
        else:
            self._outstanding.discard(delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            settled = {t for t in self._outstanding if t <= delivery_tag}
        else:
            settled = {delivery_tag}
        self._nacked |= settled
        self._outstanding -= settled

    def declare_exchange(self, exchange: kombu.Exchange) -> None:
        channel = self._ensure_channel()
        if exchange.name and exchange.name not in self._declared:
            exchange(channel).declare()
            self._declared.add(exchange.name)

    def publish(self, messages: Iterable[OutgoingMessage]) -> int:
        """Publish and wait for confirms; raises on any failure (the caller retries it all)."""
        try:
            return self._publish(messages)
        except Exception:
            self.close()
            raise

    def _publish(self, messages: Iterable[OutgoingMessage]) -> int:
        channel = self._ensure_channel()
        confirming = supports_confirms(self._connection)  # type: ignore[arg-type]
        count = 0
        for message in messages:
            if message.exchange and message.exchange not in self._declared:
                self.declare_exchange(kombu.Exchange(message.exchange, type=message.exchange_type,
                                                     durable=True))
            properties = {"delivery_mode": PERSISTENT, "message_id": message.message_id}
            if self._user_id is not None:
                properties["user_id"] = self._user_id
            prepared = channel.prepare_message(
                message.body, content_type=message.content_type, content_encoding="utf-8",
                headers=dict(message.headers), properties=properties)
            channel.basic_publish(prepared, exchange=message.exchange,
                                  routing_key=message.routing_key)
            if confirming:
                self._outstanding.add(self._next_tag)
                self._next_tag += 1
            count += 1
        if confirming:
            self._wait_for_confirms()
        return count

    def _wait_for_confirms(self) -> None:
        deadline = time.monotonic() + self.confirm_timeout
        while self._outstanding:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishError(f"{len(self._outstanding)} messages not confirmed in time")
            self._connection.drain_events(timeout=remaining)  # type: ignore[union-attr]
        if self._nacked:
            nacked, self._nacked = len(self._nacked), set()
            raise PublishError(f"broker refused {nacked} messages")

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # closing a dead connection may raise; it is gone either way
                log.debug("error closing publisher connection", exc_info=True)
