from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from chassis.broker import ConfirmingPublisher, OutgoingMessage
from chassis.metrics import REGISTRY
from chassis.testing import make_settings
from contracts import events
from tests.reliability import ledger


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Ledger:
    """The running ledger service and what it has recorded."""

    def __init__(self, url: str, amqp_uri: str) -> None:
        self.url = url
        self.amqp_uri = amqp_uri
        self.engine = sa.create_engine(url)
        self.publisher = ConfirmingPublisher(amqp_uri)

    def publish(self, body: bytes | dict[str, Any], message_id: str = "") -> None:
        if isinstance(body, dict):
            message_id = body["id"]
            body = json.dumps(body).encode()
        self.publisher.publish([OutgoingMessage(
            exchange=events.AppointmentBooked.exchange,
            routing_key=events.AppointmentBooked.type, body=body, message_id=message_id)])

    def effects(self, appointment_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(sa.func.count()).select_from(ledger.entries)
                               .where(ledger.entries.c.appointment_id == appointment_id))

    def close(self) -> None:
        self.publisher.close()
        self.engine.dispose()


@pytest.fixture
def run_ledger(database, amqp_uri, services) -> Iterator[Callable[..., Ledger]]:
    started: list[Ledger] = []

    def start(**overrides: Any) -> Ledger:
        url = database("ledger", metadata=ledger.metadata)
        services(ledger.LedgerService, make_settings("ledger", url, amqp_uri, **overrides))
        started.append(Ledger(url, amqp_uri))
        return started[-1]

    yield start
    for item in started:
        item.close()
    ledger.FAILURES.clear()
    ledger.PERMANENT.clear()
