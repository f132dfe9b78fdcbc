"""A consumer killed after committing its effect but before acknowledging the message gets
the message again on restart, and skips it: the effect is not doubled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from chassis.broker import ConfirmingPublisher, OutgoingMessage
from chassis.db import count_rows as count
from chassis.testing import free_port, service_database, trust_setting, wait_for
from contracts import events
from tests.factories import booked_event
from workorder.service import WorkorderService

pytestmark = pytest.mark.faults
QUEUE = "evt-booking-aftersales.AppointmentBooked.v1--workorder.on_appointment_booked"


class WorkorderProcess:
    def __init__(self, database_url: str, amqp_uri: str, fault: str | None) -> None:
        self.port = free_port()
        env = {**os.environ, "AFTERSALES_DEALER_CODE": "D001", "AFTERSALES_AMQP_URI": amqp_uri,
               "AFTERSALES_DATABASE_URL": database_url, "AFTERSALES_HTTP_PORT": str(self.port),
               "AFTERSALES_TRUST": json.dumps(trust_setting("site", "D001")),
               "AFTERSALES_ENVIRONMENT": "development",
               "PYTHONWARNINGS": "ignore"}
        env.pop("AFTERSALES_FAULT", None)
        if fault:
            env["AFTERSALES_FAULT"] = fault
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chassis.cli", "run", "workorder"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        started = json.loads(self.process.stdout.readline())
        assert started["running"] == ["workorder"]

    def metric(self, name: str) -> float:
        text = requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        for line in text.splitlines():
            if line.startswith(name + "{") and 'entrypoint="on_appointment_booked"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def workorder_process(database, amqp_uri) -> Iterator:
    url = service_database(database, WorkorderService)
    started: list[WorkorderProcess] = []

    def start(fault: str | None = None) -> WorkorderProcess:
        started.append(WorkorderProcess(url, amqp_uri, fault))
        return started[-1]

    start.database_url = url  # type: ignore[attr-defined]
    yield start
    for process in started:
        process.stop()


def test_a_redelivery_after_a_crash_between_commit_and_ack_is_skipped(
        workorder_process, amqp_uri, vhost, broker_admin):
    doomed = workorder_process(fault="consumer.after_commit")
    wait_for(lambda: (broker_admin.queue(vhost, QUEUE) or {}).get("consumers"),
             message="the consumer to attach")
    event = booked_event()
    publisher = ConfirmingPublisher(amqp_uri)
    publisher.publish([OutgoingMessage(
        exchange=events.AppointmentBooked.exchange, routing_key=events.AppointmentBooked.type,
        body=json.dumps(event).encode(), message_id=event["id"])])
    publisher.close()

    assert doomed.process.wait(timeout=30) == -9  # SIGKILL, right after the commit
    url = workorder_process.database_url
    assert count(url, "expected_arrivals") == 1  # the effect is committed…
    # …but the message was never acknowledged, so the broker still holds it.
    wait_for(lambda: (broker_admin.queue(vhost, QUEUE) or {}).get("messages") == 1,
             timeout=30, message="the broker to hold the unacknowledged message")

    restarted = workorder_process()

    wait_for(lambda: restarted.metric("aftersales_inbox_duplicates_total") == 1,
             message="the redelivery to be recognised as a duplicate")
    assert count(url, "expected_arrivals") == 1
    assert count(url, "inbox") == 1
    wait_for(lambda: (broker_admin.queue(vhost, QUEUE) or {}).get("messages") == 0,
             timeout=30, message="the redelivered message to be acknowledged")
