"""A running notify service on the real PostgreSQL and RabbitMQ, a clock the test moves,
a local SMS gateway, and site events published the way the sites' forwarded exchanges
deliver them."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import contracts
from chassis.broker import ConfirmingPublisher, OutgoingMessage
from contracts import EventContract, events, new_event
from notify.service import NotifyService

SHANGHAI = timezone(timedelta(hours=8))
GATEWAY_KEY, GATEWAY_SECRET = "key-1", "gateway-secret"

# Each handler by event type, to apply events without a broker (order tests).
HANDLERS = {
    events.AppointmentBooked.type: NotifyService.on_appointment_booked,
    events.AppointmentConfirmed.type: NotifyService.on_appointment_confirmed,
    events.AppointmentRescheduled.type: NotifyService.on_appointment_rescheduled,
    events.AppointmentCancelled.type: NotifyService.on_appointment_cancelled,
    events.RepairOrderOpened.type: NotifyService.on_repair_order_opened,
    events.InspectionUploaded.type: NotifyService.on_inspection_uploaded,
    events.QuoteIssued.type: NotifyService.on_quote_issued,
    events.QualityCheckCompleted.type: NotifyService.on_quality_check_completed,
    events.VehicleDelivered.type: NotifyService.on_vehicle_delivered,
    events.ReminderDue.type: NotifyService.on_reminder_due,
    events.SurveyRequested.type: NotifyService.on_survey_requested,
    events.ConsentChanged.type: NotifyService.on_consent_changed,
}


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def set(self, now: datetime) -> None:
        self.current = now


def example(contract: EventContract) -> dict[str, Any]:
    path = Path(contracts.__file__).parent / contract.example_file
    return json.loads(path.read_text(encoding="utf-8"))


def site_event(contract: EventContract, *, dealer: str = "D001", sequence: int = 1,
               **data_changes: Any) -> dict[str, Any]:
    """A fresh event (new id) from the published example, about `dealer`; a change to None
    drops that field."""
    data = {k: v for k, v in {**example(contract)["data"], **data_changes}.items()
            if v is not None}
    if "dealer_code" in data:
        data["dealer_code"] = dealer
    subject = data[contract.subject_field]
    producer = contract.exchange.split(".")[0]
    source = "hq/crm" if producer == "crm" else f"dealer/{dealer}/{producer}"
    return new_event(contract, data, source=source, subject=subject, dealer_code=dealer,
                     correlation_id=subject, sequence=sequence)


class Publisher:
    def __init__(self, amqp_uri: str) -> None:
        self.publisher = ConfirmingPublisher(amqp_uri)

    def publish(self, *envelopes: dict[str, Any]) -> None:
        self.publisher.publish([OutgoingMessage(
            exchange=f"{e['source'].rsplit('/', 1)[1]}.events", routing_key=e["type"],
            body=json.dumps(e, ensure_ascii=False).encode(), message_id=e["id"])
            for e in envelopes])

    def close(self) -> None:
        self.publisher.close()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def booked(customer_id: str, appointment_id: str | None = None, *, phone: str = "13812345678",
           name: str = "王磊", dealer: str = "D001") -> dict[str, Any]:
    base = example(events.AppointmentBooked)["data"]
    return site_event(events.AppointmentBooked, dealer=dealer,
                      appointment_id=appointment_id or str(uuid.uuid4()),
                      customer={"customer_id": customer_id, "name": name, "phone": phone},
                      vehicle=base["vehicle"])


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=SHANGHAI)
