"""Sending what is due: one queued message at a time, each in its own transaction, so a crash
after a send re-sends at most that one message and two dispatchers never take the same row.

Every rule is checked at the moment of sending, not only when the message was queued:
consent and unsubscribe (honoured at once, even for messages already queued), quiet hours
in the customer's zone, the channel's rate limit, and whether the news is still news.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prometheus_client import Counter
from sqlalchemy.orm import Session

from chassis.config import ConfigError
from chassis.logs import mask_personal
from chassis.metrics import PREFIX, REGISTRY
from notify import store
from notify.channels import ChannelAdapter, OutboundMessage
from notify.domain import (
    DEFAULT_TIME_ZONE,
    SUPERSEDED_BY_DELIVERY,
    Backoff,
    Channel,
    Kind,
    Purpose,
    QuietHours,
    Status,
    Suppression,
    TokenBucket,
    Waiting,
    consent_suppression,
    parse_clock,
    render,
    unsubscribe_token,
)
from notify.privacy import ContactCipher

log = logging.getLogger(__name__)
T = TypeVar("T")

# Outcomes per channel: sent, failed, retrying, or suppressed:<reason>; held ones are not counted.
MESSAGES = Counter(f"{PREFIX}_notify_messages_total",
                   "Messages handled by the dispatcher, by channel and outcome",
                   ["channel", "outcome"], registry=REGISTRY)


@dataclass(frozen=True)
class NotifyConfig:
    """notify's part of `settings.extra` (every key optional)."""

    quiet_hours: QuietHours = QuietHours()
    default_time_zone: str = DEFAULT_TIME_ZONE
    default_channels: tuple[Channel, ...] = (Channel.SMS,)
    rate_limits: dict[str, tuple[float, float]] = field(default_factory=dict)
    backoff: Backoff = Backoff()
    contact_wait: timedelta = timedelta(hours=48)
    public_url: str = "https://notify.aftersales.example.cn"
    owner_app_url: str = "https://owner.aftersales.example.cn"
    dealer_names: dict[str, str] = field(default_factory=dict)
    dispatch_batch: int = 200
    dispatch_loop: bool = True

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> NotifyConfig:
        """Raises ConfigError naming the first bad setting (one line, no traceback)."""
        quiet = _setting("quiet_hours", lambda: dict(extra.get("quiet_hours") or {}))
        backoff = _setting("backoff", lambda: dict(extra.get("backoff") or {}))
        limits = _setting("rate_limits", lambda: {
            str(ch).upper(): (float(v.get("capacity", 10)), float(v["per_second"]))
            for ch, v in (extra.get("rate_limits") or {}).items()})
        zone = str(extra.get("default_time_zone", DEFAULT_TIME_ZONE))
        _setting("default_time_zone", lambda: ZoneInfo(zone))  # stops the start, not a send
        return cls(
            quiet_hours=_setting("quiet_hours", lambda: QuietHours(
                parse_clock(str(quiet.get("start", "21:00"))),
                parse_clock(str(quiet.get("end", "08:00"))))),
            default_time_zone=zone,
            default_channels=_setting("default_channels", lambda: tuple(
                Channel(str(c).upper()) for c in extra.get("default_channels", ["SMS"]))),
            rate_limits=limits,
            backoff=_setting("backoff", lambda: Backoff(**{
                k: (int(v) if k == "max_attempts" else float(v)) for k, v in backoff.items()})),
            contact_wait=_setting("contact_wait_hours", lambda: timedelta(
                hours=float(extra.get("contact_wait_hours", 48)))),
            public_url=str(extra.get("public_url", cls.public_url)).rstrip("/"),
            owner_app_url=str(extra.get("owner_app_url", cls.owner_app_url)).rstrip("/"),
            dealer_names=_setting("dealer_names", lambda: dict(extra.get("dealer_names") or {})),
            dispatch_batch=_setting("dispatch_batch", lambda: int(
                extra.get("dispatch_batch", 200))),
            dispatch_loop=bool(extra.get("dispatch_loop", True)),
        )

    def zone_of(self, contact: dict[str, Any] | None) -> str:
        zone = (contact or {}).get("time_zone") or self.default_time_zone
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return self.default_time_zone
        return zone


