"""Helpers of booking's integration tests: callers, request bodies and a client for a running
booking service and its database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import sqlalchemy as sa

from chassis.testing import auth
from contracts.customer import customer_id_for

ADVISOR = auth("advisor")
MANAGER = auth("dealer_manager", subject="manager-1")
AGENT = auth("invitation_agent", subject="agent-7")
TECHNICIAN = auth("technician")
OTHER_DEALERS_ADVISOR = auth("advisor", dealer_code="D002")


# Owners as identity signs them in: the customer id of the phone they confirmed by code.
# The first is the phone of tests.factories.booking_request.
OWNER_ID, OTHER_OWNER_ID = customer_id_for("13812345678"), customer_id_for("13900000099")


def owner(subject: str) -> dict[str, str]:
    return auth("owner", subject=subject)


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(hour=hour, minute=minute, second=0,
                                                           microsecond=0)


def calendar_body(**changes: Any) -> dict[str, Any]:
    """A calendar open every day 08:00-18:00 UTC, 30-minute slots, capacity 3."""
    body = {
        "time_zone": "UTC",
        "slot_minutes": 30,
        "bays": 3,
        "advisors": 5,
        "opening_hours": [{"weekday": d, "opens": "08:00", "closes": "18:00"}
                          for d in ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")],
        "closed_dates": [],
        "service_types": [{"code": "MAINTENANCE", "duration_minutes": 60},
                          {"code": "REPAIR", "duration_minutes": 120},
                          {"code": "TYRES", "duration_minutes": 45},
                          {"code": "INSPECTION", "duration_minutes": 30}],
        "no_show_grace_minutes": 15,
        "booking_horizon_days": 60,
    }
    body.update(changes)
    return body


def booking_body(slot: datetime, plate: str = "京A12345", **changes: Any) -> dict[str, Any]:
    body = {"customer": {"name": "王伟", "phone": "13812345678"},
            "vehicle": {"plate": plate}, "service_type": "MAINTENANCE",
            "slot_start": slot.isoformat(), "channel": "PHONE"}
    body.update(changes)
    return body


class Site:
    """The booking service of dealer D001, over HTTP, and its database."""

    def __init__(self, url: str, database_url: str) -> None:
        self.url = url
        self.database_url = database_url
        self.engine = sa.create_engine(database_url)

    def call(self, method: str, path: str, headers: dict[str, str] | None = None,
             **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=30,
                                **kwargs)

    def set_calendar(self, **changes: Any) -> dict[str, Any]:
        response = self.call("PUT", "/calendar", MANAGER, json=calendar_body(**changes))
        assert response.status_code == 200, response.text
        return response.json()

    def book(self, slot: datetime, headers: dict[str, str] | None = None, plate: str = "京A12345",
             expect: int | None = 201, **changes: Any) -> requests.Response:
        response = self.call("POST", "/appointments", headers or ADVISOR,
                             json=booking_body(slot, plate, **changes))
        if expect is not None:
            assert response.status_code == expect, response.text
        return response

    def act(self, appointment_id: str, action: str, headers: dict[str, str] | None = None,
            body: dict[str, Any] | None = None) -> requests.Response:
        return self.call("POST", f"/appointments/{appointment_id}/{action}", headers or ADVISOR,
                         json=body)

    def events(self, appointment_id: str) -> list[dict[str, Any]]:
        """The events written for an appointment, in order."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT payload FROM outbox WHERE aggregate_id = :id ORDER BY sequence"),
                {"id": appointment_id}).scalars().all()
        return [json.loads(row) for row in rows]

    def event_types(self, appointment_id: str) -> list[str]:
        return [e["type"].split(".")[1] for e in self.events(appointment_id)]

    def move_into_the_past(self, appointment_id: str, hours: float = 2) -> None:
        """Time passes: the appointment's slot started `hours` ago."""
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE appointments SET slot_start = now() - make_interval(secs => :s), "
                "slot_end = now() - make_interval(secs => :s) + (slot_end - slot_start) "
                "WHERE id = :id"), {"s": hours * 3600, "id": appointment_id})

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
