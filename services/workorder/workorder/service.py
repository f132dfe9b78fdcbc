"""Workorder's entrypoints: the repair order from reception to hand-over.

Each entrypoint validates, applies the rules in `workorder.domain`, stores the change with its
events (outbox) and commits once. Every change to a repair order locks its row first.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from nameko.exceptions import RemoteError
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Request, Response

from chassis.auth import Identity, Role
from chassis.consumer import handle_event
from chassis.db import Database
from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceUnavailable
from chassis.http import PUBLIC, http, identity_of, json_response, load_json, load_query
from chassis.outbox import Outbox
from chassis.rpc import SiteRpc
from chassis.service import PlatformService
from contracts import events
from workorder import domain, models, store
from workorder import schemas as s
from workorder.domain import campaigns, published, quote, reception, workshop
from workorder.domain import inspection as insp
from workorder.domain.pricing import (
    ZERO,
    BillableLine,
    InvoiceTotals,
    LineKind,
    PayType,
    Settlement,
    Sundry,
    invoice_totals,
)
from workorder.domain.quote import ApprovalChannel, LineStatus
from workorder.domain.stages import WORKING_STAGES, Action, Stage, advance, next_steps, require_in
from workorder.domain.vin import valid_vin
from workorder.domain.workshop import JobStatus
from workorder.media import MediaStore

STAFF = {Role.ADVISOR, Role.TECHNICIAN, Role.QC_INSPECTOR, Role.CASHIER, Role.DEALER_MANAGER}
STAFF_AND_OWNER = STAFF | {Role.OWNER}
WORKSHOP = {Role.ADVISOR, Role.TECHNICIAN, Role.QC_INSPECTOR, Role.DEALER_MANAGER}
DEFAULT_LABOUR_RATE = "300.00"
MAX_SIGNATURE_BYTES = 1024 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


def _visible(identity: Identity, ro: store.Row) -> None:
    """Owners reach only their own repair orders; another's is 'not found' (its existence is
    not revealed)."""
    if identity.is_owner and identity.subject != ro["customer_id"]:
        raise NotFound(f"repair order {ro['id']} not found")


def _ro_view(session: Any, ro: store.Row, *, with_history: bool = True) -> dict[str, Any]:
    view = s.RepairOrderSchema().dump({
        **ro, "next_steps": [step.as_dict() for step in
                             next_steps(Stage(ro["stage"]), work_approved=ro["work_approved"])]})
    if not with_history:
        return view
    history = session.execute(
        sa.select(models.stage_history.c.to_stage, models.stage_history.c.action,
                  models.stage_history.c.at)
        .where(models.stage_history.c.repair_order_id == ro["id"])
        .order_by(models.stage_history.c.id)).mappings().all()
    view["history"] = [{"stage": h["to_stage"], "action": h["action"],
                        "at": h["at"].isoformat()} for h in history]
    return view


class WorkorderService(PlatformService):
    name = "workorder"

    db = Database(models.metadata)
    outbox = Outbox()
    parts = SiteRpc("parts", timeout=2)

    # -- helpers (not entrypoints) -------------------------------------------------------

    def _emit(self, contract: Any, data: dict[str, Any], ro_id: str) -> None:
        self.outbox.emit(contract, data, subject=ro_id, correlation_id=ro_id)

    def _open_campaigns(self, vin: str, model: str | None) -> list[dict[str, Any]]:
        """The campaigns covering the car today (the site's own day)."""
        today = _now().astimezone(ZoneInfo(self.settings.time_zone)).date()
        rows, listed = store.campaigns_for(self.db, vin, model, today)
        found = campaigns.open_campaigns(
            [campaigns.Campaign(code=r["code"], title=r["title"], starts_on=r["starts_on"],
                                kind=r["kind"], operation_code=r["operation_code"],
                                model=r["model"], year_from=r["year_from"],
                                year_to=r["year_to"]) for r in rows],
            listed, vin=vin, model=model, today=today)
        return [c.as_dict() for c in found]

    def _ro_with_campaigns(self, ro: store.Row) -> dict[str, Any]:
        view = _ro_view(self.db, ro)
        view["open_campaigns"] = self._open_campaigns(ro["vin"], ro["model"])
        return view

    def _media(self) -> MediaStore:
        return MediaStore(self.settings.media_dir)

    def _extra(self, name: str, default: Any) -> Any:
        return self.settings.extra.get(name, default)

    def _ro(self, request: Request, ro_id: str, *, for_update: bool = False) -> store.Row:
        ro = store.repair_order(self.db, ro_id, for_update=for_update)
        _visible(identity_of(request), ro)
        return ro

    def _store_signature(self, signature: dict[str, Any], field: str) -> str | None:
        """Keep a signature image (if any) with the photos, by content hash."""
        image = signature.get("image")
        if not image:
            return None
        try:
            body = base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(field, "not valid base64") from None
        photo = insp.accept_photo(signature.get("image_content_type", "image/png"), body,
                                  max_bytes=MAX_SIGNATURE_BYTES)
        self._media().put(photo.sha256, body)
        return photo.sha256

    def _quote_view(self, ro: store.Row) -> dict[str, Any]:
        lines = store.lines(self.db, ro["id"])
        rounds = []
        for row in store.quote_rounds(self.db, ro["id"]):
            round_lines = [line for line in lines if line["round"] == row["round"]]
            rounds.append({**row, "lines": round_lines,
                           "total": sum((line["amount"] for line in round_lines), ZERO)})
        return s.QuoteSchema().dump({
            "repair_order_id": ro["id"], "stage": ro["stage"], "current_round": ro["quote_round"],
            "currency": "CNY", "rounds": rounds})

    def _inspection_view(self, ro: store.Row, *, photo_url: Any) -> dict[str, Any] | None:
        inspection = store.inspection_of(self.db, ro["id"])
        if inspection is None:
            return None
        photos = store.photos_of(self.db, ro["id"])
        items = [{**item, "photos": [{**photos[sha], "url": photo_url(sha)}
                                     for sha in item["photos"]]}
                 for item in store.inspection_items(self.db, inspection["id"])]
        return {**inspection, "items": items}

    def _report_link(self, ro: store.Row, inspection_id: str) -> dict[str, Any]:
        ttl = int(float(self._extra("report_link_ttl_hours", 168)) * 3600)
        now = _now()
        token = insp.report_token(self.settings.auth_secret, repair_order_id=ro["id"],
                                  inspection_id=inspection_id, ttl_seconds=ttl,
                                  now=now.timestamp())
        return {"url": f"/inspection-reports/{token}",
                "expires_at": (now + timedelta(seconds=ttl)).isoformat(timespec="seconds")}

    def _job_views(self, ro: store.Row) -> list[dict[str, Any]]:
        now = _now()
        entries = store.clock_entries(self.db, ro["id"])
        technicians = store.technicians_with_load(self.db)
        views = []
        for job in store.jobs(self.db, ro["id"]):
            suggested = None
            if job["status"] == JobStatus.PENDING:
                pick = workshop.suggest_technician(technicians, job["skill"])
                suggested = pick.id if pick else None
            views.append({**job, "suggested_technician_id": suggested,
                          "clocked_hours": workshop.clocked_hours(
                              [e for e in entries if e["line_id"] == job["line_id"]], now)})
        return views

    def _job_view(self, ro: store.Row, line_id: str) -> dict[str, Any]:
        return s.JobSchema().dump(next(j for j in self._job_views(ro)
                                       if j["line_id"] == line_id))

    def _totals_of(self, invoice: store.Row) -> InvoiceTotals:
        return InvoiceTotals(
            labour_total=invoice["labour_total"], parts_total=invoice["parts_total"],
            sundries_total=invoice["sundries_total"], discount_total=invoice["discount_total"],
            grand_total=invoice["grand_total"], tax_total=invoice["tax_total"],
            by_pay_type={PayType.CUSTOMER_PAY: invoice["customer_pay_total"],
                         PayType.WARRANTY: invoice["warranty_total"],
                         PayType.INTERNAL: invoice["internal_total"]},
            labour_hours_sold=invoice["labour_hours_sold"])

    def _settlement(self, invoice: store.Row) -> Settlement:
        return Settlement(due=invoice["customer_pay_total"],
                          payments=[p["amount"] for p in store.payments(self.db,
                                                                        invoice["repair_order_id"])])

    def _invoice_view(self, ro: store.Row) -> dict[str, Any]:
        invoice = store.invoice(self.db, ro["id"])
        if invoice is None:
            raise NotFound(f"repair order {ro['id']} has no invoice yet")
        settlement = self._settlement(invoice)
        return s.InvoiceSchema().dump({
            **invoice, "currency": "CNY",
            "totals_by_pay_type": {k.value: str(v) for k, v in
                                   self._totals_of(invoice).by_pay_type.items()},
            "lines": store.lines(self.db, ro["id"], status=LineStatus.APPROVED),
            "payments": store.payments(self.db, ro["id"]),
            "paid": settlement.paid, "balance": settlement.balance,
            "signed": invoice["signed_at"] is not None})

    # -- reception -----------------------------------------------------------------------

    @http("POST", "/repair-orders", roles={Role.ADVISOR}, request=s.ReceptionSchema,
          response=s.RepairOrderSchema, status=201,
          statuses=(409,),
          summary="Receive a vehicle and open its repair order (from an appointment or walk-in)")
    def open_repair_order(self, request: Request) -> Response:
        payload = load_json(request, s.ReceptionSchema())
        advisor = identity_of(request).subject
        now = _now()
        expected = None
        if payload.get("appointment_id"):
            expected = self.db.execute(sa.select(models.expected_arrivals).where(
                models.expected_arrivals.c.appointment_id == payload["appointment_id"])
            ).mappings().first()
        arrival = reception.arrival(payload, expected)
        if arrival.appointment_id and self.db.scalar(
                sa.select(models.repair_orders.c.id)
                .where(models.repair_orders.c.appointment_id == arrival.appointment_id)):
            raise Conflict("this appointment has already been received",
                           appointment_id=arrival.appointment_id)
        reception.check_promise(payload["promised_at"], now)
        # Lock the vehicle's record first: two receptions of one car apply one at a time.
        self.db.execute(sa.select(models.vehicles.c.vin).where(
            models.vehicles.c.vin == arrival.vin).with_for_update())
        reception.refuse_second_open_order(store.open_repair_order_for(self.db, arrival.vin),
                                           arrival.vin)
        reception.check_mileage(payload["mileage_km"],
                                store.last_known_mileage(self.db, arrival.vin),
                                odometer_changed=payload["odometer_changed"])
        row = {
            "dealer_code": self.settings.dealer_code, "appointment_id": arrival.appointment_id,
            "customer_id": arrival.customer_id, "vin": arrival.vin, "plate": arrival.plate,
            "model": arrival.model, "mileage_km": payload["mileage_km"],
            "odometer_changed": payload["odometer_changed"],
            "fuel_level": payload["fuel_level"], "concerns": payload["concerns"],
            "belongings": payload["belongings"],
            "customer_waiting": payload["customer_waiting"], "advisor_id": advisor,
            "stage": Stage.VEHICLE_RECEIVED.value, "quote_round": 1, "work_approved": False,
            "rework_count": 0, "opened_at": now,
            "promised_at": payload["promised_at"].astimezone(UTC),
        }
        # The site's own day numbers its repair orders (a Beijing morning is still "today").
        zone = ZoneInfo(self.settings.time_zone)
        local_day = now.astimezone(zone).date()
        ro_id = store.insert_repair_order(self.db, row, dealer_code=self.settings.dealer_code,
                                          local_day=local_day)
        self.db.execute(models.stage_history.insert().values(
            repair_order_id=ro_id, from_stage=None, to_stage=Stage.VEHICLE_RECEIVED.value,
            action="RECEIVE", actor=advisor, at=now))
        store.remember_vehicle(self.db, vin=arrival.vin, plate=arrival.plate,
                               model=arrival.model, mileage_km=payload["mileage_km"], at=now)
        ro = store.repair_order(self.db, ro_id)
        self._emit(events.RepairOrderOpened, published.repair_order_opened(ro), ro_id)
        self.db.commit()
        return json_response(self._ro_with_campaigns(ro), status=201,
                             headers={"Location": f"/repair-orders/{ro_id}"})

    @http("GET", "/repair-orders", roles=STAFF_AND_OWNER, query=s.RepairOrderQuerySchema,
          response=s.RepairOrderListSchema,
          summary="Repair orders (filter: stage, vin); an owner sees only their own")
    def list_repair_orders(self, request: Request) -> Response:
        filters = load_query(request, s.RepairOrderQuerySchema())
        identity = identity_of(request)
        table = models.repair_orders
        query = sa.select(table).order_by(table.c.opened_at.desc())
        if identity.is_owner:
            query = query.where(table.c.customer_id == identity.subject)
        if filters.get("stage"):
            query = query.where(table.c.stage == filters["stage"])
        if filters.get("vin"):
            query = query.where(table.c.vin == filters["vin"].upper())
        limit = filters["limit"]
        rows = self.db.execute(query.limit(limit)).mappings().all()
        return json_response({"items": [_ro_view(self.db, row, with_history=False)
                                         for row in rows]})

    @http("GET", "/repair-orders/<string:ro_id>", roles=STAFF_AND_OWNER,
          response=s.RepairOrderSchema, summary="One repair order, its stage and next steps")
    def get_repair_order(self, request: Request, ro_id: str) -> Response:
        return json_response(self._ro_with_campaigns(self._ro(request, ro_id)))

    @http("GET", "/vehicles/<string:vin>/open-campaigns",
          roles={Role.ADVISOR, Role.DEALER_MANAGER, Role.TECHNICIAN},
          query=s.VehicleCampaignsQuerySchema, response=s.VehicleCampaignsSchema,
          summary="Open recall and service campaigns covering a car, by VIN list or by model "
                  "and model year (召回查询)")
    def vehicle_open_campaigns(self, request: Request, vin: str) -> Response:
        vin = valid_vin(vin)
        query = load_query(request, s.VehicleCampaignsQuerySchema())
        model = query.get("model") or self.db.scalar(
            sa.select(models.vehicles.c.model).where(models.vehicles.c.vin == vin))
        return json_response({"vin": vin, "model": model,
                              "open_campaigns": self._open_campaigns(vin, model)})

    @http("POST", "/repair-orders/<string:ro_id>/cancel", roles={Role.ADVISOR},
          request=s.CancelSchema, response=s.RepairOrderSchema,
          statuses=(409,),
          summary="Cancel a repair order before any work was approved")
    def cancel_repair_order(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.CancelSchema())
        ro = self._ro(request, ro_id, for_update=True)
        to = advance(ro["stage"], Action.CANCEL, work_approved=ro["work_approved"])
        now = _now()
        store.set_stage(self.db, ro, to, action=Action.CANCEL, actor=identity_of(request).subject,
                        at=now, cancel_reason=payload["reason"], closed_at=now)
        self.db.commit()
        return json_response(_ro_view(self.db, store.repair_order(self.db, ro_id)))

    # -- inspection ----------------------------------------------------------------------

    @http("GET", "/checklist-templates", roles=WORKSHOP,
          response=s.ChecklistTemplateListSchema, summary="Inspection checklist templates")
    def checklist_templates(self, request: Request) -> Response:
        templates = self.db.execute(sa.select(models.checklist_templates)
                                    .order_by(models.checklist_templates.c.code)).mappings().all()
        items = self.db.execute(sa.select(models.checklist_template_items).order_by(
            models.checklist_template_items.c.position)).mappings().all()
        out = [{**t, "items": [{"code": i["item_code"], "name": i["name"],
                                "position": i["position"]}
                               for i in items if i["template_code"] == t["code"]]}
               for t in templates]
        return json_response(s.ChecklistTemplateListSchema().dump({"items": out}))

    @http("POST", "/repair-orders/<string:ro_id>/inspection",
          roles={Role.TECHNICIAN, Role.ADVISOR}, request=s.StartInspectionSchema,
          response=s.InspectionSchema, status=201,
          statuses=(409,), body_optional=True,
          summary="Start the multi-point inspection from a checklist template")
    def start_inspection(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.StartInspectionSchema(), optional=True)
        ro = self._ro(request, ro_id, for_update=True)
        to = advance(ro["stage"], Action.START_INSPECTION)
        template_code, template_items = store.checklist(self.db, payload.get("template_code"))
        who, now = identity_of(request).subject, _now()
        inspection_id = f"INS-{ro_id}-1"
        self.db.execute(models.inspections.insert().values(
            id=inspection_id, repair_order_id=ro_id, template_code=template_code,
            started_by=who, started_at=now))
        if template_items:
            self.db.execute(models.inspection_items.insert(), [
                {"inspection_id": inspection_id, "code": item["item_code"], "name": item["name"],
                 "position": item["position"], "photos": []} for item in template_items])
        store.set_stage(self.db, ro, to, action=Action.START_INSPECTION, actor=who, at=now)
        self.db.commit()
        view = self._inspection_view(ro, photo_url=lambda sha: f"/repair-orders/{ro_id}/photos/"
                                                               f"{sha}")
        return json_response(s.InspectionSchema().dump(view), status=201)

    @http("PUT", "/repair-orders/<string:ro_id>/inspection/items/<string:code>",
          roles={Role.TECHNICIAN}, request=s.InspectionResultSchema,
          response=s.InspectionSchema,
          statuses=(409,),
          summary="Record one checklist item: GREEN / YELLOW / RED, notes, photos")
    def record_inspection_item(self, request: Request, ro_id: str, code: str) -> Response:
        payload = load_json(request, s.InspectionResultSchema())
        if s.CODE.regex.fullmatch(code) is None:
            raise InvalidInput("code", "1-32 characters A-Z 0-9 _ . - starting with A-Z or 0-9")
        ro = self._ro(request, ro_id, for_update=True)
        require_in(ro["stage"], {Stage.EVALUATION}, "recording inspection results")
        inspection = store.inspection_of(self.db, ro_id)
        items = {row["code"]: insp.ChecklistItem(row["code"], row["name"], row["position"])
                 for row in store.inspection_items(self.db, inspection["id"])}
        photo_list = list(dict.fromkeys(payload["photos"]))
        item = insp.record_item(items, code, payload.get("name"), photo_list,
                                set(store.photos_of(self.db, ro_id)))
        values = {"status": payload["status"], "notes": payload.get("notes"),
                  "photos": photo_list, "recorded_by": identity_of(request).subject,
                  "recorded_at": _now()}
        table = models.inspection_items
        if code in items:
            self.db.execute(table.update().where(table.c.inspection_id == inspection["id"],
                                                 table.c.code == code).values(**values))
        else:
            self.db.execute(table.insert().values(inspection_id=inspection["id"], code=code,
                                                  name=item.name, position=item.position,
                                                  **values))
        self.db.commit()
        view = self._inspection_view(ro, photo_url=lambda sha: f"/repair-orders/{ro_id}/photos/"
                                                               f"{sha}")
        return json_response(s.InspectionSchema().dump(view))

    @http("POST", "/repair-orders/<string:ro_id>/inspection/submit", roles={Role.TECHNICIAN},
          response=s.InspectionSchema,
          statuses=(409,),
          summary="Submit the inspection: the owner can see it, the advisor builds the quote")
    def submit_inspection(self, request: Request, ro_id: str) -> Response:
        ro = self._ro(request, ro_id, for_update=True)
        to = advance(ro["stage"], Action.SUBMIT_INSPECTION)
        inspection = store.inspection_of(self.db, ro_id)
        items = store.inspection_items(self.db, inspection["id"])
        insp.check_complete({item["code"]: item["status"] for item in items})
        who, now = identity_of(request).subject, _now()
        self.db.execute(models.inspections.update()
                        .where(models.inspections.c.id == inspection["id"])
                        .values(submitted_by=who, submitted_at=now))
        store.set_stage(self.db, ro, to, action=Action.SUBMIT_INSPECTION, actor=who, at=now)
        self.db.execute(models.quotes.insert().values(
            repair_order_id=ro_id, round=1, quote_id=quote.quote_id(ro_id, 1), opened_at=now,
            opened_by=who))
        # The event names the owner's report page, never its signed link (that goes to the
        # owner alone); only when the site has an https owner portal configured.
        portal = str(self._extra("owner_portal_url", "") or "")
        report_url = (f"{portal.rstrip('/')}/inspections/{inspection['id']}"
                      if portal.startswith("https://") else None)
        self._emit(events.InspectionUploaded, published.inspection_uploaded(
            ro, inspection["id"], insp.report_items(items, store.photos_of(self.db, ro_id)),
            inspected_by=who, inspected_at=now, report_url=report_url), ro_id)
        self.db.commit()
        view = self._inspection_view(store.repair_order(self.db, ro_id),
                                     photo_url=lambda sha: f"/repair-orders/{ro_id}/photos/{sha}")
        view["report_link"] = self._report_link(ro, inspection["id"])
        return json_response(s.InspectionSchema().dump(view))

    @http("GET", "/repair-orders/<string:ro_id>/inspection", roles=STAFF_AND_OWNER,
          response=s.InspectionSchema, summary="The inspection and its results")
    def get_inspection(self, request: Request, ro_id: str) -> Response:
        ro = self._ro(request, ro_id)
        view = self._inspection_view(ro, photo_url=lambda sha: f"/repair-orders/{ro_id}/photos/"
                                                               f"{sha}")
        if view is None:
            raise NotFound(f"repair order {ro_id} has no inspection yet")
        return json_response(s.InspectionSchema().dump(view))

    @http("POST", "/repair-orders/<string:ro_id>/inspection/report-link",
          roles={Role.ADVISOR, Role.OWNER}, response=s.ReportLinkSchema, status=201,
          statuses=(409,),
          summary="A signed, expiring link to the inspection report, opened without login")
    def inspection_report_link(self, request: Request, ro_id: str) -> Response:
        ro = self._ro(request, ro_id)
        inspection = store.inspection_of(self.db, ro_id)
        if inspection is None or inspection["submitted_at"] is None:
            raise Conflict("the inspection has not been submitted yet")
        return json_response(self._report_link(ro, inspection["id"]), status=201)

    @http("GET", "/inspection-reports/<string:token>", roles=PUBLIC,
          response=s.InspectionReportSchema,
          statuses=(403, 404),
          summary="The owner's inspection report: the link's signed token is the permission")
    def inspection_report(self, request: Request, token: str) -> Response:
        grant = insp.read_report_token(self.settings.auth_secret, token)
        ro = self.db.execute(sa.select(models.repair_orders).where(
            models.repair_orders.c.id == grant.repair_order_id)).mappings().first()
        inspection = store.inspection_of(self.db, grant.repair_order_id) if ro else None
        if inspection is None or inspection["id"] != grant.inspection_id \
                or inspection["submitted_at"] is None:
            raise NotFound("this inspection report link is not valid (链接无效)")
        view = self._inspection_view(ro, photo_url=lambda sha: f"/photos/{sha}?token={token}")
        report = {"repair_order_id": ro["id"], "dealer_code": ro["dealer_code"],
                  "plate": ro["plate"], "model": ro["model"],
                  "inspected_at": inspection["submitted_at"], "items": view["items"],
                  "expires_at": datetime.fromtimestamp(grant.expires_at, UTC)}
        return json_response(s.InspectionReportSchema().dump(report),
                             headers={"Cache-Control": "private, no-store",
                                      "Referrer-Policy": "no-referrer"})

    # -- photos --------------------------------------------------------------------------

    @http("POST", "/repair-orders/<string:ro_id>/photos", roles={Role.TECHNICIAN, Role.ADVISOR},
          response=s.PhotoSchema, status=201,
          statuses=(409, 422),
          summary="Upload a photo (raw body; image/jpeg, image/png, image/webp, image/heic)")
    def upload_photo(self, request: Request, ro_id: str) -> Response:
        limit = int(self._extra("max_photo_bytes", insp.MAX_PHOTO_BYTES))
        insp.check_photo_size(request.content_length, limit)  # refuse before reading it all
        body = request.stream.read(limit + 1)
        photo = insp.accept_photo(request.mimetype, body, max_bytes=limit)
        ro = self._ro(request, ro_id, for_update=True)
        require_in(ro["stage"], frozenset({Stage.VEHICLE_RECEIVED, Stage.EVALUATION,
                                           *WORKING_STAGES}), "uploading photos",
                   work_approved=ro["work_approved"])
        created = self._media().put(photo.sha256, body)
        store.register_photo(self.db, ro_id=ro_id, sha256=photo.sha256,
                             content_type=photo.content_type, size_bytes=photo.size_bytes,
                             by=identity_of(request).subject, at=_now())
        self.db.commit()
        return json_response(s.PhotoSchema().dump({
            "sha256": photo.sha256, "content_type": photo.content_type,
            "size_bytes": photo.size_bytes, "url": f"/repair-orders/{ro_id}/photos/{photo.sha256}"
        }), status=201 if created else 200)

    def _photo_response(self, ro_id: str, sha256: str) -> Response:
        photo = store.photos_of(self.db, ro_id).get(sha256)
        body = self._media().read(sha256) if photo else None
        if body is None:
            raise NotFound("photo not found")
        return Response(body, content_type=photo["content_type"],
                        headers={"Cache-Control": "private, max-age=86400",
                                 "X-Content-Type-Options": "nosniff",
                                 "ETag": f'"{sha256}"'})

    @http("GET", "/repair-orders/<string:ro_id>/photos/<string:content_hash>",
          roles=STAFF_AND_OWNER, summary="A photo of this repair order")
    def get_photo(self, request: Request, ro_id: str, content_hash: str) -> Response:
        self._ro(request, ro_id)
        return self._photo_response(ro_id, content_hash)

    @http("GET", "/photos/<string:content_hash>", roles=PUBLIC,
          statuses=(403, 404),
          summary="A photo of an inspection report (?token= from the report link)")
    def get_report_photo(self, request: Request, content_hash: str) -> Response:
        token = request.args.get("token")
        if not token:
            raise NotFound("photo not found")
        grant = insp.read_report_token(self.settings.auth_secret, token)
        return self._photo_response(grant.repair_order_id, content_hash)

    # -- quote ---------------------------------------------------------------------------

    def _price_parts(self, lines: list[dict[str, Any]]) -> dict[int, quote.PartPrice]:
        """Ask parts for each part line's price before anything is stored: if parts does not
        answer, the request fails with 503 and leaves no trace."""
        prices = {}
        for index, line in enumerate(lines):
            if line["kind"] != LineKind.PART:
                continue
            field = f"lines.{index}.part_number"
            try:
                answer = self.parts.price_of(line["part_number"])
            except NotFound:
                answer = None
            except RemoteError as exc:
                if exc.exc_type in {"NotFound", "KeyError", "LookupError", "InvalidInput",
                                    "UnknownPart"}:
                    answer = None
                else:
                    raise ServiceUnavailable(
                        f"parts could not price {line['part_number']}: {exc.exc_type}; "
                        "try again, or ask the parts desk (配件部)", service="parts") from None
            except ServiceUnavailable as exc:
                raise ServiceUnavailable(
                    f"parts prices are unavailable right now ({exc.message}); nothing was "
                    "added to the quote — try again in a moment (配件系统暂不可用)",
                    service="parts") from None
            prices[index] = quote.part_price(answer, line["part_number"], field)
        return prices

    @http("POST", "/repair-orders/<string:ro_id>/quote-lines", roles={Role.ADVISOR},
          request=s.QuoteLinesSchema, response=s.QuoteSchema, status=201,
          statuses=(409, 503),
          summary="Add labour and part lines to the quote being built (parts are priced by "
                  "the parts service)")
    def add_quote_lines(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.QuoteLinesSchema())
        ro = self._ro(request, ro_id)
        require_in(ro["stage"], {Stage.PROPOSAL_BUILD}, "adding quote lines",
                   work_approved=ro["work_approved"])
        prices = self._price_parts(payload["lines"])  # before locking: RPC may take seconds
        ro = self._ro(request, ro_id, for_update=True)
        require_in(ro["stage"], {Stage.PROPOSAL_BUILD}, "adding quote lines",
                   work_approved=ro["work_approved"])
        round_ = ro["quote_round"]
        quote.check_round_size(len(store.lines(self.db, ro_id, round_=round_)),
                               len(payload["lines"]))
        number = store.line_count(self.db, ro_id)
        rate = Decimal(str(self._extra("labour_rate", DEFAULT_LABOUR_RATE)))
        who, now = identity_of(request).subject, _now()
        rows = []
        for index, request_line in enumerate(payload["lines"]):
            number += 1
            if request_line["kind"] == LineKind.LABOUR:
                row = quote.labour_line(request_line, number=number, round_=round_,
                                        default_rate=rate)
            else:
                row = quote.part_line(request_line, prices[index], number=number,
                                      round_=round_)
            rows.append({**row, "repair_order_id": ro_id, "created_by": who, "created_at": now})
        columns = set().union(*rows)  # labour and part lines fill different columns
        self.db.execute(models.quote_lines.insert(),
                        [{name: row.get(name) for name in columns} for row in rows])
        self.db.commit()
        return json_response(self._quote_view(ro), status=201)

    @http("DELETE", "/repair-orders/<string:ro_id>/quote-lines/<string:line_id>",
          roles={Role.ADVISOR}, response=s.QuoteSchema,
          statuses=(409,),
          summary="Remove a draft line from the quote being built")
    def remove_quote_line(self, request: Request, ro_id: str, line_id: str) -> Response:
        ro = self._ro(request, ro_id, for_update=True)
        require_in(ro["stage"], {Stage.PROPOSAL_BUILD}, "removing quote lines",
                   work_approved=ro["work_approved"])
        quote.check_removable(store.line(self.db, ro_id, line_id), line_id)
        self.db.execute(models.quote_lines.delete().where(
            models.quote_lines.c.repair_order_id == ro_id,
            models.quote_lines.c.line_id == line_id))
        self.db.commit()
        return json_response(self._quote_view(ro))

    @http("POST", "/repair-orders/<string:ro_id>/quote/send", roles={Role.ADVISOR},
          response=s.QuoteSchema,
          statuses=(409,),
          summary="Send the quote round to the owner, who approves or declines each line")
    def send_quote(self, request: Request, ro_id: str) -> Response:
        ro = self._ro(request, ro_id, for_update=True)
        to = advance(ro["stage"], Action.SEND_QUOTE, work_approved=ro["work_approved"])
        round_ = ro["quote_round"]
        drafts = store.lines(self.db, ro_id, round_=round_, status=LineStatus.DRAFT)
        quote.check_sendable(len(drafts))
        who, now = identity_of(request).subject, _now()
        self.db.execute(models.quote_lines.update().where(
            models.quote_lines.c.repair_order_id == ro_id, models.quote_lines.c.round == round_)
            .values(status=LineStatus.PROPOSED.value))
        self.db.execute(models.quotes.update().where(
            models.quotes.c.repair_order_id == ro_id, models.quotes.c.round == round_)
            .values(sent_at=now, sent_by=who))
        store.set_stage(self.db, ro, to, action=Action.SEND_QUOTE, actor=who, at=now)
        self._emit(events.QuoteIssued,
                   published.quote_issued(ro, round_, drafts, issued_by=who, issued_at=now),
                   ro_id)
        self.db.commit()
        return json_response(self._quote_view(store.repair_order(self.db, ro_id)))

    @http("GET", "/repair-orders/<string:ro_id>/quote", roles=STAFF_AND_OWNER,
          response=s.QuoteSchema, summary="The quote: every round and line with its status")
    def get_quote(self, request: Request, ro_id: str) -> Response:
        return json_response(self._quote_view(self._ro(request, ro_id)))

    @http("POST", "/repair-orders/<string:ro_id>/quote/approval",
          roles={Role.OWNER, Role.ADVISOR}, request=s.ApprovalSchema, response=s.QuoteSchema,
          statuses=(409,),
          summary="The owner approves or declines each line and signs (or the advisor records "
                  "a phone approval)")
    def approve_quote(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.ApprovalSchema())
        identity = identity_of(request)
        ro = self._ro(request, ro_id, for_update=True)
        owner_channels = {ApprovalChannel.APP, ApprovalChannel.WECHAT, ApprovalChannel.WEB}
        if identity.is_owner:
            via = payload.get("approved_via", ApprovalChannel.WEB.value)
            if via not in owner_channels:
                raise InvalidInput("approved_via", "an owner approves through APP, WECHAT or WEB")
            signed_by = ro["customer_id"]
        else:
            via = payload.get("approved_via", ApprovalChannel.PHONE.value)
            if via in owner_channels:
                raise InvalidInput("approved_via",
                                   "an advisor records a PHONE or IN_PERSON approval")
            signed_by = identity.subject
        require_in(ro["stage"], {Stage.AWAITING_CUSTOMER_AUTHORIZATION}, "deciding quote lines",
                   work_approved=ro["work_approved"])
        decisions: dict[str, str] = {}
        for entry in payload["decisions"]:
            if entry["line_id"] in decisions:
                raise InvalidInput("decisions", f"line {entry['line_id']} is decided twice")
            decisions[entry["line_id"]] = entry["decision"]
        round_ = ro["quote_round"]
        decided = quote.decide(store.lines(self.db, ro_id, round_=round_,
                                           status=LineStatus.PROPOSED), decisions)
        signature_sha = self._store_signature(payload["signature"], "signature.image")
        now = _now()
        for status, chosen in ((LineStatus.APPROVED, decided.approved),
                               (LineStatus.DECLINED, decided.declined)):
            if chosen:
                self.db.execute(models.quote_lines.update().where(
                    models.quote_lines.c.repair_order_id == ro_id,
                    models.quote_lines.c.line_id.in_([line["line_id"] for line in chosen]))
                    .values(status=status.value, decided_at=now))
        labour = [line for line in decided.approved if line["kind"] == LineKind.LABOUR]
        if labour:
            self.db.execute(models.jobs.insert(), [
                {"repair_order_id": ro_id, "line_id": line["line_id"],
                 "status": JobStatus.PENDING.value, "assignment_overridden": False,
                 "rework_count": 0} for line in labour])
        data = published.quote_approved(ro, round_, decided.approved, decided.declined,
                                        approved_via=via, signed_by=signed_by, signed_at=now)
        self.db.execute(models.quotes.update().where(
            models.quotes.c.repair_order_id == ro_id, models.quotes.c.round == round_).values(
            decided_at=now, approved_via=via, signed_by=signed_by,
            signer_name=payload["signature"]["name"], signature_sha256=signature_sha,
            signed_from=request.remote_addr, approved_total=data["approved_total"],
            declined_total=data["declined_total"]))
        work_approved = ro["work_approved"] or bool(decided.approved)
        action = Action.AUTHORIZE_WORK if work_approved else Action.DECLINE_ALL_WORK
        to = advance(ro["stage"], action, work_approved=ro["work_approved"])
        store.set_stage(self.db, ro, to, action=action, actor=identity.subject, at=now,
                        work_approved=work_approved)
        self._emit(events.QuoteApproved, data, ro_id)
        self.db.commit()
        return json_response(self._quote_view(store.repair_order(self.db, ro_id)))

    @http("POST", "/repair-orders/<string:ro_id>/additional-work",
          roles={Role.ADVISOR, Role.TECHNICIAN}, response=s.RepairOrderSchema,
          statuses=(409,),
          summary="Additional work found during the repair: open a new quote round (增修)")
    def add_work(self, request: Request, ro_id: str) -> Response:
        ro = self._ro(request, ro_id, for_update=True)
        to = advance(ro["stage"], Action.ADD_WORK, work_approved=ro["work_approved"])
        who, now = identity_of(request).subject, _now()
        round_ = ro["quote_round"] + 1
        self.db.execute(models.quotes.insert().values(
            repair_order_id=ro_id, round=round_, quote_id=quote.quote_id(ro_id, round_),
            opened_at=now, opened_by=who))
        store.set_stage(self.db, ro, to, action=Action.ADD_WORK, actor=who, at=now,
                        quote_round=round_)
        self.db.commit()
        return json_response(_ro_view(self.db, store.repair_order(self.db, ro_id)))

    # -- dispatch and labour ---------------------------------------------------------------

    @http("POST", "/technicians", roles={Role.DEALER_MANAGER}, request=s.TechnicianSchema,
          response=s.TechnicianViewSchema, status=201,
          statuses=(409,),
          summary="Add a technician to this site's roster, with skills")
    def add_technician(self, request: Request) -> Response:
        payload = load_json(request, s.TechnicianSchema())
        if store.technician(self.db, payload["id"]) is not None:
            raise Conflict(f"technician {payload['id']} is already on the roster")
        self.db.execute(models.technicians.insert().values(
            id=payload["id"], name=payload["name"], skills=sorted(set(payload["skills"])),
            active=True, created_at=_now()))
        self.db.commit()
        return json_response(s.TechnicianViewSchema().dump(
            {**payload, "skills": sorted(set(payload["skills"])), "active": True,
             "load_hours": Decimal("0.00")}), status=201)

    @http("GET", "/technicians", roles=WORKSHOP, response=s.TechnicianListSchema,
          summary="The technicians of this site with their current load (flat-rate hours)")
    def list_technicians(self, request: Request) -> Response:
        items = [{"id": t.id, "name": t.name, "skills": sorted(t.skills), "active": True,
                  "load_hours": t.load_hours} for t in store.technicians_with_load(self.db)]
        return json_response(s.TechnicianListSchema().dump({"items": items}))

    @http("GET", "/repair-orders/<string:ro_id>/jobs", roles=WORKSHOP, response=s.JobListSchema,
          summary="Jobs (approved labour lines) with technician, status and clocked hours")
    def list_jobs(self, request: Request, ro_id: str) -> Response:
        ro = self._ro(request, ro_id)
        return json_response(s.JobListSchema().dump({"repair_order_id": ro_id,
                                                     "items": self._job_views(ro)}))

    @http("POST", "/repair-orders/<string:ro_id>/jobs/<string:line_id>/assign",
          roles={Role.ADVISOR, Role.DEALER_MANAGER}, request=s.AssignSchema,
          response=s.JobSchema,
          statuses=(409,), body_optional=True,
          summary="Assign a job: the least-loaded qualified technician, or the one named")
    def assign_job(self, request: Request, ro_id: str, line_id: str) -> Response:
        payload = load_json(request, s.AssignSchema(), optional=True)
        ro = self._ro(request, ro_id, for_update=True)
        line = store.line(self.db, ro_id, line_id)
        job = workshop.check_job(line, store.job(self.db, ro_id, line_id), line_id)
        require_in(ro["stage"], WORKING_STAGES, "assigning jobs",
                   work_approved=ro["work_approved"])
        workshop.check_assignable(job, line_id)
        technicians = store.technicians_with_load(self.db)
        suggested = workshop.suggest_technician(technicians, line["skill"])
        chosen_id = payload.get("technician_id")
        if chosen_id is None:
            if suggested is None:
                raise Conflict(f"no active technician has the skill {line['skill']} for job "
                               f"{line_id}", skill=line["skill"])
            chosen_id = suggested.id
        elif chosen_id not in {t.id for t in technicians}:
            raise InvalidInput("technician_id", f"{chosen_id} is not an active technician here")
        store.update_job(self.db, ro_id, line_id, technician_id=chosen_id,
                         status=JobStatus.ASSIGNED.value,
                         assigned_by=identity_of(request).subject, assigned_at=_now(),
                         assignment_overridden=suggested is None or chosen_id != suggested.id)
        self.db.commit()
        return json_response(self._job_view(ro, line_id))

    @http("POST", "/repair-orders/<string:ro_id>/jobs/<string:line_id>/clock-on",
          roles={Role.TECHNICIAN}, response=s.JobSchema,
          statuses=(409,),
          summary="Clock on a job (only an approved line; one open clock per technician)")
    def clock_on(self, request: Request, ro_id: str, line_id: str) -> Response:
        technician_id = identity_of(request).subject
        ro = self._ro(request, ro_id, for_update=True)
        technician = store.technician(self.db, technician_id)
        if technician is None or not technician["active"]:
            raise Forbidden(f"{technician_id} is not on this site's technician roster")
        job = store.job(self.db, ro_id, line_id)
        workshop.check_clock_on(line=store.line(self.db, ro_id, line_id), job=job,
                                line_id=line_id, technician_id=technician_id,
                                open_clock=store.open_clock(self.db, technician_id))
        require_in(ro["stage"], WORKING_STAGES, "clocking on",
                   work_approved=ro["work_approved"])
        now = _now()
        changes: dict[str, Any] = {"status": JobStatus.IN_PROGRESS.value}
        if job["technician_id"] is None:  # taking an unassigned job off the board
            changes.update(technician_id=technician_id, assigned_by=technician_id,
                           assigned_at=now)
        store.update_job(self.db, ro_id, line_id, **changes)
        try:
            with self.db.begin_nested():
                self.db.execute(models.clock_entries.insert().values(
                    repair_order_id=ro_id, line_id=line_id, technician_id=technician_id,
                    clocked_on_at=now))
        except IntegrityError:
            raise Conflict(f"technician {technician_id} is already clocked on another job: "
                           "clock off first") from None
        self.db.commit()
        return json_response(self._job_view(ro, line_id))

    @http("POST", "/repair-orders/<string:ro_id>/jobs/<string:line_id>/clock-off",
          roles={Role.TECHNICIAN}, request=s.ClockOffSchema, response=s.JobSchema,
          statuses=(409,), body_optional=True,
          summary="Clock off a job; completed=true marks it finished")
    def clock_off(self, request: Request, ro_id: str, line_id: str) -> Response:
        payload = load_json(request, s.ClockOffSchema(), optional=True)
        technician_id = identity_of(request).subject
        ro = self._ro(request, ro_id, for_update=True)
        running = store.open_clock(self.db, technician_id)
        if running is not None and running["repair_order_id"] != ro_id:
            running = None
        workshop.check_clock_off(running, line_id, technician_id)
        now = _now()
        self.db.execute(models.clock_entries.update()
                        .where(models.clock_entries.c.id == running["id"])
                        .values(clocked_off_at=now))
        done = payload["completed"]
        store.update_job(self.db, ro_id, line_id,
                         status=(JobStatus.DONE if done else JobStatus.ASSIGNED).value,
                         completed_at=now if done else None)
        self.db.commit()
        return json_response(self._job_view(ro, line_id))

    # -- quality check -------------------------------------------------------------------

    def _record_check(self, ro: store.Row, stage: workshop.CheckStage, payload: dict[str, Any],
                      who: str, now: datetime) -> dict[str, Any]:
        job_ids = [job["line_id"] for job in store.jobs(self.db, ro["id"])]
        covered = workshop.jobs_to_rework(job_ids, payload.get("line_ids"))
        check = {"check_id": store.next_check_id(self.db, ro["id"]),
                 "repair_order_id": ro["id"], "stage": stage.value,
                 "passed": payload["passed"], "reason": payload.get("reason"),
                 "rework_count": ro["rework_count"], "line_ids": covered, "checked_by": who,
                 "checked_at": now}
        self.db.execute(models.quality_checks.insert().values(**check))
        if not payload["passed"] and covered:
            rework = stage is workshop.CheckStage.INSPECTOR
            self.db.execute(models.jobs.update().where(
                models.jobs.c.repair_order_id == ro["id"], models.jobs.c.line_id.in_(covered))
                .values(status=JobStatus.ASSIGNED.value, completed_at=None,
                        rework_count=models.jobs.c.rework_count + (1 if rework else 0)))
        self._emit(events.QualityCheckCompleted, published.quality_check_completed(check),
                   ro["id"])
        return check

    @http("POST", "/repair-orders/<string:ro_id>/self-check", roles={Role.TECHNICIAN},
          request=s.QualityCheckSchema, response=s.QualityCheckViewSchema, status=201,
          statuses=(409,),
          summary="The technician's self-check (自检): passed sends the car to the QC inspector")
    def self_check(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.QualityCheckSchema())
        workshop.check_qc_reason(payload["passed"], payload.get("reason"))
        ro = self._ro(request, ro_id, for_update=True)
        require_in(ro["stage"], {Stage.WORK_IN_PROGRESS}, "the self-check",
                   work_approved=ro["work_approved"])
        who, now = identity_of(request).subject, _now()
        if payload["passed"]:
            to = advance(ro["stage"], Action.FINISH_WORK, work_approved=True)
            workshop.check_all_done(store.jobs(self.db, ro_id))
        check = self._record_check(ro, workshop.CheckStage.SELF, payload, who, now)
        if payload["passed"]:
            store.set_stage(self.db, ro, to, action=Action.FINISH_WORK, actor=who, at=now)
        self.db.commit()
        stage = store.repair_order(self.db, ro_id)["stage"]
        return json_response(s.QualityCheckViewSchema().dump(
            {**check, "repair_order_stage": stage}), status=201)

    @http("POST", "/repair-orders/<string:ro_id>/inspector-check", roles={Role.QC_INSPECTOR},
          request=s.QualityCheckSchema, response=s.QualityCheckViewSchema, status=201,
          statuses=(409,),
          summary="The QC inspector's check (终检): pass to settlement, or fail back to work")
    def inspector_check(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.QualityCheckSchema())
        workshop.check_qc_reason(payload["passed"], payload.get("reason"))
        ro = self._ro(request, ro_id, for_update=True)
        action = Action.PASS_QUALITY_CHECK if payload["passed"] else Action.FAIL_QUALITY_CHECK
        to = advance(ro["stage"], action, work_approved=ro["work_approved"])
        who, now = identity_of(request).subject, _now()
        check = self._record_check(ro, workshop.CheckStage.INSPECTOR, payload, who, now)
        changes = {} if payload["passed"] else {"rework_count": ro["rework_count"] + 1}
        store.set_stage(self.db, ro, to, action=action, actor=who, at=now, **changes)
        self.db.commit()
        return json_response(s.QualityCheckViewSchema().dump(
            {**check, "repair_order_stage": to.value}), status=201)

    # -- settlement and hand-over --------------------------------------------------------

    @http("POST", "/repair-orders/<string:ro_id>/invoice", roles={Role.ADVISOR},
          request=s.InvoiceRequestSchema, response=s.InvoiceSchema, status=201,
          statuses=(409,), body_optional=True,
          summary="Issue the invoice: labour + parts + sundries − discount, split by pay type")
    def issue_invoice(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.InvoiceRequestSchema(), optional=True)
        ro = self._ro(request, ro_id, for_update=True)
        require_in(ro["stage"], {Stage.INVOICE}, "invoicing", work_approved=ro["work_approved"])
        if store.payments(self.db, ro_id):
            raise Conflict("payments are recorded against the invoice: it cannot be reissued")
        approved = store.lines(self.db, ro_id, status=LineStatus.APPROVED)
        sundries = [Sundry(x["description"], x["amount"], PayType(x["pay_type"]))
                    for x in payload["sundries"]]
        totals = invoice_totals(
            [BillableLine(LineKind(line["kind"]), line["amount"], PayType(line["pay_type"]),
                          line["flat_rate_hours"] or ZERO) for line in approved],
            sundries, payload["discount"])
        self.db.execute(models.invoices.delete().where(models.invoices.c.repair_order_id == ro_id))
        self.db.execute(models.invoices.insert().values(
            repair_order_id=ro_id, invoice_number=f"INV-{ro_id}",
            labour_total=totals.labour_total, parts_total=totals.parts_total,
            sundries_total=totals.sundries_total, discount_total=totals.discount_total,
            coupon_code=payload.get("coupon_code"), tax_total=totals.tax_total,
            grand_total=totals.grand_total,
            customer_pay_total=totals.by_pay_type[PayType.CUSTOMER_PAY],
            warranty_total=totals.by_pay_type[PayType.WARRANTY],
            internal_total=totals.by_pay_type[PayType.INTERNAL],
            labour_hours_sold=totals.labour_hours_sold,
            sundries=[{"description": x.description, "amount": str(x.amount),
                       "pay_type": x.pay_type.value} for x in sundries],
            issued_by=identity_of(request).subject, issued_at=_now()))
        self.db.commit()
        return json_response(self._invoice_view(ro), status=201)

    @http("GET", "/repair-orders/<string:ro_id>/invoice",
          roles={Role.ADVISOR, Role.CASHIER, Role.DEALER_MANAGER, Role.OWNER},
          response=s.InvoiceSchema, summary="The invoice with payments and balance")
    def get_invoice(self, request: Request, ro_id: str) -> Response:
        return json_response(self._invoice_view(self._ro(request, ro_id)))

    @http("POST", "/repair-orders/<string:ro_id>/payments", roles={Role.CASHIER},
          request=s.PaymentSchema, response=s.InvoiceSchema, status=201,
          statuses=(409,),
          summary="Record a payment (partial payments allowed; overpayment refused)")
    def record_payment(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.PaymentSchema())
        ro = self._ro(request, ro_id, for_update=True)
        require_in(ro["stage"], {Stage.INVOICE}, "taking payments",
                   work_approved=ro["work_approved"])
        invoice = store.invoice(self.db, ro_id)
        if invoice is None:
            raise Conflict("no invoice has been issued for this repair order yet")
        self._settlement(invoice).pay(payload["amount"])
        self.db.execute(models.payments.insert().values(
            repair_order_id=ro_id, method=payload["method"], amount=payload["amount"],
            reference=payload.get("reference"), received_by=identity_of(request).subject,
            received_at=_now()))
        self.db.commit()
        return json_response(self._invoice_view(ro), status=201)

    @http("POST", "/repair-orders/<string:ro_id>/invoice/signature",
          roles={Role.OWNER, Role.ADVISOR}, request=s.SignatureSchema, response=s.InvoiceSchema,
          statuses=(409,),
          summary="The owner signs the invoice (online, or on the counter pad with the advisor)")
    def sign_invoice(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.SignatureSchema())
        identity = identity_of(request)
        ro = self._ro(request, ro_id, for_update=True)
        require_in(ro["stage"], {Stage.INVOICE}, "signing the invoice",
                   work_approved=ro["work_approved"])
        if not identity.is_owner and not payload.get("image"):
            raise InvalidInput("image", "an in-person signature is captured as an image on the "
                                        "counter pad")
        if store.invoice(self.db, ro_id) is None:
            raise Conflict("no invoice has been issued for this repair order yet")
        sha = self._store_signature(payload, "image")
        self.db.execute(models.invoices.update().where(
            models.invoices.c.repair_order_id == ro_id).values(
            signed_by_name=payload["name"], signature_sha256=sha, signed_at=_now(),
            signed_from=request.remote_addr,
            signed_via="ONLINE" if identity.is_owner else "IN_PERSON"))
        self.db.commit()
        return json_response(self._invoice_view(ro))

    @http("POST", "/repair-orders/<string:ro_id>/hand-over", roles={Role.ADVISOR},
          request=s.HandOverSchema, response=s.RepairOrderSchema,
          statuses=(409,), body_optional=True,
          summary="Hand the vehicle over: the balance is paid and the owner has signed (交车)")
    def hand_over(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.HandOverSchema(), optional=True)
        ro = self._ro(request, ro_id, for_update=True)
        to = advance(ro["stage"], Action.HAND_OVER, work_approved=ro["work_approved"])
        invoice = store.invoice(self.db, ro_id)
        if invoice is None:
            raise Conflict("no invoice has been issued for this repair order yet")
        balance = self._settlement(invoice).balance
        if balance != 0:
            raise Conflict(f"the balance of {balance} CNY is not paid yet (尚有未结金额)",
                           balance=str(balance))
        if invoice["signed_at"] is None:
            raise Conflict("the owner has not signed the invoice yet (客户未签字)")
        mileage = payload.get("mileage_km", ro["mileage_km"])
        if mileage < ro["mileage_km"]:
            raise InvalidInput("mileage_km", f"below the {ro['mileage_km']} km at reception")
        who, now = identity_of(request).subject, _now()
        clocked = workshop.clocked_hours(store.clock_entries(self.db, ro_id), now)
        self._emit(events.VehicleDelivered, published.vehicle_delivered(
            ro, invoice, self._totals_of(invoice), mileage_km=mileage, clocked_hours=clocked,
            delivered_at=now, delivery_mode=payload["delivery_mode"]), ro_id)
        store.set_stage(self.db, ro, to, action=Action.HAND_OVER, actor=who, at=now,
                        delivered_at=now, delivery_mileage_km=mileage)
        store.remember_vehicle(self.db, vin=ro["vin"], plate=ro["plate"], model=ro["model"],
                               mileage_km=mileage, at=now)
        self.db.commit()
        return json_response(_ro_view(self.db, store.repair_order(self.db, ro_id)))

    @http("POST", "/repair-orders/<string:ro_id>/close",
          roles={Role.ADVISOR, Role.DEALER_MANAGER}, response=s.RepairOrderSchema,
          statuses=(409,),
          summary="Close a delivered repair order")
    def close_repair_order(self, request: Request, ro_id: str) -> Response:
        ro = self._ro(request, ro_id, for_update=True)
        to = advance(ro["stage"], Action.CLOSE, work_approved=ro["work_approved"])
        now = _now()
        store.set_stage(self.db, ro, to, action=Action.CLOSE, actor=identity_of(request).subject,
                        at=now, closed_at=now)
        self.db.commit()
        return json_response(_ro_view(self.db, store.repair_order(self.db, ro_id)))

    # -- events --------------------------------------------------------------------------

    @handle_event("booking", events.AppointmentBooked)
    def on_appointment_booked(self, event: dict) -> None:
        row = domain.expected_arrival(event, recorded_at=_now())
        self.db.execute(models.expected_arrivals.insert().values(**row))

    @handle_event("crm", events.RecallCampaignPublished)
    def on_recall_campaign_published(self, event: dict) -> None:
        # Parts arrive in any order and again under new ids: each is kept once.
        store.record_campaign(self.db, event["data"], recorded_at=_now())

    @handle_event("parts", events.PartIssued)
    def on_part_issued(self, event: dict) -> None:
        data = event["data"]
        if self.db.scalar(sa.select(models.part_issues.c.issue_id).where(
                models.part_issues.c.issue_id == data["issue_id"])):
            return  # the same issue under another event id
        ro_id = data["repair_order_id"]
        store.repair_order(self.db, ro_id, for_update=True)  # unknown RO: retried, dead-lettered
        line = store.line(self.db, ro_id, data["quote_line_id"])
        approved = (line is not None and line["status"] == LineStatus.APPROVED
                    and line["kind"] == LineKind.PART)
        self.db.execute(models.part_issues.insert().values(
            issue_id=data["issue_id"], repair_order_id=ro_id, line_id=data["quote_line_id"],
            part_number=data["part_number"], quantity=Decimal(data["quantity"]),
            unit=data["unit"], batch_number=data.get("batch_number"),
            serial_numbers=data.get("serial_numbers"), from_stock=data["from_stock"],
            issued_by=data["issued_by"], issued_at=datetime.fromisoformat(data["issued_at"]),
            against_approved_line=approved, recorded_at=_now()))
        if approved:
            self.db.execute(models.quote_lines.update().where(
                models.quote_lines.c.repair_order_id == ro_id,
                models.quote_lines.c.line_id == data["quote_line_id"]).values(
                issued_quantity=models.quote_lines.c.issued_quantity
                + Decimal(data["quantity"])))

    @http("GET", "/repair-orders/<string:ro_id>/part-issues", roles=WORKSHOP | {Role.PARTS_CLERK},
          response=s.PartIssueListSchema,
          summary="Parts issued to this repair order, with batch and serial numbers (溯源)")
    def part_issues(self, request: Request, ro_id: str) -> Response:
        self._ro(request, ro_id)
        rows = self.db.execute(sa.select(models.part_issues).where(
            models.part_issues.c.repair_order_id == ro_id)
            .order_by(models.part_issues.c.issued_at, models.part_issues.c.recorded_at)
        ).mappings().all()
        return json_response(s.PartIssueListSchema().dump({"repair_order_id": ro_id,
                                                           "items": rows}))

    @http("GET", "/expected-arrivals", roles={Role.ADVISOR, Role.DEALER_MANAGER},
          summary="Cars expected at this site")
    def expected_arrivals(self, request: Request) -> Response:
        table = models.expected_arrivals
        rows = self.db.execute(sa.select(table).order_by(table.c.expected_at)).mappings().all()
        return json_response({"items": s.ExpectedArrivalSchema(many=True).dump(rows)})

