"""Notify's entrypoints: the owner is told where the car is, at every stage, on the channels
they chose, never at night, never twice, and marketing only with consent.

Event handlers only record what they learn (contact book, appointments, repair orders) and
queue messages (one per dedupe key); the dispatcher sends what is due — from a timer and
from `POST /dispatch-runs` — so a slow provider never holds up the event consumer.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import timer
from werkzeug.wrappers import Request, Response

from chassis.auth import Role
from chassis.config import ConfigError
from chassis.consumer import handle_event
from chassis.db import Database
from chassis.errors import Conflict, NotFound, Unauthorized
from chassis.http import PUBLIC, http, identity_of, json_response, load_json, load_query
from chassis.outbox import Outbox
from chassis.service import PlatformService
from contracts import events
from contracts.payloads import CONSENT_CHANNELS
from notify import models, store
from notify import schemas as s
from notify.channels import ChannelAdapter, build_adapter, verify_signature
from notify.dispatch import Dispatcher, NotifyConfig
from notify.domain import (
    Channel,
    Kind,
    Purpose,
    Status,
    Waiting,
    customer_of_token,
    is_unsubscribe,
    purpose_of,
)
from notify.privacy import ContactCipher

log = logging.getLogger(__name__)

HQ_STAFF = {Role.OPERATOR, Role.OEM_ANALYST, Role.INVITATION_AGENT}
DISPATCH_INTERVAL_SECONDS = 5


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Clock(DependencyProvider):
    """The time rules are checked against; tests give the service a clock they can move."""

    def __init__(self, clock: Any = None) -> None:
        self.clock = clock or SystemClock()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.clock


class Runtime:
    def __init__(self, config: NotifyConfig, cipher: ContactCipher, link_secret: str,
                 adapters: dict[str, ChannelAdapter], gateway_secret: str | None) -> None:
        self.config, self.cipher, self.link_secret = config, cipher, link_secret
        self.adapters, self.gateway_secret = adapters, gateway_secret


class NotifyRuntime(DependencyProvider):
    """Configuration, the contact cipher and one adapter per configured channel (adapters keep
    state such as WeChat's access token, so they live as long as the container)."""

    def bind(self, container, attr_name):  # type: ignore[no-untyped-def]
        # Built while the container is built, in the caller's thread: a bad setting is one
        # ConfigError line at the command line. From `setup` (a green thread) eventlet would
        # print a traceback first.
        instance = super().bind(container, attr_name)
        instance.runtime = notify_runtime(container.config["AFTERSALES"])
        return instance

    def get_dependency(self, worker_ctx: Any) -> Runtime:
        return self.runtime


def notify_runtime(settings: Any) -> Runtime:
    """notify's runtime from `settings.extra`; ConfigError naming the first bad setting."""
    extra = settings.extra
    channels = extra.get("channels") or {}
    if not isinstance(channels, dict):
        raise ConfigError("channels: must map a channel name to its adapter settings")
    adapters = {}
    for name, config in channels.items():
        channel = str(name).upper()
        if channel not in Channel.__members__:  # only the four channels the owner can choose
            raise ConfigError(f"channels.{name}: not one of "
                              f"{', '.join(c.value for c in Channel)}")
        if not isinstance(config, dict):
            raise ConfigError(f"channels.{name}: must be a mapping with an 'adapter'")
        adapters[channel] = build_adapter(channel, dict(config))
    secret = str(extra.get("contact_secret") or settings.auth_secret)
    sms = channels.get("sms") or channels.get("SMS") or {}
    return Runtime(NotifyConfig.from_extra(extra), ContactCipher(secret),
                   str(extra.get("link_secret") or settings.auth_secret), adapters,
                   sms.get("api_secret"))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class NotifyService(PlatformService):
    name = "notify"
    db = Database(models.metadata)
    outbox = Outbox()
    clock = Clock()
    runtime = NotifyRuntime()

    # -- queueing ---------------------------------------------------------------------------

    def _queue(self, kind: Kind, event: dict[str, Any], reference: str, *,
               customer_id: str | None = None, repair_order_id: str | None = None,
               appointment_id: str | None = None, params: dict[str, Any] | None = None,
               purpose: Purpose = Purpose.SERVICE) -> None:
        config = self.runtime.config
        now = self.clock.now()
        contact = store.contact(self.db, customer_id) if customer_id else None
        chosen = (contact or {}).get("channels")
        channels = ([Channel(c) for c in chosen.split(",")] if chosen
                    else list(config.default_channels))
        due_at = config.quiet_hours.next_allowed(now, config.zone_of(contact))
        waiting = Waiting.QUIET_HOURS.value if due_at > now else None
        for channel in channels:
            store.enqueue(self.db, kind=kind, purpose=purpose, channel=channel,
                          reference=reference, dealer_code=event["dealercode"],
                          event_id=event["id"], params=params or {}, due_at=due_at, now=now,
                          customer_id=customer_id, repair_order_id=repair_order_id,
                          appointment_id=appointment_id, reason=waiting)

    # -- what notify learns and says, per event ------------------------------------------------

    @handle_event("booking", events.AppointmentBooked)
    def on_appointment_booked(self, event: dict) -> None:
        data = event["data"]
        customer = data["customer"]
        cipher = self.runtime.cipher
        store.learn_contact(self.db, customer_id=customer["customer_id"],
                            name_sealed=cipher.seal(customer["name"]),
                            phone_sealed=cipher.seal(customer["phone"]),
                            phone_hash=cipher.phone_hash(customer["phone"]),
                            learned_at=_time(data["booked_at"]), now=self.clock.now())
        store.merge_appointment(self.db, appointment_id=data["appointment_id"],
                                dealer_code=event["dealercode"], sequence=event["sequence"],
                                customer_id=customer["customer_id"],
                                plate=data["vehicle"].get("plate"),
                                slot_start=_time(data["slot_start"]))
        self._queue(Kind.BOOKING_CONFIRMED, event, data["appointment_id"],
                    customer_id=customer["customer_id"], appointment_id=data["appointment_id"],
                    params={"plate": data["vehicle"].get("plate"), "time": data["slot_start"]})

    @handle_event("booking", events.AppointmentConfirmed)
    def on_appointment_confirmed(self, event: dict) -> None:
        data = event["data"]
        store.merge_appointment(self.db, appointment_id=data["appointment_id"],
                                dealer_code=event["dealercode"], sequence=event["sequence"],
                                customer_id=data["customer_id"],
                                slot_start=_time(data["slot_start"]))
        # Same dedupe key as the booking: the owner hears "booked" once, not twice.
        self._queue(Kind.BOOKING_CONFIRMED, event, data["appointment_id"],
                    customer_id=data["customer_id"], appointment_id=data["appointment_id"],
                    params={"time": data["slot_start"]})

    @handle_event("booking", events.AppointmentRescheduled)
    def on_appointment_rescheduled(self, event: dict) -> None:
        data = event["data"]
        # The booking message, if still queued (night, late contact), names the new slot.
        store.merge_appointment(self.db, appointment_id=data["appointment_id"],
                                dealer_code=event["dealercode"], sequence=event["sequence"],
                                customer_id=data["customer_id"],
                                slot_start=_time(data["slot_start"]))

    @handle_event("booking", events.AppointmentCancelled)
    def on_appointment_cancelled(self, event: dict) -> None:
        data = event["data"]
        # A booking message not yet sent is not sent (checked when sending, so the order in
        # which booking and cancellation arrive does not matter).
        store.merge_appointment(self.db, appointment_id=data["appointment_id"],
                                dealer_code=event["dealercode"], sequence=event["sequence"],
                                customer_id=data["customer_id"],
                                cancelled_at=_time(data["cancelled_at"]))

    @handle_event("workorder", events.RepairOrderOpened)
    def on_repair_order_opened(self, event: dict) -> None:
        data = event["data"]
        store.merge_repair_order(self.db, repair_order_id=data["repair_order_id"],
                                 dealer_code=event["dealercode"], sequence=event["sequence"],
                                 customer_id=data["customer_id"], plate=data["plate"],
                                 promised_at=_time(data.get("promised_at")))
        self._queue(Kind.CAR_RECEIVED, event, data["repair_order_id"],
                    customer_id=data["customer_id"], repair_order_id=data["repair_order_id"],
                    appointment_id=data.get("appointment_id"),
                    params={"plate": data["plate"], "time": data.get("promised_at")})

    @handle_event("workorder", events.InspectionUploaded)
    def on_inspection_uploaded(self, event: dict) -> None:
        data = event["data"]
        ro_id = data["repair_order_id"]
        store.merge_repair_order(self.db, repair_order_id=ro_id,
                                 dealer_code=event["dealercode"], sequence=event["sequence"])
        link = data.get("report_url") or \
            f"{self.runtime.config.owner_app_url}/repair-orders/{ro_id}/inspection"
        self._queue(Kind.INSPECTION_READY, event, data["inspection_id"],
                    repair_order_id=ro_id, params={"link": link})

    @handle_event("workorder", events.QuoteIssued)
    def on_quote_issued(self, event: dict) -> None:
        data = event["data"]
        ro_id = data["repair_order_id"]
        store.merge_repair_order(self.db, repair_order_id=ro_id, dealer_code=event["dealercode"],
                                 sequence=event["sequence"], customer_id=data["customer_id"])
        link = f"{self.runtime.config.owner_app_url}/repair-orders/{ro_id}/quote"
        self._queue(Kind.QUOTE_WAITING, event, f"{data['quote_id']}#{data['round']}",
                    customer_id=data["customer_id"], repair_order_id=ro_id,
                    params={"link": link, "amount": data["total"]})

    @handle_event("workorder", events.QualityCheckCompleted)
    def on_quality_check_completed(self, event: dict) -> None:
        data = event["data"]
        ro_id = data["repair_order_id"]
        store.merge_repair_order(self.db, repair_order_id=ro_id, dealer_code=event["dealercode"],
                                 sequence=event["sequence"])
        # Ready for pickup when the QC inspector passes the car; the customer is found from
        # the repair order when sending (this event does not name them).
        if data["stage"] == "INSPECTOR" and data["passed"]:
            self._queue(Kind.READY_FOR_PICKUP, event, ro_id, repair_order_id=ro_id)

    @handle_event("workorder", events.VehicleDelivered)
    def on_vehicle_delivered(self, event: dict) -> None:
        data = event["data"]
        # Nothing to say (the owner has the car); it stops stale news about this repair order.
        store.merge_repair_order(self.db, repair_order_id=data["repair_order_id"],
                                 dealer_code=event["dealercode"], sequence=event["sequence"],
                                 customer_id=data["customer_id"],
                                 delivered_at=_time(data["delivered_at"]))

    @handle_event("crm", events.ReminderDue)
    def on_reminder_due(self, event: dict) -> None:
        data = event["data"]
        link = f"{self.runtime.config.owner_app_url}/bookings/new?reminder={data['reminder_id']}"
        self._queue(Kind.REMINDER_DUE, event, data["reminder_id"],
                    customer_id=data["customer_id"],
                    purpose=purpose_of(Kind.REMINDER_DUE, data["reason"]),
                    params={"link": link, "reason": data["reason"], "time": data["due_on"]})

    @handle_event("crm", events.SurveyRequested)
    def on_survey_requested(self, event: dict) -> None:
        data = event["data"]
        # The follow-up (回访) belongs to the service the customer had: not marketing.
        link = f"{self.runtime.config.owner_app_url}/surveys/{data['link_token']}"
        self._queue(Kind.SURVEY, event, data["survey_id"], customer_id=data["customer_id"],
                    repair_order_id=data["repair_order_id"], params={"link": link})

    @handle_event("crm", events.ConsentChanged)
    def on_consent_changed(self, event: dict) -> None:
        """crm owns consent: its change applies to the customer under crm's id and under each
        site's id notify may know them by. A stale or repeated change changes nothing."""
        data = event["data"]
        at = _time(data["changed_at"])
        assert at is not None
        for customer_id in dict.fromkeys([data["customer_id"], *data.get("aliases", [])]):
            store.record_consent(self.db, customer_id, data["purpose"], data["channels"],
                                 data["granted"], at, data["via"])

    def _express(self, customer_id: str, granted: bool, via: str) -> None:
        """The owner said here whether they want marketing: applied at once (it also stops
        what is already queued) and sent to crm, which owns consent and chooses reminders."""
        # The wall clock, not the dispatcher's: the time is compared with crm's changes.
        now = datetime.now(UTC)
        changed = store.record_consent(self.db, customer_id, "MARKETING", list(CONSENT_CHANNELS),
                                       granted, now, via)
        if changed:
            self.outbox.emit(events.ConsentExpressed, {
                "customer_id": customer_id, "purpose": "MARKETING", "channels": changed,
                "granted": granted, "via": via, "expressed_at": now.isoformat()},
                subject=customer_id, correlation_id=customer_id)

    # -- sending ----------------------------------------------------------------------------

    def _dispatcher(self) -> Dispatcher:
        runtime = self.runtime
        return Dispatcher(self.db, runtime.adapters, runtime.config, runtime.cipher,
                          runtime.link_secret)

    @timer(interval=DISPATCH_INTERVAL_SECONDS)
    def dispatch_due(self) -> None:
        if self.runtime.config.dispatch_loop:
            self._dispatcher().run(self.clock.now())

    @http("POST", "/dispatch-runs", roles={Role.OPERATOR}, response=s.DispatchRunView,
          summary="Send every message that is due now (the timer does this every few seconds)")
    def dispatch_run(self, request: Request) -> Response:
        summary = self._dispatcher().run(self.clock.now())
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
        rows = store.deliveries(self.db, customer_id=customer, status=query.get("status"),
                                limit=query["limit"])
        return json_response(s.DeliveryListView().dump({"deliveries": rows}))

    @http("POST", "/deliveries/<string:message_id>/retry", roles={Role.OPERATOR},
          response=s.DeliveryView, statuses=(404, 409),
          summary="Send a FAILED message again (after the provider or address is fixed)")
    def retry_delivery(self, request: Request, message_id: str) -> Response:
        row = store.delivery(self.db, message_id)
        if row is None:
            raise NotFound(f"message {message_id} not found")
        if row["status"] != Status.FAILED.value:
            raise Conflict(f"only a FAILED message can be retried; this one is {row['status']}",
                           status=row["status"])
        store.update_delivery(self.db, row["id"], status=Status.QUEUED.value, attempts=0,
                              reason=None, due_at=self.clock.now())
        self.db.commit()
        return json_response(s.DeliveryView().dump(store.delivery(self.db, message_id)))

    # -- the customer's choices ------------------------------------------------------------

    @http("PUT", "/customers/<string:customer_id>/preferences",
          roles={Role.OWNER, Role.INVITATION_AGENT, Role.OPERATOR},
          request=s.PreferencesSchema, response=s.ContactView,
          summary="Language, time zone, channels, addresses and marketing consent")
    def put_preferences(self, request: Request, customer_id: str) -> Response:
        identity = identity_of(request)
        if identity.is_owner and identity.subject != customer_id:
            raise NotFound(f"customer {customer_id} not found")
        values = dict(load_json(request, s.PreferencesSchema()))
        if "channels" in values:
            values["channels"] = ",".join(dict.fromkeys(values["channels"]))
        consent = values.pop("marketing_consent", None)
        row = store.save_preferences(self.db, customer_id, values, self.clock.now())
        if consent is not None:
            # A new, explicit consent lifts an old 退订; crm records either.
            self._express(customer_id, consent, "PREFERENCES")
        self.db.commit()
        return json_response(self._contact_view(row))

    @http("GET", "/customers/<string:customer_id>/preferences",
          roles={Role.OWNER, Role.INVITATION_AGENT, Role.OPERATOR}, response=s.ContactView,
          summary="What the customer chose (never the phone number itself)")
    def get_preferences(self, request: Request, customer_id: str) -> Response:
        identity = identity_of(request)
        found = store.contact(self.db, customer_id)
        if found is None or (identity.is_owner and identity.subject != customer_id):
            raise NotFound(f"customer {customer_id} not found")
        return json_response(self._contact_view(found))

    def _contact_view(self, row: dict[str, Any]) -> dict[str, Any]:
        channels = (row["channels"].split(",") if row.get("channels")
                    else [c.value for c in self.runtime.config.default_channels])
        marketing = [granted for (purpose, _), granted
                     in store.consents(self.db, row["customer_id"]).items()
                     if purpose == "MARKETING"]
        return s.ContactView().dump({
            **row, "channels": channels, "marketing_consent": any(marketing),
            "unsubscribed": bool(marketing) and not any(marketing),
            "phone_known": row.get("phone_sealed") is not None})

    @http("POST", "/inbound/sms", roles=PUBLIC, request=s.InboundSmsSchema,
          response=s.InboundSmsView, statuses=(401,),
          summary="SMS gateway webhook: a reply of 退订 or TD unsubscribes at once")
    def inbound_sms(self, request: Request) -> Response:
        secret = self.runtime.gateway_secret
        if not secret or not verify_signature(secret, request.headers.get("X-Timestamp"),
                                              request.headers.get("X-Signature"),
                                              request.get_data()):
            raise Unauthorized("the request is not signed by the SMS gateway")
        message = load_json(request, s.InboundSmsSchema())
        if not is_unsubscribe(message["text"]):
            return json_response({"unsubscribe": False, "customers": 0})
        customers = store.customers_with_phone(self.db,
                                               self.runtime.cipher.phone_hash(message["from_"]))
        for customer_id in customers:
            self._express(customer_id, False, "SMS_REPLY")
        self.db.commit()
        log.info("unsubscribe by SMS reply for %d customer(s)", len(customers))
        return json_response({"unsubscribe": True, "customers": len(customers)})

    @http("GET", "/unsubscribe/<string:token>", roles=PUBLIC, statuses=(404,),
          summary="The unsubscribe link in marketing messages (a page in zh-CN and en)")
    def unsubscribe_link(self, request: Request, token: str) -> Response:
        customer_id = customer_of_token(self.runtime.link_secret, token)
        if customer_id is None or store.contact(self.db, customer_id) is None:
            raise NotFound("this unsubscribe link is not valid")
        self._express(customer_id, False, "UNSUBSCRIBE_LINK")
        self.db.commit()
        page = ("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\">"
                "<title>退订成功 / Unsubscribed</title>"
                "<p>您已退订营销消息，服务通知（如取车提醒）不受影响。</p>"
                "<p lang=\"en\">You will receive no more marketing messages; service notices "
                "(such as ready for pickup) still reach you.</p></html>")
        return Response(page, content_type="text/html; charset=utf-8")
