"""Notify's entrypoints: the owner is told where the car is, at every stage, on the channels
they chose, never at night, never twice, and marketing only with consent.

Event handlers only record what they learn (contact book, appointments, repair orders) and
queue messages (one per dedupe key); the dispatcher sends what is due — from a timer and
from `POST /dispatch-runs` — so a slow provider never holds up the event consumer.

Each entrypoint parses and authorises, calls one use case (`notify.use_cases`) and renders;
the framework commits its unit of work.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import timer
from werkzeug.wrappers import Request, Response

from chassis.consumer import handle_event
from chassis.db import Database
from chassis.errors import NotFound, Unauthorized
from chassis.http import PUBLIC, http, identity_of, json_response, load_json, load_query
from chassis.identity import Role
from chassis.outbox import Outbox
from chassis.rpc import rpc
from chassis.service import HEADQUARTERS, OwnSettings, PlatformService
from chassis.unit_of_work import UnitOfWorkProvider
from contracts import events
from notify import models, use_cases
from notify import schemas as s
from notify.channels import verify_signature
from notify.dispatch import MESSAGES, count
from notify.settings import NotifySettings, notify_resources
from notify.store import NotifyUnitOfWork

HQ_STAFF = {Role.OPERATOR, Role.OEM_ANALYST, Role.INVITATION_AGENT}
DISPATCH_INTERVAL_SECONDS = 5
UNSUBSCRIBED_PAGE = (
    "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\">"
    "<title>退订成功 / Unsubscribed</title>"
    "<p>您已退订营销消息，服务通知（如取车提醒）不受影响。</p>"
    "<p lang=\"en\">You will receive no more marketing messages; service notices "
    "(such as ready for pickup) still reach you.</p></html>")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Clock(DependencyProvider):
    """The time rules are checked against; tests give the service a clock they can move."""

    def __init__(self, clock: Any = None) -> None:
        self.clock = clock or SystemClock()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.clock


def _wall_clock() -> datetime:
    # Consent the owner expresses is stamped with the wall clock, not the dispatcher's
    # clock: the time is compared with crm's changes.
    return datetime.now(UTC)


class NotifyService(PlatformService):
    name = "notify"
    stack = HEADQUARTERS
    db = Database(models.metadata)
    outbox = Outbox()
    uow = UnitOfWorkProvider(NotifyUnitOfWork, resources=notify_resources)
    options = OwnSettings(NotifySettings)
    clock = Clock()

    # -- what notify learns and says, per event ------------------------------------------------

    @handle_event("booking", events.AppointmentBooked)
    def on_appointment_booked(self, event: dict) -> None:
        use_cases.appointment_booked(self.uow, self.options, event, now=self.clock.now())

    @handle_event("booking", events.AppointmentConfirmed)
    def on_appointment_confirmed(self, event: dict) -> None:
        use_cases.appointment_confirmed(self.uow, self.options, event, now=self.clock.now())

    @handle_event("booking", events.AppointmentRescheduled)
    def on_appointment_rescheduled(self, event: dict) -> None:
        use_cases.appointment_rescheduled(self.uow, event)

    @handle_event("booking", events.AppointmentCancelled)
    def on_appointment_cancelled(self, event: dict) -> None:
        use_cases.appointment_cancelled(self.uow, event)

    @handle_event("workorder", events.RepairOrderOpened)
    def on_repair_order_opened(self, event: dict) -> None:
        use_cases.repair_order_opened(self.uow, self.options, event, now=self.clock.now())

    @handle_event("workorder", events.InspectionUploaded)
    def on_inspection_uploaded(self, event: dict) -> None:
        use_cases.inspection_uploaded(self.uow, self.options, event, now=self.clock.now())

    @handle_event("workorder", events.QuoteIssued)
    def on_quote_issued(self, event: dict) -> None:
        use_cases.quote_issued(self.uow, self.options, event, now=self.clock.now())

    @handle_event("workorder", events.QualityCheckCompleted)
    def on_quality_check_completed(self, event: dict) -> None:
        use_cases.quality_check_completed(self.uow, self.options, event, now=self.clock.now())

    @handle_event("workorder", events.VehicleDelivered)
    def on_vehicle_delivered(self, event: dict) -> None:
        use_cases.vehicle_delivered(self.uow, event)

    @handle_event("crm", events.ReminderDue)
    def on_reminder_due(self, event: dict) -> None:
        use_cases.reminder_due(self.uow, self.options, event, now=self.clock.now())

    @handle_event("crm", events.SurveyRequested)
    def on_survey_requested(self, event: dict) -> None:
        use_cases.survey_requested(self.uow, self.options, event, now=self.clock.now())

    @handle_event("crm", events.ConsentChanged)
    def on_consent_changed(self, event: dict) -> None:
        use_cases.consent_changed(self.uow, event)

    # -- sending ----------------------------------------------------------------------------

    @timer(interval=DISPATCH_INTERVAL_SECONDS)
    def dispatch_due(self) -> None:
        if self.options.dispatch_loop:
            count(use_cases.dispatch_due(self.uow, self.options, now=self.clock.now()))

    @http("POST", "/dispatch-runs", roles={Role.OPERATOR}, response=s.DispatchRunView,
          summary="Send every message that is due now (the timer does this every few seconds)")
    def dispatch_run(self, request: Request) -> Response:
        summary = count(use_cases.dispatch_due(self.uow, self.options, now=self.clock.now()))
        return json_response(s.DispatchRunView().dump(summary.as_dict()))

    @http("GET", "/deliveries", roles=HQ_STAFF | {Role.OWNER}, query=s.DeliveryQuerySchema,
          response=s.DeliveryListView, summary="The delivery log, newest first")
    def list_deliveries(self, request: Request) -> Response:
        query = load_query(request, s.DeliveryQuerySchema())
        identity = identity_of(request)
        customer = query.get("customer")
        if identity.is_owner:
            if customer and customer != identity.subject:
                raise NotFound(f"customer {customer} not found")
            customer = identity.subject
        rows = use_cases.deliveries(self.uow, customer_id=customer, status=query.get("status"),
                                    limit=query["limit"])
        return json_response(s.DeliveryListView().dump({"deliveries": rows}))

    @http("POST", "/deliveries/<string:message_id>/retry", roles={Role.OPERATOR},
          response=s.DeliveryView, statuses=(404, 409),
          summary="Send a FAILED message again (after the provider or address is fixed)")
    def retry_delivery(self, request: Request, message_id: str) -> Response:
        row = use_cases.retry_delivery(self.uow, message_id, now=self.clock.now())
        return json_response(s.DeliveryView().dump(row))

    @rpc
    def send_one_time_code(self, phone: str, code: str, minutes: int) -> dict[str, Any]:
        """identity's owner sign-in codes, inside headquarters' stack: sent at once through
        the SMS adapter (`use_cases.send_one_time_code`); {"sent", "retryable", "error"}."""
        result = use_cases.send_one_time_code(self.uow, phone=phone, code=code,
                                              minutes=int(minutes), message_id=str(uuid.uuid4()))
        MESSAGES.labels("SMS", "sent" if result["sent"] else "failed").inc()
        return result

    # -- the customer's choices ------------------------------------------------------------

    @http("PUT", "/customers/<string:customer_id>/preferences",
          roles={Role.OWNER, Role.INVITATION_AGENT, Role.OPERATOR},
          request=s.PreferencesSchema, response=s.ContactView,
          summary="Language, time zone, channels, addresses and marketing consent")
    def put_preferences(self, request: Request, customer_id: str) -> Response:
        _own_only(request, customer_id)
        values = load_json(request, s.PreferencesSchema())
        view = use_cases.save_preferences(self.uow, self.options, customer_id, values,
                                          now=self.clock.now(), wall_clock=_wall_clock())
        return json_response(s.ContactView().dump(view))

    @http("GET", "/customers/<string:customer_id>/preferences",
          roles={Role.OWNER, Role.INVITATION_AGENT, Role.OPERATOR}, response=s.ContactView,
          summary="What the customer chose (never the phone number itself)")
    def get_preferences(self, request: Request, customer_id: str) -> Response:
        _own_only(request, customer_id)
        return json_response(s.ContactView().dump(
            use_cases.preferences(self.uow, self.options, customer_id)))

    @http("POST", "/inbound/sms", roles=PUBLIC, request=s.InboundSmsSchema,
          response=s.InboundSmsView, statuses=(401,),
          summary="SMS gateway webhook: a reply of 退订 or TD unsubscribes at once")
    def inbound_sms(self, request: Request) -> Response:
        secret = self.options.gateway_secret
        if not secret or not verify_signature(secret, request.headers.get("X-Timestamp"),
                                              request.headers.get("X-Signature"),
                                              request.get_data()):
            raise Unauthorized("the request is not signed by the SMS gateway")
        message = load_json(request, s.InboundSmsSchema())
        customers = use_cases.unsubscribe_by_sms(self.uow, message["from_"], message["text"],
                                                 now=_wall_clock())
        if customers is None:
            return json_response({"unsubscribe": False, "customers": 0})
        return json_response({"unsubscribe": True, "customers": customers})

    @http("GET", "/unsubscribe/<string:token>", roles=PUBLIC, statuses=(404,),
          summary="The unsubscribe link in marketing messages (a page in zh-CN and en)")
    def unsubscribe_link(self, request: Request, token: str) -> Response:
        use_cases.unsubscribe_by_link(self.uow, self.options.link_secret, token,
                                      now=_wall_clock())
        return Response(UNSUBSCRIBED_PAGE, content_type="text/html; charset=utf-8")

    @http("POST", "/unsubscribe/<string:token>", roles=PUBLIC, response=s.UnsubscribedView,
          statuses=(404,),
          summary="Unsubscribe by the link's token, confirmed on headquarters' portal (a GET "
                  "a mail scanner prefetches must not be what unsubscribes)")
    def unsubscribe_confirmed(self, request: Request, token: str) -> Response:
        use_cases.unsubscribe_by_link(self.uow, self.options.link_secret, token,
                                      now=_wall_clock())
        return json_response({"unsubscribed": True})


def _own_only(request: Request, customer_id: str) -> None:
    """An owner sees and changes only their own preferences (anyone else's: not found)."""
    identity = identity_of(request)
    if identity.is_owner and identity.subject != customer_id:
        raise NotFound(f"customer {customer_id} not found")
