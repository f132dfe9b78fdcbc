"""Requests and events the tests send, built from the published examples."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import contracts
from chassis.testing import auth
from contracts import events, new_event

ADVISOR = auth("advisor")  # a service advisor of dealer D001

EXAMPLE_BOOKED = json.loads((Path(contracts.__file__).parent / events.AppointmentBooked
                             .example_file).read_text(encoding="utf-8"))


def booking_request(**overrides: Any) -> dict[str, Any]:
    """A valid POST /appointments body for tomorrow 09:00 UTC."""
    slot = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0,
                                                           microsecond=0)
    body = {"customer": {"name": "王伟", "phone": "13812345678"},
            "vehicle": {"plate": "京A12345", "vin": "1M8GDM9AXKP042788"},
            "service_type": "MAINTENANCE", "slot_start": slot.isoformat(), "channel": "WECHAT"}
    body.update(overrides)
    return body


def booked_event(appointment_id: str | None = None) -> dict[str, Any]:
    """A fresh AppointmentBooked envelope (new event id) from the published example."""
    appointment_id = appointment_id or str(uuid.uuid4())
    data = {**EXAMPLE_BOOKED["data"], "appointment_id": appointment_id}
    return new_event(events.AppointmentBooked, data, source="dealer/D001/booking",
                     subject=appointment_id, dealer_code="D001", correlation_id=appointment_id,
                     sequence=1)
