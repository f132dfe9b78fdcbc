"""Notify's rules in plain Python: what is said for each event and language, when it may be
said (quiet hours in the customer's time zone), to whom (service messages vs marketing that
needs consent), once (dedupe keys), how fast (token buckets) and how often again (backoff).

No nameko, no SQLAlchemy, no I/O: everything here is unit-tested on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts.vocabulary import REMINDER_PURPOSE

DEFAULT_TIME_ZONE = "Asia/Shanghai"
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGES = ("zh-CN", "en")
QUIET_START = time(21, 0)
QUIET_END = time(8, 0)


class Kind(StrEnum):
    """What a message tells the owner: one per stage of the transparent workshop."""

    BOOKING_CONFIRMED = "BOOKING_CONFIRMED"
    CAR_RECEIVED = "CAR_RECEIVED"
    INSPECTION_READY = "INSPECTION_READY"
    QUOTE_WAITING = "QUOTE_WAITING"
    READY_FOR_PICKUP = "READY_FOR_PICKUP"
    REMINDER_DUE = "REMINDER_DUE"
    SURVEY = "SURVEY"


class Purpose(StrEnum):
    SERVICE = "SERVICE"      # their own car's service, or a recall: no opt-in needed
    MARKETING = "MARKETING"  # invitations: consent, unsubscribe path, quiet hours


class Channel(StrEnum):
    SMS = "SMS"
    EMAIL = "EMAIL"
    WECHAT = "WECHAT"
    PUSH = "PUSH"


class Status(StrEnum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"
    SUPPRESSED = "SUPPRESSED"


class Suppression(StrEnum):
    """Why a message was not sent (a closed set: it is shown in the delivery log)."""

    NO_CONSENT = "NO_CONSENT"            # marketing without the customer's consent
    UNSUBSCRIBED = "UNSUBSCRIBED"        # the customer said 退订 / used the link
    NO_CONTACT = "NO_CONTACT"            # nobody to send to after waiting for the contact
    NO_ADDRESS = "NO_ADDRESS"            # the customer has no address on this channel
    SUPERSEDED = "SUPERSEDED"            # car already back with its owner, booking cancelled
    CHANNEL_DISABLED = "CHANNEL_DISABLED"  # the channel is not configured here


class Waiting(StrEnum):
    """Why a QUEUED message is not out yet (shown in the delivery log)."""

    QUIET_HOURS = "QUIET_HOURS"
    RATE_LIMITED = "RATE_LIMITED"
    AWAITING_CONTACT = "AWAITING_CONTACT"  # the booking with the phone has not arrived yet
    RETRY = "RETRY"                        # the last attempt failed; backing off


# -- which messages are marketing, and who allowed what ------------------------------------

# crm's consent channel for each of notify's channels (an app push goes to the owner app).
CONSENT_CHANNEL = {Channel.SMS: "SMS", Channel.EMAIL: "EMAIL", Channel.WECHAT: "WECHAT",
                   Channel.PUSH: "APP"}


def purpose_of(kind: Kind, reminder_reason: str | None = None) -> Purpose:
    """Reminders follow the contract's rule (crm chooses by the same one); every other
    message is about the owner's own booking or car, a service message."""
    if kind is Kind.REMINDER_DUE:
        return Purpose(REMINDER_PURPOSE.get(str(reminder_reason), Purpose.MARKETING.value))
    return Purpose.SERVICE


def consent_suppression(kind: Kind, purpose: Purpose, channel: Channel,
                        given: dict[tuple[str, str], bool]) -> Suppression | None:
    """Why a message must not go out on `channel` given the customer's consents (crm's, per
    purpose and channel), or None.

    Marketing needs an opt-in on the channel; a service reminder (a recall) goes out until the
    customer withdraws it. Notices about the owner's own booking or car (booking confirmed,
    car received, inspection, quote, pickup, survey) answer what they asked for: no consent
    rule stops them, 退订 included.
    """
    if purpose is Purpose.SERVICE and kind is not Kind.REMINDER_DUE:
        return None
    explicit = given.get((purpose.value, CONSENT_CHANNEL[channel]))
    if explicit is None:
        return Suppression.NO_CONSENT if purpose is Purpose.MARKETING else None
    return None if explicit else Suppression.UNSUBSCRIBED


