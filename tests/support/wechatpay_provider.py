"""A local WeChat Pay (API v3, H5 payment) for tests and the demo: the same protocol as
api.mch.weixin.qq.com, on a free loopback port, standard library and `cryptography` only.

What it does, as WeChat Pay does it:

* `POST /v3/pay/transactions/h5` and `GET /v3/pay/transactions/out-trade-no/{no}?mchid=` take
  only requests signed with the merchant's key (`Authorization: WECHATPAY2-SHA256-RSA2048 …`
  over "METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n", checked with the merchant's public key,
  its serial and the time), and answer signed with the platform key it made for itself
  (`Wechatpay-Timestamp/-Nonce/-Signature/-Serial` over "TIMESTAMP\\nNONCE\\nBODY\\n");
* the `h5_url` it answers is a page here (`/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=…`) that
  opens for five minutes and takes the merchant's `&redirect_url=` appended; its "确认支付 /
  Pay" button (a form POST) marks the order paid, sends the signed notification with the
  transaction encrypted (AEAD_AES_256_GCM, the merchant's APIv3 key) to the order's
  notify_url, and sends the browser to the redirect_url; its "模拟支付失败 / Decline" button
  is the bank refusing: the order is PAYERROR (no notification, as WeChat Pay sends none for
  a failure; a query says so) and the browser goes back all the same;
* a merchant order number placed again unpaid with the same amount gets a new page.

For tests: `Merchant.generate()` makes a merchant (key pair, serial, APIv3 key);
`LocalWechatPay(merchant.public_pem, ...)` is the provider, a context manager;
`provider.workorder_settings(merchant, notify_url)` the settings workorder needs;
`send_notifications = False` loses the notifications (for reconciliation);
`notification(no)` / `notify(no)` build and send one again (duplicates, forgeries).

For the demo (keys kept in --keys, made on first run; the settings workorder needs printed):

    python -m tests.support.wechatpay_provider --port 8090 \\
        --notify http://127.0.0.1:8002/payment-notifications/wechatpay
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEME = "WECHATPAY2-SHA256-RSA2048"
CLOCK_SKEW_SECONDS = 300
H5_TTL_SECONDS = 300
PAGE_PATH = "/cgi-bin/mmpayweb-bin/checkmweb"
PAY_PATH = "/cgi-bin/mmpayweb-bin/pay"
DECLINE_PATH = "/cgi-bin/mmpayweb-bin/decline"
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
BEIJING = timezone(timedelta(hours=8))


def _pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _pem_public(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class Merchant:
    """A merchant account: what the merchant keeps (its private key, the APIv3 key it set)
    and what WeChat Pay knows of it (its public key and serial, the ids)."""

    mchid: str
    appid: str
    serial: str
    private_pem: str
    public_pem: str
    apiv3_key: str

    @classmethod
    def generate(cls, mchid: str = "1900000109", appid: str = "wxd678efh567hg6787"
                 ) -> Merchant:
        key = _new_key()
        return cls(mchid=mchid, appid=appid, serial=secrets.token_hex(20).upper(),
                   private_pem=_pem_private(key), public_pem=_pem_public(key.public_key()),
                   apiv3_key=secrets.token_urlsafe(24)[:32])


class LocalWechatPay:
    """WeChat Pay for one merchant, on 127.0.0.1 (or `host`) and a free port (or `port`)."""

    def __init__(self, merchant_public_key: str, *, mchid: str, appid: str,
                 merchant_serial: str, apiv3_key: str, host: str = "127.0.0.1", port: int = 0,
                 notify_url: str | None = None, platform_key: rsa.RSAPrivateKey | None = None,
                 platform_serial: str | None = None) -> None:
        loaded = serialization.load_pem_public_key(merchant_public_key.encode())
        assert isinstance(loaded, rsa.RSAPublicKey)
        self.merchant_key: rsa.RSAPublicKey = loaded
        self.mchid, self.appid, self.merchant_serial = mchid, appid, merchant_serial
        self.apiv3_key = apiv3_key.encode()
        self.platform_key = platform_key or _new_key()
        self.platform_serial = platform_serial or f"PUB_KEY_ID_{secrets.token_hex(12).upper()}"
        self.notify_override = notify_url  # else the order's notify_url
        self.send_notifications = True
        self.h5_ttl_seconds = H5_TTL_SECONDS
        self.clock = time.time
        self.transactions: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []  # each sent: out_trade_no, status
        self.requests: list[dict[str, Any]] = []       # each API request: method, path, ok
        self.lock = threading.RLock()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @classmethod
    def for_merchant(cls, merchant: Merchant, **kwargs: Any) -> LocalWechatPay:
        return cls(merchant.public_pem, mchid=merchant.mchid, appid=merchant.appid,
                   merchant_serial=merchant.serial, apiv3_key=merchant.apiv3_key, **kwargs)

    # -- running -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def platform_public_pem(self) -> str:
        return _pem_public(self.platform_key.public_key())

    def start(self) -> LocalWechatPay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalWechatPay:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def workorder_settings(self, merchant: Merchant, notify_url: str) -> dict[str, str]:
        """What workorder's settings need to pay through this provider as `merchant`."""
        return {"wechatpay_base_url": self.url, "wechatpay_mchid": merchant.mchid,
                "wechatpay_appid": merchant.appid, "wechatpay_merchant_serial": merchant.serial,
                "wechatpay_platform_serial": self.platform_serial,
                "wechatpay_merchant_private_key": merchant.private_pem,
                "wechatpay_platform_public_key": self.platform_public_pem,
                "wechatpay_apiv3_key": merchant.apiv3_key, "payment_notify_url": notify_url}

    # -- what a person does on the phone -----------------------------------------------------

    def pay(self, out_trade_no: str) -> dict[str, Any]:
        """Mark the order paid (as the page's button does), without sending anything."""
        with self.lock:
            tx = self.transactions[out_trade_no]
            if tx["trade_state"] != "SUCCESS":
                tx.update(trade_state="SUCCESS",
                          transaction_id="4200" + "".join(secrets.choice("0123456789")
                                                          for _ in range(28)),
                          success_time=datetime.fromtimestamp(self.clock(), BEIJING)
                          .isoformat(timespec="seconds"))
            return dict(tx)

    # -- notifications -----------------------------------------------------------------------

    def notification(self, out_trade_no: str, *, timestamp: int | None = None,
                     signed_by: rsa.RSAPrivateKey | None = None,
                     apiv3_key: bytes | None = None, **changes: Any
                     ) -> tuple[dict[str, str], bytes]:
        """The signed notification of a paid order: headers and body. `signed_by`,
        `apiv3_key`, `timestamp` and `changes` to the transaction make forgeries."""
        tx = {**self.transactions[out_trade_no], **changes}
        resource = {
            "mchid": self.mchid, "appid": self.appid, "out_trade_no": tx["out_trade_no"],
            "transaction_id": tx["transaction_id"], "trade_type": "MWEB",
            "trade_state": tx["trade_state"], "trade_state_desc": "支付成功",
            "bank_type": "OTHERS", "attach": "", "success_time": tx["success_time"],
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": tx["total"], "payer_total": tx["total"],
                       "currency": tx["currency"], "payer_currency": "CNY"}}
        nonce = secrets.token_hex(6)
        ciphertext = AESGCM(apiv3_key or self.apiv3_key).encrypt(
            nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), b"transaction")
        body = json.dumps({
            "id": str(uuid.uuid4()),
            "create_time": datetime.fromtimestamp(self.clock(), BEIJING).isoformat(
                timespec="seconds"),
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(ciphertext).decode(),
                         "associated_data": "transaction", "nonce": nonce}},
            ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json",
                   **self._signature(body, timestamp=timestamp, key=signed_by)}
        return headers, body

    def notify(self, out_trade_no: str, **forged: Any) -> int:
        """Send the order's notification (again); the status workorder answered (0: none)."""
        headers, body = self.notification(out_trade_no, **forged)
        target = self.notify_override or self.transactions[out_trade_no]["notify_url"]
        request = urllib.request.Request(target, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=15) as answer:
                status, text = answer.status, answer.read().decode(errors="replace")
        except urllib.error.HTTPError as refused:
            status, text = refused.code, refused.read().decode(errors="replace")
        except OSError as exc:
            status, text = 0, str(exc)
        with self.lock:
            self.notifications.append({"out_trade_no": out_trade_no, "status": status,
                                       "answer": text})
        return status

    # -- the protocol ------------------------------------------------------------------------

    def _signature(self, body: bytes, *, timestamp: int | None = None,
                   key: rsa.RSAPrivateKey | None = None) -> dict[str, str]:
        stamp = str(int(self.clock()) if timestamp is None else timestamp)
        nonce = secrets.token_hex(16).upper()
        message = f"{stamp}\n{nonce}\n".encode() + body + b"\n"
        return {"Wechatpay-Timestamp": stamp, "Wechatpay-Nonce": nonce,
                "Wechatpay-Signature": _sign(key or self.platform_key, message),
                "Wechatpay-Serial": self.platform_serial,
                "Wechatpay-Signature-Type": SCHEME, "Request-ID": str(uuid.uuid4())}

    def _merchant_refusal(self, method: str, target: str, headers: Any, body: bytes
                          ) -> str | None:
        """Why the request is not the merchant's (None: it is)."""
        scheme, _, params = str(headers.get("Authorization") or "").partition(" ")
        if scheme != SCHEME:
            return "Authorization is not WECHATPAY2-SHA256-RSA2048"
        given = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if given.get("mchid") != self.mchid:
            return "mchid is not this merchant's"
        if given.get("serial_no") != self.merchant_serial:
            return "serial_no is not the merchant certificate's"
        stamp, nonce = given.get("timestamp", ""), given.get("nonce_str", "")
        if not stamp.isdigit() or abs(self.clock() - int(stamp)) > CLOCK_SKEW_SECONDS or not nonce:
            return "timestamp or nonce_str missing or out of date"
        message = f"{method}\n{target}\n{stamp}\n{nonce}\n".encode() + body + b"\n"
        try:
            self.merchant_key.verify(base64.b64decode(given.get("signature", "")), message,
                                     padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return "the signature does not verify with the merchant's public key"
        return None

    def handle(self, method: str, target: str, headers: Any, body: bytes
               ) -> tuple[int, dict[str, str], bytes]:
        path, query = urlsplit(target).path, parse_qs(urlsplit(target).query)
        if path == PAGE_PATH and method == "GET":
            return self._page(query)
        if path == PAY_PATH and method == "POST":
            return self._pay_form(parse_qs(body.decode()))
        if path == DECLINE_PATH and method == "POST":
            return self._decline_form(parse_qs(body.decode()))
        if not path.startswith("/v3/"):
            return 404, {"Content-Type": "text/plain"}, b"not found"
        refusal = self._merchant_refusal(method, target, headers, body)
        with self.lock:
            self.requests.append({"method": method, "path": target, "ok": refusal is None})
        if refusal:
            status, answer = 401, {"code": "SIGN_ERROR", "message": refusal}
        elif path == "/v3/pay/transactions/h5" and method == "POST":
            status, answer = self._place(body)
        elif path.startswith("/v3/pay/transactions/out-trade-no/") and method == "GET":
            status, answer = self._query(path.rsplit("/", 1)[1], query)
        else:
            status, answer = 404, {"code": "NOT_FOUND", "message": "no such API"}
        payload = json.dumps(answer, ensure_ascii=False).encode()
        return status, {"Content-Type": "application/json", **self._signature(payload)}, payload

    def _place(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            order = json.loads(body)
            amount, scene = order["amount"], order["scene_info"]
            total = amount["total"]
            valid = (isinstance(total, int) and not isinstance(total, bool) and total > 0
                     and amount.get("currency", "CNY") == "CNY"
                     and OUT_TRADE_NO.fullmatch(order["out_trade_no"])
                     and 1 <= len(order["description"]) <= 127
                     and urlsplit(order["notify_url"]).scheme in ("http", "https")
                     and isinstance(scene["payer_client_ip"], str)
                     and isinstance(scene["h5_info"]["type"], str))
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            return 400, {"code": "PARAM_ERROR", "message": "输入源“/body”映射到值字段失败"}
        if order["appid"] != self.appid or order["mchid"] != self.mchid:
            return 400, {"code": "APPID_MCHID_NOT_MATCH", "message": "appid和mch_id不匹配"}
        with self.lock:
            tx = self.transactions.get(order["out_trade_no"])
            if tx is not None and tx["trade_state"] == "SUCCESS":
                return 400, {"code": "ORDERPAID", "message": "该订单已支付"}
            if tx is not None and (tx["total"], tx["description"]) != (
                    total, order["description"]):
                return 400, {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"}
            tx = tx or {"out_trade_no": order["out_trade_no"], "total": total,
                        "currency": "CNY", "description": order["description"],
                        "trade_state": "NOTPAY", "transaction_id": None, "success_time": None}
            prepay_id = f"wx{time.strftime('%d%H%M%S')}{secrets.token_hex(12)}"
            tx.update(notify_url=order["notify_url"], prepay_id=prepay_id,
                      page_issued=self.clock(), client_ip=scene["payer_client_ip"])
            self.transactions[order["out_trade_no"]] = tx
        return 200, {"h5_url": f"{self.url}{PAGE_PATH}?prepay_id={prepay_id}"
                               f"&package={secrets.randbelow(10**10)}"}

    def _query(self, out_trade_no: str, query: dict[str, list[str]]
               ) -> tuple[int, dict[str, Any]]:
        if query.get("mchid") != [self.mchid]:
            return 400, {"code": "PARAM_ERROR", "message": "mchid 与请求商户号不一致"}
        with self.lock:
            tx = self.transactions.get(out_trade_no)
            tx = None if tx is None else dict(tx)
        if tx is None:
            return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
        answer: dict[str, Any] = {
            "appid": self.appid, "mchid": self.mchid, "out_trade_no": out_trade_no,
            "trade_type": "MWEB", "trade_state": tx["trade_state"],
            "trade_state_desc": "支付成功" if tx["trade_state"] == "SUCCESS" else "订单未支付",
            "amount": {"total": tx["total"], "currency": "CNY", "payer_currency": "CNY"}}
        if tx["trade_state"] == "SUCCESS":
            answer.update(transaction_id=tx["transaction_id"], success_time=tx["success_time"],
                          bank_type="OTHERS", attach="",
                          payer={"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})
            answer["amount"]["payer_total"] = tx["total"]
        return 200, answer

    # -- the phone's pages ---------------------------------------------------------------------

    def _by_prepay(self, prepay_id: str) -> dict[str, Any] | None:
        with self.lock:
            return next((t for t in self.transactions.values()
                         if t.get("prepay_id") == prepay_id), None)

    def _page(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        tx = self._by_prepay(query.get("prepay_id", [""])[0])
        if tx is None:
            return _html(404, "订单不存在 / No such order")
        if self.clock() - tx["page_issued"] > self.h5_ttl_seconds:
            return _html(410, "支付链接已过期 / This payment page has expired")
        redirect = query.get("redirect_url", [""])[0]
        yuan = f"{tx['total'] / 100:.2f}"
        return _html(200, f"""<h1>微信支付 / WeChat Pay</h1>
<p>{html.escape(tx['description'])}</p><p class="amount">¥{yuan}</p>
<form method="post" action="{PAY_PATH}">
<input type="hidden" name="prepay_id" value="{html.escape(tx['prepay_id'])}">
<input type="hidden" name="redirect_url" value="{html.escape(redirect)}">
<button type="submit">确认支付 / Pay</button></form>
<form method="post" action="{DECLINE_PATH}">
<input type="hidden" name="prepay_id" value="{html.escape(tx['prepay_id'])}">
<input type="hidden" name="redirect_url" value="{html.escape(redirect)}">
<button type="submit">模拟支付失败 / Decline</button></form>""")

    def _pay_form(self, form: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        tx = self._by_prepay(form.get("prepay_id", [""])[0])
        if tx is None:
            return _html(404, "订单不存在 / No such order")
        if self.clock() - tx["page_issued"] > self.h5_ttl_seconds:
            return _html(410, "支付链接已过期 / This payment page has expired")
        already = tx["trade_state"] == "SUCCESS"
        self.pay(tx["out_trade_no"])
        if not already and self.send_notifications:
            self.notify(tx["out_trade_no"])
        redirect = form.get("redirect_url", [""])[0]
        if urlsplit(redirect).scheme in ("http", "https"):
            return 303, {"Location": redirect, "Content-Type": "text/plain"}, b""
        return _html(200, "支付成功 / Paid")

    def _decline_form(self, form: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        """The bank refuses the payment: the order fails (PAYERROR), unless it was paid."""
        tx = self._by_prepay(form.get("prepay_id", [""])[0])
        if tx is None:
            return _html(404, "订单不存在 / No such order")
        with self.lock:
            if tx["trade_state"] != "SUCCESS":
                tx["trade_state"] = "PAYERROR"
        redirect = form.get("redirect_url", [""])[0]
        if urlsplit(redirect).scheme in ("http", "https"):
            return 303, {"Location": redirect, "Content-Type": "text/plain"}, b""
        return _html(200, "支付失败 / Declined")


def _html(status: int, content: str) -> tuple[int, dict[str, str], bytes]:
    page = (f'<!doctype html><html lang="zh"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width">'
            f'<link rel="icon" href="data:,">'
            f"<title>微信支付</title></head><body>{content}</body></html>")
    return status, {"Content-Type": "text/html; charset=utf-8"}, page.encode()


def _handler(provider: LocalWechatPay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = provider.handle(self.command, self.path, self.headers,
                                                       body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


# -- the demo: python -m tests.support.wechatpay_provider --port N --notify URL -------------------


def _kept(path: Path, make: Any) -> str:
    """The file's text, written first (mode 0600) by `make()` when it is not there."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make(), encoding="utf-8")
        os.chmod(path, 0o600)
    return path.read_text(encoding="utf-8")


def demo_provider(keys: Path, *, host: str, port: int, notify_url: str | None
                  ) -> tuple[LocalWechatPay, Merchant]:
    """The provider and its merchant, with keys kept in `keys` (made on the first run), so a
    restarted provider still matches the workorder configured for it."""
    made = Merchant.generate()
    ids = json.loads(_kept(keys / "ids.json", lambda: json.dumps(
        {"mchid": made.mchid, "appid": made.appid, "merchant_serial": made.serial,
         "platform_serial": f"PUB_KEY_ID_{secrets.token_hex(12).upper()}"})))
    private_pem = _kept(keys / "merchant_private_key.pem", lambda: made.private_pem)
    merchant_key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(merchant_key, rsa.RSAPrivateKey)
    merchant = Merchant(mchid=ids["mchid"], appid=ids["appid"], serial=ids["merchant_serial"],
                        private_pem=private_pem,
                        public_pem=_pem_public(merchant_key.public_key()),
                        apiv3_key=_kept(keys / "apiv3_key", lambda: made.apiv3_key).strip())
    platform_pem = _kept(keys / "platform_private_key.pem", lambda: _pem_private(_new_key()))
    platform_key = serialization.load_pem_private_key(platform_pem.encode(), password=None)
    assert isinstance(platform_key, rsa.RSAPrivateKey)
    provider = LocalWechatPay.for_merchant(merchant, host=host, port=port,
                                           notify_url=notify_url, platform_key=platform_key,
                                           platform_serial=ids["platform_serial"])
    _kept(keys / "platform_public_key.pem", lambda: provider.platform_public_pem)
    return provider, merchant


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A local WeChat Pay (API v3, H5) for the demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--notify", default=None, help="where to send notifications (default: "
                        "the notify_url of each order), and workorder's payment_notify_url")
    parser.add_argument("--keys", type=Path, default=Path("var/wechatpay-local"),
                        help="where the merchant's and the platform's keys are kept")
    args = parser.parse_args(argv)
    provider, merchant = demo_provider(args.keys, host=args.host, port=args.port,
                                       notify_url=args.notify)
    keys = args.keys.resolve()
    env = {"WECHATPAY_BASE_URL": provider.url, "WECHATPAY_MCHID": merchant.mchid,
           "WECHATPAY_APPID": merchant.appid, "WECHATPAY_MERCHANT_SERIAL": merchant.serial,
           "WECHATPAY_PLATFORM_SERIAL": provider.platform_serial,
           "WECHATPAY_MERCHANT_PRIVATE_KEY_FILE": str(keys / "merchant_private_key.pem"),
           "WECHATPAY_PLATFORM_PUBLIC_KEY_FILE": str(keys / "platform_public_key.pem"),
           "WECHATPAY_APIV3_KEY_FILE": str(keys / "apiv3_key")}
    if args.notify:
        env["PAYMENT_NOTIFY_URL"] = args.notify
    print(f"local WeChat Pay listening on {provider.url}; workorder's settings:", flush=True)
    for name, value in env.items():
        print(f"AFTERSALES_WORKORDER_{name}={value}", flush=True)
    with provider:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["LocalWechatPay", "Merchant", "demo_provider", "main"]
