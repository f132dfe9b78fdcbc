"""notify's service layer: what it learns from the sites' and crm's events, the messages it
queues, the dispatcher that sends what is due, and the owner's choices.

Every function works in the unit of work it is given (`NotifyUnitOfWork`, or a fake one in
the unit tests) and never commits: the framework commits when the entrypoint returns.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chassis.errors import Conflict, NotFound
from chassis.logs import mask_personal
from contracts import events
from contracts.payloads import CONSENT_CHANNELS, CONSENT_PURPOSES
from notify.channels import OutboundMessage
from notify.domain import (
    ONE_TIME_CODE,
    Channel,
    Circumstances,
    Defer,
    Kind,
    Pending,
    Purpose,
    Send,
    Status,
    Suppress,
    Waiting,
    after_attempt,
    compose,
    customer_of_token,
    decide,
    is_unsubscribe,
    one_time_code_text,
    purpose_of,
    restore_bucket,
    unsubscribe_token,
)
from notify.settings import NotifySettings

if TYPE_CHECKING:  # the store's SQLAlchemy stays out of the service layer
    from notify.store import NotifyUnitOfWork

log = logging.getLogger(__name__)
Event = dict[str, Any]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# -- queueing ------------------------------------------------------------------------------


def queue(uow: NotifyUnitOfWork, options: NotifySettings, kind: Kind, event: Event,
          reference: str, *, now: datetime, customer_id: str | None = None,
          repair_order_id: str | None = None, appointment_id: str | None = None,
          params: dict[str, Any] | None = None, purpose: Purpose = Purpose.SERVICE) -> None:
    """One message per channel the customer chose (else the default ones), due at once or
    when the quiet hours end in the customer's zone; once per dedupe key."""
    contact = uow.contacts.get(customer_id) if customer_id else None
    chosen = (contact or {}).get("channels")
    channels = ([Channel(c) for c in chosen.split(",")] if chosen
                else list(options.default_channels))
    due_at = options.quiet_hours.next_allowed(now, options.zone_of(contact))
    waiting = Waiting.QUIET_HOURS.value if due_at > now else None
    for channel in channels:
        uow.deliveries.enqueue(kind=kind, purpose=purpose, channel=channel, reference=reference,
                               dealer_code=event["dealercode"], event_id=event["id"],
                               params=params or {}, due_at=due_at, now=now,
                               customer_id=customer_id, repair_order_id=repair_order_id,
                               appointment_id=appointment_id, reason=waiting)


# -- what notify learns and says, per event ------------------------------------------------


def appointment_booked(uow: NotifyUnitOfWork, options: NotifySettings, event: Event, *,
                       now: datetime) -> None:
    data = event["data"]
    customer = data["customer"]
    uow.contacts.learn(customer_id=customer["customer_id"],
                       name_sealed=uow.cipher.seal(customer["name"]),
                       phone_sealed=uow.cipher.seal(customer["phone"]),
                       phone_hash=uow.cipher.phone_hash(customer["phone"]),
                       learned_at=_time(data["booked_at"]), now=now)  # type: ignore[arg-type]
    uow.site.merge_appointment(appointment_id=data["appointment_id"],
                               dealer_code=event["dealercode"], sequence=event["sequence"],
                               customer_id=customer["customer_id"],
                               plate=data["vehicle"].get("plate"),
                               slot_start=_time(data["slot_start"]))
    queue(uow, options, Kind.BOOKING_CONFIRMED, event, data["appointment_id"], now=now,
          customer_id=customer["customer_id"], appointment_id=data["appointment_id"],
          params={"plate": data["vehicle"].get("plate"), "time": data["slot_start"]})


def appointment_confirmed(uow: NotifyUnitOfWork, options: NotifySettings, event: Event, *,
                          now: datetime) -> None:
    data = event["data"]
    uow.site.merge_appointment(appointment_id=data["appointment_id"],
                               dealer_code=event["dealercode"], sequence=event["sequence"],
                               customer_id=data["customer_id"],
                               slot_start=_time(data["slot_start"]))
    # Same dedupe key as the booking: the owner hears "booked" once, not twice.
    queue(uow, options, Kind.BOOKING_CONFIRMED, event, data["appointment_id"], now=now,
          customer_id=data["customer_id"], appointment_id=data["appointment_id"],
          params={"time": data["slot_start"]})


def appointment_rescheduled(uow: NotifyUnitOfWork, event: Event) -> None:
    data = event["data"]
    # The booking message, if still queued (night, late contact), names the new slot.
    uow.site.merge_appointment(appointment_id=data["appointment_id"],
                               dealer_code=event["dealercode"], sequence=event["sequence"],
                               customer_id=data["customer_id"],
                               slot_start=_time(data["slot_start"]))


