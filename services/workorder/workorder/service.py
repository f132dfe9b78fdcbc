"""Workorder's entrypoints, reception to hand-over: each parses and authorises the call, runs
one use case (`workorder.use_cases`) in the call's unit of work and renders the answer; the
framework commits when the entrypoint returns, before the answer leaves."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from chassis.consumer import handle_event
from chassis.db import Database
from chassis.errors import InvalidInput
from chassis.http import PUBLIC, http, identity_of, json_response, load_json, load_query
from chassis.identity import Role
from chassis.outbox import Outbox
from chassis.service import SITE, OwnSettings, PlatformService
from chassis.unit_of_work import UnitOfWorkProvider
from contracts import events
from workorder import board_api, models, online_payment_api, recall_api, store, web
from workorder import schemas as s
from workorder import use_cases as uc
from workorder.domain import inspection as insp
from workorder.parts_desk import PartsDesk
from workorder.settings import WorkorderSettings

STAFF = {Role.ADVISOR, Role.TECHNICIAN, Role.QC_INSPECTOR, Role.CASHIER, Role.DEALER_MANAGER}
STAFF_AND_OWNER = STAFF | {Role.OWNER}
WORKSHOP = {Role.ADVISOR, Role.TECHNICIAN, Role.QC_INSPECTOR, Role.DEALER_MANAGER}
_now = web.now  # the clock every entrypoint reads


class WorkorderService(online_payment_api.OnlinePaymentEntrypoints,
                       board_api.WorkshopBoardEntrypoints, recall_api.RecallEntrypoints,
                       PlatformService):
    name = "workorder"
    stack = SITE

    db = Database(models.metadata)
    outbox = Outbox()
    uow = UnitOfWorkProvider(store.WorkorderUnitOfWork, resources=store.resources)
    options = OwnSettings(WorkorderSettings)
    parts = PartsDesk("parts", timeout=2)

    # -- reception -----------------------------------------------------------------------

    @http("POST", "/repair-orders", roles={Role.ADVISOR}, request=s.ReceptionSchema,
          response=s.RepairOrderSchema, status=201, statuses=(409,),
          summary="Receive a vehicle and open its repair order (from an appointment or walk-in)")
    def open_repair_order(self, request: Request) -> Response:
        view = uc.open_repair_order(
            self.uow, reception=load_json(request, s.ReceptionSchema()),
            advisor=identity_of(request).subject, dealer_code=self.settings.dealer_code,
            time_zone=self.settings.time_zone, now=_now())
        return json_response(s.repair_order_view(view), status=201,
                             headers={"Location": f"/repair-orders/{view.repair_order['id']}"})

    @http("GET", "/repair-orders", roles=STAFF_AND_OWNER, query=s.RepairOrderQuerySchema,
          response=s.RepairOrderListSchema,
          summary="Repair orders (filter: stage, vin); an owner sees only their own")
    def list_repair_orders(self, request: Request) -> Response:
        filters = load_query(request, s.RepairOrderQuerySchema())
        views = uc.list_repair_orders(self.uow, viewer=identity_of(request),
                                      stage=filters.get("stage"), vin=filters.get("vin"),
                                      limit=filters["limit"])
        return json_response({"items": [s.repair_order_view(view) for view in views]})

    @http("GET", "/repair-orders/<string:ro_id>", roles=STAFF_AND_OWNER,
          response=s.RepairOrderSchema, summary="One repair order, its stage and next steps")
    def get_repair_order(self, request: Request, ro_id: str) -> Response:
        return json_response(s.repair_order_view(uc.get_repair_order(
            self.uow, viewer=identity_of(request), ro_id=ro_id,
            time_zone=self.settings.time_zone, now=_now())))

    @http("POST", "/repair-orders/<string:ro_id>/cancel", roles={Role.ADVISOR},
          request=s.CancelSchema, response=s.RepairOrderSchema, statuses=(409,),
          summary="Cancel a repair order before any work was approved")
    def cancel_repair_order(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.CancelSchema())
        return json_response(s.repair_order_view(uc.cancel_repair_order(
            self.uow, actor=identity_of(request), ro_id=ro_id, reason=payload["reason"],
            now=_now())))

    # -- inspection ----------------------------------------------------------------------

    @http("GET", "/checklist-templates", roles=WORKSHOP,
          response=s.ChecklistTemplateListSchema, summary="Inspection checklist templates")
    def checklist_templates(self, request: Request) -> Response:
        return json_response(s.ChecklistTemplateListSchema().dump(uc.checklist_templates(self.uow)))

    @http("POST", "/repair-orders/<string:ro_id>/inspection",
          roles={Role.TECHNICIAN, Role.ADVISOR}, request=s.StartInspectionSchema,
          response=s.InspectionSchema, status=201, statuses=(409,), body_optional=True,
          summary="Start the multi-point inspection from a checklist template")
    def start_inspection(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.StartInspectionSchema(), optional=True)
        return json_response(s.InspectionSchema().dump(uc.start_inspection(
            self.uow, actor=identity_of(request), ro_id=ro_id,
            template_code=payload.get("template_code"), now=_now())), status=201)

    @http("PUT", "/repair-orders/<string:ro_id>/inspection/items/<string:code>",
          roles={Role.TECHNICIAN}, request=s.InspectionResultSchema,
          response=s.InspectionSchema, statuses=(409,),
          summary="Record one checklist item: GREEN / YELLOW / RED, notes, photos")
    def record_inspection_item(self, request: Request, ro_id: str, code: str) -> Response:
        payload = load_json(request, s.InspectionResultSchema())
        if s.CODE.regex.fullmatch(code) is None:
            raise InvalidInput("code", "1-32 characters A-Z 0-9 _ . - starting with A-Z or 0-9")
        return json_response(s.InspectionSchema().dump(uc.record_inspection_item(
            self.uow, actor=identity_of(request), ro_id=ro_id, code=code, result=payload,
            now=_now())))

    @http("POST", "/repair-orders/<string:ro_id>/inspection/submit", roles={Role.TECHNICIAN},
          response=s.InspectionSchema, statuses=(409,),
          summary="Submit the inspection: the owner can see it, the advisor builds the quote")
    def submit_inspection(self, request: Request, ro_id: str) -> Response:
        return json_response(s.InspectionSchema().dump(uc.submit_inspection(
            self.uow, actor=identity_of(request), ro_id=ro_id,
            owner_portal_url=self.options.owner_portal_url,
            link_ttl_seconds=self.options.report_link_ttl_seconds, now=_now())))

    @http("GET", "/repair-orders/<string:ro_id>/inspection", roles=STAFF_AND_OWNER,
          response=s.InspectionSchema, summary="The inspection and its results")
    def get_inspection(self, request: Request, ro_id: str) -> Response:
        return json_response(s.InspectionSchema().dump(uc.get_inspection(
            self.uow, viewer=identity_of(request), ro_id=ro_id)))

    @http("POST", "/repair-orders/<string:ro_id>/inspection/report-link",
          roles={Role.ADVISOR, Role.OWNER}, response=s.ReportLinkSchema, status=201,
          statuses=(409,),
          summary="A signed, expiring link to the inspection report, opened without login")
    def inspection_report_link(self, request: Request, ro_id: str) -> Response:
        return json_response(uc.inspection_report_link(
            self.uow, viewer=identity_of(request), ro_id=ro_id,
            link_ttl_seconds=self.options.report_link_ttl_seconds, now=_now()), status=201)

    @http("GET", "/inspection-reports/<string:token>", roles=PUBLIC,
          response=s.InspectionReportSchema, statuses=(403, 404),
          summary="The owner's inspection report: the link's signed token is the permission")
    def inspection_report(self, request: Request, token: str) -> Response:
        report = uc.inspection_report(self.uow, token=token)
        return web.private(s.InspectionReportSchema().dump(report))

    # -- photos --------------------------------------------------------------------------

    @http("POST", "/repair-orders/<string:ro_id>/photos", roles={Role.TECHNICIAN, Role.ADVISOR},
          response=s.PhotoSchema, status=201, statuses=(409, 422),
          summary="Upload a photo (raw body; image/jpeg, image/png, image/webp, image/heic)")
    def upload_photo(self, request: Request, ro_id: str) -> Response:
        limit = self.options.max_photo_bytes
        insp.check_photo_size(request.content_length, limit)  # refuse before reading it all
        photo, created = uc.upload_photo(
            self.uow, actor=identity_of(request), ro_id=ro_id, content_type=request.mimetype,
            body=request.stream.read(limit + 1), max_bytes=limit, now=_now())
        return json_response(s.PhotoSchema().dump(photo), status=201 if created else 200)

    @http("GET", "/repair-orders/<string:ro_id>/photos/<string:content_hash>",
          roles=STAFF_AND_OWNER, summary="A photo of this repair order")
    def get_photo(self, request: Request, ro_id: str, content_hash: str) -> Response:
        return web.photo(*uc.photo(self.uow, viewer=identity_of(request), ro_id=ro_id,
                                   sha256=content_hash), content_hash)

    @http("GET", "/photos/<string:content_hash>", roles=PUBLIC, statuses=(403, 404),
          summary="A photo of an inspection report (?token= from the report link)")
    def get_report_photo(self, request: Request, content_hash: str) -> Response:
        return web.photo(*uc.report_photo(self.uow, token=request.args.get("token"),
                                          sha256=content_hash), content_hash)

    # -- quote ---------------------------------------------------------------------------

    @http("POST", "/repair-orders/<string:ro_id>/quote-lines", roles={Role.ADVISOR},
          request=s.QuoteLinesSchema, response=s.QuoteSchema, status=201, statuses=(409, 503),
          summary="Add labour and part lines to the quote being built (parts are priced by "
                  "the parts service)")
    def add_quote_lines(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.QuoteLinesSchema())
        return json_response(s.QuoteSchema().dump(uc.add_quote_lines(
            self.uow, self.parts, actor=identity_of(request), ro_id=ro_id,
            lines=payload["lines"], labour_rate=self.options.default_labour_rate,
            now=_now())), status=201)

    @http("DELETE", "/repair-orders/<string:ro_id>/quote-lines/<string:line_id>",
          roles={Role.ADVISOR}, response=s.QuoteSchema, statuses=(409,),
          summary="Remove a draft line from the quote being built")
    def remove_quote_line(self, request: Request, ro_id: str, line_id: str) -> Response:
        return json_response(s.QuoteSchema().dump(uc.remove_quote_line(
            self.uow, actor=identity_of(request), ro_id=ro_id, line_id=line_id)))

    @http("POST", "/repair-orders/<string:ro_id>/quote/send", roles={Role.ADVISOR},
          response=s.QuoteSchema, statuses=(409,),
          summary="Send the quote round to the owner, who approves or declines each line")
    def send_quote(self, request: Request, ro_id: str) -> Response:
        return json_response(s.QuoteSchema().dump(uc.send_quote(
            self.uow, actor=identity_of(request), ro_id=ro_id,
            owner_portal_url=self.options.owner_portal_url,
            link_ttl_seconds=self.options.quote_link_ttl_seconds, now=_now())))

    @http("GET", "/repair-orders/<string:ro_id>/quote", roles=STAFF_AND_OWNER,
          response=s.QuoteSchema, summary="The quote: every round and line with its status")
    def get_quote(self, request: Request, ro_id: str) -> Response:
        return json_response(s.QuoteSchema().dump(uc.get_quote(
            self.uow, viewer=identity_of(request), ro_id=ro_id)))

    @http("POST", "/repair-orders/<string:ro_id>/quote/approval",
          roles={Role.OWNER, Role.ADVISOR}, request=s.ApprovalSchema, response=s.QuoteSchema,
          statuses=(409,),
          summary="The owner approves or declines each line and signs (or the advisor records "
                  "a phone approval)")
    def approve_quote(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.ApprovalSchema())
        return json_response(s.QuoteSchema().dump(uc.approve_quote(
            self.uow, actor=identity_of(request), ro_id=ro_id, **web.approval(payload, request),
            now=_now())))

    @http("GET", "/quote-links/<string:grant>", roles=PUBLIC, response=s.QuoteLinkSchema,
          statuses=(404,), summary="The quote round the owner's signed link asks them to decide")
    def quote_by_link(self, request: Request, grant: str) -> Response:
        view = uc.quote_by_link(self.uow, token=grant, now=_now())
        return web.private(s.QuoteLinkSchema().dump(view))

    @http("POST", "/quote-links/<string:grant>/approval", roles=PUBLIC,
          request=s.ApprovalSchema, response=s.QuoteLinkSchema, statuses=(404, 409),
          summary="The owner decides each line and signs through their signed quote link")
    def approve_quote_by_link(self, request: Request, grant: str) -> Response:
        payload = load_json(request, s.ApprovalSchema())
        return web.private(s.QuoteLinkSchema().dump(uc.approve_quote_by_link(
            self.uow, token=grant, **web.approval(payload, request), now=_now())))

    @http("POST", "/repair-orders/<string:ro_id>/additional-work",
          roles={Role.ADVISOR, Role.TECHNICIAN}, response=s.RepairOrderSchema, statuses=(409,),
          summary="Additional work found during the repair: open a new quote round (增修)")
    def add_work(self, request: Request, ro_id: str) -> Response:
        return json_response(s.repair_order_view(uc.add_work(
            self.uow, actor=identity_of(request), ro_id=ro_id, now=_now())))

    # -- dispatch and labour ---------------------------------------------------------------

    @http("POST", "/technicians", roles={Role.DEALER_MANAGER}, request=s.TechnicianSchema,
          response=s.TechnicianViewSchema, status=201, statuses=(409,),
          summary="Add a technician to this site's roster, with skills")
    def add_technician(self, request: Request) -> Response:
        payload = load_json(request, s.TechnicianSchema())
        return json_response(s.TechnicianViewSchema().dump(uc.add_technician(
            self.uow, technician_id=payload["id"], name=payload["name"],
            skills=payload["skills"], now=_now())), status=201)

    @http("GET", "/technicians", roles=WORKSHOP, response=s.TechnicianListSchema,
          summary="The technicians of this site with their current load (flat-rate hours)")
    def list_technicians(self, request: Request) -> Response:
        return json_response(s.TechnicianListSchema().dump(uc.list_technicians(self.uow)))

    @http("GET", "/repair-orders/<string:ro_id>/jobs", roles=WORKSHOP, response=s.JobListSchema,
          summary="Jobs (approved labour lines) with technician, status and clocked hours")
    def list_jobs(self, request: Request, ro_id: str) -> Response:
        return json_response(s.JobListSchema().dump(uc.list_jobs(
            self.uow, viewer=identity_of(request), ro_id=ro_id, now=_now())))

    @http("POST", "/repair-orders/<string:ro_id>/jobs/<string:line_id>/assign",
          roles={Role.ADVISOR, Role.DEALER_MANAGER}, request=s.AssignSchema,
          response=s.JobSchema, statuses=(409,), body_optional=True,
          summary="Assign a job: the least-loaded qualified technician, or the one named")
    def assign_job(self, request: Request, ro_id: str, line_id: str) -> Response:
        payload = load_json(request, s.AssignSchema(), optional=True)
        return json_response(s.JobSchema().dump(uc.assign_job(
            self.uow, actor=identity_of(request), ro_id=ro_id, line_id=line_id,
            technician_id=payload.get("technician_id"), now=_now())))

    @http("POST", "/repair-orders/<string:ro_id>/jobs/<string:line_id>/clock-on",
          roles={Role.TECHNICIAN}, response=s.JobSchema, statuses=(409,),
          summary="Clock on a job (only an approved line; one open clock per technician)")
    def clock_on(self, request: Request, ro_id: str, line_id: str) -> Response:
        return json_response(s.JobSchema().dump(uc.clock_on(
            self.uow, actor=identity_of(request), ro_id=ro_id, line_id=line_id, now=_now())))

    @http("POST", "/repair-orders/<string:ro_id>/jobs/<string:line_id>/clock-off",
          roles={Role.TECHNICIAN}, request=s.ClockOffSchema, response=s.JobSchema,
          statuses=(409,), body_optional=True,
          summary="Clock off a job; completed=true marks it finished")
    def clock_off(self, request: Request, ro_id: str, line_id: str) -> Response:
        payload = load_json(request, s.ClockOffSchema(), optional=True)
        return json_response(s.JobSchema().dump(uc.clock_off(
            self.uow, actor=identity_of(request), ro_id=ro_id, line_id=line_id,
            completed=payload["completed"], now=_now())))

    # -- quality check -------------------------------------------------------------------

    @http("POST", "/repair-orders/<string:ro_id>/self-check", roles={Role.TECHNICIAN},
          request=s.QualityCheckSchema, response=s.QualityCheckViewSchema, status=201,
          statuses=(409,),
          summary="The technician's self-check (自检): passed sends the car to the QC inspector")
    def self_check(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.QualityCheckSchema())
        return json_response(s.QualityCheckViewSchema().dump(uc.self_check(
            self.uow, actor=identity_of(request), ro_id=ro_id, check=payload, now=_now())),
            status=201)

    @http("POST", "/repair-orders/<string:ro_id>/inspector-check", roles={Role.QC_INSPECTOR},
          request=s.QualityCheckSchema, response=s.QualityCheckViewSchema, status=201,
          statuses=(409,),
          summary="The QC inspector's check (终检): pass to settlement, or fail back to work")
    def inspector_check(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.QualityCheckSchema())
        return json_response(s.QualityCheckViewSchema().dump(uc.inspector_check(
            self.uow, actor=identity_of(request), ro_id=ro_id, check=payload, now=_now())),
            status=201)

    # -- settlement and hand-over --------------------------------------------------------

    @http("POST", "/repair-orders/<string:ro_id>/invoice", roles={Role.ADVISOR},
          request=s.InvoiceRequestSchema, response=s.InvoiceSchema, status=201,
          statuses=(409,), body_optional=True,
          summary="Issue the invoice: labour + parts + sundries − discount, split by pay type")
    def issue_invoice(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.InvoiceRequestSchema(), optional=True)
        return json_response(s.InvoiceSchema().dump(uc.issue_invoice(
            self.uow, actor=identity_of(request), ro_id=ro_id, sundries=payload["sundries"],
            discount=payload["discount"], coupon_code=payload.get("coupon_code"),
            now=_now())), status=201)

    @http("GET", "/repair-orders/<string:ro_id>/invoice",
          roles={Role.ADVISOR, Role.CASHIER, Role.DEALER_MANAGER, Role.OWNER},
          response=s.InvoiceSchema, summary="The invoice with payments and balance")
    def get_invoice(self, request: Request, ro_id: str) -> Response:
        return json_response(s.InvoiceSchema().dump(uc.get_invoice(
            self.uow, viewer=identity_of(request), ro_id=ro_id)))

    @http("POST", "/repair-orders/<string:ro_id>/payments", roles={Role.CASHIER},
          request=s.PaymentSchema, response=s.InvoiceSchema, status=201, statuses=(409,),
          summary="Record a payment (partial payments allowed; overpayment refused)")
    def record_payment(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.PaymentSchema())
        return json_response(s.InvoiceSchema().dump(uc.record_payment(
            self.uow, actor=identity_of(request), ro_id=ro_id, method=payload["method"],
            amount=payload["amount"], reference=payload.get("reference"), now=_now())), status=201)

    @http("POST", "/repair-orders/<string:ro_id>/invoice/signature",
          roles={Role.OWNER, Role.ADVISOR}, request=s.SignatureSchema, response=s.InvoiceSchema,
          statuses=(409,),
          summary="The owner signs the invoice (online, or on the counter pad with the advisor)")
    def sign_invoice(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.SignatureSchema())
        return json_response(s.InvoiceSchema().dump(uc.sign_invoice(
            self.uow, actor=identity_of(request), ro_id=ro_id, signature=payload,
            signed_from=request.remote_addr, now=_now())))

    @http("POST", "/repair-orders/<string:ro_id>/hand-over", roles={Role.ADVISOR},
          request=s.HandOverSchema, response=s.RepairOrderSchema,
          statuses=(409,), body_optional=True,
          summary="Hand the vehicle over: the balance is paid and the owner has signed (交车)")
    def hand_over(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.HandOverSchema(), optional=True)
        return json_response(s.repair_order_view(uc.hand_over(
            self.uow, actor=identity_of(request), ro_id=ro_id,
            mileage_km=payload.get("mileage_km"), delivery_mode=payload["delivery_mode"],
            now=_now())))

    @http("POST", "/repair-orders/<string:ro_id>/close",
          roles={Role.ADVISOR, Role.DEALER_MANAGER}, response=s.RepairOrderSchema, statuses=(409,),
          summary="Close a delivered repair order")
    def close_repair_order(self, request: Request, ro_id: str) -> Response:
        return json_response(s.repair_order_view(uc.close_repair_order(
            self.uow, actor=identity_of(request), ro_id=ro_id, now=_now())))

    # -- events --------------------------------------------------------------------------

    @handle_event("booking", events.AppointmentBooked)
    def on_appointment_booked(self, event: dict) -> None:
        uc.expect_arrival(self.uow, event=event, now=_now())

    @handle_event("parts", events.PartIssued)
    def on_part_issued(self, event: dict) -> None:
        uc.record_part_issue(self.uow, data=event["data"], now=_now())

    @http("GET", "/repair-orders/<string:ro_id>/part-issues", roles=WORKSHOP | {Role.PARTS_CLERK},
          response=s.PartIssueListSchema,
          summary="Parts issued to this repair order, with batch and serial numbers (溯源)")
    def part_issues(self, request: Request, ro_id: str) -> Response:
        return json_response(s.PartIssueListSchema().dump(uc.part_issues(
            self.uow, viewer=identity_of(request), ro_id=ro_id)))

    @http("GET", "/expected-arrivals", roles={Role.ADVISOR, Role.DEALER_MANAGER},
          summary="Cars expected at this site")
    def expected_arrivals(self, request: Request) -> Response:
        arrivals = uc.expected_arrivals(self.uow)
        return json_response({"items": s.ExpectedArrivalSchema(many=True).dump(arrivals)})
