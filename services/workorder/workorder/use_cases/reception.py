"""Reception (接车): a car arrives and its repair order opens; finding, cancelling and the
open campaigns covering a car."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chassis.identity import Identity
from contracts import events
from workorder.domain import published
from workorder.domain import reception as rules
from workorder.domain.stages import Action, Stage, advance
from workorder.use_cases.views import (
    RepairOrderView,
    announce,
    open_campaigns,
    repair_order,
    ro_view,
    ro_view_with_campaigns,
)

if TYPE_CHECKING:
    from workorder.store import WorkorderUnitOfWork


def open_repair_order(uow: WorkorderUnitOfWork, *, reception: Mapping[str, Any], advisor: str,
                      dealer_code: str, time_zone: str, now: datetime) -> RepairOrderView:
    """Open the repair order of a car received from an appointment or as a walk-in, and
    announce it (RepairOrderOpened)."""
    appointment_id = reception.get("appointment_id")
    expected = uow.arrivals.for_appointment(appointment_id) if appointment_id else None
    arrival = rules.arrival(reception, expected)
    rules.refuse_second_reception(uow.repair_orders.received_as(arrival.appointment_id),
                                  arrival.appointment_id)
    rules.check_promise(reception["promised_at"], now)
    # Lock the vehicle's record first: two receptions of one car apply one at a time.
    uow.vehicles.lock(arrival.vin)
    rules.refuse_second_open_order(uow.repair_orders.open_for(arrival.vin), arrival.vin)
    rules.check_mileage(reception["mileage_km"], uow.vehicles.last_mileage(arrival.vin),
                        odometer_changed=reception["odometer_changed"])
    row = rules.new_repair_order(arrival, reception, advisor=advisor, dealer_code=dealer_code,
                                 opened_at=now)
    # The site's own day numbers its repair orders (a Beijing morning is still "today").
    ro_id = uow.repair_orders.add(row, dealer_code=dealer_code,
                                  local_day=rules.local_day(now, time_zone))
    uow.repair_orders.entered(ro_id, Stage.VEHICLE_RECEIVED, action="RECEIVE", actor=advisor,
                              at=now)
    uow.vehicles.remember(vin=arrival.vin, plate=arrival.plate, model=arrival.model,
                          mileage_km=reception["mileage_km"], at=now)
    ro = uow.repair_orders.get(ro_id)
    announce(uow, events.RepairOrderOpened, published.repair_order_opened(ro), ro_id)
    return ro_view_with_campaigns(uow, ro, time_zone=time_zone, now=now)


def list_repair_orders(uow: WorkorderUnitOfWork, *, viewer: Identity, stage: str | None,
                       vin: str | None, limit: int) -> list[RepairOrderView]:
    """Newest first; an owner sees only their own."""
    rows = uow.repair_orders.listed(customer_id=viewer.subject if viewer.is_owner else None,
                                    stage=stage, vin=vin.upper() if vin else None, limit=limit)
    return [ro_view(uow, row, with_history=False) for row in rows]


def get_repair_order(uow: WorkorderUnitOfWork, *, viewer: Identity, ro_id: str,
                     time_zone: str, now: datetime) -> RepairOrderView:
    return ro_view_with_campaigns(uow, repair_order(uow, viewer, ro_id), time_zone=time_zone,
                                  now=now)


def vehicle_open_campaigns(uow: WorkorderUnitOfWork, *, vin: str, model: str | None,
                           time_zone: str, now: datetime) -> dict[str, Any]:
    """The open campaigns covering a car, by its VIN and its model (as given, else as last
    seen here)."""
    model = model or uow.vehicles.model_of(vin)
    return {"vin": vin, "model": model,
            "open_campaigns": open_campaigns(uow, vin, model, time_zone=time_zone, now=now)}


def cancel_repair_order(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str, reason: str,
                        now: datetime) -> RepairOrderView:
    """Cancel before any work was approved (work done must be settled)."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    to = advance(ro["stage"], Action.CANCEL, work_approved=ro["work_approved"])
    uow.repair_orders.set_stage(ro, to, action=Action.CANCEL, actor=actor.subject, at=now,
                                cancel_reason=reason, closed_at=now)
    return ro_view(uow, uow.repair_orders.get(ro_id))
