"""What workorder learns from a booking, without I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import contracts
from contracts import events, validate_event
from workorder.domain import expected_arrival

EXAMPLE = validate_event(json.loads(
    (Path(contracts.__file__).parent / events.AppointmentBooked.example_file).read_text("utf-8")))


def test_an_appointment_becomes_an_expected_arrival_at_its_slot():
    row = expected_arrival(EXAMPLE, recorded_at=datetime(2026, 11, 22, tzinfo=UTC))
    data = EXAMPLE["data"]
    assert row["appointment_id"] == data["appointment_id"]
    assert row["expected_at"] == datetime.fromisoformat(data["slot_start"])
    assert row["pickup_requested"] == ("pickup_address" in data)
    assert row["last_sequence"] == EXAMPLE["sequence"]
