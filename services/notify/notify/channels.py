"""Channel adapters: each speaks its provider's real protocol behind one interface,
`send(message) -> DeliveryResult`.

* SMS     JSON over HTTPS to an SMS gateway, with an API key and an HMAC-SHA256 signature
          over timestamp and body (the same scheme signs the gateway's inbound webhook);
* EMAIL   SMTP (optionally STARTTLS and login);
* WECHAT  official-account template messages: `cgi-bin/token` for an access token (cached
          until shortly before it expires), then `cgi-bin/message/template/send`;
* PUSH    a JSON POST with a bearer token to the app's push service, addressed by alias;
* file    a development sink writing one JSON line per message.

Adapters never log the recipient unmasked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import requests

from chassis.config import ConfigError
from chassis.logs import mask_personal

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class OutboundMessage:
    message_id: str       # ours; providers echo it so a resend can be recognised
    to: str               # phone, e-mail address, WeChat openid or app alias
    title: str
    body: str
    link: str | None = None
    kind: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    provider_id: str | None = None
    error: str | None = None
    retryable: bool = False  # worth another attempt later (network, 5xx, throttled)

    @classmethod
    def sent(cls, provider_id: str | None = None) -> DeliveryResult:
        return cls(True, provider_id=provider_id)

    @classmethod
    def failed(cls, error: str, *, retryable: bool) -> DeliveryResult:
        return cls(False, error=mask_personal(error)[:500], retryable=retryable)


class ChannelAdapter(Protocol):
    def send(self, message: OutboundMessage) -> DeliveryResult: ...


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `<timestamp>\\n<body>`, hex: the SMS gateway's signature, both ways."""
    return hmac.new(secret.encode(), timestamp.encode() + b"\n" + body,
                    hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str | None, signature: str | None, body: bytes,
                     *, now: float | None = None, tolerance_seconds: int = 300) -> bool:
    """A signed request from the gateway, not older or newer than `tolerance_seconds`."""
    if not timestamp or not signature:
        return False
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    expected = sign(secret, timestamp, body).encode()
    return age <= tolerance_seconds and hmac.compare_digest(expected,
                                                            signature.encode("utf-8", "replace"))


def _http_failure(response: requests.Response) -> DeliveryResult:
    retryable = response.status_code == 429 or response.status_code >= 500
    return DeliveryResult.failed(f"HTTP {response.status_code}: {response.text[:200]}",
                                 retryable=retryable)


