"""A running BI on the real PostgreSQL and RabbitMQ: `empty_bi`, and `bi` fed with the
events of two dealer sites (`bi_history`), each sent twice and out of order."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import requests

from bi.service import BiService
from chassis.broker import ConfirmingPublisher, OutgoingMessage
from chassis.db import count_rows
from chassis.testing import auth, make_settings, service_database, wait_for
from contracts import contract_for
from services.bi.tests.integration.bi_history import history

ANALYST = auth("oem_analyst", subject="analyst-1")


class Bi:
    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.http_port}"

    def get(self, path: str, headers: dict[str, str], **params: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers=headers, params=params, timeout=15)

    def ok(self, path: str, headers: dict[str, str] = ANALYST, **params: str) -> Any:
        answer = self.get(path, headers, **params)
        assert answer.status_code == 200, answer.text
        return answer.json()


def publish(amqp_uri: str, envelopes: list[dict[str, Any]]) -> None:
    publisher = ConfirmingPublisher(amqp_uri)
    try:
        publisher.publish(OutgoingMessage(
            exchange=contract_for(e["type"]).exchange, routing_key=e["type"],
            body=json.dumps(e).encode(), message_id=e["id"]) for e in envelopes)
    finally:
        publisher.close()


@pytest.fixture
def empty_bi(database, amqp_uri, services) -> Bi:
    settings = make_settings("bi", service_database(database, BiService), amqp_uri,
                             dealer_code="HQ")
    services(BiService, settings)
    return Bi(settings)


@pytest.fixture
def bi(empty_bi, amqp_uri) -> Bi:
    settings = empty_bi.settings
    events = history()
    # Sites forward late and twice: shuffled, every event sent two times.
    publish(amqp_uri, random.Random(3).sample(events * 2, k=2 * len(events)))
    wait_for(lambda: count_rows(settings.database_url, "event_log") == len(events),
             message="every event logged once")
    wait_for(lambda: count_rows(settings.database_url, "inbox") == len(events),
             message="every event applied")
    return empty_bi
