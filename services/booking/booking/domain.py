"""Booking rules, plain Python: what makes a request a valid appointment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chassis.errors import InvalidInput

# Service types and how long the bay is taken; the full calendar comes with the dealer's setup.
SERVICE_TYPES: dict[str, timedelta] = {
    "MAINTENANCE": timedelta(hours=1),
    "REPAIR": timedelta(hours=2),
    "TYRES": timedelta(minutes=45),
    "BODY_AND_PAINT": timedelta(hours=4),
    "RECALL": timedelta(hours=1),
}


@dataclass(frozen=True)
class Appointment:
    id: str
    dealer_code: str
    customer_id: str
    customer_name: str
    customer_phone: str
    service_type: str
    slot_start: datetime
    slot_end: datetime
    channel: str
    booked_at: datetime
    plate: str | None = None
    vin: str | None = None
    model: str | None = None
    pickup_address: str | None = None
    loaner_requested: bool = False
    status: str = "SCHEDULED"
    extra: dict[str, Any] = field(default_factory=dict)


def customer_id_for(phone: str) -> str:
    """A stable id per phone number at this site, so repeat bookings meet one customer."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tel:{phone}"))


def book(request: dict[str, Any], *, dealer_code: str, now: datetime) -> Appointment:
    """Turn a validated booking request into an appointment, or refuse it naming the field."""
    vehicle = request["vehicle"]
    if not vehicle.get("plate") and not vehicle.get("vin"):
        raise InvalidInput("vehicle", "give the plate or the VIN (or both)")
    slot_start: datetime = request["slot_start"]
    if slot_start.tzinfo is None:
        raise InvalidInput("slot_start", "must carry a time zone offset")
    if slot_start < now:
        raise InvalidInput("slot_start", "is in the past")
    service_type = request["service_type"]
    customer = request["customer"]
    return Appointment(
        id=str(uuid.uuid4()), dealer_code=dealer_code,
        customer_id=customer_id_for(customer["phone"]), customer_name=customer["name"],
        customer_phone=customer["phone"], service_type=service_type,
        slot_start=slot_start, slot_end=slot_start + SERVICE_TYPES[service_type],
        channel=request["channel"], booked_at=now, plate=vehicle.get("plate"),
        vin=vehicle.get("vin"), model=vehicle.get("model"),
        pickup_address=request.get("pickup_address"),
        loaner_requested=request.get("loaner_requested", False))


def booked_event(appointment: Appointment) -> dict[str, Any]:
    """The `AppointmentBooked` data for an appointment (see contracts)."""
    vehicle = {k: v for k, v in (("plate", appointment.plate), ("vin", appointment.vin),
                                 ("model", appointment.model)) if v}
    data: dict[str, Any] = {
        "appointment_id": appointment.id,
        "dealer_code": appointment.dealer_code,
        "status": appointment.status,
        "customer": {"customer_id": appointment.customer_id, "name": appointment.customer_name,
                     "phone": appointment.customer_phone},
        "vehicle": vehicle,
        "service_type": appointment.service_type,
        "slot_start": appointment.slot_start.isoformat(),
        "slot_end": appointment.slot_end.isoformat(),
        "channel": appointment.channel,
        "loaner_requested": appointment.loaner_requested,
        "booked_at": appointment.booked_at.isoformat(),
    }
    if appointment.pickup_address:
        data["pickup_address"] = appointment.pickup_address
    return data
