"""Embedded mode's broker: kombu's in-memory transport, with one namespace per virtual host.

Stock `memory://` keeps every queue in one process-wide dict, so two dealer sites in one
process would share `booking.events` and steal each other's bookings. Here
`memory:///site-D001` and `memory:///site-D002` are as separate as two vhosts on RabbitMQ,
and nameko's RPC works on it.

`register()` puts this transport in place of kombu's `memory://`; embedded mode calls it
before it connects (`chassis.runner.make_container` does, for settings on `memory://`).
Importing this module changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from queue import Queue
from typing import Any

import eventlet
import kombu
from kombu import transport as kombu_transport
from kombu.transport import TRANSPORT_ALIASES, memory, virtual

from chassis.broker import event_exchange
from chassis.broker_names import uplink_queue


class Channel(memory.Channel):
    _queues_by_vhost: dict[str, dict[str, Queue]] = {}

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        # Kept here: close() drops the connection before it looks at the queues.
        self._vhost = connection.client.virtual_host or "/"
        super().__init__(connection, **kwargs)

    @property
    def queues(self) -> dict[str, Queue]:  # type: ignore[override]
        return self._queues_by_vhost.setdefault(self._vhost, {})

    @queues.setter
    def queues(self, _value: Any) -> None:
        # memory.Channel.close() resets its view of the queues; the vhost's queues live on.
        pass

    def prepare_message(self, body: Any, priority: Any = None, content_type: Any = None,
                        content_encoding: Any = None, headers: Any = None,
                        properties: Any = None) -> Any:
        # nameko's RPC answers in the request's encoding, read from
        # properties["content_type"], where AMQP has it and virtual transports do not.
        properties = dict(properties or {})
        properties.setdefault("content_type", content_type)
        return super().prepare_message(body, priority, content_type, content_encoding,
                                       headers, properties)


class Transport(memory.Transport):
    Channel = Channel
    # An empty in-memory queue is polled; kombu's default second would add up to a second
    # to every RPC reply and event.
    polling_interval = 0.005
    _states_by_vhost: dict[str, virtual.BrokerState] = {}

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        vhost = client.virtual_host or "/"
        self.state = self._states_by_vhost.setdefault(vhost, virtual.BrokerState())


def register() -> None:
    """Make `memory://` URIs use this transport (one namespace per vhost) in this process.
    Safe to call again."""
    TRANSPORT_ALIASES["memory"] = f"{__name__}:Transport"
    # kombu caches the class per alias at the first connection; one made before this call
    # must not keep the stock transport for the rest of the process.
    kombu_transport._transport_cache.pop("memory", None)


class MemoryUplink:
    """Embedded mode's stand-in for the shovels of `chassis.uplink`: moves a dealer site's
    events into headquarters' vhost, acking each only after it is published there.

    It sets no `user_id`: the in-memory broker authenticates no one, so headquarters'
    consumers in embedded mode do not check a site event's publisher (`chassis.consumer`)."""

    def __init__(self, site_uri: str, hq_uri: str, services: Iterable[str]) -> None:
        self.site_uri, self.hq_uri, self.services = site_uri, hq_uri, tuple(services)
        self._stopping = False
        self._thread: Any = None

    def start(self) -> None:
        register()
        self._site = kombu.Connection(self.site_uri)
        self._hq = kombu.Connection(self.hq_uri)
        self._producer = kombu.Producer(self._hq.channel())
        channel = self._site.channel()
        queues = []
        for service in self.services:
            exchange = event_exchange(service)
            exchange(self._producer.channel).declare()
            queues.append(kombu.Queue(uplink_queue(service), exchange=exchange,
                                      routing_key="#", durable=True))
        self._consumer = kombu.Consumer(channel, queues, on_message=self._forward)
        self._consumer.consume()  # declares the queues before any site service publishes
        self._thread = eventlet.spawn(self._run)

    def _forward(self, message: Any) -> None:
        info = message.delivery_info
        self._producer.publish(message.body, exchange=info["exchange"],
                               routing_key=info["routing_key"], headers=message.headers,
                               content_type=message.content_type,
                               content_encoding=message.content_encoding,
                               message_id=message.properties.get("message_id"))
        message.ack()

    def _run(self) -> None:
        while not self._stopping:
            try:
                self._site.drain_events(timeout=0.2)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._thread.wait()
        self._site.release()
        self._hq.release()