def appointment_cancelled(uow: NotifyUnitOfWork, event: Event) -> None:
    data = event["data"]
    # A booking message not yet sent is not sent (checked when sending, so the order in
    # which booking and cancellation arrive does not matter).
    uow.site.merge_appointment(appointment_id=data["appointment_id"],
                               dealer_code=event["dealercode"], sequence=event["sequence"],
                               customer_id=data["customer_id"],
                               cancelled_at=_time(data["cancelled_at"]))


def repair_order_opened(uow: NotifyUnitOfWork, options: NotifySettings, event: Event, *,
                        now: datetime) -> None:
    data = event["data"]
    uow.site.merge_repair_order(repair_order_id=data["repair_order_id"],
                                dealer_code=event["dealercode"], sequence=event["sequence"],
                                customer_id=data["customer_id"], plate=data["plate"],
                                promised_at=_time(data.get("promised_at")))
    queue(uow, options, Kind.CAR_RECEIVED, event, data["repair_order_id"], now=now,
          customer_id=data["customer_id"], repair_order_id=data["repair_order_id"],
          appointment_id=data.get("appointment_id"),
          params={"plate": data["plate"], "time": data.get("promised_at"),
                  "link": options.owner_link(event["dealercode"],
                                             f"/repair-orders/{data['repair_order_id']}")})


def inspection_uploaded(uow: NotifyUnitOfWork, options: NotifySettings, event: Event, *,
                        now: datetime) -> None:
    data = event["data"]
    ro_id = data["repair_order_id"]
    uow.site.merge_repair_order(repair_order_id=ro_id, dealer_code=event["dealercode"],
                                sequence=event["sequence"])
    link = data.get("report_url") or options.owner_link(event["dealercode"],
                                                         f"/repair-orders/{ro_id}/inspection")
    queue(uow, options, Kind.INSPECTION_READY, event, data["inspection_id"], now=now,
          repair_order_id=ro_id, params={"link": link})


def quote_issued(uow: NotifyUnitOfWork, options: NotifySettings, event: Event, *,
                 now: datetime) -> None:
    data = event["data"]
    ro_id = data["repair_order_id"]
    uow.site.merge_repair_order(repair_order_id=ro_id, dealer_code=event["dealercode"],
                                sequence=event["sequence"], customer_id=data["customer_id"])
    # The site's own signed link to decide this round, when it sent one; else the owner app.
    link = data.get("quote_url") or options.owner_link(event["dealercode"],
                                                        f"/repair-orders/{ro_id}/quote")
    queue(uow, options, Kind.QUOTE_WAITING, event, f"{data['quote_id']}#{data['round']}",
          now=now, customer_id=data["customer_id"], repair_order_id=ro_id,
          params={"link": link, "amount": data["total"]})


def quality_check_completed(uow: NotifyUnitOfWork, options: NotifySettings, event: Event, *,
                            now: datetime) -> None:
    data = event["data"]
    ro_id = data["repair_order_id"]
    uow.site.merge_repair_order(repair_order_id=ro_id, dealer_code=event["dealercode"],
                                sequence=event["sequence"])
    # Ready for pickup when the QC inspector passes the car; the customer is found from the
    # repair order when sending (this event does not name them).
    if data["stage"] == "INSPECTOR" and data["passed"]:
        queue(uow, options, Kind.READY_FOR_PICKUP, event, ro_id, now=now,
              repair_order_id=ro_id,
              params={"link": options.owner_link(event["dealercode"],
                                                 f"/repair-orders/{ro_id}")})


def vehicle_delivered(uow: NotifyUnitOfWork, event: Event) -> None:
    data = event["data"]
    # Nothing to say (the owner has the car); it stops stale news about this repair order.
    uow.site.merge_repair_order(repair_order_id=data["repair_order_id"],
                                dealer_code=event["dealercode"], sequence=event["sequence"],
                                customer_id=data["customer_id"],
                                delivered_at=_time(data["delivered_at"]))


def reminder_due(uow: NotifyUnitOfWork, options: NotifySettings, event: Event, *,
                 now: datetime) -> None:
    data = event["data"]
    link = options.owner_link(event["dealercode"], f"/book?reminder={data['reminder_id']}")
    queue(uow, options, Kind.REMINDER_DUE, event, data["reminder_id"], now=now,
          customer_id=data["customer_id"], purpose=purpose_of(Kind.REMINDER_DUE, data["reason"]),
          params={"link": link, "reason": data["reason"], "time": data["due_on"]})


