"""Paying the invoice online: the port the use cases see (`PaymentProvider`) and its adapter
for WeChat Pay API v3, H5 payment (`WechatPayV3`), the subset workorder needs.

An adapter beside the rules, like `workorder.links`: no nameko, no database. Another provider
(Alipay) is another class with the same four methods.

WeChat Pay v3, as implemented here:

* every request is signed with the merchant's private key: RSA-SHA256 (PKCS#1 v1.5) over
  "METHOD\\nURL_PATH\\nTIMESTAMP\\nNONCE\\nBODY\\n", sent as
  `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
  timestamp="…",serial_no="…"` (serial_no: the merchant certificate's serial);
* every answer, and every notification, is signed by WeChat Pay with its platform key:
  `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature` over
  "TIMESTAMP\\nNONCE\\nBODY\\n", `Wechatpay-Serial` naming the key. Nothing unsigned, signed
  by another key, or more than five minutes off this clock is believed;
* `POST /v3/pay/transactions/h5` places the order and answers `{"h5_url": …}`, the page the
  phone's browser opens (for five minutes), to which the merchant appends
  `&redirect_url=<urlencoded>` to have the browser sent back;
* the notification's `resource` is AEAD_AES_256_GCM-encrypted with the merchant's APIv3 key
  (32 bytes): the transaction, with out_trade_no, transaction_id, trade_state and the amount
  in fen;
* `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…` asks how an order stands,
  for a notification that never came.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import requests
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509 import load_pem_x509_certificate

from chassis.errors import DomainError, MalformedRequest, ServiceUnavailable, Unauthorized
from workorder.domain.pricing import CURRENCY, PaymentMethod
from workorder.domain.settlement import OnlinePaymentOrder, PaymentNotification, StartedPayment


class PaymentProvider(Protocol):
    """A payment provider, as the use cases see it. Every method raises a chassis error:
    ServiceUnavailable (503) when the provider cannot be reached or its answer is not its own,
    Unauthorized (401) for a notification that is not the provider's, MalformedRequest (400)
    for one that is not a payment's."""

    name: str    # kept with each payment ("wechatpay")
    method: str  # the payment method its payments are recorded with (`PaymentMethod`)

    def start(self, order: OnlinePaymentOrder) -> StartedPayment:
        """Place the order; the page the phone opens (with the way back to `return_url`)."""
        ...

    def page_for(self, provider_url: str, return_url: str) -> str:
        """The page to open for an order placed before, sending the browser to `return_url`."""
        ...

    def read_notification(self, headers: Mapping[str, str], body: bytes, *,
                          now: float | None = None) -> PaymentNotification:
        """A notification the provider sent, verified and decrypted."""
        ...

    def query(self, out_trade_no: str) -> PaymentNotification:
        """How the order stands at the provider now."""
        ...


AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
MAX_CLOCK_SKEW_SECONDS = 300  # a signed answer or notification older (or newer) is refused
MAX_NOTIFICATION_BYTES = 64 * 1024
H5_PATH = "/v3/pay/transactions/h5"
QUERY_PATH = "/v3/pay/transactions/out-trade-no/{}"
SIGNATURE_PROBE = "WECHATPAY/SIGNTEST/"  # WeChat's probe of merchants that skip verification
APIV3_KEY_BYTES = 32


# -- the protocol's pieces (pure: unit-tested without a network) ------------------------------


def request_message(method: str, url_path: str, timestamp: str, nonce: str, body: str) -> bytes:
    return f"{method}\n{url_path}\n{timestamp}\n{nonce}\n{body}\n".encode()


