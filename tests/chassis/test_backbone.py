"""The shared runtime on the real PostgreSQL and RabbitMQ: outbox, relay order, broker
policies, health and metrics."""

from __future__ import annotations

import json

import kombu
import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from booking import models as booking_models
from booking.service import BookingService
from chassis.broker import connect, event_exchange
from chassis.db import count_rows as count
from chassis.outbox import EventEmitter, OutboxRelay
from chassis.testing import make_settings, service_database, wait_for
from contracts import ContractViolation, events
from tests.factories import ADVISOR, booking_request
from tests.factories import EXAMPLE_BOOKED as EXAMPLE
from workorder.service import WorkorderService

OUTBOX = booking_models.metadata.tables["outbox"]


def emitter(session: Session) -> EventEmitter:
    return EventEmitter(session, OUTBOX, "dealer/D001/booking", "D001")


def test_an_invalid_event_raises_and_nothing_is_stored(database):
    url = service_database(database, BookingService)
    engine = sa.create_engine(url)
    broken = {**EXAMPLE["data"], "channel": "CARRIER_PIGEON"}
    with Session(engine) as session:
        session.execute(booking_models.appointments.insert().values(
            id="A-1", dealer_code="D001", customer_id="c", customer_name="王伟",
            customer_phone="13812345678", service_type="MAINTENANCE",
            slot_start=sa.func.now(), slot_end=sa.func.now(), channel="APP",
            loaner_requested=False, status="SCHEDULED", booked_at=sa.func.now()))
        with pytest.raises(ContractViolation) as raised:
            emitter(session).emit(events.AppointmentBooked, broken, subject="A-1",
                                  correlation_id="A-1")
        session.rollback()  # what the entrypoint does with any exception
    assert "data.channel" in raised.value.errors
    assert count(url, "outbox") == 0
    assert count(url, "appointments") == 0
    engine.dispose()


def test_events_of_one_aggregate_are_numbered_and_published_in_order(database, amqp_uri):
    url = service_database(database, BookingService)
    engine = sa.create_engine(url)
    with Session(engine) as session:
        for appointment in ("A-1", "A-2", "A-1", "A-1", "A-2"):
            data = {**EXAMPLE["data"], "appointment_id": appointment}
            emitter(session).emit(events.AppointmentBooked, data, subject=appointment,
                                  correlation_id=appointment)
        session.commit()
    with connect(amqp_uri) as conn:
        queue = kombu.Queue("order-probe", exchange=event_exchange("booking"),
                            routing_key=events.AppointmentBooked.type, durable=True)
        queue(conn.channel()).declare()
        OutboxRelay("booking", engine, OUTBOX, amqp_uri).drain()
        received = []
        while (message := queue(conn.channel()).get(no_ack=True)) is not None:
            received.append(json.loads(message.body))
    seen = [(e["subject"], e["sequence"]) for e in received]
    assert seen == [("A-1", 1), ("A-2", 1), ("A-1", 2), ("A-1", 3), ("A-2", 2)]
    assert count(url, "outbox", "published_at IS NULL") == 0
    engine.dispose()


def test_a_commit_wakes_the_relay_without_waiting_for_the_poll(database, amqp_uri, services):
    booking_db = service_database(database, BookingService)
    workorder_db = service_database(database, WorkorderService)
    # With a 10-minute poll, only the commit's wake-up can publish within the wait below.
    booking = make_settings("booking", booking_db, amqp_uri, relay_poll_seconds=600)
    services(WorkorderService, make_settings("workorder", workorder_db, amqp_uri))
    services(BookingService, booking)
    requests.post(f"http://127.0.0.1:{booking.http_port}/appointments",
                  json=booking_request(), headers=ADVISOR, timeout=10).raise_for_status()
    wait_for(lambda: count(workorder_db, "expected_arrivals") == 1, timeout=20,
             message="the event, published on commit")


def test_consumer_queues_are_quorum_queues_with_dead_letter_policy(
        database, amqp_uri, vhost, services, broker_admin):
    url = service_database(database, WorkorderService)
    services(WorkorderService, make_settings("workorder", url, amqp_uri))
    name = "evt-booking-aftersales.AppointmentBooked.v1--workorder.on_appointment_booked"
    queue = wait_for(lambda: broker_admin.queue(vhost, name), message="the queue")
    assert queue["type"] == "quorum"
    assert queue["durable"] is True
    policy = wait_for(lambda: broker_admin.queue(vhost, name).get("effective_policy_definition"),
                      message="the policy to apply")
    assert policy["dead-letter-exchange"] == "aftersales.deadletter"
    assert policy["dead-letter-routing-key"] == "workorder"
    assert policy["delivery-limit"] > 0
    dead_letters = broker_admin.queue(vhost, "deadletter.workorder")
    assert dead_letters["type"] == "quorum"


def test_every_service_answers_health_readiness_and_metrics(database, amqp_uri, services):
    settings = make_settings("booking", service_database(database, BookingService), amqp_uri)
    services(BookingService, settings)
    base = f"http://127.0.0.1:{settings.http_port}"
    requests.post(f"{base}/appointments", json=booking_request(), headers=ADVISOR, timeout=10)
    requests.post(f"{base}/appointments", data="not json", headers=ADVISOR, timeout=10)

    assert requests.get(f"{base}/health", timeout=5).json()["status"] == "alive"
    ready = requests.get(f"{base}/ready", timeout=5)
    assert ready.status_code == 200 and ready.json() == {
        "status": "ready", "database": "ok", "broker": "ok"}
    text = requests.get(f"{base}/metrics", timeout=5).text
    for name in ("aftersales_entrypoint_requests_total", "aftersales_entrypoint_failures_total",
                 "aftersales_entrypoint_duration_seconds_bucket", "aftersales_outbox_pending_rows",
                 "aftersales_outbox_oldest_pending_age_seconds", "aftersales_relay_published_total",
                 "aftersales_inbox_duplicates_total", "aftersales_dead_letters_total",
                 "aftersales_build_info"):
        assert name in text, name
    # Counted once the worker is done, which may be just after the answer went out.
    booked = 'aftersales_entrypoint_requests_total{entrypoint="book",kind="http",service="booking"}'
    wait_for(lambda: booked in requests.get(f"{base}/metrics", timeout=5).text,
             message="the booking to be counted")


def test_readiness_fails_when_the_database_is_unreachable(amqp_uri, services):
    settings = make_settings(
        "booking", "postgresql+psycopg2://postgres@127.0.0.1:5432/no_such_database", amqp_uri)
    services(BookingService, settings)
    ready = requests.get(f"http://127.0.0.1:{settings.http_port}/ready", timeout=10)
    assert ready.status_code == 503
    assert ready.json()["database"].startswith("down")
