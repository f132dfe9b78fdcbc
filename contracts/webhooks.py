"""Signed webhooks, as Standard Webhooks (https://www.standardwebhooks.com) defines them: how the
platform signs what it sends a partner, and how a partner checks it.

A delivery is an HTTP POST whose body is one CloudEvent in structured JSON mode
(`content-type: application/cloudevents+json`), with three headers:

* ``webhook-id``: the delivery's id, the same on every retry of it (the event's ``id``);
* ``webhook-timestamp``: when it was signed, integer seconds since the epoch;
* ``webhook-signature``: ``v1,<base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``;
  several, separated by spaces, while a secret is being rotated (old and new both sign).

The secret is ``whsec_`` followed by the key in base64 (the prefix may be left out). Any library
that implements the standard (``standardwebhooks`` on PyPI, npm, Go, ...) verifies what
:func:`sign_webhook` produces, and :func:`verify_webhook` accepts what they sign; the contract
tests check both against the Python one. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from .wire import CONTENT_TYPE

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
_TIMESTAMP = re.compile(r"^[0-9]{1,15}$")


class WebhookVerificationError(ValueError):
    """The request is not a delivery signed with the secret, or it is too old or too new.

    Answer it with 401 and do not act on it. The message says which check failed (it never
    contains the expected signature)."""


def _key(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        key = secret
    else:
        text = secret.strip().removeprefix(SECRET_PREFIX)
        try:
            # Strict base64 (validate=True): a mangled secret is an error here, rather than
            # bytes that merely fail every signature; missing padding is tolerated.
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("webhook secret: not whsec_ followed by base64") from None
    if not key:
        raise ValueError("webhook secret: empty")
    return key


def _seconds(timestamp: int | datetime) -> int:
    if isinstance(timestamp, datetime):
        if timestamp.utcoffset() is None:
            raise ValueError("timestamp: a naive datetime; give it a time zone")
        return int(timestamp.timestamp())
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError(f"timestamp: not integer seconds since the epoch: {timestamp!r}")
    return timestamp


def sign_webhook(secret: str | bytes, msg_id: str, timestamp: int | datetime, body: bytes) -> str:
    """The ``webhook-signature`` value of one delivery: ``v1,<base64 HMAC-SHA256>`` of
    ``<msg_id>.<timestamp>.<body>``. ``body`` is the exact bytes sent."""
    if not msg_id:
        raise ValueError("msg_id: empty")
    signed = f"{msg_id}.{_seconds(timestamp)}.".encode() + bytes(body)
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def webhook_headers(secrets: str | Sequence[str], msg_id: str, body: bytes, *,
                    timestamp: int | datetime | None = None) -> dict[str, str]:
    """Every header of one delivery, signed with each of ``secrets`` (the current one, and
    the previous one while a rotation overlaps): the sender's side in one call."""
    seconds = int(time.time()) if timestamp is None else _seconds(timestamp)
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys:
        raise ValueError("secrets: at least one")
    return {
        "content-type": CONTENT_TYPE,
        "webhook-id": msg_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": " ".join(sign_webhook(k, msg_id, seconds, body) for k in keys),
    }


def verify_webhook(secret: str | bytes, headers: Mapping[str, str], body: bytes, *,
                   tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
                   now: int | float | datetime | None = None) -> dict[str, Any]:
    """Check one delivery and return its CloudEvent (the parsed body).

    ``headers`` are the request's headers, names in any case; ``body`` the raw bytes as
    received (before any JSON parsing: a re-serialised body does not verify). Raises
    :class:`WebhookVerificationError` when a header is missing, the timestamp is more than
    ``tolerance_seconds`` away from ``now`` (default: the clock), no ``v1`` signature matches,
    or the verified body is not a JSON object. Nothing is parsed before the signature matched.

    A delivery can arrive twice (at-least-once, like every event): skip an ``id`` you have
    applied, and order by ``sequence`` per ``source`` + ``subject``.
    """
    key = _key(secret)
    found = {name.lower(): value for name, value in headers.items()}
    msg_id = found.get("webhook-id", "")
    stamp = found.get("webhook-timestamp", "").strip()
    signatures = found.get("webhook-signature", "")
    if not (msg_id and stamp and signatures):
        raise WebhookVerificationError(
            "missing header: webhook-id, webhook-timestamp and webhook-signature are required")
    if not _TIMESTAMP.fullmatch(stamp):
        raise WebhookVerificationError("webhook-timestamp: not integer seconds")
    sent = int(stamp)
    current = _now(now)
    if sent < current - tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp: too old (a replay, or a slow clock)")
    if sent > current + tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp: too far in the future")

    signed = f"{msg_id}.{stamp}.".encode() + bytes(body)
    expected = hmac.new(key, signed, hashlib.sha256).digest()
    if not any(_matches(candidate, expected) for candidate in signatures.split()):
        raise WebhookVerificationError("webhook-signature: no v1 signature matches")

    try:
        event = json.loads(body)
    except ValueError as exc:
        raise WebhookVerificationError(f"body: not JSON ({exc})") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("body: not a JSON object (a CloudEvent)")
    return event


def _matches(candidate: str, expected: bytes) -> bool:
    version, _, encoded = candidate.partition(",")
    if version != SIGNATURE_VERSION:  # v1a (asymmetric) and later versions: not ours to check
        return False
    try:
        given = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return False
    # Constant time: how long the comparison takes says nothing about how much matched.
    return hmac.compare_digest(given, expected)


def _now(now: int | float | datetime | None) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, datetime):
        if now.utcoffset() is None:
            raise ValueError("now: a naive datetime; give it a time zone")
        return int(now.timestamp())
    return int(now)