def answer_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """RSA-SHA256 with PKCS#1 v1.5 padding, base64."""
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def signature_valid(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message,
                          padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def authorization(*, mchid: str, serial_no: str, private_key: rsa.RSAPrivateKey, method: str,
                  url_path: str, body: str, timestamp: str | None = None,
                  nonce: str | None = None) -> str:
    """The `Authorization` header of a merchant's request."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or secrets.token_hex(16).upper()
    signature = sign(private_key, request_message(method, url_path, timestamp, nonce, body))
    return (f'{AUTH_SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{serial_no}"')


def decrypt_resource(apiv3_key: bytes, resource: Mapping[str, Any]) -> dict[str, Any]:
    """The notification's resource, decrypted (AEAD_AES_256_GCM with the APIv3 key; the
    ciphertext ends with the 16-byte tag). Raises ValueError when it is not ours or not JSON."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise ValueError(f"unknown algorithm {resource.get('algorithm')!r}")
    try:
        ciphertext = base64.b64decode(str(resource["ciphertext"]), validate=True)
        nonce = str(resource["nonce"]).encode()
        associated = str(resource.get("associated_data") or "").encode()
        plain = AESGCM(apiv3_key).decrypt(nonce, ciphertext, associated or None)
        data = json.loads(plain)
    except (KeyError, InvalidTag, ValueError, TypeError) as exc:
        raise ValueError("the resource does not decrypt with the APIv3 key") from exc
    if not isinstance(data, dict):
        raise ValueError("the resource is not a JSON object")
    return data


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """The merchant's private key (PEM, PKCS#8 as WeChat's tool makes it, or PKCS#1)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ValueError("not an RSA private key of 2048 bits or more")
    return key


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """WeChat Pay's public key (PEM), or its platform certificate (PEM)."""
    data = pem.encode()
    key = (load_pem_x509_certificate(data).public_key() if b"CERTIFICATE" in data
           else serialization.load_pem_public_key(data))
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise ValueError("not an RSA public key of 2048 bits or more")
    return key


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def transaction_of(data: Mapping[str, Any], *, mchid: str, appid: str,
                   notification_id: str | None = None) -> PaymentNotification:
    """A transaction as WeChat Pay writes it (decrypted notification, or query answer).
    ValueError when it is not a transaction of this merchant."""
    if data.get("mchid") != mchid or data.get("appid", appid) != appid:
        raise ValueError("the transaction is another merchant's")
    out_trade_no, state = data.get("out_trade_no"), data.get("trade_state")
    if not isinstance(out_trade_no, str) or not out_trade_no or not isinstance(state, str):
        raise ValueError("the transaction names no out_trade_no or trade_state")
    amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
    transaction_id = data.get("transaction_id")
    return PaymentNotification(
        out_trade_no=out_trade_no, trade_state=state, amount_fen=_int(amount.get("total")),
        currency=amount.get("currency"), payer_total_fen=_int(amount.get("payer_total")),
        transaction_id=str(transaction_id) if transaction_id else None,
        success_time=data.get("success_time") or None, notification_id=notification_id)


# -- the adapter ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WechatPayConfig:
    """A merchant's WeChat Pay account, read from workorder's settings."""

    base_url: str           # https://api.mch.weixin.qq.com
    mchid: str
    appid: str
    merchant_serial: str    # the serial of the merchant's API certificate (serial_no)
    notify_url: str         # where WeChat Pay notifies workorder
    merchant_private_key: rsa.RSAPrivateKey = field(repr=False)
    platform_public_key: rsa.RSAPublicKey = field(repr=False)
    apiv3_key: bytes = field(repr=False)
    platform_serial: str = ""  # the platform key's serial / public key id; "" checks none
    timeout_seconds: float = 10.0


def _unauthorized(reason: str) -> DomainError:
    return Unauthorized(f"the notification is refused: {reason}", code="FAIL")


def _not_its_answer(reason: str) -> DomainError:
    return ServiceUnavailable(f"the payment provider's answer is refused: {reason}; try again, "
                              "or pay at the counter", service="wechatpay")


