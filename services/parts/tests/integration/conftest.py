"""A running parts service on the real PostgreSQL and RabbitMQ, and what tests send it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from chassis.broker import ConfirmingPublisher, OutgoingMessage
from chassis.config import Settings
from chassis.testing import auth, make_settings, service_database, wait_for
from contracts import EventContract, events, new_event
from parts.service import PartsService

VIN = "LSVAU2187N2183740"
CLERK = auth("parts_clerk", subject="PC-003")
TECHNICIAN = auth("technician", subject="T-017")
ADVISOR = auth("advisor", subject="SA-002")
MANAGER = auth("dealer_manager", subject="M-001")
QC = auth("qc_inspector", subject="QC-001")


@dataclass
class PartsSite:
    settings: Settings
    url: str
    db: str
    amqp_uri: str
    _sequences: dict[str, int]

    # -- HTTP -------------------------------------------------------------------------------

    def post(self, path: str, body: Any, headers: dict[str, str] = CLERK) -> requests.Response:
        return requests.post(f"{self.url}{path}", json=body, headers=headers, timeout=20)

    def get(self, path: str, headers: dict[str, str] = CLERK, **params: Any
            ) -> requests.Response:
        return requests.get(f"{self.url}{path}", params=params, headers=headers, timeout=20)

    def part(self, part_number: str = "06L115562B", *, on_hand: int = 0,
             batch: str = "B2503-0001", **fields: Any) -> dict[str, Any]:
        """Create a part (and receive stock of it in one batch)."""
        body = {"part_number": part_number, "name": "机油滤清器", "unit": "EA",
                "unit_price": "68.00", **fields}
        created = self.post("/parts", body)
        assert created.status_code == 201, created.text
        if on_hand:
            self.receive(part_number, on_hand, batch=batch)
        return created.json()

    def receive(self, part_number: str, quantity: int | str | None = None, *,
                batch: str | None = "B2503-0001", serials: list[str] | None = None
                ) -> requests.Response:
        line: dict[str, Any] = {"part_number": part_number}
        if serials:
            line["serial_numbers"] = serials
        else:
            line.update(batch_number=batch, quantity=str(quantity))
        response = self.post("/receipts", {"reference": "DN-0001", "lines": [line]})
        assert response.status_code == 201, response.text
        return response

    def stock(self, part_number: str) -> dict[str, Decimal]:
        body = self.get(f"/parts/{part_number}").json()
        return {k: Decimal(body[k]) for k in ("on_hand", "reserved", "available")}

    def issue(self, ro: str, line: str, quantity: str = "1",
              headers: dict[str, str] = TECHNICIAN, **extra: Any) -> requests.Response:
        return self.post("/requisitions", {"repair_order_id": ro, "quote_line_id": line,
                                           "quantity": quantity, **extra}, headers)

    def reservations(self, ro: str) -> dict[str, dict[str, Any]]:
        items = self.get("/reservations", repair_order_id=ro).json()["items"]
        return {item["quote_line_id"]: item for item in items}

    # -- workorder's events -------------------------------------------------------------

    def publish(self, contract: EventContract, data: dict[str, Any]) -> dict[str, Any]:
        ro = data["repair_order_id"]
        self._sequences[ro] = self._sequences.get(ro, 0) + 1
        return self.publish_at(contract, data, self._sequences[ro])

    def publish_at(self, contract: EventContract, data: dict[str, Any],
                   sequence: int) -> dict[str, Any]:
        ro = data["repair_order_id"]
        event = new_event(contract, data, source="dealer/D001/workorder", subject=ro,
                          dealer_code="D001", correlation_id=ro, sequence=sequence)
        publisher = ConfirmingPublisher(self.amqp_uri)
        try:
            publisher.publish([OutgoingMessage(
                exchange=contract.exchange, routing_key=contract.type,
                body=json.dumps(event).encode(), message_id=event["id"])])
        finally:
            publisher.close()
        return event

    def approve(self, ro: str, approved: list[tuple[str, str, str]],
                declined: list[tuple[str, str, str]] = (), *, wait: bool = True,
                sequence: int | None = None) -> dict[str, Any]:
        """QuoteApproved for PART lines (line id, part number, quantity); waits until it is
        applied."""
        data = quote_approved(ro, approved, declined)
        before = self.applied()
        event = self.publish(events.QuoteApproved, data) if sequence is None else \
            self.publish_at(events.QuoteApproved, data, sequence)
        if wait:
            wait_for(lambda: self.applied() > before, message="QuoteApproved applied")
        return event

    def applied(self) -> int:
        return self.scalar("SELECT count(*) FROM inbox")

    # -- the database -------------------------------------------------------------------

    def scalar(self, sql: str, **params: Any) -> Any:
        engine = sa.create_engine(self.db)
        try:
            with engine.connect() as conn:
                return conn.scalar(sa.text(sql), params)
        finally:
            engine.dispose()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.db)
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text(sql), params).all()
        finally:
            engine.dispose()

    def emitted(self, name: str) -> list[dict[str, Any]]:
        """`data` of the events of one type in the outbox, oldest first."""
        rows = self.rows("SELECT payload FROM outbox WHERE event_type = :t ORDER BY id",
                         t=f"aftersales.{name}.v1")
        return [json.loads(payload)["data"] for (payload,) in rows]


def quote_line(line_id: str, part_number: str, quantity: str) -> dict[str, Any]:
    return {"line_id": line_id, "kind": "PART", "description": "配件 (part)",
            "part_number": part_number, "quantity": quantity, "unit_price": "68.00",
            "amount": str((Decimal("68.00") * Decimal(quantity)).quantize(Decimal("0.01"))),
            "pay_type": "CUSTOMER_PAY"}


def quote_approved(ro: str, approved: list[tuple[str, str, str]],
                   declined: list[tuple[str, str, str]] = ()) -> dict[str, Any]:
    approved_lines = [quote_line(*line) for line in approved]
    declined_lines = [quote_line(*line) for line in declined]
    labour = {"line_id": "LAB-1", "kind": "LABOUR", "description": "工时 (labour)",
              "operation_code": "MNT-OIL-01", "flat_rate_hours": "0.5", "unit_price": "300.00",
              "amount": "150.00", "pay_type": "CUSTOMER_PAY"}
    approved_lines.append(labour)

    def total(lines: list[dict[str, Any]]) -> str:
        return str(sum((Decimal(x["amount"]) for x in lines), Decimal("0.00")))

    return {"repair_order_id": ro, "quote_id": f"Q-{ro}", "round": 1,
            "customer_id": "8e3f2a10-6c5d-5b7e-9a41-0f2d3c4b5a69", "vin": VIN,
            "approved_lines": approved_lines, "declined_lines": declined_lines,
            "approved_total": total(approved_lines), "declined_total": total(declined_lines),
            "currency": "CNY", "signed_by": "8e3f2a10-6c5d-5b7e-9a41-0f2d3c4b5a69",
            "signed_at": "2026-03-18T15:02:47+08:00"}


def new_ro() -> str:
    return f"RO-D001-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def parts_site(database, amqp_uri, services) -> PartsSite:
    settings = make_settings("parts", service_database(database, PartsService), amqp_uri)
    services(PartsService, settings)
    return PartsSite(settings, f"http://127.0.0.1:{settings.http_port}",
                     settings.database_url, amqp_uri, {})
