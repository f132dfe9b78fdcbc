"""partners at headquarters on the real PostgreSQL and RabbitMQ, events published the way
the sites' forwarded exchanges deliver them, and the operator's and partner's HTTP calls."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kombu
import requests
import sqlalchemy as sa

import contracts
from chassis.auth import Role
from chassis.broker import ConfirmingPublisher, OutgoingMessage, connect, event_exchange
from chassis.testing import auth, make_settings, service_database, wait_for
from contracts import EventContract, new_event
from partners import models
from partners.service import Clock, PartnersService

OPERATOR = auth(Role.OPERATOR, subject="ops-1")
FAST_RETRIES = [0.05] * 7  # eight attempts, a few tenths of a second in all


class ManualClock:
    """The dispatcher's clock; it moves with the wall clock unless the test moves it on."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


def example(contract: EventContract) -> dict[str, Any]:
    path = Path(contracts.__file__).parent / contract.example_file
    return json.loads(path.read_text(encoding="utf-8"))


def event_from_example(contract: EventContract, *, dealer: str = "D001", sequence: int = 1,
                       subject: str | None = None, **data_changes: Any) -> dict[str, Any]:
    """A fresh event (new id) from the published example, about `dealer`."""
    base = example(contract)
    data = {**base["data"], **data_changes}
    if "dealer_code" in data:
        data["dealer_code"] = dealer
    if subject is not None and contract.subject_field:
        data[contract.subject_field] = subject
    subject = data[contract.subject_field] if contract.subject_field else base["subject"]
    source = (f"dealer/{dealer}/{contract.producer}" if contract.at_dealer_site
              else f"hq/{contract.producer}")
    dealer_code = dealer if contract.at_dealer_site or "dealer_code" in data \
        else base["dealercode"]
    return new_event(contract, data, source=source, subject=subject, dealer_code=dealer_code,
                     correlation_id=base["correlationid"], sequence=sequence)


class Publisher:
    def __init__(self, amqp_uri: str) -> None:
        self.publisher = ConfirmingPublisher(amqp_uri)

    def publish(self, *envelopes: dict[str, Any]) -> None:
        self.publisher.publish([OutgoingMessage(
            exchange=f"{contracts.contract_for(e['type']).producer}.events",
            routing_key=e["type"], body=json.dumps(e, ensure_ascii=False).encode(),
            message_id=e["id"]) for e in envelopes])

    def close(self) -> None:
        self.publisher.close()


class EventTap:
    """A queue of its own bound to `producer`'s exchange: the events that crossed the broker
    (bind it before they are published)."""

    def __init__(self, amqp_uri: str, producer: str, routing_key: str = "#") -> None:
        self.connection = connect(amqp_uri)
        self.channel = self.connection.channel()
        self.queue = kombu.Queue(f"tap-{producer}-{uuid.uuid4().hex[:8]}",
                                 exchange=event_exchange(producer), routing_key=routing_key,
                                 auto_delete=True)(self.channel)
        self.queue.declare()
        self.seen: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while (message := self.queue.get(no_ack=True)) is not None:
            self.seen.append(json.loads(message.body))
        return self.seen

    def close(self) -> None:
        self.connection.release()


@dataclass
class Hq:
    url: str
    events: Publisher
    engine: sa.Engine
    clock: ManualClock
    restart: Callable[[], None] = field(repr=False, default=lambda: None)

    def call(self, method: str, path: str, *, expect: int = 200, headers: dict | None = None,
             **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}{path}", headers=headers or OPERATOR,
                                    timeout=15, **kwargs)
        assert response.status_code == expect, (response.status_code, response.text)
        return response.json()

    def partner(self, *types: str, client_id: str | None = None, **entitlements: Any
                ) -> dict[str, Any]:
        client_id = client_id or f"ptn_{uuid.uuid4().hex[:10]}"
        return self.call("POST", "/partners", expect=201, json={
            "name": "Speedy Auto 快修", "client_id": client_id,
            "entitlements": {"event_types": list(types), **entitlements}})

    def endpoint(self, partner_id: str, url: str, **extra: Any) -> dict[str, Any]:
        return self.call("POST", f"/partners/{partner_id}/endpoints", expect=201,
                         json={"url": url, **extra})

    def deliveries(self, **where: Any) -> list[dict[str, Any]]:
        table = models.deliveries
        query = sa.select(table).order_by(table.c.delivery_id)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def settled(self, count: int, **where: Any) -> list[dict[str, Any]]:
        """Wait until `count` deliveries (matching `where`) are DELIVERED or FAILED."""
        def done() -> Any:
            rows = [r for r in self.deliveries(**where)
                    if r["status"] in ("DELIVERED", "FAILED")]
            return rows if len(rows) >= count else None
        return wait_for(done, timeout=30, message=f"{count} settled deliveries")

    def quiet(self) -> None:
        """Wait until no delivery is open (waiting, pending or on its way)."""
        wait_for(lambda: all(r["status"] in ("DELIVERED", "FAILED") for r in self.deliveries()),
                 timeout=30, message="every delivery settled")

    def endpoint_row(self, endpoint_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(models.endpoints).where(
                models.endpoints.c.endpoint_id == endpoint_id)).mappings().one())

    def feed(self, client_id: str, after: str = "0", limit: int = 500) -> dict[str, Any]:
        return self.call("GET", "/feed", params={"after": after, "limit": limit},
                         headers=auth(Role.PARTNER, subject=client_id))


def start_partners(database: Callable[..., str], amqp_uri: str, services: Any, *,
                   extra: dict[str, Any] | None = None, cls: type = PartnersService) -> Hq:
    clock = ManualClock()
    cls = type("PartnersAtTestTime", (cls,), {"clock": Clock(clock)})
    settings = make_settings("partners", service_database(database, PartnersService), amqp_uri,
                             dealer_code="HQ", extra={
                                 "allow_private_endpoints": True,
                                 "retry_schedule_seconds": FAST_RETRIES, "retry_jitter": 0,
                                 **(extra or {})})
    running = [services(cls, settings)]
    engine = sa.create_engine(settings.database_url)
    hq = Hq(f"http://127.0.0.1:{settings.http_port}", Publisher(amqp_uri), engine, clock)

    def restart() -> None:
        """Stop the process's service and start it again: the same database, port, queues."""
        running.pop().stop()
        running.append(services(cls, settings))

    hq.restart = restart
    return hq
