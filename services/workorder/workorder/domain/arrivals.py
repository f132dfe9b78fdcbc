"""What workorder learns from booking: the cars the site expects."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def expected_arrival(event: dict[str, Any], *, recorded_at: datetime) -> dict[str, Any]:
    """The expected-arrival row an `AppointmentBooked` event implies."""
    data = event["data"]
    vehicle = data["vehicle"]
    return {
        "appointment_id": data["appointment_id"],
        "dealer_code": data["dealer_code"],
        "customer_id": data["customer"]["customer_id"],
        "plate": vehicle.get("plate"),
        "vin": vehicle.get("vin"),
        "model": vehicle.get("model"),
        "service_type": data["service_type"],
        "expected_at": _datetime(data["slot_start"]),
        "loaner_requested": data.get("loaner_requested", False),
        "pickup_requested": bool(data.get("pickup_address")),
        "last_sequence": event["sequence"],
        "recorded_at": recorded_at,
    }


def _datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
