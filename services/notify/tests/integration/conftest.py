"""notify at headquarters on the real PostgreSQL and RabbitMQ (fixture `hq`), with a local
SMS gateway and a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from chassis.auth import Role
from chassis.testing import auth, make_settings, service_database, wait_for
from notify import models
from notify.service import Clock, NotifyService
from services.notify.tests.integration.notify_hq import (
    GATEWAY_KEY,
    GATEWAY_SECRET,
    ManualClock,
    Publisher,
    shanghai,
)
from services.notify.tests.integration.provider_servers import SmsGatewayServer

OPERATOR = auth(Role.OPERATOR, subject="ops-1")


@dataclass
class Hq:
    url: str
    clock: ManualClock
    gateway: SmsGatewayServer
    events: Publisher
    engine: sa.Engine

    def dispatch(self) -> dict[str, int]:
        response = requests.post(f"{self.url}/dispatch-runs", headers=OPERATOR, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def deliveries(self, **where: Any) -> list[dict[str, Any]]:
        table = models.deliveries
        query = sa.select(table).order_by(table.c.id)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def wait_for_deliveries(self, count: int, **where: Any) -> list[dict[str, Any]]:
        return wait_for(lambda: len(self.deliveries(**where)) >= count and
                        self.deliveries(**where), message=f"{count} queued message(s)")

    def inbox(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(sa.func.count()).select_from(models.metadata
                                                                      .tables["inbox"]))


@pytest.fixture
def hq(database, amqp_uri, services) -> Iterator[Hq]:
    clock = ManualClock(shanghai(17, 10))
    # The same service with a clock the test moves (name, tables and handlers unchanged).
    notify_class = type("NotifyAtTestTime", (NotifyService,), {"clock": Clock(clock)})
    with SmsGatewayServer(GATEWAY_KEY, GATEWAY_SECRET) as gateway:
        settings = make_settings(
            "notify", service_database(database, NotifyService), amqp_uri, dealer_code="HQ",
            extra={"channels": {"sms": {"adapter": "sms_gateway", "url": gateway.url,
                                        "api_key": GATEWAY_KEY, "api_secret": GATEWAY_SECRET}},
                   "dispatch_loop": False,
                   "dealer_names": {"D001": "北京朝阳4S店"},
                   "public_url": "https://notify.example.cn"})
        services(notify_class, settings)
        publisher = Publisher(amqp_uri)
        engine = sa.create_engine(settings.database_url)
        yield Hq(f"http://127.0.0.1:{settings.http_port}", clock, gateway, publisher, engine)
        publisher.close()
        engine.dispose()
