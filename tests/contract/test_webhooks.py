"""contracts.webhooks signs and verifies as Standard Webhooks does: checked against the
reference Python library (`standardwebhooks` on PyPI) in both directions."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as LibraryVerificationError

from contracts import CONTRACTS, WebhookVerificationError, sign_webhook, verify_webhook, wire
from contracts.webhooks import webhook_headers

SECRET = "whsec_" + base64.b64encode(b"partner D001-P7 key, 32 bytes!!!").decode()
OTHER = "whsec_" + base64.b64encode(b"someone else's key, 32 bytes!!!").decode()
MSG_ID = "5a447fb8-1934-4d1a-a79d-2c8b5505e5a7"


@pytest.fixture
def body(example_of) -> bytes:
    return wire.encode(example_of(CONTRACTS["aftersales.QuoteApproved.v1"]))


def headers_for(signature: str, timestamp: int, msg_id: str = MSG_ID) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature}


def test_what_the_library_signs_verifies_here(body):
    now = datetime.now(UTC)
    signature = Webhook(SECRET).sign(MSG_ID, now, body)
    event = verify_webhook(SECRET, headers_for(signature, int(now.timestamp())), body)
    assert event == json.loads(body)


def test_what_is_signed_here_verifies_with_the_library(body):
    stamp = int(time.time())
    signature = sign_webhook(SECRET, MSG_ID, stamp, body)
    assert Webhook(SECRET).verify(body, headers_for(signature, stamp)) == json.loads(body)
    # and the library refuses it under another secret, as we do
    with pytest.raises(LibraryVerificationError):
        Webhook(OTHER).verify(body, headers_for(signature, stamp))
    with pytest.raises(WebhookVerificationError):
        verify_webhook(OTHER, headers_for(signature, stamp), body)


def test_the_signature_is_the_librarys_byte_for_byte(body):
    moment = datetime(2025, 3, 18, 15, 2, 47, tzinfo=UTC)
    assert sign_webhook(SECRET, MSG_ID, moment, body) == Webhook(SECRET).sign(MSG_ID, moment, body)
    assert sign_webhook(SECRET, MSG_ID, int(moment.timestamp()), body) == \
        Webhook(SECRET).sign(MSG_ID, moment, body)


def test_the_whsec_prefix_may_be_left_out_and_padding_too(body):
    stamp = int(time.time())
    bare = SECRET.removeprefix("whsec_")
    signature = sign_webhook(bare.rstrip("="), MSG_ID, stamp, body)
    assert verify_webhook(SECRET, headers_for(signature, stamp), body)
    assert Webhook(bare).verify(body, headers_for(signature, stamp))


def test_any_of_several_signatures_may_match_during_a_rotation(body):
    stamp = int(time.time())
    headers = webhook_headers([OTHER, SECRET], MSG_ID, body, timestamp=stamp)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert headers["content-type"] == "application/cloudevents+json"
    assert verify_webhook(SECRET, headers, body)
    assert verify_webhook(OTHER, headers, body)
    assert Webhook(SECRET).verify(body, headers) and Webhook(OTHER).verify(body, headers)
    # a signature of another version (v1a: asymmetric) is skipped, not an error
    mixed = {**headers, "webhook-signature": "v1a,c2lnbmF0dXJl " + headers["webhook-signature"]}
    assert verify_webhook(SECRET, mixed, body)


def test_header_names_are_matched_in_any_case(body):
    stamp = int(time.time())
    signature = sign_webhook(SECRET, MSG_ID, stamp, body)
    headers = {"Webhook-Id": MSG_ID, "WEBHOOK-TIMESTAMP": str(stamp),
               "Webhook-Signature": signature}
    assert verify_webhook(SECRET, headers, body)
    assert Webhook(SECRET).verify(body, headers)


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp", "signature"])
def test_a_changed_request_fails_here_and_in_the_library(tamper, body):
    stamp = int(time.time())
    headers = headers_for(sign_webhook(SECRET, MSG_ID, stamp, body), stamp)
    if tamper == "body":
        body = body.replace(b'"approved_total":"1699.00"', b'"approved_total":"1.00"')
    elif tamper == "id":
        headers["webhook-id"] = "6b447fb8-1934-4d1a-a79d-2c8b5505e5a7"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = str(stamp - 1)
    else:
        headers["webhook-signature"] = headers["webhook-signature"][:-6] + "AAAAA="
    with pytest.raises(WebhookVerificationError, match="no v1 signature matches"):
        verify_webhook(SECRET, headers, body)
    with pytest.raises(LibraryVerificationError):
        Webhook(SECRET).verify(body, headers)


def test_a_re_serialised_body_does_not_verify(body):
    stamp = int(time.time())
    headers = headers_for(sign_webhook(SECRET, MSG_ID, stamp, body), stamp)
    pretty = json.dumps(json.loads(body), indent=2, ensure_ascii=False).encode()
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, headers, pretty)


def test_the_timestamp_must_be_within_the_tolerance(body):
    signed_at = 1_742_281_367  # 2025-03-18T07:02:47Z
    headers = headers_for(sign_webhook(SECRET, MSG_ID, signed_at, body), signed_at)
    assert verify_webhook(SECRET, headers, body, now=signed_at + 300)
    assert verify_webhook(SECRET, headers, body, now=signed_at - 300)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(SECRET, headers, body, now=signed_at + 301)
    with pytest.raises(WebhookVerificationError, match="future"):
        verify_webhook(SECRET, headers, body, now=signed_at - 301)
    assert verify_webhook(SECRET, headers, body, now=signed_at + 3000, tolerance_seconds=3600)
    moment = datetime.fromtimestamp(signed_at + 10, UTC)
    assert verify_webhook(SECRET, headers, body, now=moment)
    # the library applies the same five minutes against its own clock
    with pytest.raises(LibraryVerificationError, match="too old"):
        Webhook(SECRET).verify(body, headers)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_every_header_is_required(missing, body):
    stamp = int(time.time())
    headers = headers_for(sign_webhook(SECRET, MSG_ID, stamp, body), stamp)
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match="missing header"):
        verify_webhook(SECRET, headers, body)
    with pytest.raises(LibraryVerificationError):
        Webhook(SECRET).verify(body, headers)


@pytest.mark.parametrize("stamp", ["", "soon", "1742281367.5", "-1742281367", "1e9"])
def test_a_timestamp_that_is_not_integer_seconds_is_refused(stamp, body):
    headers = headers_for(sign_webhook(SECRET, MSG_ID, 1_742_281_367, body), 1_742_281_367)
    headers["webhook-timestamp"] = stamp
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, headers, body, now=1_742_281_367)


def test_a_verified_body_that_is_not_a_json_object_is_refused():
    stamp = int(time.time())
    for body in (b"[1, 2]", b"not json"):
        headers = headers_for(sign_webhook(SECRET, MSG_ID, stamp, body), stamp)
        with pytest.raises(WebhookVerificationError, match="body"):
            verify_webhook(SECRET, headers, body)


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not base64!"])
def test_a_secret_that_is_not_base64_is_an_error_of_its_own(secret, body):
    with pytest.raises(ValueError) as info:
        verify_webhook(secret, headers_for("v1,AAAA", int(time.time())), body)
    assert not isinstance(info.value, WebhookVerificationError)  # the receiver's setup, not the
    with pytest.raises(ValueError):                             # sender's fault
        sign_webhook(secret, MSG_ID, 0, body)


def test_a_naive_datetime_is_refused_rather_than_guessed(body):
    with pytest.raises(ValueError):
        sign_webhook(SECRET, MSG_ID, datetime(2025, 3, 18, 15, 2, 47), body)