class WechatPayV3:
    """WeChat Pay API v3, H5 payment (the owner pays in the phone's browser)."""

    name = "wechatpay"
    method = PaymentMethod.WECHAT_PAY.value

    def __init__(self, config: WechatPayConfig, *, session: requests.Session | None = None
                 ) -> None:
        self.config = config
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"WechatPayV3(mchid={self.config.mchid!r}, base_url={self.config.base_url!r})"

    # -- the port ----------------------------------------------------------------------------

    def start(self, order: OnlinePaymentOrder) -> StartedPayment:
        c = self.config
        answer = self._call("POST", H5_PATH, body={
            "appid": c.appid, "mchid": c.mchid, "description": order.description,
            "out_trade_no": order.out_trade_no, "notify_url": c.notify_url,
            "amount": {"total": order.amount_fen, "currency": CURRENCY},
            "scene_info": {"payer_client_ip": order.client_ip, "h5_info": {"type": "Wap"}}})
        h5_url = answer.get("h5_url")
        if not isinstance(h5_url, str) or urlsplit(h5_url).scheme not in ("http", "https"):
            raise _not_its_answer("it gave no h5_url")
        prepay = parse_qs(urlsplit(h5_url).query).get("prepay_id", [None])[0]
        return StartedPayment(payment_url=self.page_for(h5_url, order.return_url),
                              provider_url=h5_url, reference=prepay)

    def page_for(self, provider_url: str, return_url: str) -> str:
        separator = "&" if "?" in provider_url else "?"
        return f"{provider_url}{separator}redirect_url={quote(return_url, safe='')}"

    def read_notification(self, headers: Mapping[str, str], body: bytes, *,
                          now: float | None = None) -> PaymentNotification:
        if len(body) > MAX_NOTIFICATION_BYTES:
            raise MalformedRequest("the notification is too large", code="FAIL")
        self._verify(headers, body, time.time() if now is None else now, _unauthorized)
        try:
            event = json.loads(body)
        except ValueError:
            raise MalformedRequest("the notification is not JSON", code="FAIL") from None
        if not isinstance(event, dict) or event.get("event_type") != "TRANSACTION.SUCCESS" \
                or event.get("resource_type") != "encrypt-resource" \
                or not isinstance(event.get("resource"), dict):
            raise MalformedRequest("not a payment notification (TRANSACTION.SUCCESS with an "
                                   "encrypt-resource)", code="FAIL")
        try:
            data = decrypt_resource(self.config.apiv3_key, event["resource"])
            return transaction_of(data, mchid=self.config.mchid, appid=self.config.appid,
                                  notification_id=str(event.get("id") or "") or None)
        except ValueError as exc:
            raise _unauthorized(str(exc)) from None

    def query(self, out_trade_no: str) -> PaymentNotification:
        answer = self._call("GET", QUERY_PATH.format(quote(out_trade_no, safe="")),
                            query={"mchid": self.config.mchid})
        try:
            return transaction_of(answer, mchid=self.config.mchid, appid=self.config.appid)
        except ValueError as exc:
            raise _not_its_answer(str(exc)) from None

    # -- the wire ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
              query: Mapping[str, str] | None = None) -> dict[str, Any]:
        c = self.config
        url = c.base_url.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")
        parts = urlsplit(url)
        url_path = parts.path + (f"?{parts.query}" if parts.query else "")
        text = "" if body is None else json.dumps(body, ensure_ascii=False,
                                                  separators=(",", ":"))
        headers = {"Accept": "application/json", "User-Agent": "aftersales-workorder",
                   "Authorization": authorization(
                       mchid=c.mchid, serial_no=c.merchant_serial,
                       private_key=c.merchant_private_key, method=method, url_path=url_path,
                       body=text)}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if c.platform_serial:
            headers["Wechatpay-Serial"] = c.platform_serial
        try:
            response = self._session.request(method, url, data=text.encode() or None,
                                             headers=headers, timeout=c.timeout_seconds)
        except requests.RequestException as exc:
            raise ServiceUnavailable("the payment provider did not answer; try again, or pay "
                                     "at the counter", service="wechatpay",
                                     cause=type(exc).__name__) from None
        if not 200 <= response.status_code < 300:
            try:
                refusal = response.json()
            except ValueError:
                refusal = {}
            refusal = refusal if isinstance(refusal, dict) else {}
            raise ServiceUnavailable(
                f"the payment provider refused ({response.status_code} "
                f"{refusal.get('code', '')}: {refusal.get('message', '')}); try again, or pay "
                "at the counter", service="wechatpay", provider_code=refusal.get("code"))
        self._verify(response.headers, response.content, time.time(), _not_its_answer)
        try:
            answer = response.json()
        except ValueError:
            raise _not_its_answer("it is not JSON") from None
        if not isinstance(answer, dict):
            raise _not_its_answer("it is not a JSON object")
        return answer

    def _verify(self, headers: Mapping[str, str], body: bytes, now: float,
                refuse: Any) -> None:
        """The platform's signature over what was received, from the last five minutes."""
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        timestamp = lowered.get("wechatpay-timestamp", "")
        nonce = lowered.get("wechatpay-nonce", "")
        signature = lowered.get("wechatpay-signature", "")
        serial = lowered.get("wechatpay-serial", "")
        if not (timestamp and nonce and signature and serial):
            raise refuse("it is not signed (Wechatpay-Timestamp, -Nonce, -Signature, -Serial)")
        if signature.startswith(SIGNATURE_PROBE):
            raise refuse("a signature probe")
        if self.config.platform_serial and serial != self.config.platform_serial:
            raise refuse(f"signed with a key this site does not know (serial {serial[:64]})")
        if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            raise refuse("its timestamp is more than five minutes off")
        if not signature_valid(self.config.platform_public_key,
                               answer_message(timestamp, nonce, body), signature):
            raise refuse("its signature does not verify with the platform key")
