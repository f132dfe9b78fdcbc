"""notify's unit of work without a database: contact book, consents, site facts, delivery log
and rate buckets kept in memory, and channels that record what they were asked to send.

The stores answer like those of `notify.store` (same methods, rows as dicts); the projections
keep the same merge rules in their simplest form, enough for a use case at a time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from copy import deepcopy
from datetime import datetime
from typing import Any

from chassis.unit_of_work import FakeUnitOfWork
from contracts.payloads import consent_supersedes
from notify.channels import DeliveryResult, OutboundMessage
from notify.domain import Channel, Kind, Purpose, Status, dedupe_key
from notify.privacy import ContactCipher

Row = dict[str, Any]
SECRET = "a-secret-for-the-unit-tests-0123456789"


class InMemorySiteFacts:
    def __init__(self) -> None:
        self.appointments: dict[str, Row] = {}
        self.repair_orders: dict[str, Row] = {}

    def merge_appointment(self, *, appointment_id: str, dealer_code: str, sequence: int,
                          customer_id: str, plate: str | None = None,
                          slot_start: datetime | None = None,
                          cancelled_at: datetime | None = None) -> None:
        row = self.appointments.setdefault(appointment_id, {
            "appointment_id": appointment_id, "dealer_code": dealer_code,
            "customer_id": customer_id, "plate": None, "slot_start": None,
            "slot_start_sequence": 0, "cancelled_at": None, "last_sequence": 0})
        row["plate"] = row["plate"] or plate
        row["cancelled_at"] = row["cancelled_at"] or cancelled_at
        if slot_start is not None and sequence > row["slot_start_sequence"]:
            row["slot_start"], row["slot_start_sequence"] = slot_start, sequence
        row["last_sequence"] = max(row["last_sequence"], sequence)

    def merge_repair_order(self, *, repair_order_id: str, dealer_code: str, sequence: int,
                           customer_id: str | None = None, plate: str | None = None,
                           promised_at: datetime | None = None,
                           delivered_at: datetime | None = None) -> None:
        row = self.repair_orders.setdefault(repair_order_id, {
            "repair_order_id": repair_order_id, "dealer_code": dealer_code,
            "customer_id": None, "plate": None, "promised_at": None,
            "promised_at_sequence": 0, "delivered_at": None, "last_sequence": 0})
        for name, value in (("customer_id", customer_id), ("plate", plate),
                            ("delivered_at", delivered_at)):
            row[name] = row[name] or value
        if promised_at is not None and sequence > row["promised_at_sequence"]:
            row["promised_at"], row["promised_at_sequence"] = promised_at, sequence
        row["last_sequence"] = max(row["last_sequence"], sequence)

    def appointment(self, appointment_id: str | None) -> Row | None:
        found = self.appointments.get(appointment_id or "")
        return dict(found) if found else None

    def repair_order(self, repair_order_id: str | None) -> Row | None:
        found = self.repair_orders.get(repair_order_id or "")
        return dict(found) if found else None


class InMemoryContactBook:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def _row(self, customer_id: str) -> Row:
        return self.rows.setdefault(customer_id, {
            "customer_id": customer_id, "name_sealed": None, "phone_sealed": None,
            "phone_hash": None, "learned_at": None, "email": None, "wechat_openid": None,
            "language": None, "time_zone": None, "channels": None, "updated_at": None})

    def learn(self, *, customer_id: str, name_sealed: str | None, phone_sealed: str | None,
              phone_hash: str | None, learned_at: datetime, now: datetime) -> None:
        row = self._row(customer_id)
        if row["learned_at"] is None or learned_at > row["learned_at"]:
            row.update(name_sealed=name_sealed, phone_sealed=phone_sealed,
                       phone_hash=phone_hash, learned_at=learned_at)
        row["updated_at"] = now

    def get(self, customer_id: str) -> Row | None:
        found = self.rows.get(customer_id)
        return dict(found) if found else None

    def save_preferences(self, customer_id: str, values: dict[str, Any], now: datetime) -> Row:
        self._row(customer_id).update(values, updated_at=now)
        return dict(self.rows[customer_id])

    def with_phone(self, phone_hash: str) -> list[str]:
        return [c for c, row in self.rows.items() if row["phone_hash"] == phone_hash]


class InMemoryConsentBook:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], tuple[bool, datetime, str]] = {}

    def of(self, customer_id: str) -> dict[tuple[str, str], bool]:
        return {(purpose, channel): granted
                for (customer, purpose, channel), (granted, _, _) in self.rows.items()
                if customer == customer_id}

    def record(self, customer_id: str, purpose: str, channels: list[str], granted: bool,
               at: datetime, via: str) -> list[str]:
        changed = []
        for channel in dict.fromkeys(channels):
            key = (customer_id, purpose, channel)
            stored = self.rows.get(key)
            if not consent_supersedes(stored[:2] if stored else None, granted, at):
                continue
            self.rows[key] = (granted, at, via)
            if stored is None or stored[0] != granted:
                changed.append(channel)
        return changed


class InMemoryDeliveryLog:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def enqueue(self, *, kind: Kind, purpose: Purpose, channel: Channel, reference: str,
                dealer_code: str, event_id: str, params: dict[str, Any], due_at: datetime,
                now: datetime, customer_id: str | None = None,
                repair_order_id: str | None = None, appointment_id: str | None = None,
                reason: str | None = None) -> bool:
        key = dedupe_key(kind, reference, channel)
        if any(row["dedupe_key"] == key for row in self.rows):
            return False
        self.rows.append({
            "id": len(self.rows) + 1, "message_id": str(uuid.uuid4()), "dedupe_key": key,
            "kind": kind.value, "purpose": purpose.value, "channel": channel.value,
            "dealer_code": dealer_code, "customer_id": customer_id,
            "repair_order_id": repair_order_id, "appointment_id": appointment_id,
            "reference": reference, "params": json.dumps(params, ensure_ascii=False, default=str),
            "event_id": event_id, "status": Status.QUEUED.value, "reason": reason,
            "attempts": 0, "due_at": due_at, "created_at": now, "sent_at": None,
            "last_error": None, "provider_id": None})
        return True

    def next_due(self, now: datetime, exclude: set[int]) -> Row | None:
        due = sorted((row for row in self.rows if row["status"] == Status.QUEUED.value
                      and row["due_at"] <= now and row["id"] not in exclude),
                     key=lambda row: (row["due_at"], row["id"]))
        return dict(due[0]) if due else None

    @contextmanager
    def attempt(self) -> Iterator[None]:
        saved = deepcopy(self.rows)
        try:
            yield
        except Exception:
            self.rows[:] = saved  # like the savepoint: this message's changes are undone
            raise

    def update(self, delivery_id: int, **values: Any) -> None:
        self.rows[delivery_id - 1].update(values)

    def get(self, message_id: str) -> Row | None:
        found = [row for row in self.rows if row["message_id"] == message_id]
        return dict(found[0]) if found else None

    def listing(self, *, customer_id: str | None, status: str | None,
                limit: int) -> list[Row]:
        rows = [dict(row) for row in reversed(self.rows)
                if (not customer_id or row["customer_id"] == customer_id)
                and (not status or row["status"] == status)]
        return rows[:limit]

    # -- for the tests ---------------------------------------------------------------------

    def states(self) -> list[tuple[str, str, str, str | None]]:
        return [(row["kind"], row["channel"], row["status"], row["reason"]) for row in self.rows]


class InMemoryRateBuckets:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def get(self, channel: str) -> Row | None:
        return dict(self.rows[channel]) if channel in self.rows else None

    def save(self, channel: str, tokens: float, updated_at: datetime) -> None:
        self.rows[channel] = {"channel": channel, "tokens": tokens, "updated_at": updated_at}


class RecordingChannel:
    """A channel adapter that keeps what it was asked to send and answers `results` in turn
    (then success)."""

    def __init__(self, *results: DeliveryResult) -> None:
        self.sent: list[OutboundMessage] = []
        self.results = list(results)

    def send(self, message: OutboundMessage) -> DeliveryResult:
        self.sent.append(message)
        return self.results.pop(0) if self.results else DeliveryResult.sent(message.message_id)


class BrokenChannel:
    def send(self, message: OutboundMessage) -> DeliveryResult:
        raise RuntimeError("adapter bug")


class FakeNotifyUnitOfWork(FakeUnitOfWork):
    def __init__(self, channels: dict[str, Any] | None = None) -> None:
        super().__init__(dealer_code="HQ")
        self.cipher = ContactCipher(SECRET)
        self.channels = channels if channels is not None else {"SMS": RecordingChannel()}
        self.site = InMemorySiteFacts()
        self.contacts = InMemoryContactBook()
        self.consents = InMemoryConsentBook()
        self.deliveries = InMemoryDeliveryLog()
        self.buckets = InMemoryRateBuckets()
