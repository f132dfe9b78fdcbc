"""Events from many sites arrive late, twice and out of order: whatever the order, notify
ends with the same contact book, the same projections and the same messages."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from chassis.db import create_engine
from chassis.testing import service_database
from chassis.unit_of_work import FakeEvents
from contracts import events
from notify import models, store, use_cases
from notify.channels import FileSink
from notify.privacy import ContactCipher
from notify.service import NotifyService
from notify.settings import NotifySettings
from notify.store import NotifyUnitOfWork
from services.notify.tests.integration.notify_hq import (
    HANDLERS,
    ManualClock,
    booked,
    shanghai,
    site_event,
)

SECRET = "a-secret-for-the-contact-book-0123456789"


def _history() -> list[dict[str, Any]]:
    """Two customers' bookings (one rebooked with a new phone) and two repair orders."""
    first = booked("C-1", "A-1", phone="13800000001")
    rebooked = booked("C-1", "A-2", phone="13800000009")
    rebooked["data"]["booked_at"] = "2025-03-16T09:00:00+08:00"
    confirmed = site_event(events.AppointmentConfirmed, sequence=2, appointment_id="A-1",
                           customer_id="C-1", slot_start="2025-03-18T14:00:00+08:00",
                           slot_end="2025-03-18T15:00:00+08:00")
    rescheduled = site_event(events.AppointmentRescheduled, sequence=3, appointment_id="A-1",
                             customer_id="C-1", slot_start="2025-03-18T16:00:00+08:00",
                             slot_end="2025-03-18T17:00:00+08:00")
    other = booked("C-2", "A-3", phone="13800000002", name="李娜")
    dropped = booked("C-2", "A-4", phone="13800000002", name="李娜")
    cancelled = site_event(events.AppointmentCancelled, sequence=2, appointment_id="A-4",
                           customer_id="C-2")
    ro = dict(customer_id="C-1", repair_order_id="RO-1", appointment_id="A-1")
    history = [
        first, rebooked, confirmed, rescheduled, other, dropped, cancelled,
        site_event(events.RepairOrderOpened, sequence=1, **ro),
        site_event(events.InspectionUploaded, sequence=2, repair_order_id="RO-1"),
        site_event(events.QuoteIssued, sequence=3, repair_order_id="RO-1", customer_id="C-1"),
        site_event(events.QualityCheckCompleted, sequence=6, repair_order_id="RO-1",
                   stage="INSPECTOR", passed=True, reason=None),
        site_event(events.RepairOrderOpened, sequence=1, repair_order_id="RO-2",
                   customer_id="C-2", appointment_id="A-3"),
        site_event(events.QualityCheckCompleted, sequence=4, repair_order_id="RO-2",
                   stage="INSPECTOR", passed=True, reason=None),
        site_event(events.VehicleDelivered, sequence=9, repair_order_id="RO-2",
                   customer_id="C-2", appointment_id="A-3"),
    ]
    return history


def _apply(url: str, history: list[dict[str, Any]], tmp_path, name: str) -> dict[str, Any]:
    engine = create_engine(url)
    clock = ManualClock(shanghai(17, 10))
    sink = FileSink(str(tmp_path / f"{name}.jsonl"))
    options = NotifySettings(contact_secret=SECRET, link_secret=SECRET)
    cipher = ContactCipher(SECRET)
    try:
        with Session(engine) as session:
            uow = NotifyUnitOfWork(session, FakeEvents(), cipher=cipher, channels={"SMS": sink})
            service = NotifyService.__new__(NotifyService)
            service.uow, service.options, service.clock = uow, options, clock
            for event in history:
                HANDLERS[event["type"]].handler(service, event)
                session.commit()
            use_cases.dispatch_due(uow, options, now=clock.now() + timedelta(minutes=1))
            return _state(session, cipher, sink)
    finally:
        engine.dispose()


def _state(session: Session, cipher: ContactCipher, sink: FileSink) -> dict[str, Any]:
    def rows(table: sa.Table, key: str, drop: set[str]) -> list[dict[str, Any]]:
        found = session.execute(sa.select(table).order_by(table.c[key])).mappings()
        return [{k: v for k, v in store.aware(dict(row)).items() if k not in drop}
                for row in found]

    contacts = [{**row, "name": cipher.open(row["name_sealed"]),
                 "phone": cipher.open(row["phone_sealed"])}
                for row in rows(models.contacts, "customer_id", {"updated_at"})]
    for row in contacts:
        del row["name_sealed"], row["phone_sealed"]
    messages = sorted((m["kind"], m["body"]) for m in
                      map(json.loads, sink.path.read_text(encoding="utf-8").splitlines()))
    return {
        "contacts": contacts,
        "appointments": rows(models.appointments, "appointment_id", set()),
        "repair_orders": rows(models.repair_orders, "repair_order_id", set()),
        "deliveries": rows(models.deliveries, "dedupe_key",
                           {"id", "message_id", "event_id", "created_at", "params",
                            "provider_id", "sent_at"}),
        "messages": messages,
    }


def test_any_order_and_duplicates_give_the_same_result(database, tmp_path):
    history = _history()
    shuffled = history[::-1] + random.Random(7).sample(history, len(history))
    in_order = _apply(service_database(database, NotifyService), history, tmp_path, "a")
    any_order = _apply(service_database(database, NotifyService), shuffled, tmp_path, "b")
    assert in_order == any_order

    contacts = {c["customer_id"]: c for c in in_order["contacts"]}
    assert contacts["C-1"]["phone"] == "13800000009"  # the latest booking's phone wins
    assert {a["appointment_id"]: a["slot_start"] for a in in_order["appointments"]}["A-1"] \
        == shanghai(18, 16)  # the latest change of slot wins, whenever it arrived
    statuses = {(d["kind"], d["reference"]): (d["status"], d["reason"])
                for d in in_order["deliveries"]}
    assert statuses[("READY_FOR_PICKUP", "RO-1")] == ("SENT", None)
    assert statuses[("READY_FOR_PICKUP", "RO-2")] == ("SUPPRESSED", "SUPERSEDED")
    assert statuses[("CAR_RECEIVED", "RO-2")] == ("SUPPRESSED", "SUPERSEDED")
    assert statuses[("BOOKING_CONFIRMED", "A-4")] == ("SUPPRESSED", "SUPERSEDED")
    assert sum(kind == "BOOKING_CONFIRMED" for kind, _ in in_order["messages"]) == 3


def test_embedded_mode_on_sqlite_gives_the_same_result_as_postgresql(database, tmp_path):
    from chassis.db import migrate
    from chassis.runner import migrations_dir

    sqlite_url = f"sqlite:///{tmp_path / 'notify.db'}"
    migrate(sqlite_url, migrations_dir(NotifyService))
    history = _history()
    on_postgres = _apply(service_database(database, NotifyService), history, tmp_path, "pg")
    on_sqlite = _apply(sqlite_url, history, tmp_path, "sqlite")
    assert on_sqlite == on_postgres