def survey_requested(uow: NotifyUnitOfWork, options: NotifySettings, event: Event, *,
                     now: datetime) -> None:
    data = event["data"]
    # The follow-up (回访) belongs to the service the customer had: not marketing.
    link = options.survey_link(data["link_token"])
    queue(uow, options, Kind.SURVEY, event, data["survey_id"], now=now,
          customer_id=data["customer_id"], repair_order_id=data["repair_order_id"],
          params={"link": link})


def consent_changed(uow: NotifyUnitOfWork, event: Event) -> None:
    """crm owns consent: its change applies to the customer under crm's id and under each
    site's id notify may know them by. A stale or repeated change changes nothing. A purpose
    other than the message purposes (`partner:<id>`, sharing data with a partner, on the
    channel DATA) says nothing about messages: notify leaves it to partners."""
    data = event["data"]
    if data["purpose"] not in CONSENT_PURPOSES:
        return
    at = _time(data["changed_at"])
    assert at is not None
    for customer_id in dict.fromkeys([data["customer_id"], *data.get("aliases", [])]):
        uow.consents.record(customer_id, data["purpose"], data["channels"], data["granted"],
                            at, data["via"])


# -- the owner's choices -------------------------------------------------------------------


def express_consent(uow: NotifyUnitOfWork, customer_id: str, granted: bool, via: str, *,
                    now: datetime) -> None:
    """The owner said here whether they want marketing: applied at once (it also stops what
    is already queued) and sent to crm, which owns consent and chooses reminders.

    `now` is the wall clock, not the dispatcher's: the time is compared with crm's changes."""
    changed = uow.consents.record(customer_id, "MARKETING", list(CONSENT_CHANNELS), granted,
                                  now, via)
    if changed:
        uow.emit(events.ConsentExpressed, {
            "customer_id": customer_id, "purpose": "MARKETING", "channels": changed,
            "granted": granted, "via": via, "expressed_at": now.isoformat()},
            subject=customer_id, correlation_id=customer_id)


def contact_view(uow: NotifyUnitOfWork, options: NotifySettings,
                 row: dict[str, Any]) -> dict[str, Any]:
    """A contact as the preferences answer shows it (never the phone number itself)."""
    channels = (row["channels"].split(",") if row.get("channels")
                else [c.value for c in options.default_channels])
    marketing = [granted for (purpose, _), granted in uow.consents.of(row["customer_id"]).items()
                 if purpose == "MARKETING"]
    return {**row, "channels": channels, "marketing_consent": any(marketing),
            "unsubscribed": bool(marketing) and not any(marketing),
            "phone_known": row.get("phone_sealed") is not None}


def save_preferences(uow: NotifyUnitOfWork, options: NotifySettings, customer_id: str,
                     values: dict[str, Any], *, now: datetime,
                     wall_clock: datetime) -> dict[str, Any]:
    values = dict(values)
    if "channels" in values:
        values["channels"] = ",".join(dict.fromkeys(values["channels"]))
    consent = values.pop("marketing_consent", None)
    row = uow.contacts.save_preferences(customer_id, values, now)
    if consent is not None:
        # A new, explicit consent lifts an old 退订; crm records either.
        express_consent(uow, customer_id, consent, "PREFERENCES", now=wall_clock)
    return contact_view(uow, options, row)


def preferences(uow: NotifyUnitOfWork, options: NotifySettings, customer_id: str) -> (
        dict[str, Any]):
    found = uow.contacts.get(customer_id)
    if found is None:
        raise NotFound(f"customer {customer_id} not found")
    return contact_view(uow, options, found)


def unsubscribe_by_sms(uow: NotifyUnitOfWork, phone: str, text: str, *,
                       now: datetime) -> int | None:
    """An inbound SMS: None when it is not a 退订; else the customers it unsubscribed."""
    if not is_unsubscribe(text):
        return None
    customers = uow.contacts.with_phone(uow.cipher.phone_hash(phone))
    for customer_id in customers:
        express_consent(uow, customer_id, False, "SMS_REPLY", now=now)
    log.info("unsubscribe by SMS reply for %d customer(s)", len(customers))
    return len(customers)


def unsubscribe_by_link(uow: NotifyUnitOfWork, link_secret: str, token: str, *,
                        now: datetime) -> None:
    customer_id = customer_of_token(link_secret, token)
    if customer_id is None or uow.contacts.get(customer_id) is None:
        raise NotFound("this unsubscribe link is not valid")
    express_consent(uow, customer_id, False, "UNSUBSCRIBE_LINK", now=now)


