"""Embedded mode's broker: kombu's in-memory transport, with one namespace per virtual host.

Stock `memory://` keeps every queue in one process-wide dict, so two dealer sites in one
process would share `booking.events` and steal each other's bookings. Here
`memory:///site-D001` and `memory:///site-D002` are as separate as two vhosts on RabbitMQ.
"""

from __future__ import annotations

from queue import Queue
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, memory, virtual


class Channel(memory.Channel):
    _queues_by_vhost: dict[str, dict[str, Queue]] = {}

    @property
    def queues(self) -> dict[str, Queue]:  # type: ignore[override]
        vhost = self.connection.client.virtual_host or "/"
        return self._queues_by_vhost.setdefault(vhost, {})

    @queues.setter
    def queues(self, _value: Any) -> None:
        # memory.Channel.close() resets its view of the queues; the vhost's queues live on.
        pass


class Transport(memory.Transport):
    Channel = Channel
    _states_by_vhost: dict[str, virtual.BrokerState] = {}

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        vhost = client.virtual_host or "/"
        self.state = self._states_by_vhost.setdefault(vhost, virtual.BrokerState())


TRANSPORT_ALIASES["memory"] = f"{__name__}:Transport"