class SmsGateway:
    """POST {url}/v1/sms/messages  {"to", "text", "client_ref"} → {"message_id", "status"}.

    Headers: X-Api-Key, X-Timestamp (unix seconds), X-Signature (see `sign`).
    """

    def __init__(self, url: str, api_key: str, api_secret: str, sender: str = "") -> None:
        self.url = url.rstrip("/")
        self.api_key, self.api_secret, self.sender = api_key, api_secret, sender

    def send(self, message: OutboundMessage) -> DeliveryResult:
        payload = {"to": message.to, "text": message.body, "client_ref": message.message_id}
        if self.sender:
            payload["sign_name"] = self.sender  # the 【签名】 the carrier shows
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json; charset=utf-8", "X-Api-Key": self.api_key,
                   "X-Timestamp": timestamp,
                   "X-Signature": sign(self.api_secret, timestamp, body)}
        try:
            response = requests.post(f"{self.url}/v1/sms/messages", data=body, headers=headers,
                                     timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            return DeliveryResult.failed(f"gateway unreachable: {type(exc).__name__}",
                                         retryable=True)
        if response.status_code not in (200, 201, 202):
            return _http_failure(response)
        answer = response.json()
        return DeliveryResult.sent(str(answer.get("message_id") or ""))


class SmtpMailer:
    def __init__(self, host: str, port: int = 25, sender: str = "noreply@aftersales.example.cn",
                 username: str | None = None, password: str | None = None,
                 starttls: bool = False) -> None:
        self.host, self.port, self.sender = host, int(port), sender
        self.username, self.password, self.starttls = username, password, starttls

    def send(self, message: OutboundMessage) -> DeliveryResult:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.title
        mail["Message-ID"] = f"<{message.message_id}@aftersales>"
        mail.set_content(message.body + (f"\n\n{message.link}" if message.link and
                                          message.link not in message.body else ""))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            # The address itself stays out of the log: it is personal data.
            return DeliveryResult.failed(f"recipient refused (SMTP {codes})", retryable=False)
        except smtplib.SMTPResponseException as exc:
            return DeliveryResult.failed(f"SMTP {exc.smtp_code}", retryable=exc.smtp_code < 500)
        except (OSError, smtplib.SMTPException) as exc:
            return DeliveryResult.failed(f"SMTP: {type(exc).__name__}", retryable=True)
        if refused:
            return DeliveryResult.failed("recipient refused", retryable=False)
        return DeliveryResult.sent(mail["Message-ID"])


# WeChat answers "access token invalid / expired" with these codes: fetch a new one and resend.
_WECHAT_TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# Busy or rate limited: try later.
_WECHAT_RETRYABLE = frozenset({-1, 45009, 45047})


class WechatTemplates:
    """WeChat official-account template messages.

    template_ids maps a message kind (BOOKING_CONFIRMED …) to the template registered for it;
    the data keys follow WeChat's classic layout (first, keyword1, keyword2, remark).
    """

    def __init__(self, appid: str, secret: str, template_ids: dict[str, str],
                 base_url: str = "https://api.weixin.qq.com") -> None:
        self.base_url = base_url.rstrip("/")
        self.appid, self.secret, self.template_ids = appid, secret, template_ids
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def access_token(self, *, refresh: bool = False) -> str:
        with self._lock:
            if refresh or not self._token or time.monotonic() >= self._expires:
                response = requests.get(f"{self.base_url}/cgi-bin/token", params={
                    "grant_type": "client_credential", "appid": self.appid,
                    "secret": self.secret}, timeout=TIMEOUT_SECONDS)
                answer = response.json()
                if "access_token" not in answer:
                    raise WechatError(int(answer.get("errcode", -1)), answer.get("errmsg", ""))
                self._token = answer["access_token"]
                # Renew five minutes early: a token used at its last second fails mid-send.
                self._expires = time.monotonic() + int(answer.get("expires_in", 7200)) - 300
            return self._token

    def send(self, message: OutboundMessage) -> DeliveryResult:
        template_id = self.template_ids.get(message.kind)
        if not template_id:
            return DeliveryResult.failed(f"no template for {message.kind}", retryable=False)
        payload: dict[str, Any] = {
            "touser": message.to, "template_id": template_id,
            "data": {"first": {"value": message.title}, "keyword1": {"value": message.body},
                     "keyword2": {"value": message.extra.get("dealer", "")},
                     "remark": {"value": message.extra.get("remark", "")}},
        }
        if message.link:
            payload["url"] = message.link
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            for refresh in (False, True):
                token = self.access_token(refresh=refresh)
                response = requests.post(f"{self.base_url}/cgi-bin/message/template/send",
                                         params={"access_token": token}, data=body,
                                         headers={"Content-Type": "application/json"},
                                         timeout=TIMEOUT_SECONDS)
                if response.status_code != 200:
                    return _http_failure(response)
                answer = response.json()
                code = int(answer.get("errcode", 0))
                if code == 0:
                    return DeliveryResult.sent(str(answer.get("msgid", "")))
                if code not in _WECHAT_TOKEN_ERRORS:
                    break
        except WechatError as exc:
            return DeliveryResult.failed(f"token: {exc}", retryable=exc.code in _WECHAT_RETRYABLE)
        except (requests.RequestException, ValueError) as exc:
            return DeliveryResult.failed(f"WeChat unreachable: {type(exc).__name__}",
                                         retryable=True)
        return DeliveryResult.failed(f"errcode {code}: {answer.get('errmsg', '')}",
                                     retryable=code in _WECHAT_RETRYABLE)


class WechatError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"errcode {code}: {message}")
        self.code = code


class AppPush:
    """POST {url} with `Authorization: Bearer <token>`: {"alias", "title", "body", "url",
    "message_id"} → 2xx with {"id"}."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def send(self, message: OutboundMessage) -> DeliveryResult:
        payload = {"alias": message.to, "title": message.title, "body": message.body,
                   "url": message.link, "message_id": message.message_id}
        try:
            response = requests.post(self.url, json=payload, timeout=TIMEOUT_SECONDS,
                                     headers={"Authorization": f"Bearer {self.token}"})
        except requests.RequestException as exc:
            return DeliveryResult.failed(f"push unreachable: {type(exc).__name__}",
                                         retryable=True)
        if not 200 <= response.status_code < 300:
            return _http_failure(response)
        try:
            return DeliveryResult.sent(str(response.json().get("id", "")))
        except ValueError:
            return DeliveryResult.sent()


class FileSink:
    """Development: one JSON line per message in a file (nothing leaves the machine)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, message: OutboundMessage) -> DeliveryResult:
        line = json.dumps({"message_id": message.message_id, "to": message.to,
                           "kind": message.kind, "title": message.title, "body": message.body,
                           "link": message.link}, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as sink:
                sink.write(line + "\n")
        return DeliveryResult.sent(message.message_id)


class ChannelConfigError(ConfigError, ValueError):
    """A channel's settings cannot be used: stops the start with one line naming it."""


def build_adapter(channel: str, config: dict[str, Any]) -> ChannelAdapter:
    """An adapter from one entry of `settings.extra["channels"]`, e.g.
    {"adapter": "sms_gateway", "url": …, "api_key": …, "api_secret": …}."""
    options = {k: v for k, v in config.items() if k != "adapter"}
    kind = config.get("adapter")
    builders: dict[str, Any] = {"sms_gateway": SmsGateway, "smtp": SmtpMailer,
                                "wechat": WechatTemplates, "push": AppPush, "file": FileSink}
    if kind not in builders:
        raise ChannelConfigError(f"channels.{channel}.adapter: {kind!r} is not one of "
                                 f"{', '.join(sorted(builders))}")
    try:
        return builders[kind](**options)
    except TypeError as exc:
        raise ChannelConfigError(f"channels.{channel}: {exc}") from None
