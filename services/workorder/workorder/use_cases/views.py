"""What the use cases answer with: a repair order, its quote, inspection, jobs and invoice as
read in the unit of work (plain data; `workorder.schemas` renders it), and the helpers every
use case shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chassis.errors import NotFound
from chassis.identity import Identity
from contracts import EventContract
from workorder.domain import campaigns
from workorder.domain.inspection import signature_image
from workorder.domain.pricing import CURRENCY
from workorder.domain.quote import LineStatus, round_total
from workorder.domain.reception import check_visible, local_day
from workorder.domain.settlement import settlement_of, totals_of
from workorder.domain.stages import Stage, next_steps
from workorder.domain.workshop import job_view

if TYPE_CHECKING:  # the use cases see the unit of work, not the database behind it
    from workorder.store import WorkorderUnitOfWork

Row = Mapping[str, Any]
PhotoUrl = Callable[[str], str]


def repair_order(uow: WorkorderUnitOfWork, viewer: Identity, ro_id: str, *,
                 for_update: bool = False) -> Row:
    """The repair order as `viewer` may see it (an owner only their own: 404 otherwise);
    `for_update` locks it, as every change to a repair order does first."""
    ro = uow.repair_orders.get(ro_id, for_update=for_update)
    check_visible(viewer, ro)
    return ro


def announce(uow: WorkorderUnitOfWork, contract: EventContract, data: dict[str, Any],
             ro_id: str) -> None:
    """An event about the repair order: its subject, and the thread of what follows."""
    uow.emit(contract, data, subject=ro_id, correlation_id=ro_id)


def keep_signature(uow: WorkorderUnitOfWork, signature: Mapping[str, Any], field: str
                   ) -> str | None:
    """Keep a signature image (if any) with the photos, by content hash."""
    image = signature_image(signature, field)
    if image is None:
        return None
    photo, body = image
    uow.media.put(photo.sha256, body)
    return photo.sha256


def staff_photo_url(ro_id: str) -> PhotoUrl:
    return lambda sha: f"/repair-orders/{ro_id}/photos/{sha}"


# -- the repair order ------------------------------------------------------------------------


@dataclass(frozen=True)
class RepairOrderView:
    repair_order: Row
    next_steps: list[dict[str, str]]
    history: list[dict[str, Any]] | None = None         # the single repair order only
    open_campaigns: list[dict[str, Any]] | None = None  # reception and the single order


def ro_view(uow: WorkorderUnitOfWork, ro: Row, *, with_history: bool = True
            ) -> RepairOrderView:
    steps = [step.as_dict() for step in
             next_steps(Stage(ro["stage"]), work_approved=ro["work_approved"])]
    if not with_history:
        return RepairOrderView(ro, steps)
    history = [{"stage": h["to_stage"], "action": h["action"], "at": h["at"].isoformat()}
               for h in uow.repair_orders.history(ro["id"])]
    return RepairOrderView(ro, steps, history)


def open_campaigns(uow: WorkorderUnitOfWork, vin: str, model: str | None, *, time_zone: str,
                   now: datetime) -> list[dict[str, Any]]:
    """The campaigns covering the car today (the site's own day)."""
    today = local_day(now, time_zone)
    rows, listed = uow.campaigns.covering(vin, model, today)
    found = campaigns.open_campaigns(
        [campaigns.Campaign(code=r["code"], title=r["title"], starts_on=r["starts_on"],
                            kind=r["kind"], operation_code=r["operation_code"],
                            model=r["model"], year_from=r["year_from"], year_to=r["year_to"])
         for r in rows],
        listed, vin=vin, model=model, today=today,
        completed=uow.campaigns.completed(vin) if rows else ())
    return [c.as_dict() for c in found]


def ro_view_with_campaigns(uow: WorkorderUnitOfWork, ro: Row, *, time_zone: str,
                           now: datetime) -> RepairOrderView:
    view = ro_view(uow, ro)
    return RepairOrderView(view.repair_order, view.next_steps, view.history,
                           open_campaigns(uow, ro["vin"], ro["model"], time_zone=time_zone,
                                          now=now))


# -- its parts -------------------------------------------------------------------------------


def quote_view(uow: WorkorderUnitOfWork, ro: Row) -> dict[str, Any]:
    lines = uow.quotes.lines(ro["id"])
    rounds = []
    for row in uow.quotes.rounds(ro["id"]):
        round_lines = [line for line in lines if line["round"] == row["round"]]
        rounds.append({**row, "lines": round_lines, "total": round_total(round_lines)})
    return {"repair_order_id": ro["id"], "stage": ro["stage"],
            "current_round": ro["quote_round"], "currency": CURRENCY, "rounds": rounds}


def inspection_view(uow: WorkorderUnitOfWork, ro: Row, *, photo_url: PhotoUrl
                    ) -> dict[str, Any] | None:
    inspection = uow.inspections.of(ro["id"])
    if inspection is None:
        return None
    photos = uow.photos.of(ro["id"])
    items = [{**item, "photos": [{**photos[sha], "url": photo_url(sha)}
                                 for sha in item["photos"]]}
             for item in uow.inspections.items(inspection["id"])]
    return {**inspection, "items": items}


def job_views(uow: WorkorderUnitOfWork, ro: Row, *, now: datetime) -> list[dict[str, Any]]:
    entries = uow.workshop.clock_entries(ro["id"])
    technicians = uow.workshop.technicians_with_load()
    return [job_view(job, technicians, entries, now) for job in uow.workshop.jobs(ro["id"])]


def one_job_view(uow: WorkorderUnitOfWork, ro: Row, line_id: str, *, now: datetime
                 ) -> dict[str, Any]:
    return next(j for j in job_views(uow, ro, now=now) if j["line_id"] == line_id)


def invoice_view(uow: WorkorderUnitOfWork, ro: Row) -> dict[str, Any]:
    invoice = uow.invoices.invoice(ro["id"])
    if invoice is None:
        raise NotFound(f"repair order {ro['id']} has no invoice yet")
    payments = uow.invoices.payments(ro["id"])
    settlement = settlement_of(invoice, payments)
    return {**invoice, "currency": CURRENCY,
            "totals_by_pay_type": {k.value: str(v) for k, v in
                                   totals_of(invoice).by_pay_type.items()},
            "lines": uow.quotes.lines(ro["id"], status=LineStatus.APPROVED),
            "payments": payments, "paid": settlement.paid, "balance": settlement.balance,
            "signed": invoice["signed_at"] is not None}


def photo_file(uow: WorkorderUnitOfWork, ro_id: str, sha256: str) -> tuple[bytes, str]:
    """A photo of the repair order: its bytes and content type (404 when it has none such)."""
    photo: Mapping[str, Any] | None = uow.photos.of(ro_id).get(sha256)
    body = uow.media.read(sha256) if photo else None
    if body is None or photo is None:
        raise NotFound("photo not found")
    return body, photo["content_type"]