# Messages about a repair order that say nothing useful once the car has been handed back.
SUPERSEDED_BY_DELIVERY = frozenset({Kind.CAR_RECEIVED, Kind.INSPECTION_READY,
                                    Kind.QUOTE_WAITING})


def dedupe_key(kind: Kind, reference: str, channel: Channel) -> str:
    """One message per event per customer per channel.

    `reference` is the business object the message is about (appointment, repair order,
    inspection, quote round, reminder); each belongs to exactly one customer, so the key is
    the same whichever order events arrive in, and whether or not the customer is known yet.
    """
    return f"{kind.value}:{reference}:{channel.value}"


# -- quiet hours -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    start: time = QUIET_START
    end: time = QUIET_END

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:           # e.g. 00:00-07:00
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight, e.g. 21:00-08:00

    def next_allowed(self, now: datetime, zone: str) -> datetime:
        """`now` if a message may go out now in `zone`, else when the quiet hours end there.

        `now` must be aware; the answer is in the same zone as `now`.
        """
        if now.tzinfo is None:
            raise ValueError("now must carry a time zone")
        tz = ZoneInfo(zone)
        local = now.astimezone(tz)
        if not self.contains(local.timetz().replace(tzinfo=None)):
            return now
        day = local.date()
        if local.time() >= self.end:  # evening part of a window that crosses midnight
            day = day + timedelta(days=1)
        # Built from the wall clock so a DST change in between lands on the real 08:00.
        morning = datetime.combine(day, self.end, tzinfo=tz)
        return morning.astimezone(now.tzinfo)


def parse_clock(value: str) -> time:
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


# -- rate limits -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenBucket:
    """`capacity` messages at once, refilled at `per_second`; state is (tokens, updated_at)."""

    capacity: float
    per_second: float
    tokens: float
    updated_at: datetime

    @classmethod
    def full(cls, capacity: float, per_second: float, now: datetime) -> TokenBucket:
        return cls(capacity, per_second, capacity, now)

    def take(self, now: datetime) -> tuple[TokenBucket, float]:
        """Take one token: (new state, 0.0), or (refilled state, seconds to wait) when empty."""
        elapsed = max((now - self.updated_at).total_seconds(), 0.0)
        tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        refilled = replace(self, tokens=tokens, updated_at=max(now, self.updated_at))
        if tokens >= 1.0:
            return replace(refilled, tokens=tokens - 1.0), 0.0
        return refilled, (1.0 - tokens) / self.per_second