# -- the delivery log ------------------------------------------------------------------------


def deliveries(uow: NotifyUnitOfWork, *, customer_id: str | None, status: str | None,
               limit: int) -> list[dict[str, Any]]:
    return uow.deliveries.listing(customer_id=customer_id, status=status, limit=limit)


def retry_delivery(uow: NotifyUnitOfWork, message_id: str, *, now: datetime) -> dict[str, Any]:
    """A FAILED message queued again (after the provider or address was fixed)."""
    row = uow.deliveries.get(message_id)
    if row is None:
        raise NotFound(f"message {message_id} not found")
    if row["status"] != Status.FAILED.value:
        raise Conflict(f"only a FAILED message can be retried; this one is {row['status']}",
                       status=row["status"])
    uow.deliveries.update(row["id"], status=Status.QUEUED.value, attempts=0, reason=None,
                          due_at=now)
    found = uow.deliveries.get(message_id)
    assert found is not None
    return found


# -- sending -----------------------------------------------------------------------------------


@dataclass
class RunSummary:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    suppressed: int = 0
    held: int = 0   # quiet hours, rate limit, or waiting for the customer's contact
    # (channel, outcome) -> messages, for the metrics: sent, failed, retrying or
    # suppressed:<reason>; held ones are not counted.
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "retrying": self.retrying,
                "suppressed": self.suppressed, "held": self.held}


def dispatch_due(uow: NotifyUnitOfWork, options: NotifySettings, *,
                 now: datetime) -> RunSummary:
    """Send what is due, up to `dispatch_batch` messages, each decided at the moment of sending
    (`notify.domain.decide`) and the decision applied here.

    The run is one transaction, with a savepoint per message: a message that breaks the
    dispatcher is rolled back alone and counted as an attempt (retried with backoff, then
    FAILED), the others stand. The due messages stay locked until the run commits, so two
    dispatchers never take the same one."""
    summary = RunSummary()
    seen: set[int] = set()
    for _ in range(options.dispatch_batch):
        row = uow.deliveries.next_due(now, exclude=seen)
        if row is None:
            break
        seen.add(row["id"])
        try:
            with uow.deliveries.attempt():
                _dispatch_one(uow, options, row, now, summary)
        except Exception as exc:
            log.exception("dispatching delivery %s failed", row["id"])
            _count_crash(uow, options, row, now, type(exc).__name__, summary)
    return summary


def _dispatch_one(uow: NotifyUnitOfWork, options: NotifySettings, row: dict[str, Any],
                  now: datetime, summary: RunSummary) -> None:
    ro = uow.site.repair_order(row["repair_order_id"])
    appointment = uow.site.appointment(row["appointment_id"])
    customer_id = row["customer_id"] or (ro or {}).get("customer_id")
    contact = uow.contacts.get(customer_id) if customer_id else None
    message = Pending(Kind(row["kind"]), Purpose(row["purpose"]), Channel(row["channel"]),
                      row["created_at"])
    # Only a rate-limited channel's bucket is read (and locked until the run commits).
    limit = options.rate_limits.get(row["channel"])
    known = Circumstances(
        contact=contact,
        consents=uow.consents.of(contact["customer_id"]) if contact else {},
        address=_address(uow, message.channel, customer_id, contact) if contact else None,
        channel_enabled=row["channel"] in uow.channels,
        zone=options.zone_of(contact),
        delivered=bool(ro and ro.get("delivered_at") is not None),
        cancelled=bool(appointment and appointment.get("cancelled_at") is not None),
        slot_start=(appointment or {}).get("slot_start"),
        bucket=restore_bucket(limit, uow.buckets.get(row["channel"]), now) if limit else None)
    decision = decide(message, known, quiet_hours=options.quiet_hours,
                      contact_wait=options.contact_wait, now=now)
    updates: dict[str, Any] = {"customer_id": customer_id}
    if isinstance(decision, Suppress):
        summary.suppressed += 1
        summary.outcomes[row["channel"], f"suppressed:{decision.reason.value}"] += 1
        uow.deliveries.update(row["id"], status=Status.SUPPRESSED.value,
                              reason=decision.reason.value, **updates)
        return
    if decision.bucket is not None:
        uow.buckets.save(row["channel"], decision.bucket.tokens, decision.bucket.updated_at)
    if isinstance(decision, Defer):
        summary.held += 1
        uow.deliveries.update(row["id"], due_at=decision.until, reason=decision.waiting.value,
                              **updates)
        return
    assert contact is not None and customer_id is not None
    _send(uow, options, row, decision, contact, ro, appointment, now, summary, updates)


