"""Helpers of crm's integration tests: site events built from the published examples, a
publisher standing in for the sites' forwarded exchanges, and a client for a running crm."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet

import contracts
from chassis.broker import ConfirmingPublisher, OutgoingMessage
from chassis.testing import auth
from contracts import EventContract, events, new_event

ENCRYPTION_KEY = Fernet.generate_key().decode()
BLIND_INDEX_KEY = "crm-blind-index-key-for-tests-0123456789"
CRM_EXTRA = {"crm_encryption_key": ENCRYPTION_KEY, "crm_blind_index_key": BLIND_INDEX_KEY}

AGENT = auth("invitation_agent", subject="agent-7")
ANALYST = auth("oem_analyst", subject="analyst-1")
OPERATOR = auth("operator", subject="ops-1")

PHONE = "13812345678"
VIN = "LSVAU2187N2183740"


def example(contract: EventContract) -> dict[str, Any]:
    path = Path(contracts.__file__).parent / contract.example_file
    return json.loads(path.read_text(encoding="utf-8"))


def site_event(contract: EventContract, dealer: str, sequence: int, **changes: Any
               ) -> dict[str, Any]:
    """A fresh envelope of `contract` from `dealer`'s site, the example's data with changes."""
    data = copy.deepcopy(example(contract)["data"])
    for key, value in changes.items():
        data[key] = value
    if "dealer_code" in data:
        data["dealer_code"] = dealer
    subject = data[contract.subject_field]
    return new_event(contract, data, source=f"dealer/{dealer}/{contract.producer}",
                     subject=subject, dealer_code=dealer, correlation_id=subject,
                     sequence=sequence)


def booked(dealer: str, appointment_id: str, customer_id: str, *, phone: str = PHONE,
           name: str = "王磊", booked_at: str = "2025-03-15T20:12:45+08:00",
           slot_start: str = "2025-03-18T09:30:00+08:00", vin: str = VIN,
           plate: str = "京A12345", reminder_id: str | None = None) -> dict[str, Any]:
    slot_end = slot_start.replace("09:30", "10:30")
    changes: dict[str, Any] = {
        "appointment_id": appointment_id, "booked_at": booked_at, "slot_start": slot_start,
        "slot_end": slot_end,
        "customer": {"customer_id": customer_id, "name": name, "phone": phone},
        "vehicle": {"plate": plate, "vin": vin, "model": "帕萨特 330TSI"}}
    event = site_event(events.AppointmentBooked, dealer, 1, **changes)
    if reminder_id is None:
        event["data"].pop("reminder_id", None)
    else:
        event["data"]["reminder_id"] = reminder_id
    return event


def cancelled(dealer: str, appointment_id: str, customer_id: str) -> dict[str, Any]:
    return site_event(events.AppointmentCancelled, dealer, 2, appointment_id=appointment_id,
                      customer_id=customer_id, slot_start="2025-03-18T09:30:00+08:00")


def opened(dealer: str, ro: str, customer_id: str, *, mileage: int = 29_876,
           opened_at: str = "2025-03-18T14:03:10+08:00", vin: str = VIN,
           plate: str = "京A12345") -> dict[str, Any]:
    event = site_event(events.RepairOrderOpened, dealer, 1, repair_order_id=ro,
                       customer_id=customer_id, mileage_km=mileage, opened_at=opened_at,
                       vin=vin, plate=plate)
    event["data"].pop("appointment_id", None)
    return event


def delivered(dealer: str, ro: str, customer_id: str, *, mileage: int = 29_879,
              delivered_at: str = "2025-03-18T17:21:40+08:00", vin: str = VIN
              ) -> dict[str, Any]:
    event = site_event(events.VehicleDelivered, dealer, 9, repair_order_id=ro,
                       customer_id=customer_id, mileage_km=mileage, vin=vin,
                       opened_at=f"{delivered_at[:10]}T08:00:00+08:00",
                       delivered_at=delivered_at,
                       invoice_number=f"FP-{ro}")
    event["data"].pop("appointment_id", None)
    return event


def quote_approved(dealer: str, ro: str, customer_id: str) -> dict[str, Any]:
    return site_event(events.QuoteApproved, dealer, 3, repair_order_id=ro,
                      quote_id=f"Q-{ro}-1", customer_id=customer_id, signed_by=customer_id)


def consents(purpose: str, granted: bool, *channels: str) -> dict[str, Any]:
    """A body for PUT /customers/<id>/consents: `purpose` on `channels` (default: all)."""
    return {"consents": [{"purpose": purpose, "channel": c, "granted": granted}
                         for c in channels or ("SMS", "WECHAT", "PHONE", "APP", "EMAIL")]}


class Publisher:
    """Publishes site events on the test vhost, as the forwarding from the sites would."""

    def __init__(self, amqp_uri: str) -> None:
        self.publisher = ConfirmingPublisher(amqp_uri)

    def publish(self, *envelopes: dict[str, Any]) -> None:
        contracts_by_type = {c.type: c for c in events.ALL}
        self.publisher.publish([OutgoingMessage(
            exchange=contracts_by_type[e["type"]].exchange, routing_key=e["type"],
            body=json.dumps(e, ensure_ascii=False).encode(), message_id=e["id"])
            for e in envelopes])

    def close(self) -> None:
        self.publisher.close()


class Crm:
    """A running crm: its HTTP API and its database."""

    def __init__(self, base: str, database_url: str) -> None:
        self.base = base
        self.engine = sa.create_engine(database_url)

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any
            ) -> requests.Response:
        headers = AGENT if headers is None else headers
        return requests.get(self.base + path, headers=headers, params=params, timeout=10)

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None
             ) -> requests.Response:
        headers = OPERATOR if headers is None else headers
        return requests.post(self.base + path, json=body, headers=headers, timeout=30)

    def put(self, path: str, body: Any, headers: dict[str, str] | None = None
            ) -> requests.Response:
        headers = AGENT if headers is None else headers
        return requests.put(self.base + path, json=body, headers=headers, timeout=10)

    def count(self, sql: str, **params: Any) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()

    def inbox(self) -> int:
        return self.count("SELECT count(*) FROM inbox")

    def opt_in(self, customer_id: str, *channels: str) -> None:
        """The call centre records the customer's marketing opt-in (reminders invite a sale)."""
        answer = self.put(f"/customers/{customer_id}/consents",
                          consents("MARKETING", True, *(channels or ("SMS",))))
        assert answer.status_code == 200, answer.text

    def outbox(self, event_type: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT payload FROM outbox WHERE event_type = :t "
                                        "ORDER BY id"), {"t": event_type}).scalars()
            return [json.loads(r) for r in rows]