# -- retries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    initial_seconds: float = 30.0
    multiplier: float = 2.0
    max_seconds: float = 3600.0
    max_attempts: int = 5

    def delay(self, attempt: int) -> timedelta:
        """Wait after failed attempt number `attempt` (1-based)."""
        raw = self.initial_seconds * self.multiplier ** (attempt - 1)
        return timedelta(seconds=min(raw, self.max_seconds))

    def gives_up(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


# -- unsubscribe -------------------------------------------------------------------------------

UNSUBSCRIBE_WORDS = frozenset({"退订", "TD", "T", "STOP", "UNSUBSCRIBE"})


def is_unsubscribe(text: str) -> bool:
    """An inbound SMS asking to stop: 退订 or TD, in any width or case, with punctuation."""
    normal = unicodedata.normalize("NFKC", text).strip().upper()
    normal = normal.strip(" .。!！")
    return normal in UNSUBSCRIBE_WORDS


def unsubscribe_token(secret: str, customer_id: str) -> str:
    """An unguessable link token naming the customer (HMAC-signed, no lookup needed)."""
    body = base64.urlsafe_b64encode(customer_id.encode()).decode().rstrip("=")
    return f"{body}.{_mac(secret, body)}"


def customer_of_token(secret: str, token: str) -> str | None:
    if not token.isascii():  # compare_digest takes ASCII only; ours are always ASCII
        return None
    body, _, mac = token.partition(".")
    if not body or not hmac.compare_digest(mac, _mac(secret, body)):
        return None
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _mac(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode(), f"unsubscribe:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


# -- projections that do not care about arrival order ----------------------------------------


def newer(current_sequence: int | None, incoming_sequence: int) -> bool:
    """Whether an update of one aggregate is newer than what is stored (events arrive late,
    twice, or out of order; the per-aggregate sequence decides)."""
    return current_sequence is None or incoming_sequence > current_sequence


# -- templates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    link: str | None


_TEMPLATES: dict[tuple[Kind, str], tuple[str, str]] = {
    (Kind.BOOKING_CONFIRMED, "zh-CN"): (
        "预约成功",
        "{name}您好，您的爱车{plate}已预约{dealer}，时间{time}。如需改期请联系服务顾问。"),
    (Kind.BOOKING_CONFIRMED, "en"): (
        "Booking confirmed",
        "Dear {name}, your {plate} is booked in at {dealer} for {time}. "
        "Contact your service advisor to change it."),
    (Kind.CAR_RECEIVED, "zh-CN"): (
        "车辆已接收",
        "{name}您好，您的爱车{plate}已在{dealer}开单接车，预计交车时间{time}。"),
    (Kind.CAR_RECEIVED, "en"): (
        "Car received",
        "Dear {name}, {dealer} has received your {plate}; expected ready by {time}."),
    (Kind.INSPECTION_READY, "zh-CN"): (
        "环检报告已出",
        "{name}您好，您的爱车{plate}环检报告已出，请查看照片与建议：{link}"),
    (Kind.INSPECTION_READY, "en"): (
        "Inspection report ready",
        "Dear {name}, the inspection of your {plate} is ready, with photos: {link}"),
    (Kind.QUOTE_WAITING, "zh-CN"): (
        "报价待确认",
        "{name}您好，您的爱车{plate}维修报价{amount}元待您逐项确认：{link}"),
    (Kind.QUOTE_WAITING, "en"): (
        "Quote waiting for you",
        "Dear {name}, a quote of CNY {amount} for your {plate} waits for your approval, "
        "line by line: {link}"),
    (Kind.READY_FOR_PICKUP, "zh-CN"): (
        "车辆可取",
        "{name}您好，您的爱车{plate}已完工并通过质检，可到{dealer}取车。"),
    (Kind.READY_FOR_PICKUP, "en"): (
        "Ready for pickup",
        "Dear {name}, your {plate} has passed the final quality check and is ready "
        "at {dealer}."),
    (Kind.SURVEY, "zh-CN"): (
        "服务回访",
        "{name}您好，感谢您选择{dealer}。请花一分钟评价本次服务：{link}"),
    (Kind.SURVEY, "en"): (
        "How did we do?",
        "Dear {name}, thank you for visiting {dealer}. Please rate our service: {link}"),
    (Kind.REMINDER_DUE, "zh-CN"): (
        "保养提醒",
        "{name}您好，您的爱车{plate}{reason}将于{time}到期，欢迎预约{dealer}：{link}"),
    (Kind.REMINDER_DUE, "en"): (
        "Service reminder",
        "Dear {name}, your {plate} is due for {reason} on {time}. Book at {dealer}: {link}"),
}

_REASONS = {
    "zh-CN": {"MAINTENANCE": "保养", "INSURANCE": "保险", "ANNUAL_INSPECTION": "年检",
              "DECLINED_WORK": "未完成维修项目", "RECALL": "召回检修"},
    "en": {"MAINTENANCE": "maintenance", "INSURANCE": "insurance renewal",
           "ANNUAL_INSPECTION": "annual inspection", "DECLINED_WORK": "the work you postponed",
           "RECALL": "a recall"},
}
_FALLBACK = {
    "zh-CN": {"name": "车主", "plate": "", "dealer": "经销商", "time": "", "link": "",
              "amount": ""},
    "en": {"name": "customer", "plate": "car", "dealer": "your dealer", "time": "", "link": "",
           "amount": ""},
}
_UNSUBSCRIBE = {"zh-CN": " 回复TD退订 {url}", "en": " Reply TD to unsubscribe: {url}"}

# identity's owner sign-in codes: sent at once, never queued, logged or kept (no `Kind`, so no
# delivery row can hold one).
ONE_TIME_CODE = "ONE_TIME_CODE"


def one_time_code_text(code: str, minutes: int) -> Rendered:
    """One SMS in both languages: the owner asked for it this second, whatever their choice."""
    return Rendered(title="验证码 / Sign-in code", link=None,
                    body=f"您的登录验证码为{code}，{minutes}分钟内有效，请勿告诉他人。"
                         f"Your sign-in code is {code}, valid for {minutes} minutes; "
                         "never share it.")


def language_of(preferred: str | None) -> str:
    return preferred if preferred in LANGUAGES else DEFAULT_LANGUAGE


def format_time(value: datetime | None, zone: str, language: str) -> str:
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(zone))
    if language == "zh-CN":
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local.day} {local:%b} {local:%H:%M}"


