"""Embedded mode's broker: kombu's in-memory transport, with one namespace per virtual host.

Stock `memory://` keeps every queue in one process-wide dict, so two dealer sites in one
process would share `booking.events` and steal each other's bookings. Here
`memory:///site-D001` and `memory:///site-D002` are as separate as two vhosts on RabbitMQ,
and nameko's RPC works on it.
"""

from __future__ import annotations

from queue import Queue
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, memory, virtual


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


TRANSPORT_ALIASES["memory"] = f"{__name__}:Transport"
