"""Reception (接车): who and what arrives, and the repair order number it gets."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chassis.errors import Conflict, InvalidInput
from workorder.domain.vin import valid_vin


def repair_order_number(dealer_code: str, local_day: date, number: int) -> str:
    """`RO-D001-20250318-0042`: the site, its local day and the day's running number."""
    return f"RO-{dealer_code}-{local_day:%Y%m%d}-{number:04d}"


def customer_id_for(phone: str) -> str:
    """The site-wide customer id of a phone number: the same rule booking applies, so a
    walk-in and an earlier booking by the same phone meet one customer. The number itself is
    not kept here (personal data stays where it is needed)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tel:{phone}"))


@dataclass(frozen=True)
class Arrival:
    """What reception knows about the car and its owner before the advisor opens the RO."""

    customer_id: str
    vin: str
    plate: str
    model: str | None
    appointment_id: str | None


def arrival(request: Mapping[str, Any], expected: Mapping[str, Any] | None) -> Arrival:
    """Merge the advisor's entries with the appointment (if any); the advisor's entries win
    because they were read off the car."""
    if request.get("appointment_id") and expected is None:
        raise InvalidInput("appointment_id", "no such appointment is expected at this site")
    expected = expected or {}
    if expected:
        customer_id = expected["customer_id"]
    elif request.get("customer_id"):
        customer_id = request["customer_id"]
    elif request.get("customer_phone"):
        customer_id = customer_id_for(request["customer_phone"])
    else:
        raise InvalidInput("customer_id", "a walk-in needs customer_id or customer_phone")
    vin = request.get("vin") or expected.get("vin")
    if not vin:
        raise InvalidInput("vin", "read the VIN off the car: the appointment does not carry it")
    plate = request.get("plate") or expected.get("plate")
    if not plate:
        raise InvalidInput("plate", "required (the appointment does not carry it)")
    return Arrival(customer_id=customer_id, vin=valid_vin(vin), plate=plate,
                   model=request.get("model") or expected.get("model"),
                   appointment_id=request.get("appointment_id"))


def check_mileage(mileage_km: int, last_known_km: int | None, *, odometer_changed: bool) -> None:
    """An odometer does not run backwards: a lower reading than the last one at this site is a
    typing error, unless the advisor records that the odometer (instrument cluster) was
    replaced."""
    if last_known_km is not None and mileage_km < last_known_km and not odometer_changed:
        raise InvalidInput(
            "mileage_km",
            f"{mileage_km} km is below the {last_known_km} km last recorded for this vehicle "
            "here; set odometer_changed if the odometer was replaced",
            last_known_mileage_km=last_known_km)


def check_promise(promised_at: datetime, opened_at: datetime) -> None:
    if promised_at <= opened_at:
        raise InvalidInput("promised_at", "must be later than now (the reception time)")


def refuse_second_open_order(open_repair_order_id: str | None, vin: str) -> None:
    if open_repair_order_id:
        raise Conflict(f"vehicle {vin} already has an open repair order "
                       f"{open_repair_order_id}", repair_order_id=open_repair_order_id)