def render(kind: Kind, language: str, params: dict[str, Any], *, zone: str,
           unsubscribe_url: str | None = None) -> Rendered:
    """The message in the customer's language; missing facts fall back to neutral words.

    params: name, plate, dealer, time (aware datetime), link, amount, reason.
    """
    language = language_of(language)
    title, body = _TEMPLATES[(kind, language)]
    values = dict(_FALLBACK[language])
    values.update({k: v for k, v in params.items() if v not in (None, "")})
    values["time"] = (format_time(params["time"], zone, language)
                      if isinstance(params.get("time"), datetime) else values["time"])
    values["reason"] = _REASONS[language].get(str(params.get("reason")), "")
    text = body.format(**values).replace("  ", " ")
    if unsubscribe_url:
        text += _UNSUBSCRIBE[language].format(url=unsubscribe_url)
    return Rendered(title=title, body=text, link=params.get("link") or None)


# -- the dispatch decision ---------------------------------------------------------------------
#
# What to do with one queued message, decided from what is known at the moment of sending
# (the dispatcher applies the decision: it calls the channel and writes the delivery log).

# Events from the sites arrive in any order: a message whose customer has no contact yet is
# looked at again after this long, until the contact wait runs out.
CONTACT_RETRY = timedelta(minutes=5)


@dataclass(frozen=True)
class Pending:
    """A queued message, as the decision sees it."""

    kind: Kind
    purpose: Purpose
    channel: Channel
    created_at: datetime


@dataclass(frozen=True)
class Circumstances:
    """What is known about a message's customer and its subject when it is due.

    `contact` is the customer's row in the contact book (None: not known yet); `address` the
    address on the message's channel (already opened); `delivered` whether the repair order's
    car went back to its owner; `cancelled` / `slot_start` the appointment's state (None: not
    known); `bucket` the channel's rate limit state (None: the channel has no limit).
    """

    contact: Mapping[str, Any] | None
    consents: Mapping[tuple[str, str], bool]
    address: str | None
    channel_enabled: bool
    zone: str
    delivered: bool = False
    cancelled: bool = False
    slot_start: datetime | None = None
    bucket: TokenBucket | None = None


@dataclass(frozen=True)
class Send:
    """Send now, to `address`; `bucket` is the channel's rate limit state to keep."""

    address: str
    bucket: TokenBucket | None = None


@dataclass(frozen=True)
class Defer:
    """Not yet: look again at `until`."""

    until: datetime
    waiting: Waiting
    bucket: TokenBucket | None = None


@dataclass(frozen=True)
class Suppress:
    """Never: the message is closed with `reason`."""

    reason: Suppression


Decision = Send | Defer | Suppress


def reachable(channel: Channel, contact: Mapping[str, Any] | None) -> bool:
    """Whether notify knows the customer well enough to say anything (a push needs only the
    customer's id; every other channel an address of some kind)."""
    if contact is None:
        return False
    return bool(contact.get("phone_sealed") or contact.get("email")
                or contact.get("wechat_openid") or channel is Channel.PUSH)