def _send(uow: NotifyUnitOfWork, options: NotifySettings, row: dict[str, Any], decision: Send,
          contact: dict[str, Any], ro: dict[str, Any] | None,
          appointment: dict[str, Any] | None, now: datetime, summary: RunSummary,
          updates: dict[str, Any]) -> None:
    kind = Kind(row["kind"])
    dealer = options.dealer_names.get(row["dealer_code"], row["dealer_code"])
    unsubscribe_url = None
    if row["purpose"] == Purpose.MARKETING.value:
        token = unsubscribe_token(options.link_secret, contact["customer_id"])
        unsubscribe_url = options.unsubscribe_link(token)
    rendered = compose(kind, json.loads(row["params"]),
                       name=uow.cipher.open(contact.get("name_sealed")),
                       language=contact.get("language"), dealer=dealer,
                       zone=options.zone_of(contact), repair_order=ro, appointment=appointment,
                       unsubscribe_url=unsubscribe_url)
    result = uow.channels[row["channel"]].send(OutboundMessage(
        message_id=row["message_id"], to=decision.address, title=rendered.title,
        body=rendered.body, link=rendered.link, kind=kind.value, extra={"dealer": dealer}))
    outcome = after_attempt(result.ok, result.retryable, row["attempts"], options.backoff, now)
    summary.outcomes[row["channel"], outcome.label] += 1
    if outcome.status is Status.SENT:
        summary.sent += 1
        uow.deliveries.update(row["id"], status=Status.SENT.value, attempts=outcome.attempts,
                              sent_at=now, last_error=None, reason=None,
                              provider_id=(result.provider_id or "")[:128], **updates)
        return
    log.warning("sending %s over %s failed (attempt %d): %s", row["message_id"],
                row["channel"], outcome.attempts, mask_personal(result.error or ""))
    if outcome.status is Status.QUEUED:
        summary.retrying += 1
        uow.deliveries.update(row["id"], attempts=outcome.attempts, last_error=result.error,
                              reason=Waiting.RETRY.value, due_at=outcome.retry_at, **updates)
        return
    summary.failed += 1
    uow.deliveries.update(row["id"], status=Status.FAILED.value, attempts=outcome.attempts,
                          last_error=result.error, reason=None, **updates)


def _count_crash(uow: NotifyUnitOfWork, options: NotifySettings, row: dict[str, Any],
                 now: datetime, error: str, summary: RunSummary) -> None:
    """A message that breaks the dispatcher is retried with backoff like a failed send, then
    FAILED: it must not come round every few seconds for ever."""
    outcome = after_attempt(False, True, row["attempts"], options.backoff, now)
    if outcome.status is Status.FAILED:
        summary.failed += 1
        summary.outcomes[row["channel"], "failed"] += 1
        values: dict[str, Any] = {"status": Status.FAILED.value, "reason": None}
    else:
        summary.retrying += 1
        values = {"due_at": outcome.retry_at, "reason": Waiting.RETRY.value}
    uow.deliveries.update(row["id"], attempts=outcome.attempts,
                          last_error=f"dispatcher: {error}", **values)


def _address(uow: NotifyUnitOfWork, channel: Channel, customer_id: str | None,
             contact: dict[str, Any]) -> str | None:
    if channel is Channel.SMS:
        return uow.cipher.open(contact.get("phone_sealed"))
    if channel is Channel.EMAIL:
        return contact.get("email")
    if channel is Channel.WECHAT:
        return contact.get("wechat_openid")
    return customer_id  # app push addresses the signed-in customer by alias


# -- identity's one-time codes -------------------------------------------------------------------

def send_one_time_code(uow: NotifyUnitOfWork, *, phone: str, code: str, minutes: int,
                       message_id: str) -> dict[str, Any]:
    """An owner's sign-in code by SMS, now: not queued behind quiet hours (the owner asked for
    it this second), not in the delivery log, never on the event bus. Neither the code nor
    the number is logged; a provider's error that repeats the code says ****** instead."""
    adapter = uow.channels.get(Channel.SMS.value)
    if adapter is None:
        return {"sent": False, "retryable": False, "error": "no SMS channel is configured"}
    text = one_time_code_text(code, minutes)
    result = adapter.send(OutboundMessage(message_id=message_id, to=phone, title=text.title,
                                          body=text.body, kind=ONE_TIME_CODE))
    error = (result.error or "").replace(code, "******") or None
    if not result.ok:
        log.warning("one-time code to %s not sent: %s", mask_personal(phone), error)
    return {"sent": result.ok, "retryable": result.retryable, "error": error,
            "provider_id": result.provider_id}
