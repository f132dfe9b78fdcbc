"""Reception (接车): who and what arrives, and the repair order number it gets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chassis.errors import Conflict, InvalidInput, NotFound
from chassis.identity import Identity
from contracts.customer import customer_id_for
from contracts.plate import normal_plate
from workorder.domain.stages import Stage
from workorder.domain.vin import valid_vin

__all__ = ["Arrival", "arrival", "check_mileage", "check_promise", "check_visible",
           "local_day", "new_repair_order", "refuse_second_open_order",
           "refuse_second_reception", "repair_order_number"]


def repair_order_number(dealer_code: str, local_day: date, number: int) -> str:
    """`RO-D001-20250318-0042`: the site, its local day and the day's running number."""
    return f"RO-{dealer_code}-{local_day:%Y%m%d}-{number:04d}"


def local_day(moment: datetime, time_zone: str) -> date:
    """The site's own day: a Beijing morning is still "today" there, whatever UTC says."""
    return moment.astimezone(ZoneInfo(time_zone)).date()


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
    because they were read off the car. A walk-in's customer is the one its phone names
    (`contracts.customer`, the rule booking applies); the plate is kept in its normal form
    (`contracts.plate`), so `京a 12345` typed here is the car crm finds for `京A12345`."""
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
    typed = request.get("plate") or expected.get("plate")
    if not typed:
        raise InvalidInput("plate", "required (the appointment does not carry it)")
    plate = normal_plate(typed)
    if not plate:
        raise InvalidInput("plate", "no letters or digits in it")
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


def refuse_second_reception(received_as: str | None, appointment_id: str | None) -> None:
    """An appointment opens one repair order."""
    if appointment_id and received_as:
        raise Conflict("this appointment has already been received",
                       appointment_id=appointment_id)


def new_repair_order(arrival: Arrival, reception: Mapping[str, Any], *, advisor: str,
                     dealer_code: str, opened_at: datetime) -> dict[str, Any]:
    """The repair order a reception opens (without its number, which the store allocates)."""
    return {
        "dealer_code": dealer_code, "appointment_id": arrival.appointment_id,
        "customer_id": arrival.customer_id, "vin": arrival.vin, "plate": arrival.plate,
        "model": arrival.model, "mileage_km": reception["mileage_km"],
        "odometer_changed": reception["odometer_changed"],
        "fuel_level": reception["fuel_level"], "concerns": reception["concerns"],
        "belongings": reception["belongings"],
        "customer_waiting": reception["customer_waiting"], "advisor_id": advisor,
        "stage": Stage.VEHICLE_RECEIVED.value, "quote_round": 1, "work_approved": False,
        "rework_count": 0, "opened_at": opened_at,
        "promised_at": reception["promised_at"].astimezone(UTC),
    }


def check_visible(identity: Identity, ro: Mapping[str, Any]) -> None:
    """Owners reach only their own repair orders; another's is 'not found' (its existence is
    not revealed)."""
    if identity.is_owner and identity.subject != ro["customer_id"]:
        raise NotFound(f"repair order {ro['id']} not found")