def decide(message: Pending, known: Circumstances, *, quiet_hours: QuietHours,
           contact_wait: timedelta, now: datetime) -> Decision:
    """Send, defer or suppress one due message. The checks run in this order: contact,
    consent, whether the news is still news, channel, address, quiet hours, rate limit (the
    last, so a token is only taken by a message that goes out)."""
    if not reachable(message.channel, known.contact):
        if now - message.created_at >= contact_wait:
            return Suppress(Suppression.NO_CONTACT)
        return Defer(now + CONTACT_RETRY, Waiting.AWAITING_CONTACT)
    refused = consent_suppression(message.kind, message.purpose, message.channel,
                                  dict(known.consents))
    if refused:
        return Suppress(refused)
    if superseded(message.kind, known, now):
        return Suppress(Suppression.SUPERSEDED)
    if not known.channel_enabled:
        return Suppress(Suppression.CHANNEL_DISABLED)
    if not known.address:
        return Suppress(Suppression.NO_ADDRESS)
    allowed = quiet_hours.next_allowed(now, known.zone)
    if allowed > now:
        return Defer(allowed, Waiting.QUIET_HOURS)
    if known.bucket is None:
        return Send(known.address)
    bucket, wait = known.bucket.take(now)
    if wait > 0:
        return Defer(now + timedelta(seconds=wait), Waiting.RATE_LIMITED, bucket)
    return Send(known.address, bucket)


def superseded(kind: Kind, known: Circumstances, now: datetime) -> bool:
    """News that is no longer news: the car is back with its owner, or the booking was
    cancelled or its slot already began (the event was held up on the way)."""
    if (kind in SUPERSEDED_BY_DELIVERY or kind is Kind.READY_FOR_PICKUP) and known.delivered:
        return True
    return kind is Kind.BOOKING_CONFIRMED and (
        known.cancelled or (known.slot_start is not None and known.slot_start <= now))


@dataclass(frozen=True)
class Outcome:
    """What an attempt leaves in the delivery log: SENT, FAILED, or QUEUED again for a retry
    at `retry_at`."""

    status: Status
    attempts: int
    retry_at: datetime | None = None

    @property
    def label(self) -> str:
        """The metrics' name of the outcome."""
        if self.status is Status.QUEUED:
            return "retrying"
        return "sent" if self.status is Status.SENT else "failed"


def after_attempt(ok: bool, retryable: bool, attempts_before: int, backoff: Backoff,
                  now: datetime) -> Outcome:
    """The outcome of one attempt to send (or of a message that broke the dispatcher, which
    is retried like a retryable failure: it must not come round every few seconds forever)."""
    attempts = attempts_before + 1
    if ok:
        return Outcome(Status.SENT, attempts)
    if retryable and not backoff.gives_up(attempts):
        return Outcome(Status.QUEUED, attempts, now + backoff.delay(attempts))
    return Outcome(Status.FAILED, attempts)


def zone_of(contact: Mapping[str, Any] | None, default: str) -> str:
    """The customer's time zone, or `default` when they have none or an unknown one."""
    zone = (contact or {}).get("time_zone") or default
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return default
    return zone


def restore_bucket(limit: tuple[float, float] | None, state: Mapping[str, Any] | None,
                   now: datetime) -> TokenBucket | None:
    """A channel's token bucket from its (capacity, per second) limit and its stored state;
    None when the channel has no limit. A lowered capacity applies at once."""
    if limit is None:
        return None
    capacity, per_second = limit
    if state is None:
        return TokenBucket.full(capacity, per_second, now)
    return TokenBucket(capacity, per_second, min(state["tokens"], capacity), state["updated_at"])


def compose(kind: Kind, params: Mapping[str, Any], *, name: str | None, language: str | None,
            dealer: str, zone: str, repair_order: Mapping[str, Any] | None,
            appointment: Mapping[str, Any] | None,
            unsubscribe_url: str | None) -> Rendered:
    """The text of a message from what was queued (`params`) and the latest facts: the plate
    from the repair order or appointment when the event had none, the appointment's latest
    slot (even after a late reschedule), the repair order's promised time."""
    plate = params.get("plate") or (repair_order or {}).get("plate") \
        or (appointment or {}).get("plate")
    when: Any = params.get("time")
    if kind is Kind.BOOKING_CONFIRMED and appointment and appointment.get("slot_start"):
        when = appointment["slot_start"]
    elif kind is Kind.CAR_RECEIVED and repair_order and repair_order.get("promised_at"):
        when = repair_order["promised_at"]
    elif isinstance(when, str) and "T" in when:
        when = datetime.fromisoformat(when)
    return render(kind, language or "zh-CN", {
        "name": name, "plate": plate, "dealer": dealer, "time": when,
        "link": params.get("link"), "amount": params.get("amount"),
        "reason": params.get("reason")}, zone=zone, unsubscribe_url=unsubscribe_url)
