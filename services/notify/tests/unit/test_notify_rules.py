"""Dedupe keys, rate limits, retries, consent and the unsubscribe path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.payloads import REMINDER_PURPOSE
from notify.channels import sign, verify_signature
from notify.domain import (
    Backoff,
    Channel,
    Kind,
    Purpose,
    Suppression,
    TokenBucket,
    consent_suppression,
    customer_of_token,
    dedupe_key,
    is_unsubscribe,
    newer,
    purpose_of,
    unsubscribe_token,
)
from notify.privacy import ContactCipher, normal_phone

T0 = datetime(2025, 3, 18, 6, 0, tzinfo=UTC)


def test_one_message_per_event_per_channel():
    sms = dedupe_key(Kind.CAR_RECEIVED, "RO-1", Channel.SMS)
    assert sms == dedupe_key(Kind.CAR_RECEIVED, "RO-1", Channel.SMS)
    assert sms != dedupe_key(Kind.CAR_RECEIVED, "RO-1", Channel.WECHAT)
    assert sms != dedupe_key(Kind.READY_FOR_PICKUP, "RO-1", Channel.SMS)
    assert sms != dedupe_key(Kind.CAR_RECEIVED, "RO-2", Channel.SMS)


def test_a_full_bucket_lets_a_burst_through_then_makes_it_wait():
    bucket = TokenBucket.full(capacity=2, per_second=0.5, now=T0)
    bucket, wait = bucket.take(T0)
    assert wait == 0
    bucket, wait = bucket.take(T0)
    assert wait == 0
    bucket, wait = bucket.take(T0)
    assert wait == pytest.approx(2.0)  # one token every two seconds
    bucket, wait = bucket.take(T0 + timedelta(seconds=2))
    assert wait == 0


def test_a_bucket_never_holds_more_than_its_capacity():
    bucket = TokenBucket(capacity=3, per_second=1, tokens=0, updated_at=T0)
    bucket, _ = bucket.take(T0 + timedelta(hours=1))
    assert bucket.tokens == 2


def test_a_clock_going_backwards_does_not_mint_tokens():
    bucket = TokenBucket(capacity=3, per_second=1, tokens=0.5, updated_at=T0)
    bucket, wait = bucket.take(T0 - timedelta(seconds=30))
    assert wait > 0 and bucket.tokens == 0.5 and bucket.updated_at == T0


def test_retries_back_off_exponentially_up_to_a_ceiling_and_then_give_up():
    backoff = Backoff(initial_seconds=30, multiplier=2, max_seconds=100, max_attempts=4)
    assert [backoff.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
    assert not backoff.gives_up(3) and backoff.gives_up(4)


@pytest.mark.parametrize("text", ["退订", "TD", "td", " ＴＤ ", "退订。", "Stop"])
def test_replies_that_unsubscribe(text):
    assert is_unsubscribe(text)


@pytest.mark.parametrize("text", ["好的", "谢谢", "TD1", "不要退订吗"])
def test_replies_that_do_not(text):
    assert not is_unsubscribe(text)


def test_the_unsubscribe_link_names_its_customer_and_cannot_be_forged():
    token = unsubscribe_token("s" * 40, "CUST-42")
    assert customer_of_token("s" * 40, token) == "CUST-42"
    assert customer_of_token("t" * 40, token) is None
    body, _, mac = token.partition(".")
    forged = unsubscribe_token("s" * 40, "CUST-43").split(".")[0] + "." + mac
    assert customer_of_token("s" * 40, forged) is None
    assert customer_of_token("s" * 40, "garbage") is None
    assert customer_of_token("s" * 40, "Ṱ̺̺o͞.退订") is None


def test_reminders_are_marketing_except_recalls():
    assert purpose_of(Kind.REMINDER_DUE, "MAINTENANCE") is Purpose.MARKETING
    assert purpose_of(Kind.REMINDER_DUE, "RECALL") is Purpose.SERVICE
    assert purpose_of(Kind.READY_FOR_PICKUP) is Purpose.SERVICE
    for reason, purpose in REMINDER_PURPOSE.items():  # the rule crm chooses by
        assert purpose_of(Kind.REMINDER_DUE, reason).value == purpose


TRANSACTIONAL = [k for k in Kind if k is not Kind.REMINDER_DUE]
UNSUBSCRIBED = {("MARKETING", c): False for c in ("SMS", "WECHAT", "PHONE", "APP", "EMAIL")}


def test_marketing_needs_an_opt_in_on_the_channel():
    def refused(given: dict) -> Suppression | None:
        return consent_suppression(Kind.REMINDER_DUE, Purpose.MARKETING, Channel.SMS, given)

    assert refused({}) is Suppression.NO_CONSENT
    assert refused({("MARKETING", "WECHAT"): True}) is Suppression.NO_CONSENT
    assert refused({("MARKETING", "SMS"): True}) is None
    assert refused(UNSUBSCRIBED) is Suppression.UNSUBSCRIBED
    # An app push is the owner app's channel at crm.
    assert consent_suppression(Kind.REMINDER_DUE, Purpose.MARKETING, Channel.PUSH,
                               {("MARKETING", "APP"): True}) is None


def test_after_unsubscribing_notices_about_the_owners_own_car_still_go_out():
    for kind in TRANSACTIONAL:
        for given in ({}, UNSUBSCRIBED, {("SERVICE", "SMS"): False}):
            assert consent_suppression(kind, Purpose.SERVICE, Channel.SMS, given) is None
    # A recall goes out without an opt-in and despite 退订, until service is withdrawn.
    recall = purpose_of(Kind.REMINDER_DUE, "RECALL")
    assert consent_suppression(Kind.REMINDER_DUE, recall, Channel.SMS, UNSUBSCRIBED) is None
    assert consent_suppression(Kind.REMINDER_DUE, recall, Channel.SMS,
                               {("SERVICE", "SMS"): False}) is Suppression.UNSUBSCRIBED


def test_only_a_newer_sequence_replaces_what_is_stored():
    assert newer(None, 1) and newer(2, 3)
    assert not newer(3, 3) and not newer(3, 2)


def test_phones_are_sealed_at_rest_and_found_by_keyed_hash_in_any_notation():
    cipher = ContactCipher("k" * 40)
    sealed = cipher.seal("13812345678")
    assert "13812345678" not in sealed and cipher.open(sealed) == "13812345678"
    assert cipher.phone_hash("+86 138-1234-5678") == cipher.phone_hash("13812345678")
    assert ContactCipher("other-key" * 5).open(sealed) is None
    assert normal_phone("008613812345678") == "13812345678"


def test_the_gateways_signature_covers_body_and_time():
    body, stamp = b'{"from": "13812345678", "text": "TD"}', "1742280000"
    signature = sign("gw-secret", stamp, body)
    assert verify_signature("gw-secret", stamp, signature, body, now=1742280100)
    assert not verify_signature("gw-secret", stamp, signature, body + b" ", now=1742280100)
    assert not verify_signature("other", stamp, signature, body, now=1742280100)
    assert not verify_signature("gw-secret", stamp, signature, body, now=1742281000)  # stale
    assert not verify_signature("gw-secret", stamp, "签名", body, now=1742280100)
    assert not verify_signature("gw-secret", "soon", signature, body, now=1742280100)
    assert not verify_signature("gw-secret", None, signature, body)
