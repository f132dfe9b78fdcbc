"""Workorder applies booking's events once and lists the day's expected arrivals."""

from __future__ import annotations

import json

import requests

from chassis.broker import ConfirmingPublisher, OutgoingMessage
from chassis.testing import make_settings, service_database, wait_for
from contracts import events
from tests.factories import ADVISOR, booked_event
from workorder.service import WorkorderService


def test_expected_arrivals_are_listed_once_each(database, amqp_uri, services):
    settings = make_settings("workorder", service_database(database, WorkorderService), amqp_uri)
    services(WorkorderService, settings)
    booked = [booked_event() for _ in range(3)]
    publisher = ConfirmingPublisher(amqp_uri)
    publisher.publish(OutgoingMessage(
        exchange=events.AppointmentBooked.exchange, routing_key=events.AppointmentBooked.type,
        body=json.dumps(event).encode(), message_id=event["id"])
        for event in booked + booked)  # every event twice
    publisher.close()
    url = f"http://127.0.0.1:{settings.http_port}/expected-arrivals"

    def listed():
        return requests.get(url, headers=ADVISOR, timeout=5).json()["items"]

    items = wait_for(lambda: len(found := listed()) >= 3 and found, message="three arrivals")

    assert sorted(i["appointment_id"] for i in items) == sorted(
        e["data"]["appointment_id"] for e in booked)
