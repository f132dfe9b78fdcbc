"""Settlement and hand-over (结算, 交车): invoice, payments (at the counter, or online through a
payment provider), the owner's signature, the car going back, and closing the repair order."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chassis.errors import Conflict, NotFound, ServiceUnavailable
from chassis.identity import Identity
from contracts import events
from workorder.domain import published
from workorder.domain import settlement as rules
from workorder.domain.pricing import CURRENCY
from workorder.domain.privileged import Privileged, invoice_discount
from workorder.domain.quote import LineStatus
from workorder.domain.stages import Action, Stage, advance, require_in
from workorder.domain.workshop import clocked_hours, operations_done
from workorder.use_cases.views import (
    RepairOrderView,
    announce,
    invoice_view,
    keep_signature,
    repair_order,
    ro_view,
)

if TYPE_CHECKING:
    from workorder.payments import PaymentProvider
    from workorder.store import WorkorderUnitOfWork

Row = Mapping[str, Any]
PENDING, PAID, FAILED = (rules.OnlinePaymentStatus.PENDING, rules.OnlinePaymentStatus.PAID,
                         rules.OnlinePaymentStatus.FAILED)


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
    _take_payment(uow, ro, method=method, amount=amount, reference=reference, by=actor.subject,
                  now=now)
    return invoice_view(uow, ro)


def _take_payment(uow: WorkorderUnitOfWork, ro: Row, *, method: str, amount: Decimal,
                  reference: str | None, by: str, now: datetime) -> None:
    """The rules every payment is taken by, at the counter or online: the repair order
    awaits payment, its invoice is issued, the amount is no more than the balance."""
    require_in(ro["stage"], {Stage.INVOICE}, "taking payments",
               work_approved=ro["work_approved"])
    invoice = rules.check_issued(uow.invoices.invoice(ro["id"]))
    rules.settlement_of(invoice, uow.invoices.payments(ro["id"])).pay(amount)
    uow.invoices.add_payment(ro["id"], method=method, amount=amount, reference=reference,
                             by=by, at=now)


# -- paying online -------------------------------------------------------------------------


def start_online_payment(uow: WorkorderUnitOfWork, provider: PaymentProvider | None, *,
                         actor: Identity, ro_id: str, return_url: str, client_ip: str | None,
                         owner_portal_url: str, now: datetime) -> tuple[dict[str, Any], bool]:
    """The owner (or the advisor or cashier for them) starts paying the balance online: a
    pending payment and the provider's page for the phone. A payment already pending for the
    same amount is the one answered (its page issued again once the provider's has expired).
    Returns the payment and whether it is new."""
    ro = repair_order(uow, actor, ro_id, for_update=True)  # one start at a time per RO
    if provider is None:
        raise rules.not_offered_online()
    rules.check_return_url(return_url, owner_portal_url)
    require_in(ro["stage"], {Stage.INVOICE}, "paying online", work_approved=ro["work_approved"])
    invoice = rules.check_issued(uow.invoices.invoice(ro_id))
    amount = rules.due_online(rules.settlement_of(invoice, uow.invoices.payments(ro_id)))
    pending = uow.online_payments.pending(ro_id, amount=amount, provider=provider.name)
    if pending is not None and rules.page_still_open(pending, now):
        return _online_view(pending, provider.page_for(pending["provider_url"], return_url)), \
            False
    order = rules.OnlinePaymentOrder(
        out_trade_no=pending["out_trade_no"] if pending else uuid.uuid4().hex,
        amount_fen=rules.fen(amount), description=f"维修结算 {invoice['invoice_number']}",
        client_ip=client_ip or "127.0.0.1", return_url=return_url)
    started = provider.start(order)
    if pending is not None:
        uow.online_payments.update(pending["id"], provider_url=started.provider_url,
                                   page_issued_at=now)
        return _online_view({**pending, "provider_url": started.provider_url},
                            started.payment_url), False
    row = {"id": str(uuid.uuid4()), "repair_order_id": ro_id, "provider": provider.name,
           "out_trade_no": order.out_trade_no, "amount": amount, "status": PENDING.value,
           "provider_url": started.provider_url, "page_issued_at": now,
           "created_by": actor.subject, "created_at": now, "checked_at": None,
           "transaction_id": None, "paid_at": None, "settled_at": None, "failure_reason": None}
    uow.online_payments.add(row)
    return _online_view(row, started.payment_url), True


def record_online_payment(uow: WorkorderUnitOfWork, provider: PaymentProvider | None, *,
                          headers: Mapping[str, str], body: bytes, now: datetime) -> None:
    """The provider's notification: verified and decrypted by the provider's adapter (401
    when it is not the provider's, and nothing is recorded), then the payment is recorded by
    the rules of a counter payment, once however often the provider sends it."""
    if provider is None:
        raise rules.not_offered_online()
    reported = provider.read_notification(headers, body, now=now.timestamp())
    payment = uow.online_payments.by_out_trade_no(reported.out_trade_no)
    if payment is None or payment["provider"] != provider.name:
        raise NotFound(f"no online payment has the order number {reported.out_trade_no}",
                       code="FAIL")
    _settle_online(uow, provider, payment, reported, now)


def get_online_payment(uow: WorkorderUnitOfWork, provider: PaymentProvider | None, *,
                       viewer: Identity, ro_id: str, payment_id: str, now: datetime
                       ) -> dict[str, Any]:
    """An online payment's status. One pending for over a minute is asked of the provider
    (once a minute at most): paid only when the provider says so."""
    repair_order(uow, viewer, ro_id)
    payment = uow.online_payments.get(ro_id, payment_id)
    if payment is None:
        raise NotFound(f"repair order {ro_id} has no online payment {payment_id}")
    if provider is not None and payment["provider"] == provider.name \
            and rules.needs_reconciling(payment, now):
        payment = _reconcile(uow, provider, payment, now)
    return _online_view(payment)


def _reconcile(uow: WorkorderUnitOfWork, provider: PaymentProvider, payment: Row,
               now: datetime) -> Row:
    """Ask the provider how a pending payment stands (its notification may have been lost);
    a provider that does not answer leaves it pending."""
    uow.online_payments.update(payment["id"], checked_at=now)
    payment = {**payment, "checked_at": now}
    try:
        reported = provider.query(payment["out_trade_no"])
    except ServiceUnavailable:
        return payment
    if reported.out_trade_no != payment["out_trade_no"]:
        return payment
    try:
        return _settle_online(uow, provider, payment, reported, now)
    except Conflict:  # the provider's amount is not the payment's: nothing recorded
        return payment


def _settle_online(uow: WorkorderUnitOfWork, provider: PaymentProvider, payment: Row,
                   reported: rules.PaymentNotification, now: datetime) -> Row:
    """What the provider reports of a pending payment, applied once: paid records it against
    the invoice (a counter payment's rules, its method the provider's), over without the money
    fails it; a payment no longer pending is left as it is."""
    ro = uow.repair_orders.get(payment["repair_order_id"], for_update=True)
    locked = uow.online_payments.get(ro["id"], payment["id"], for_update=True)
    if locked is None or locked["status"] != PENDING:
        return locked or payment
    outcome = rules.outcome_of(reported)
    if outcome is PENDING:
        return locked
    if outcome is FAILED:
        changes: dict[str, Any] = {
            "status": FAILED.value, "settled_at": now,
            "failure_reason": f"the provider reports {reported.trade_state[:40]}"}
    else:
        rules.check_reported_amount(locked, reported)
        invoice = uow.invoices.invoice(ro["id"])
        settlement = None if invoice is None else \
            rules.settlement_of(invoice, uow.invoices.payments(ro["id"]))
        refusal = rules.paid_online_refusal(at_invoice=ro["stage"] == Stage.INVOICE,
                                            invoice=invoice, settlement=settlement,
                                            amount=locked["amount"])
        if refusal is None:
            _take_payment(uow, ro, method=provider.method, amount=locked["amount"],
                          reference=(reported.transaction_id or "")[:64] or None,
                          by=f"online:{provider.name}",
                          now=now)
        changes = {"status": (FAILED if refusal else PAID).value, "failure_reason": refusal,
                   "transaction_id": (reported.transaction_id or "")[:64] or None,
                   "paid_at": (reported.success_time or "")[:40] or None, "settled_at": now}
    uow.online_payments.update(locked["id"], **changes)
    return {**locked, **changes}


def _online_view(payment: Row, payment_url: str | None = None) -> dict[str, Any]:
    return {"payment_id": payment["id"], "repair_order_id": payment["repair_order_id"],
            "provider": payment["provider"], "out_trade_no": payment["out_trade_no"],
            "amount": payment["amount"], "currency": CURRENCY, "status": str(payment["status"]),
            "payment_url": payment_url, "transaction_id": payment["transaction_id"],
            "paid_at": payment["paid_at"], "failure_reason": payment["failure_reason"],
            "created_at": payment["created_at"]}


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
    """Hand the car over, paid and signed for (VehicleDelivered, with the invoice's totals,
    the hours clocked and the labour operations done, which close recalls at
    headquarters)."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    to = advance(ro["stage"], Action.HAND_OVER, work_approved=ro["work_approved"])
    invoice = rules.check_issued(uow.invoices.invoice(ro_id))
    rules.check_handed_over(rules.settlement_of(invoice, uow.invoices.payments(ro_id)), invoice)
    mileage = rules.delivery_mileage(mileage_km, ro["mileage_km"])
    clocked = clocked_hours(uow.workshop.clock_entries(ro_id), now)
    announce(uow, events.VehicleDelivered, published.vehicle_delivered(
        ro, invoice, rules.totals_of(invoice), mileage_km=mileage, clocked_hours=clocked,
        delivered_at=now, delivery_mode=delivery_mode,
        operations_done=operations_done(uow.workshop.jobs(ro_id))), ro_id)
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
