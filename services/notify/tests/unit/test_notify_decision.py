"""The dispatch decision, every branch: what becomes of one due message given its customer's
contact and consent, the news it carries, the channel, quiet hours and the rate limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from notify.domain import (
    CONTACT_RETRY,
    Backoff,
    Channel,
    Circumstances,
    Defer,
    Kind,
    Outcome,
    Pending,
    Purpose,
    QuietHours,
    Send,
    Status,
    Suppress,
    Suppression,
    TokenBucket,
    Waiting,
    after_attempt,
    decide,
    reachable,
    restore_bucket,
    zone_of,
)

NOON = datetime(2025, 3, 17, 4, 0, tzinfo=UTC)      # 12:00 in Shanghai
NIGHT = datetime(2025, 3, 17, 15, 0, tzinfo=UTC)    # 23:00 in Shanghai
MORNING = datetime(2025, 3, 18, 0, 0, tzinfo=UTC)   # 08:00 in Shanghai
WAIT = timedelta(hours=48)
CONTACT = {"customer_id": "C-1", "phone_sealed": "sealed"}


def message(kind: Kind = Kind.CAR_RECEIVED, purpose: Purpose = Purpose.SERVICE,
            channel: Channel = Channel.SMS, created_at: datetime = NOON) -> Pending:
    return Pending(kind, purpose, channel, created_at)


def known(**changes: Any) -> Circumstances:
    base = Circumstances(contact=CONTACT, consents={}, address="13812345678",
                         channel_enabled=True, zone="Asia/Shanghai")
    return replace(base, **changes)


def decided(pending: Pending | None = None, now: datetime = NOON, **changes: Any):  # type: ignore[no-untyped-def]
    return decide(pending or message(), known(**changes), quiet_hours=QuietHours(),
                  contact_wait=WAIT, now=now)


def test_a_service_message_with_everything_in_place_is_sent_to_the_address():
    assert decided() == Send("13812345678")


# -- nobody to send to yet -----------------------------------------------------------------

def test_an_unknown_customer_is_waited_for_a_few_minutes_at_a_time():
    assert decided(contact=None) == Defer(NOON + CONTACT_RETRY, Waiting.AWAITING_CONTACT)


def test_a_contact_without_any_address_is_waited_for_too():
    assert decided(contact={"customer_id": "C-1"}) == \
        Defer(NOON + CONTACT_RETRY, Waiting.AWAITING_CONTACT)


def test_after_the_contact_wait_an_unknown_customer_is_given_up():
    late = NOON + WAIT
    assert decided(message(created_at=NOON), now=late, contact=None) == \
        Suppress(Suppression.NO_CONTACT)
    assert decided(message(created_at=NOON), now=late - timedelta(seconds=1),
                   contact=None) == Defer(late - timedelta(seconds=1) + CONTACT_RETRY,
                                          Waiting.AWAITING_CONTACT)


@pytest.mark.parametrize("contact, channel, expected", [
    (None, Channel.PUSH, False),
    ({"customer_id": "C-1"}, Channel.PUSH, True),      # a push needs only the customer id
    ({"customer_id": "C-1"}, Channel.SMS, False),
    ({"customer_id": "C-1", "email": "a@b.cn"}, Channel.SMS, True),  # known, if not here
    ({"customer_id": "C-1", "wechat_openid": "o-1"}, Channel.EMAIL, True),
])
def test_who_is_reachable(contact, channel, expected):
    assert reachable(channel, contact) is expected


def test_a_customer_known_by_another_address_but_none_on_this_channel_is_no_address():
    assert decided(message(channel=Channel.EMAIL), contact={"customer_id": "C-1",
                   "phone_sealed": "x"}, address=None) == Suppress(Suppression.NO_ADDRESS)


# -- consent -----------------------------------------------------------------------------------

def test_marketing_without_consent_is_not_sent():
    marketing = message(Kind.REMINDER_DUE, Purpose.MARKETING)
    assert decided(marketing) == Suppress(Suppression.NO_CONSENT)
    assert decided(marketing, consents={("MARKETING", "SMS"): True}) == Send("13812345678")
    assert decided(marketing, consents={("MARKETING", "SMS"): False}) == \
        Suppress(Suppression.UNSUBSCRIBED)


def test_consent_is_per_channel_and_push_asks_the_app_consent():
    marketing = message(Kind.REMINDER_DUE, Purpose.MARKETING, Channel.PUSH)
    assert decided(marketing, consents={("MARKETING", "SMS"): True}) == \
        Suppress(Suppression.NO_CONSENT)
    assert decided(marketing, consents={("MARKETING", "APP"): True}) == Send("13812345678")


def test_a_service_reminder_goes_out_until_withdrawn():
    recall = message(Kind.REMINDER_DUE, Purpose.SERVICE)
    assert decided(recall) == Send("13812345678")
    assert decided(recall, consents={("SERVICE", "SMS"): False}) == \
        Suppress(Suppression.UNSUBSCRIBED)


def test_news_about_the_owners_own_car_ignores_an_unsubscribe():
    assert decided(message(Kind.READY_FOR_PICKUP), consents={
        ("MARKETING", "SMS"): False, ("SERVICE", "SMS"): False}) == Send("13812345678")


def test_consent_is_checked_before_the_contact_wait_can_matter_only_when_known():
    # Unknown customer: waiting comes first, consent cannot be looked up yet.
    marketing = message(Kind.REMINDER_DUE, Purpose.MARKETING)
    assert isinstance(decided(marketing, contact=None), Defer)


# -- news that is no longer news -------------------------------------------------------------

@pytest.mark.parametrize("kind", [Kind.CAR_RECEIVED, Kind.INSPECTION_READY,
                                  Kind.QUOTE_WAITING, Kind.READY_FOR_PICKUP])
def test_repair_order_news_after_the_car_went_home_is_superseded(kind):
    assert decided(message(kind), delivered=True) == Suppress(Suppression.SUPERSEDED)


@pytest.mark.parametrize("kind", [Kind.SURVEY, Kind.BOOKING_CONFIRMED])
def test_a_survey_or_booking_still_goes_out_after_delivery(kind):
    assert decided(message(kind), delivered=True) == Send("13812345678")


def test_a_cancelled_booking_is_not_confirmed():
    assert decided(message(Kind.BOOKING_CONFIRMED), cancelled=True) == \
        Suppress(Suppression.SUPERSEDED)


def test_a_booking_whose_slot_began_is_not_confirmed():
    booking = message(Kind.BOOKING_CONFIRMED)
    assert decided(booking, slot_start=NOON) == Suppress(Suppression.SUPERSEDED)
    assert decided(booking, slot_start=NOON + timedelta(minutes=1)) == Send("13812345678")


def test_cancellation_only_matters_to_the_booking_message():
    assert decided(message(Kind.CAR_RECEIVED), cancelled=True, slot_start=NOON) == \
        Send("13812345678")


# -- the channel -------------------------------------------------------------------------------

def test_a_channel_not_configured_here_is_recorded_not_attempted():
    assert decided(channel_enabled=False) == Suppress(Suppression.CHANNEL_DISABLED)


def test_a_disabled_channel_is_named_before_a_missing_address():
    assert decided(channel_enabled=False, address=None) == \
        Suppress(Suppression.CHANNEL_DISABLED)


# -- quiet hours and the rate limit ------------------------------------------------------------

def test_at_night_the_message_waits_for_the_morning_in_the_customers_zone():
    assert decided(now=NIGHT) == Defer(MORNING, Waiting.QUIET_HOURS)
    # 23:00 in Shanghai is 16:00 in Berlin: nothing to wait for there.
    assert decided(now=NIGHT, zone="Europe/Berlin") == Send("13812345678")


def test_suppression_wins_over_quiet_hours():
    assert decided(now=NIGHT, delivered=True) == Suppress(Suppression.SUPERSEDED)


def test_a_full_bucket_gives_a_token_and_keeps_the_rest():
    bucket = TokenBucket.full(2.0, 1.0, NOON)
    assert decided(bucket=bucket) == Send("13812345678", replace(bucket, tokens=1.0))


def test_an_empty_bucket_defers_until_a_token_is_back_and_keeps_the_refill():
    empty = TokenBucket(2.0, 0.5, 0.0, NOON)
    later = NOON + timedelta(seconds=1)
    assert decided(now=later, bucket=empty) == Defer(
        later + timedelta(seconds=1), Waiting.RATE_LIMITED, replace(empty, tokens=0.5,
                                                                    updated_at=later))


def test_quiet_hours_take_no_token():
    bucket = TokenBucket.full(2.0, 1.0, NIGHT)
    assert decided(now=NIGHT, bucket=bucket) == Defer(MORNING, Waiting.QUIET_HOURS)


def test_the_bucket_comes_from_its_limit_and_stored_state():
    assert restore_bucket(None, {"tokens": 1.0, "updated_at": NOON}, NOON) is None
    assert restore_bucket((5.0, 1.0), None, NOON) == TokenBucket(5.0, 1.0, 5.0, NOON)
    # A lowered capacity applies at once.
    assert restore_bucket((2.0, 1.0), {"tokens": 4.0, "updated_at": NIGHT}, NOON) == \
        TokenBucket(2.0, 1.0, 2.0, NIGHT)


def test_the_customers_zone_or_the_default_one():
    assert zone_of(None, "Asia/Shanghai") == "Asia/Shanghai"
    assert zone_of({"time_zone": "Europe/Berlin"}, "Asia/Shanghai") == "Europe/Berlin"
    assert zone_of({"time_zone": "Mars/Olympus"}, "Asia/Shanghai") == "Asia/Shanghai"
    assert zone_of({"time_zone": None}, "Asia/Shanghai") == "Asia/Shanghai"


# -- after an attempt --------------------------------------------------------------------------

BACKOFF = Backoff(initial_seconds=30, multiplier=2, max_seconds=3600, max_attempts=3)


def test_a_sent_message_counts_its_attempt():
    assert after_attempt(True, False, 0, BACKOFF, NOON) == Outcome(Status.SENT, 1)
    assert Outcome(Status.SENT, 1).label == "sent"


def test_a_retryable_failure_backs_off_until_the_last_attempt():
    assert after_attempt(False, True, 0, BACKOFF, NOON) == \
        Outcome(Status.QUEUED, 1, NOON + timedelta(seconds=30))
    assert after_attempt(False, True, 1, BACKOFF, NOON) == \
        Outcome(Status.QUEUED, 2, NOON + timedelta(seconds=60))
    assert after_attempt(False, True, 2, BACKOFF, NOON) == Outcome(Status.FAILED, 3)
    assert Outcome(Status.QUEUED, 1).label == "retrying"


def test_a_final_failure_is_not_retried():
    assert after_attempt(False, False, 0, BACKOFF, NOON) == Outcome(Status.FAILED, 1)
    assert Outcome(Status.FAILED, 1).label == "failed"
