"""partners' entrypoints: franchise shops get the events they are entitled to, by Standard
Webhooks and from a pull feed, redacted unless the owner consented to that shop.

Event handlers turn each event into feed messages and deliveries (committed with the inbox
row); the dispatcher's timer records answers and takes due deliveries, which the sender
sends after the tick's commit. The operator keeps the registry (roles {operator}); a partner's
system reads its feed and notices with its `partner` token.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import timer
from werkzeug.wrappers import Request, Response

from chassis.consumer import handle_event
from chassis.db import Database
from chassis.errors import InvalidInput
from chassis.http import http, identity_of, json_response, load_json, load_query
from chassis.identity import Role
from chassis.outbox import Outbox
from chassis.service import HEADQUARTERS, OwnSettings, PlatformService
from chassis.unit_of_work import UnitOfWorkProvider
from contracts import events
from partners import metrics, models, use_cases
from partners import schemas as s
from partners.sender import Sender
from partners.settings import PartnersSettings
from partners.store import PartnersUnitOfWork, partners_resources

OPERATOR = {Role.OPERATOR}
PARTNER = {Role.PARTNER}
DISPATCH_TICK_SECONDS = 0.2
BACKLOG_SECONDS = 5


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Clock(DependencyProvider):
    """What retries and leases are timed by; tests may give the service one they move."""

    def __init__(self, clock: Any = None) -> None:
        self.clock = clock or SystemClock()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.clock


def _secret_bytes() -> bytes:
    return os.urandom(32)


class PartnersService(PlatformService):
    name = "partners"
    stack = HEADQUARTERS
    operator_commands = {
        "register-partner": "partners.commands:register_partner",
        "add-endpoint": "partners.commands:add_endpoint",
        "rotate-secret": "partners.commands:rotate_secret",
        "enable-endpoint": "partners.commands:enable_endpoint",
        "replay": "partners.commands:replay",
        "partners": "partners.commands:list_partners",
    }

    db = Database(models.metadata)
    outbox = Outbox()
    uow = UnitOfWorkProvider(PartnersUnitOfWork, resources=partners_resources)
    options = OwnSettings(PartnersSettings)
    sender = Sender()
    clock = Clock()

    def _receive(self, event: dict[str, Any]) -> None:
        use_cases.receive(self.uow, event, now=self.clock.now())

    # -- every event type a partner may be entitled to (contracts.events, less NOT_SHARED) --

    @handle_event("booking", events.AppointmentBooked)
    def on_appointment_booked(self, event: dict) -> None:
        self._receive(event)

    @handle_event("booking", events.AppointmentRescheduled)
    def on_appointment_rescheduled(self, event: dict) -> None:
        self._receive(event)

    @handle_event("booking", events.AppointmentCancelled)
    def on_appointment_cancelled(self, event: dict) -> None:
        self._receive(event)

    @handle_event("booking", events.AppointmentNoShow)
    def on_appointment_no_show(self, event: dict) -> None:
        self._receive(event)

    @handle_event("booking", events.AppointmentCheckedIn)
    def on_appointment_checked_in(self, event: dict) -> None:
        self._receive(event)

    @handle_event("booking", events.AppointmentConfirmed)
    def on_appointment_confirmed(self, event: dict) -> None:
        self._receive(event)

    @handle_event("workorder", events.RepairOrderOpened)
    def on_repair_order_opened(self, event: dict) -> None:
        self._receive(event)

    @handle_event("workorder", events.InspectionUploaded)
    def on_inspection_uploaded(self, event: dict) -> None:
        self._receive(event)

    @handle_event("workorder", events.QuoteIssued)
    def on_quote_issued(self, event: dict) -> None:
        self._receive(event)

    @handle_event("workorder", events.QuoteApproved)
    def on_quote_approved(self, event: dict) -> None:
        self._receive(event)

    @handle_event("workorder", events.QualityCheckCompleted)
    def on_quality_check_completed(self, event: dict) -> None:
        self._receive(event)

    @handle_event("workorder", events.VehicleDelivered)
    def on_vehicle_delivered(self, event: dict) -> None:
        self._receive(event)

    @handle_event("parts", events.PartReserved)
    def on_part_reserved(self, event: dict) -> None:
        self._receive(event)

    @handle_event("parts", events.PartIssued)
    def on_part_issued(self, event: dict) -> None:
        self._receive(event)

    @handle_event("parts", events.StockLow)
    def on_stock_low(self, event: dict) -> None:
        self._receive(event)

    @handle_event("parts", events.PartReleased)
    def on_part_released(self, event: dict) -> None:
        self._receive(event)

    @handle_event("parts", events.PartReturned)
    def on_part_returned(self, event: dict) -> None:
        self._receive(event)

    @handle_event("parts", events.StockTransferred)
    def on_stock_transferred(self, event: dict) -> None:
        self._receive(event)

    @handle_event("crm", events.ReminderDue)
    def on_reminder_due(self, event: dict) -> None:
        self._receive(event)

    @handle_event("crm", events.SurveyAnswered)
    def on_survey_answered(self, event: dict) -> None:
        self._receive(event)

    @handle_event("crm", events.SurveyRequested)
    def on_survey_requested(self, event: dict) -> None:
        self._receive(event)

    @handle_event("crm", events.RecallCampaignPublished)
    def on_recall_campaign_published(self, event: dict) -> None:
        self._receive(event)

    @handle_event("crm", events.RecallCompleted)
    def on_recall_completed(self, event: dict) -> None:
        self._receive(event)

    # -- owners' consent to share with a partner (purpose partner:<partner id>) -------------

    @handle_event("crm", events.ConsentChanged)
    def on_consent_changed(self, event: dict) -> None:
        use_cases.consent_changed(self.uow, event)

    @handle_event("notify", events.ConsentExpressed)
    def on_consent_expressed(self, event: dict) -> None:
        use_cases.consent_changed(self.uow, event)

    # -- the dispatcher ----------------------------------------------------------------------

    @timer(interval=DISPATCH_TICK_SECONDS)
    def dispatch(self) -> None:
        if self.options.dispatch_loop:
            self._dispatch()

    def _dispatch(self) -> use_cases.DispatchRun:
        run = use_cases.dispatch(self.uow, self.options, finished=self.sender.take_finished(),
                                 room=self.sender.room(), now=self.clock.now(),
                                 draw=random.random)
        self.sender.send_after_commit(run.jobs)
        return metrics.count(run)

    @timer(interval=BACKLOG_SECONDS)
    def measure_backlog(self) -> None:
        metrics.show_backlog(use_cases.backlog(self.uow), self.clock.now())

    @http("POST", "/dispatch-runs", roles=OPERATOR, response=s.DispatchRunView,
          summary="Record the answers received and send what is due now (the timer does "
                  "this five times a second)")
    def dispatch_run(self, request: Request) -> Response:
        return json_response(s.DispatchRunView().dump(self._dispatch().as_dict()))

    # -- the registry (operator) ---------------------------------------------------------------

    @http("POST", "/partners", roles=OPERATOR, request=s.PartnerCreateSchema,
          response=s.PartnerView, status=201, statuses=(409,),
          summary="Register a partner (a franchise shop's system) and its entitlements")
    def register_partner(self, request: Request) -> Response:
        body = load_json(request, s.PARTNER_CREATE)
        made = use_cases.register_partner(
            self.uow, partner_id=body.get("partner_id"), name=body["name"],
            client_id=body["client_id"], entitlements=body["entitlements"], now=self.clock.now())
        return json_response(s.PartnerView().dump(made), status=201,
                             headers={"Location": f"/partners/{made['partner_id']}"})

    @http("GET", "/partners", roles=OPERATOR, response=s.PartnerListView,
          summary="Every partner with its entitlements and endpoints")
    def list_partners(self, request: Request) -> Response:
        return json_response(s.PartnerListView().dump({"items": use_cases.partners(self.uow)}))

    @http("GET", "/partners/<string:partner_id>", roles=OPERATOR, response=s.PartnerView,
          summary="One partner")
    def get_partner(self, request: Request, partner_id: str) -> Response:
        return json_response(s.PartnerView().dump(use_cases.partner(self.uow, partner_id)))

    @http("PUT", "/partners/<string:partner_id>/entitlements", roles=OPERATOR,
          request=s.EntitlementsSchema, response=s.PartnerView,
          summary="Replace what a partner may receive (new events only)")
    def put_entitlements(self, request: Request, partner_id: str) -> Response:
        body = load_json(request, s.ENTITLEMENTS)
        return json_response(s.PartnerView().dump(
            use_cases.set_entitlements(self.uow, partner_id, body, now=self.clock.now())))

    @http("PUT", "/partners/<string:partner_id>/active", roles=OPERATOR,
          request=s.ActiveSchema, response=s.PartnerView,
          summary="Stop (or resume) giving a partner anything")
    def put_active(self, request: Request, partner_id: str) -> Response:
        body = load_json(request, s.ACTIVE)
        return json_response(s.PartnerView().dump(
            use_cases.set_active(self.uow, partner_id, body["active"], now=self.clock.now())))

    @http("GET", "/dealers", roles=OPERATOR, response=s.RegionListView,
          summary="Dealers' regions, as partners' entitlements read them")
    def list_regions(self, request: Request) -> Response:
        return json_response({"items": use_cases.regions(self.uow)})

    @http("PUT", "/dealers/<string:dealer_code>", roles=OPERATOR, request=s.RegionSchema,
          response=s.RegionView, statuses=(422,), summary="Put a dealer in a region")
    def put_region(self, request: Request, dealer_code: str) -> Response:
        if not s.DEALER_CODE.regex.match(dealer_code):
            raise InvalidInput("dealer_code", "must be 2-12 upper-case letters or digits")
        body = load_json(request, s.REGION_REQUEST)
        return json_response(use_cases.put_region(self.uow, dealer_code, body["region"],
                                                  now=self.clock.now()))

    # -- endpoints ---------------------------------------------------------------------------

    @http("POST", "/partners/<string:partner_id>/endpoints", roles=OPERATOR,
          request=s.EndpointCreateSchema, response=s.EndpointView, status=201,
          statuses=(422,), summary="A webhook endpoint (https, public address); its signing "
                                   "secret is in this answer only")
    def add_endpoint(self, request: Request, partner_id: str) -> Response:
        body = load_json(request, s.ENDPOINT_CREATE)
        made = use_cases.add_endpoint(self.uow, self.options, partner_id, url=body["url"],
                                      types=body.get("event_types"),
                                      rate_per_second=body.get("rate_per_second"),
                                      random_bytes=_secret_bytes(), now=self.clock.now())
        return json_response(s.EndpointView().dump(made), status=201,
                             headers={"Cache-Control": "no-store"})

    @http("POST", "/endpoints/<string:endpoint_id>/secret-rotations", roles=OPERATOR,
          request=s.RotationSchema, response=s.EndpointView, body_optional=True,
          summary="A new signing secret; the previous ones sign too until the overlap ends")
    def rotate_secret(self, request: Request, endpoint_id: str) -> Response:
        body = load_json(request, s.ROTATION, optional=True)
        made = use_cases.rotate_secret(self.uow, self.options, endpoint_id,
                                       overlap_hours=body.get("overlap_hours"),
                                       random_bytes=_secret_bytes(), now=self.clock.now())
        return json_response(s.EndpointView().dump(made), headers={"Cache-Control": "no-store"})

    @http("POST", "/endpoints/<string:endpoint_id>/enable", roles=OPERATOR,
          response=s.EndpointView, summary="Back in service after it was disabled")
    def enable_endpoint(self, request: Request, endpoint_id: str) -> Response:
        return json_response(s.EndpointView().dump(
            use_cases.enable_endpoint(self.uow, endpoint_id, now=self.clock.now())))

    @http("POST", "/endpoints/<string:endpoint_id>/disable", roles=OPERATOR,
          response=s.EndpointView, summary="Send nothing more to it (the partner is told)")
    def disable_endpoint(self, request: Request, endpoint_id: str) -> Response:
        return json_response(s.EndpointView().dump(
            use_cases.disable_endpoint(self.uow, endpoint_id, now=self.clock.now())))

    @http("GET", "/endpoints/<string:endpoint_id>/deliveries", roles=OPERATOR,
          query=s.DeliveryQuerySchema, response=s.DeliveryListView,
          summary="An endpoint's deliveries, newest first")
    def list_deliveries(self, request: Request, endpoint_id: str) -> Response:
        query = load_query(request, s.DELIVERY_QUERY)
        rows = use_cases.deliveries(self.uow, endpoint_id, status=query.get("status"),
                                    limit=query["limit"])
        return json_response(s.DeliveryListView().dump({"items": rows}))

    @http("GET", "/deliveries/<int:delivery_id>/attempts", roles=OPERATOR,
          response=s.AttemptListView,
          summary="The delivery log of one delivery: status, latency, start of the answer")
    def list_attempts(self, request: Request, delivery_id: int) -> Response:
        rows = use_cases.attempts(self.uow, delivery_id)
        return json_response(s.AttemptListView().dump({"items": rows}))

    @http("POST", "/replays", roles=OPERATOR, request=s.ReplaySchema, response=s.ReplayView,
          statuses=(404, 409), summary="Send again: one message, a time range, or every "
                                       "failed one since a moment")
    def replay(self, request: Request) -> Response:
        body = load_json(request, s.REPLAY)
        ids = use_cases.replay(self.uow, body["endpoint_id"],
                               event_id=str(body["event_id"]) if body.get("event_id") else None,
                               start=body.get("from_"), end=body.get("to"),
                               failed_since=body.get("failed_since"), now=self.clock.now())
        return json_response({"replayed": len(ids), "delivery_ids": ids})

    # -- the partner's own view ------------------------------------------------------------

    @http("GET", "/feed", roles=PARTNER, query=s.FeedQuerySchema, response=s.FeedView,
          statuses=(404,), summary="The events this partner is entitled to, after a cursor "
                                   "(the same as its webhooks carry)")
    def get_feed(self, request: Request) -> Response:
        query = load_query(request, s.FEED_QUERY)
        return json_response(use_cases.feed(
            self.uow, self.options, client_id=identity_of(request).subject,
            after=int(query["after"]), limit=query["limit"]))

    @http("GET", "/notices", roles=PARTNER, response=s.NoticeListView, statuses=(404,),
          summary="What headquarters told this partner (an endpoint disabled), newest first")
    def get_notices(self, request: Request) -> Response:
        rows = use_cases.notices(self.uow, client_id=identity_of(request).subject)
        return json_response(s.NoticeListView().dump({"items": rows}))
