"""crm's entrypoints (headquarters): parse and authorise → one use case (`crm.use_cases`) →
render (`crm.views`). The customer 360 projected from every dealer site's events, the
call-centre API, the daily reminder run, follow-up surveys and complaints, and online leads.

Who may call: invitation agents (the call centre: search, the 360 with full phone numbers,
consents, vehicle dates, complaints), OEM analysts (read only, phone numbers masked) and
operators (runs, campaigns). Dealer managers and advisors read their own dealer's due list and
customers as seen at their dealer (phone masked); a dealer manager also works their own
dealer's complaints. Headquarters admits dealer staff of any dealer by role
(`chassis.identity.admit`); each endpoint keeps them to their own dealer's rows.

The framework commits each call's unit of work (HTTP before the answer leaves, the timer when
its worker ends); the consumer commits the projections of site events with their inbox rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nameko.timer import timer
from werkzeug.wrappers import Request, Response

from chassis.consumer import handle_event
from chassis.db import Database
from chassis.errors import NotFound
from chassis.http import PUBLIC, http, identity_of, json_response, load_json, load_query
from chassis.identity import Role, own_dealer_only
from chassis.outbox import Outbox
from chassis.service import HEADQUARTERS, OwnSettings, PlatformService
from chassis.unit_of_work import UnitOfWorkProvider
from contracts import events
from crm import models as m
from crm import use_cases
from crm.domain import surveys
from crm.domain.customers import dealer_of, sees_full_phone
from crm.schemas import (
    CampaignRequestSchema,
    CampaignSchema,
    ComplaintCloseSchema,
    ComplaintListQuerySchema,
    ComplaintListSchema,
    ComplaintSchema,
    ConsentsRequestSchema,
    ConsentsViewSchema,
    Customer360Schema,
    CustomerListSchema,
    CustomerSearchQuerySchema,
    DueListQuerySchema,
    DueListSchema,
    LeadAssignSchema,
    LeadContactSchema,
    LeadFunnelQuerySchema,
    LeadFunnelSchema,
    LeadListQuerySchema,
    LeadListSchema,
    LeadRequestSchema,
    LeadSchema,
    ProfileRequestSchema,
    RunRequestSchema,
    RunResultSchema,
    ScheduleSchema,
    ScheduleViewSchema,
    SurveyAnsweredSchema,
    SurveyAnswerSchema,
    SurveyLinkSchema,
    SurveyRunRequestSchema,
    SurveyRunResultSchema,
    VehicleDatesSchema,
    VehicleViewSchema,
)
from crm.settings import CrmSettings, crm_resources
from crm.store import CrmUnitOfWork
from crm.views import (
    complaint_view,
    consents_view,
    customer_360,
    lead_view,
    reminder_view,
    search_view,
    survey_link_view,
    vehicle_view,
)

READERS = {Role.INVITATION_AGENT, Role.OEM_ANALYST, Role.OPERATOR}
CALL_CENTRE = {Role.INVITATION_AGENT, Role.OPERATOR}
OPERATIONS = {Role.OPERATOR}
# Dealer staff who work the dealer's own customers: reminders to call, who came in before.
DEALER_READERS = {Role.DEALER_MANAGER, Role.ADVISOR}
# A low score's complaint is owned by the dealer's service manager, who closes it.
COMPLAINT_HANDLERS = {Role.DEALER_MANAGER}
SURVEY_POLL_SECONDS = 300


def _now() -> datetime:
    return datetime.now(UTC)


class CrmService(PlatformService):
    name = "crm"
    stack = HEADQUARTERS
    # Recall campaigns and their completions: reception at every site must see a car's open
    # ones, wherever the work was done.
    downlink_events = (events.RecallCampaignPublished.type, events.RecallCompleted.type)

    db = Database(m.metadata)
    outbox = Outbox()
    uow = UnitOfWorkProvider(CrmUnitOfWork, resources=crm_resources)
    options = OwnSettings(CrmSettings)

    # -- projections of the sites' events --------------------------------------------------

    @handle_event("booking", events.AppointmentBooked)
    def on_appointment_booked(self, event: dict) -> None:
        use_cases.appointment_booked(self.uow, event)

    @handle_event("booking", events.AppointmentRescheduled)
    def on_appointment_rescheduled(self, event: dict) -> None:
        use_cases.appointment_changed(self.uow, event, event["data"]["status"],
                                      "rescheduled_at")

    @handle_event("booking", events.AppointmentConfirmed)
    def on_appointment_confirmed(self, event: dict) -> None:
        use_cases.appointment_changed(self.uow, event, "CONFIRMED", "confirmed_at")

    @handle_event("booking", events.AppointmentCancelled)
    def on_appointment_cancelled(self, event: dict) -> None:
        use_cases.appointment_changed(self.uow, event, "CANCELLED", "cancelled_at")

    @handle_event("booking", events.AppointmentNoShow)
    def on_appointment_no_show(self, event: dict) -> None:
        use_cases.appointment_changed(self.uow, event, "NO_SHOW", "recorded_at")

    @handle_event("booking", events.AppointmentCheckedIn)
    def on_appointment_checked_in(self, event: dict) -> None:
        use_cases.appointment_changed(self.uow, event, "CHECKED_IN", "checked_in_at")

    @handle_event("workorder", events.RepairOrderOpened)
    def on_repair_order_opened(self, event: dict) -> None:
        use_cases.repair_order_opened(self.uow, event)

    @handle_event("workorder", events.VehicleDelivered)
    def on_vehicle_delivered(self, event: dict) -> None:
        use_cases.vehicle_delivered(self.uow, event,
                                    survey_delay_hours=self.options.survey_delay_hours,
                                    now=_now())

    @handle_event("workorder", events.QuoteApproved)
    def on_quote_approved(self, event: dict) -> None:
        use_cases.quote_approved(self.uow, event)

    @handle_event("notify", events.ConsentExpressed)
    def on_consent_expressed(self, event: dict) -> None:
        """The owner said 退订 (or changed their preferences) at notify: crm, which owns
        consent, records it, so the next reminder run does not choose them."""
        use_cases.consent_expressed(self.uow, event)

    # -- the call centre -------------------------------------------------------------------

    @http("GET", "/customers", roles=READERS | DEALER_READERS, query=CustomerSearchQuerySchema,
          response=CustomerListSchema,
          summary="Find customers by phone, name, plate or VIN (all that are given must match); "
                  "dealer staff find only customers their dealer has served")
    def search_customers(self, request: Request) -> Response:
        query = load_query(request, CustomerSearchQuerySchema())
        identity = identity_of(request)
        found = use_cases.search_customers(self.uow, query, dealer=dealer_of(identity))
        return json_response(search_view(found, self.options.vault,
                                         full_phone=sees_full_phone(identity)))

    @http("GET", "/customers/<string:customer_id>", roles=READERS | DEALER_READERS,
          response=Customer360Schema,
          summary="The customer 360: vehicles, visits at every dealer, declined work, "
                  "appointments, reminders, surveys, complaints, consents (dealer staff: "
                  "as seen at their own dealer)")
    def get_customer(self, request: Request, customer_id: str) -> Response:
        identity = identity_of(request)
        view = use_cases.customer_360(self.uow, customer_id, dealer=dealer_of(identity))
        return json_response(customer_360(view, self.options.vault,
                                          full_phone=sees_full_phone(identity)))

    @http("PUT", "/customers/<string:customer_id>/consents", roles=CALL_CENTRE,
          request=ConsentsRequestSchema, response=ConsentsViewSchema,
          summary="Record what the customer allows, per purpose (SERVICE, MARKETING) and channel")
    def put_consents(self, request: Request, customer_id: str) -> Response:
        body = load_json(request, ConsentsRequestSchema())
        customer_id, stored = use_cases.put_consents(
            self.uow, customer_id, body["consents"], by=identity_of(request).subject,
            now=_now())
        return json_response(consents_view(customer_id, stored))

    @http("PUT", "/customers/<string:customer_id>/identity", roles=CALL_CENTRE,
          request=ProfileRequestSchema, status=204,
          summary="Record the customer's resident ID number (stored encrypted)")
    def put_identity(self, request: Request, customer_id: str) -> Response:
        body = load_json(request, ProfileRequestSchema())
        use_cases.put_identity(self.uow, customer_id, body["id_number"])
        return Response(status=204)

    @http("PUT", "/vehicles/<string:vin>/dates", roles=CALL_CENTRE, request=VehicleDatesSchema,
          response=VehicleViewSchema,
          summary="Set the vehicle's insurance expiry and annual-inspection due dates")
    def put_vehicle_dates(self, request: Request, vin: str) -> Response:
        body = load_json(request, VehicleDatesSchema())
        vehicle, visits = use_cases.put_vehicle_dates(self.uow, vin, body)
        return json_response(vehicle_view(vehicle, visits))

    # -- reminders -------------------------------------------------------------------------

    @http("POST", "/campaigns", roles=OPERATIONS, request=CampaignRequestSchema,
          response=CampaignSchema, status=201,
          summary="A recall or service campaign, by VIN list and/or model and model years; "
                  "published to the dealer sites (RecallCampaignPublished)")
    def post_campaign(self, request: Request) -> Response:
        body = load_json(request, CampaignRequestSchema())
        campaign, vins = use_cases.post_campaign(self.uow, body,
                                                 by=identity_of(request).subject, now=_now())
        return json_response({**campaign, "starts_on": campaign["starts_on"].isoformat(),
                              "vins": vins}, status=201)

    @http("PUT", "/maintenance-schedules/<string:model>", roles=OPERATIONS,
          request=ScheduleSchema, response=ScheduleViewSchema,
          summary="A model's service schedule: first at N km or M months, then every ...")
    def put_schedule(self, request: Request, model: str) -> Response:
        body = load_json(request, ScheduleSchema())
        use_cases.put_schedule(self.uow, model, body, by=identity_of(request).subject,
                               now=_now())
        return json_response({"model": model, **body})

    @http("POST", "/reminder-runs", roles=OPERATIONS, request=RunRequestSchema,
          response=RunResultSchema,
          summary="The daily run: raise every reminder due, one ReminderDue event each")
    def post_reminder_run(self, request: Request) -> Response:
        run_on = load_json(request, RunRequestSchema())["date"]
        result = use_cases.run_reminders(
            self.uow, run_on, default_km_per_day=self.options.default_km_per_day, now=_now())
        return json_response({"date": run_on.isoformat(), "raised": len(result.raised),
                              "suppressed": result.suppressed})

    @http("GET", "/due-list", roles=READERS | DEALER_READERS, query=DueListQuerySchema,
          response=DueListSchema,
          summary="A dealer's reminders due by a date, not yet turned into a booking "
                  "(dealer staff: their own dealer only)")
    def get_due_list(self, request: Request) -> Response:
        query = load_query(request, DueListQuerySchema())
        own_dealer_only(identity_of(request), query["dealer"])
        rows = use_cases.due_list(self.uow, query["dealer"], query["date"], query.get("reason"))
        return json_response({"dealer": query["dealer"], "date": query["date"].isoformat(),
                              "reminders": [reminder_view(row) for row in rows]})

    # -- follow-up surveys and complaints --------------------------------------------------

    @http("POST", "/survey-runs", roles=OPERATIONS, request=SurveyRunRequestSchema,
          body_optional=True, response=SurveyRunResultSchema,
          summary="Request every survey due by `at` (default now): one SurveyRequested each")
    def post_survey_run(self, request: Request) -> Response:
        at = load_json(request, SurveyRunRequestSchema(), optional=True)["at"] or _now()
        requested = use_cases.request_surveys(self.uow, at.astimezone(UTC),
                                              secret=self.options.survey_secret, now=_now())
        return json_response({"requested": requested})

    @timer(interval=SURVEY_POLL_SECONDS)
    def request_due_surveys(self) -> None:
        """The same as POST /survey-runs, every few minutes, so no scheduler is needed."""
        now = _now()
        use_cases.request_surveys(self.uow, now, secret=self.options.survey_secret, now=now)

    @http("GET", "/surveys/<string:token>", roles=PUBLIC, response=SurveyLinkSchema,
          statuses=(404,),
          summary="The survey a signed link opens: what it asks, whether it was answered")
    def get_survey(self, request: Request, token: str) -> Response:
        survey_id = surveys.survey_of_token(self.options.survey_secret, token)
        if survey_id is None:
            raise NotFound("no such survey")  # a forged link learns nothing
        return json_response(survey_link_view(use_cases.survey(self.uow, survey_id)))

    @http("POST", "/surveys/<string:token>", roles=PUBLIC, request=SurveyAnswerSchema,
          response=SurveyAnsweredSchema, status=201, statuses=(404, 409),
          summary="The customer answers the follow-up survey through the signed link")
    def answer_survey(self, request: Request, token: str) -> Response:
        # The signed link is the caller's authority: checked before the body is read.
        survey_id = surveys.survey_of_token(self.options.survey_secret, token)
        if survey_id is None:
            raise NotFound("no such survey")  # a forged link learns nothing
        body = load_json(request, SurveyAnswerSchema())
        answered = use_cases.answer_survey(self.uow, survey_id, body, now=_now())
        return json_response({"survey_id": answered.survey_id, "score": answered.score,
                              "complaint_id": answered.complaint_id}, status=201)

    @http("GET", "/complaints", roles=READERS | COMPLAINT_HANDLERS, query=ComplaintListQuerySchema,
          response=ComplaintListSchema,
          summary="Complaints, by dealer and status, oldest due first (a dealer manager: "
                  "their own dealer only)")
    def list_complaints(self, request: Request) -> Response:
        query = load_query(request, ComplaintListQuerySchema())
        own_dealer_only(identity_of(request), query.get("dealer"))
        rows = use_cases.list_complaints(self.uow, query.get("dealer"), query.get("status"))
        return json_response({"complaints": [complaint_view(r) for r in rows]})

    @http("POST", "/complaints/<string:complaint_id>/close",
          roles=CALL_CENTRE | COMPLAINT_HANDLERS, request=ComplaintCloseSchema,
          response=ComplaintSchema,
          summary="Close a complaint with what was done (a dealer manager: their own dealer's)")
    def close_complaint(self, request: Request, complaint_id: str) -> Response:
        body = load_json(request, ComplaintCloseSchema())
        closed = use_cases.close_complaint(self.uow, complaint_id, by=identity_of(request),
                                           resolution=body["resolution"], now=_now())
        return json_response(complaint_view(closed))

    # -- leads -----------------------------------------------------------------------------

    @http("POST", "/leads", roles=CALL_CENTRE, request=LeadRequestSchema, response=LeadSchema,
          status=201, summary="An online lead (app, WeChat, vertical media, short video, web)")
    def post_lead(self, request: Request) -> Response:
        body = load_json(request, LeadRequestSchema())
        lead = use_cases.post_lead(self.uow, body, sla_minutes=self.options.lead_sla_minutes,
                                   now=_now())
        return json_response(self._lead_view(request, lead), status=201)

    @http("GET", "/leads", roles=READERS, query=LeadListQuerySchema, response=LeadListSchema,
          summary="Leads by dealer and status; `overdue=true`: new leads past their SLA")
    def list_leads(self, request: Request) -> Response:
        query = load_query(request, LeadListQuerySchema())
        rows = use_cases.list_leads(self.uow, dealer_code=query.get("dealer"),
                                    status=query.get("status"), overdue=query["overdue"],
                                    now=_now())
        return json_response({"leads": [self._lead_view(request, r) for r in rows]})

    @http("POST", "/leads/<string:lead_id>/assign", roles=CALL_CENTRE, request=LeadAssignSchema,
          response=LeadSchema, summary="Give the lead to an invitation agent")
    def assign_lead(self, request: Request, lead_id: str) -> Response:
        body = load_json(request, LeadAssignSchema())
        lead = use_cases.assign_lead(self.uow, lead_id, body["agent"])
        return json_response(self._lead_view(request, lead))

    @http("POST", "/leads/<string:lead_id>/contacts", roles=CALL_CENTRE,
          request=LeadContactSchema, response=LeadSchema, status=201,
          summary="Record a call to the lead and its outcome (the first one decides the SLA)")
    def contact_lead(self, request: Request, lead_id: str) -> Response:
        body = load_json(request, LeadContactSchema())
        lead = use_cases.contact_lead(self.uow, lead_id, agent=identity_of(request).subject,
                                      outcome=body["outcome"], note=body.get("note"),
                                      now=_now())
        return json_response(self._lead_view(request, lead), status=201)

    @http("GET", "/lead-funnel", roles=READERS, query=LeadFunnelQuerySchema,
          response=LeadFunnelSchema,
          summary="Leads received in a period: SLA kept, lead-to-booking and to-arrival rates")
    def lead_funnel(self, request: Request) -> Response:
        query = load_query(request, LeadFunnelQuerySchema())
        return json_response(use_cases.lead_funnel(
            self.uow, start=query["start"], end=query["end"], dealer_code=query.get("dealer"),
            now=_now()))

    def _lead_view(self, request: Request, row: Any) -> dict[str, Any]:
        return lead_view(row, self.options.vault, _now(),
                         full_phone=sees_full_phone(identity_of(request)))
