"""Settlement and hand-over (结算, 交车): invoice, payments, the owner's signature, the car
going back, and closing the repair order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chassis.identity import Identity
from contracts import events
from workorder.domain import published
from workorder.domain import settlement as rules
from workorder.domain.privileged import Privileged, invoice_discount
from workorder.domain.quote import LineStatus
from workorder.domain.stages import Action, Stage, advance, require_in
from workorder.domain.workshop import clocked_hours
from workorder.use_cases.views import (
    RepairOrderView,
    announce,
    invoice_view,
    keep_signature,
    repair_order,
    ro_view,
)

if TYPE_CHECKING:
    from workorder.store import WorkorderUnitOfWork


def issue_invoice(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str,
                  sundries: Iterable[Mapping[str, Any]], discount: Decimal,
                  coupon_code: str | None, now: datetime) -> dict[str, Any]:
    """Invoice the approved lines with the sundries, less the discount, split by who pays;
    issued again (replacing it) until a payment is taken."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    require_in(ro["stage"], {Stage.INVOICE}, "invoicing", work_approved=ro["work_approved"])
    rules.check_reissuable(uow.invoices.payments(ro_id))
    approved = uow.quotes.lines(ro_id, status=LineStatus.APPROVED)
    charges = rules.sundries_of(sundries)
    totals = rules.totals_for(approved, charges, discount)
    record = rules.invoice_record(ro_id, totals, charges, coupon_code=coupon_code)
    discounted = invoice_discount(record, uow.invoices.invoice(ro_id))
    uow.invoices.replace(record, by=actor.subject, at=now)
    if discounted is not None:
        uow.audit(Privileged.INVOICE_DISCOUNTED, actor=actor, subject=ro_id, detail=discounted)
    return invoice_view(uow, ro)


def get_invoice(uow: WorkorderUnitOfWork, *, viewer: Identity, ro_id: str) -> dict[str, Any]:
    return invoice_view(uow, repair_order(uow, viewer, ro_id))


def record_payment(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str, method: str,
                   amount: Decimal, reference: str | None, now: datetime) -> dict[str, Any]:
    """Take a payment at the counter (partial payments allowed, never more than is owed)."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    require_in(ro["stage"], {Stage.INVOICE}, "taking payments",
               work_approved=ro["work_approved"])
    invoice = rules.check_issued(uow.invoices.invoice(ro_id))
    rules.settlement_of(invoice, uow.invoices.payments(ro_id)).pay(amount)
    uow.invoices.add_payment(ro_id, method=method, amount=amount, reference=reference,
                             by=actor.subject, at=now)
    return invoice_view(uow, ro)


def sign_invoice(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str,
                 signature: Mapping[str, Any], signed_from: str | None, now: datetime
                 ) -> dict[str, Any]:
    """The owner signs the invoice online, or in person on the advisor's counter pad."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    require_in(ro["stage"], {Stage.INVOICE}, "signing the invoice",
               work_approved=ro["work_approved"])
    via = rules.check_signing(by_owner=actor.is_owner, image=signature.get("image"))
    rules.check_issued(uow.invoices.invoice(ro_id))
    sha = keep_signature(uow, signature, "image")
    uow.invoices.sign(ro_id, signed_by_name=signature["name"], signature_sha256=sha,
                      signed_at=now, signed_from=signed_from, signed_via=via)
    return invoice_view(uow, ro)


def hand_over(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str,
              mileage_km: int | None, delivery_mode: str, now: datetime) -> RepairOrderView:
    """Hand the car over, paid and signed for (VehicleDelivered, with the invoice's totals
    and the hours clocked)."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    to = advance(ro["stage"], Action.HAND_OVER, work_approved=ro["work_approved"])
    invoice = rules.check_issued(uow.invoices.invoice(ro_id))
    rules.check_handed_over(rules.settlement_of(invoice, uow.invoices.payments(ro_id)), invoice)
    mileage = rules.delivery_mileage(mileage_km, ro["mileage_km"])
    clocked = clocked_hours(uow.workshop.clock_entries(ro_id), now)
    announce(uow, events.VehicleDelivered, published.vehicle_delivered(
        ro, invoice, rules.totals_of(invoice), mileage_km=mileage, clocked_hours=clocked,
        delivered_at=now, delivery_mode=delivery_mode), ro_id)
    uow.repair_orders.set_stage(ro, to, action=Action.HAND_OVER, actor=actor.subject, at=now,
                                delivered_at=now, delivery_mileage_km=mileage)
    uow.vehicles.remember(vin=ro["vin"], plate=ro["plate"], model=ro["model"],
                          mileage_km=mileage, at=now)
    return ro_view(uow, uow.repair_orders.get(ro_id))


def close_repair_order(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str,
                       now: datetime) -> RepairOrderView:
    ro = repair_order(uow, actor, ro_id, for_update=True)
    to = advance(ro["stage"], Action.CLOSE, work_approved=ro["work_approved"])
    uow.repair_orders.set_stage(ro, to, action=Action.CLOSE, actor=actor.subject, at=now,
                                closed_at=now)
    return ro_view(uow, uow.repair_orders.get(ro_id))