def _setting(name: str, read: Callable[[], T]) -> T:
    """`read()`, or a ConfigError naming the setting when its value cannot be used."""
    try:
        return read()
    except (ValueError, TypeError, KeyError, AttributeError, ZoneInfoNotFoundError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{name}: {problem}") from None


@dataclass
class RunSummary:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    suppressed: int = 0
    held: int = 0   # quiet hours, rate limit, or waiting for the customer's contact

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Dispatcher:
    def __init__(self, session: Session, adapters: dict[str, ChannelAdapter],
                 config: NotifyConfig, cipher: ContactCipher, link_secret: str) -> None:
        self.session, self.adapters, self.config = session, adapters, config
        self.cipher, self.link_secret = cipher, link_secret

    def run(self, now: datetime) -> RunSummary:
        summary = RunSummary()
        seen: set[int] = set()
        for _ in range(self.config.dispatch_batch):
            rows = store.due(self.session, now, 1, exclude=seen)
            if not rows:
                break
            seen.add(rows[0]["id"])
            try:
                self._one(rows[0], now, summary)
                self.session.commit()
            except Exception as exc:
                self.session.rollback()
                log.exception("dispatching delivery %s failed", rows[0]["id"])
                self._count_crash(rows[0], now, f"{type(exc).__name__}", summary)
        return summary

    def _count_crash(self, row: dict[str, Any], now: datetime, error: str,
                     summary: RunSummary) -> None:
        """A message that breaks the dispatcher is retried with backoff like a failed send,
        then FAILED: it must not come round every few seconds for ever."""
        attempts = row["attempts"] + 1
        if self.config.backoff.gives_up(attempts):
            summary.failed += 1
            MESSAGES.labels(row["channel"], "failed").inc()
            values: dict[str, Any] = {"status": Status.FAILED.value, "reason": None}
        else:
            summary.retrying += 1
            values = {"due_at": now + self.config.backoff.delay(attempts),
                      "reason": Waiting.RETRY.value}
        store.update_delivery(self.session, row["id"], attempts=attempts,
                              last_error=f"dispatcher: {error}", **values)
        self.session.commit()

    # -- one message ------------------------------------------------------------------------

    def _one(self, row: dict[str, Any], now: datetime, summary: RunSummary) -> None:
        ro = store.repair_order(self.session, row["repair_order_id"])
        customer_id = row["customer_id"] or (ro or {}).get("customer_id")
        contact = store.contact(self.session, customer_id) if customer_id else None
        updates: dict[str, Any] = {"customer_id": customer_id}
        if contact is None or not (contact.get("phone_sealed") or contact.get("email")
                                   or contact.get("wechat_openid") or row["channel"] == "PUSH"):
            # Events from sites arrive in any order: the booking with the phone may be late.
            if now - row["created_at"] >= self.config.contact_wait:
                return self._suppress(row, Suppression.NO_CONTACT, summary, updates)
            summary.held += 1
            return store.update_delivery(self.session, row["id"], due_at=now + timedelta(
                minutes=5), reason=Waiting.AWAITING_CONTACT.value, **updates)
        kind = Kind(row["kind"])
        refused = consent_suppression(kind, Purpose(row["purpose"]), Channel(row["channel"]),
                                      store.consents(self.session, contact["customer_id"]))
        if refused:
            return self._suppress(row, refused, summary, updates)
        if (kind in SUPERSEDED_BY_DELIVERY or kind is Kind.READY_FOR_PICKUP) and ro \
                and ro.get("delivered_at") is not None:
            return self._suppress(row, Suppression.SUPERSEDED, summary, updates)
        if kind is Kind.BOOKING_CONFIRMED:
            appointment = store.appointment(self.session, row["appointment_id"])
            # Cancelled, or its slot already began (the event was held up on the way).
            if appointment and (appointment.get("cancelled_at") is not None or (
                    appointment.get("slot_start") is not None
                    and appointment["slot_start"] <= now)):
                return self._suppress(row, Suppression.SUPERSEDED, summary, updates)
        adapter = self.adapters.get(row["channel"])
        if adapter is None:
            return self._suppress(row, Suppression.CHANNEL_DISABLED, summary, updates)
        address = self._address(row["channel"], customer_id, contact)
        if not address:
            return self._suppress(row, Suppression.NO_ADDRESS, summary, updates)
        zone = self.config.zone_of(contact)
        allowed = self.config.quiet_hours.next_allowed(now, zone)
        if allowed > now:
            summary.held += 1
            return store.update_delivery(self.session, row["id"], due_at=allowed,
                                         reason=Waiting.QUIET_HOURS.value, **updates)
        wait = self._take_token(row["channel"], now)
        if wait > 0:
            summary.held += 1
            return store.update_delivery(self.session, row["id"],
                                         due_at=now + timedelta(seconds=wait),
                                         reason=Waiting.RATE_LIMITED.value, **updates)
        message = self._message(row, kind, contact, ro, address, zone)
        result = adapter.send(message)
        attempts = row["attempts"] + 1
        if result.ok:
            summary.sent += 1
            MESSAGES.labels(row["channel"], "sent").inc()
            return store.update_delivery(self.session, row["id"], status=Status.SENT.value,
                                         attempts=attempts, sent_at=now, last_error=None,
                                         reason=None,
                                         provider_id=(result.provider_id or "")[:128],
                                         **updates)
        log.warning("sending %s over %s failed (attempt %d): %s", row["message_id"],
                    row["channel"], attempts, mask_personal(result.error or ""))
        if result.retryable and not self.config.backoff.gives_up(attempts):
            summary.retrying += 1
            MESSAGES.labels(row["channel"], "retrying").inc()
            return store.update_delivery(self.session, row["id"], attempts=attempts,
                                         last_error=result.error, reason=Waiting.RETRY.value,
                                         due_at=now + self.config.backoff.delay(attempts),
                                         **updates)
        summary.failed += 1
        MESSAGES.labels(row["channel"], "failed").inc()
        store.update_delivery(self.session, row["id"], status=Status.FAILED.value,
                              attempts=attempts, last_error=result.error, reason=None,
                              **updates)

    def _suppress(self, row: dict[str, Any], reason: Suppression, summary: RunSummary,
                  updates: dict[str, Any]) -> None:
        summary.suppressed += 1
        MESSAGES.labels(row["channel"], f"suppressed:{reason.value}").inc()
        store.update_delivery(self.session, row["id"], status=Status.SUPPRESSED.value,
                              reason=reason.value, **updates)

    def _address(self, channel: str, customer_id: str, contact: dict[str, Any]) -> str | None:
        if channel == Channel.SMS.value:
            return self.cipher.open(contact.get("phone_sealed"))
        if channel == Channel.EMAIL.value:
            return contact.get("email")
        if channel == Channel.WECHAT.value:
            return contact.get("wechat_openid")
        return customer_id  # app push addresses the signed-in customer by alias

    def _take_token(self, channel: str, now: datetime) -> float:
        limit = self.config.rate_limits.get(channel)
        if limit is None:
            return 0.0
        capacity, per_second = limit
        state = store.bucket(self.session, channel)
        bucket = (TokenBucket(capacity, per_second, min(state["tokens"], capacity),
                              state["updated_at"]) if state
                  else TokenBucket.full(capacity, per_second, now))
        bucket, wait = bucket.take(now)
        store.save_bucket(self.session, channel, bucket.tokens, bucket.updated_at)
        return wait

    def _message(self, row: dict[str, Any], kind: Kind, contact: dict[str, Any],
                 ro: dict[str, Any] | None, address: str, zone: str) -> OutboundMessage:
        params = json.loads(row["params"])
        appointment = store.appointment(self.session, row["appointment_id"])
        plate = params.get("plate") or (ro or {}).get("plate") or (appointment or {}).get("plate")
        when: Any = params.get("time")
        if kind is Kind.BOOKING_CONFIRMED and appointment and appointment.get("slot_start"):
            when = appointment["slot_start"]  # the latest slot, even after a late reschedule
        elif kind is Kind.CAR_RECEIVED and ro and ro.get("promised_at"):
            when = ro["promised_at"]
        elif isinstance(when, str) and "T" in when:
            when = datetime.fromisoformat(when)
        dealer = self.config.dealer_names.get(row["dealer_code"], row["dealer_code"])
        unsubscribe_url = None
        if row["purpose"] == Purpose.MARKETING.value:
            token = unsubscribe_token(self.link_secret, contact["customer_id"])
            unsubscribe_url = f"{self.config.public_url}/unsubscribe/{token}"
        rendered = render(kind, contact.get("language") or "zh-CN", {
            "name": self.cipher.open(contact.get("name_sealed")), "plate": plate,
            "dealer": dealer, "time": when, "link": params.get("link"),
            "amount": params.get("amount"), "reason": params.get("reason")},
            zone=zone, unsubscribe_url=unsubscribe_url)
        return OutboundMessage(message_id=row["message_id"], to=address, title=rendered.title,
                               body=rendered.body, link=rendered.link, kind=kind.value,
                               extra={"dealer": dealer})
