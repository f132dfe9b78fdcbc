"""Paying the invoice online, without I/O: WeChat Pay v3's signatures and decryption as the
adapter makes and checks them, the amount rules, the settings that set it up, and the use
cases against a fake unit of work and a fake provider."""

from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chassis.config import ConfigError, Settings
from chassis.errors import (
    Conflict,
    InvalidInput,
    MalformedRequest,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from chassis.identity import Identity, Role
from services.workorder.tests.unit.fakes import FakeWorkorderUnitOfWork
from workorder import payments as wx
from workorder import use_cases as uc
from workorder.domain import settlement as rules
from workorder.domain.pricing import Settlement
from workorder.settings import WorkorderSettings

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 18, 1, 30, tzinfo=UTC)
MCHID, APPID, SERIAL, PLATFORM_SERIAL = "1900000109", "wxd678efh567hg6787", "5157F09EFDC0", \
    "PUB_KEY_ID_0114232134912410000"
APIV3 = b"a" * 16 + b"B" * 16
_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def key(name: str) -> rsa.RSAPrivateKey:
    if name not in _KEYS:
        _KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[name]


def pem(private: rsa.RSAPrivateKey, *, public: bool = False) -> str:
    if public:
        return private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()


def config(**changes: Any) -> wx.WechatPayConfig:
    values: dict[str, Any] = {
        "base_url": "https://api.mch.weixin.qq.com", "mchid": MCHID, "appid": APPID,
        "merchant_serial": SERIAL, "notify_url": "https://d001.example.cn/payment-notifications/"
        "wechatpay", "merchant_private_key": key("merchant"),
        "platform_public_key": key("platform").public_key(), "apiv3_key": APIV3,
        "platform_serial": PLATFORM_SERIAL}
    return wx.WechatPayConfig(**{**values, **changes})


def platform_signed(body: bytes, *, at: datetime = NOW, signer: str = "platform",
                    serial: str = PLATFORM_SERIAL) -> dict[str, str]:
    """Headers as WeChat Pay signs an answer or a notification (written here from the spec,
    not with the adapter's helpers)."""
    stamp, nonce = str(int(at.timestamp())), secrets.token_hex(16)
    message = f"{stamp}\n{nonce}\n".encode() + body + b"\n"
    signature = key(signer).sign(message, padding.PKCS1v15(), hashes.SHA256())
    return {"Wechatpay-Timestamp": stamp, "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": base64.b64encode(signature).decode(),
            "Wechatpay-Serial": serial}


def transaction(**changes: Any) -> dict[str, Any]:
    return {"mchid": MCHID, "appid": APPID, "out_trade_no": "c0ffee" * 5 + "00",
            "transaction_id": "4200001234202503181234567890", "trade_type": "MWEB",
            "trade_state": "SUCCESS", "success_time": "2025-03-18T09:31:02+08:00",
            "amount": {"total": 87100, "payer_total": 87100, "currency": "CNY",
                       "payer_currency": "CNY"}, **changes}


def notification(resource: dict[str, Any] | None = None, *, apiv3: bytes = APIV3,
                 event_type: str = "TRANSACTION.SUCCESS") -> bytes:
    nonce = "0123456789ab"
    ciphertext = AESGCM(apiv3).encrypt(nonce.encode(), json.dumps(resource or transaction())
                                       .encode(), b"transaction")
    return json.dumps({
        "id": "EV-2018-06-08", "create_time": "2025-03-18T09:31:03+08:00",
        "resource_type": "encrypt-resource", "event_type": event_type,
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": base64.b64encode(ciphertext).decode(),
                     "associated_data": "transaction", "nonce": nonce}}).encode()


# -- signing the merchant's requests ------------------------------------------------------------


def test_a_request_is_signed_over_method_path_time_nonce_and_body():
    assert wx.request_message("POST", "/v3/pay/transactions/h5", "1554208460",
                              "593BEC0C930BF1AFEB40B4A08C8FB242", '{"a":1}') == (
        b'POST\n/v3/pay/transactions/h5\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n'
        b'{"a":1}\n')
    header = wx.authorization(mchid=MCHID, serial_no=SERIAL, private_key=key("merchant"),
                              method="GET", url_path="/v3/certificates", body="",
                              timestamp="1554208460", nonce="593BEC0C930BF1AFEB40B4A08C8FB242")
    scheme, _, params = header.partition(" ")
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
    assert (fields["mchid"], fields["serial_no"], fields["timestamp"], fields["nonce_str"]) == (
        MCHID, SERIAL, "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242")
    key("merchant").public_key().verify(  # PKCS#1 v1.5, SHA-256: raises if it is not
        base64.b64decode(fields["signature"]),
        b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n",
        padding.PKCS1v15(), hashes.SHA256())


class FakeResponse:
    def __init__(self, status: int, payload: Any, *, headers: dict[str, str] | None = None,
                 signed: bool = True) -> None:
        self.status_code = status
        self.content = json.dumps(payload).encode()
        self.headers = headers if headers is not None else (
            platform_signed(self.content, at=datetime.now(UTC)) if signed else {})

    def json(self) -> Any:
        return json.loads(self.content)


class FakeSession:
    """requests.Session in memory: what was sent, and the answer to give."""

    def __init__(self, answer: FakeResponse) -> None:
        self.answer, self.sent = answer, []

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.sent.append({"method": method, "url": url, **kwargs})
        return self.answer


ORDER = rules.OnlinePaymentOrder(out_trade_no="c0ffee" * 5 + "00", amount_fen=87100,
                                 description="维修结算 INV-D001", client_ip="10.1.2.3",
                                 return_url="https://owners.example.cn/ro/1?paid=1&x=中")


def test_placing_an_h5_order_sends_the_protocols_body_signed_and_checks_the_signed_answer():
    h5 = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2916263&package=21"
    session = FakeSession(FakeResponse(200, {"h5_url": h5}))
    started = wx.WechatPayV3(config(), session=session).start(ORDER)  # type: ignore[arg-type]
    sent = session.sent[0]
    assert (sent["method"], sent["url"]) == ("POST",
                                             "https://api.mch.weixin.qq.com/v3/pay/transactions/h5")
    assert json.loads(sent["data"]) == {
        "appid": APPID, "mchid": MCHID, "description": "维修结算 INV-D001",
        "out_trade_no": ORDER.out_trade_no, "notify_url": config().notify_url,
        "amount": {"total": 87100, "currency": "CNY"},
        "scene_info": {"payer_client_ip": "10.1.2.3", "h5_info": {"type": "Wap"}}}
    fields = dict(re.findall(r'(\w+)="([^"]*)"', sent["headers"]["Authorization"]))
    message = wx.request_message("POST", "/v3/pay/transactions/h5", fields["timestamp"],
                                 fields["nonce_str"], sent["data"].decode())
    assert wx.signature_valid(key("merchant").public_key(), message, fields["signature"])
    assert sent["headers"]["Wechatpay-Serial"] == PLATFORM_SERIAL
    assert started.provider_url == h5 and started.reference == "wx2916263"
    # The merchant appends the way back, urlencoded, to WeChat's h5_url.
    assert started.payment_url == h5 + "&redirect_url=https%3A%2F%2Fowners.example.cn%2Fro%2F1" \
                                       "%3Fpaid%3D1%26x%3D%E4%B8%AD"


@pytest.mark.parametrize("answer", [
    FakeResponse(200, {"h5_url": "https://wx.tenpay.com/x"}, signed=False),
    FakeResponse(200, {"h5_url": "https://wx.tenpay.com/x"},
                 headers=platform_signed(b'{"h5_url": "https://evil.example/x"}')),
    FakeResponse(200, {"h5_url": "https://wx.tenpay.com/x"},
                 headers=platform_signed(json.dumps({"h5_url": "https://wx.tenpay.com/x"})
                                         .encode(), signer="stranger")),
    FakeResponse(400, {"code": "PARAM_ERROR", "message": "参数错误"}),
    FakeResponse(200, {"no": "h5_url"}),
], ids=["unsigned", "signature of another body", "another key", "refused", "no h5_url"])
def test_an_answer_that_is_not_the_providers_or_refuses_is_a_503(answer):
    provider = wx.WechatPayV3(config(), session=FakeSession(answer))  # type: ignore[arg-type]
    with pytest.raises(ServiceUnavailable):
        provider.start(ORDER)


def test_a_query_asks_by_the_merchants_order_number_and_reads_the_state():
    session = FakeSession(FakeResponse(200, transaction(trade_state="NOTPAY",
                                                        transaction_id=None)))
    state = wx.WechatPayV3(config(), session=session).query(  # type: ignore[arg-type]
        ORDER.out_trade_no)
    assert session.sent[0]["method"] == "GET" and session.sent[0]["data"] is None
    assert session.sent[0]["url"] == ("https://api.mch.weixin.qq.com/v3/pay/transactions/"
                                      f"out-trade-no/{ORDER.out_trade_no}?mchid={MCHID}")
    assert (state.trade_state, state.paid, state.amount_fen) == ("NOTPAY", False, 87100)
    other = FakeSession(FakeResponse(200, transaction(mchid="1230000109")))
    with pytest.raises(ServiceUnavailable):  # another merchant's transaction
        wx.WechatPayV3(config(), session=other).query(ORDER.out_trade_no)  # type: ignore[arg-type]


# -- reading a notification ---------------------------------------------------------------------


def read(body: bytes, headers: dict[str, str] | None = None, *, now: datetime = NOW,
         **changes: Any) -> rules.PaymentNotification:
    return wx.WechatPayV3(config(**changes)).read_notification(
        headers if headers is not None else platform_signed(body), body, now=now.timestamp())


def test_a_notification_is_verified_and_decrypted_into_the_transaction():
    reported = read(notification())
    assert reported == rules.PaymentNotification(
        out_trade_no=ORDER.out_trade_no, trade_state="SUCCESS", amount_fen=87100,
        currency="CNY", transaction_id="4200001234202503181234567890",
        success_time="2025-03-18T09:31:02+08:00", payer_total_fen=87100,
        notification_id="EV-2018-06-08")
    assert reported.paid
    # Header names in any case (as a web server hands them on).
    lowered = {k.lower(): v for k, v in platform_signed(notification()).items()}
    assert read(notification(), lowered).paid


def test_a_forged_tampered_stale_or_foreign_notification_is_refused_with_401():
    body = notification()
    refused = [
        (body, platform_signed(body, signer="stranger")),                  # another key
        (body.replace(b"EV-2018", b"EV-2019"), platform_signed(body)),     # body changed
        (body, platform_signed(body, at=NOW - timedelta(minutes=5, seconds=1))),  # stale
        (body, platform_signed(body, at=NOW + timedelta(minutes=6))),      # from the future
        (body, platform_signed(body, serial="PUB_KEY_ID_OTHER")),          # key not ours
        (body, {}),                                                        # unsigned
        (body, {**platform_signed(body), "Wechatpay-Signature": "WECHATPAY/SIGNTEST/abc"}),
        (notification(apiv3=b"z" * 32), None),                             # not our APIv3 key
        (notification(transaction(mchid="1230000109")), None),             # another merchant
    ]
    for forged, headers in refused:
        with pytest.raises(Unauthorized) as error:
            read(forged, headers if headers is not None else platform_signed(forged))
        assert error.value.detail["code"] == "FAIL"
    # Five minutes old is still in time.
    assert read(body, platform_signed(body, at=NOW - timedelta(minutes=4, seconds=59))).paid


def test_a_notification_that_is_not_a_payment_is_a_400():
    for body in (notification(event_type="REFUND.SUCCESS"), b"not json", b"[1]"):
        with pytest.raises(MalformedRequest):
            read(body)


def test_the_resource_decrypts_only_with_its_key_nonce_and_associated_data():
    resource = json.loads(notification())["resource"]
    assert wx.decrypt_resource(APIV3, resource)["out_trade_no"] == ORDER.out_trade_no
    for changed in ({"nonce": "ba9876543210"}, {"associated_data": "certificate"},
                    {"algorithm": "AEAD_AES_128_GCM"}, {"ciphertext": "not base64!"}):
        with pytest.raises(ValueError):
            wx.decrypt_resource(APIV3, {**resource, **changed})


# -- the amount rules ---------------------------------------------------------------------------


def test_amounts_go_to_the_provider_in_whole_fen():
    assert rules.fen(D("871.00")) == 87100 and rules.fen(D("0.01")) == 1
    assert rules.yuan(87100) == D("871.00")
    with pytest.raises(InvalidInput):
        rules.fen(D("0.005"))


def test_online_payment_collects_the_whole_balance_and_only_when_something_is_due():
    assert rules.due_online(Settlement(D("871.00"), [D("500.00")])) == D("371.00")
    with pytest.raises(Conflict) as nothing:
        rules.due_online(Settlement(D("871.00"), [D("871.00")]))
    assert nothing.value.detail["reason"] == "nothing_due"


def test_the_provider_must_report_the_amount_asked_for():
    payment = {"amount": D("871.00"), "out_trade_no": "X" * 32}
    rules.check_reported_amount(payment, rules.PaymentNotification("X", "SUCCESS", 87100, "CNY"))
    for reported in (rules.PaymentNotification("X", "SUCCESS", 87000, "CNY"),
                     rules.PaymentNotification("X", "SUCCESS", None, "CNY"),
                     rules.PaymentNotification("X", "SUCCESS", 87100, "USD")):
        with pytest.raises(Conflict):
            rules.check_reported_amount(payment, reported)


def test_money_collected_is_recorded_only_when_it_is_exactly_the_balance_due():
    invoice = {"customer_pay_total": D("871.00")}
    assert rules.paid_online_refusal(at_invoice=True, invoice=invoice,
                                     settlement=Settlement(D("871.00")), amount=D("871.00")) \
        is None
    assert "refund" in rules.paid_online_refusal(  # paid at the counter meanwhile
        at_invoice=True, invoice=invoice, settlement=Settlement(D("871.00"), [D("100.00")]),
        amount=D("871.00"))
    assert "refund" in rules.paid_online_refusal(at_invoice=False, invoice=invoice,
                                                 settlement=Settlement(D("871.00")),
                                                 amount=D("871.00"))


def test_the_providers_trade_state_decides_a_pending_payment():
    def state(trade_state: str) -> rules.OnlinePaymentStatus:
        return rules.outcome_of(rules.PaymentNotification("X", trade_state))

    assert state("SUCCESS") is rules.OnlinePaymentStatus.PAID
    assert {state("NOTPAY"), state("USERPAYING")} == {rules.OnlinePaymentStatus.PENDING}
    assert {state(s) for s in ("CLOSED", "REVOKED", "PAYERROR", "REFUND")} == {
        rules.OnlinePaymentStatus.FAILED}


def test_a_pending_payment_is_asked_of_the_provider_after_a_minute_once_a_minute():
    payment = {"status": "pending", "created_at": NOW, "checked_at": None}
    assert not rules.needs_reconciling(payment, NOW + timedelta(seconds=59))
    assert rules.needs_reconciling(payment, NOW + timedelta(seconds=60))
    checked = {**payment, "checked_at": NOW + timedelta(seconds=60)}
    assert not rules.needs_reconciling(checked, NOW + timedelta(seconds=100))
    assert rules.needs_reconciling(checked, NOW + timedelta(seconds=120))
    assert not rules.needs_reconciling({**payment, "status": "paid"}, NOW + timedelta(hours=1))


def test_the_browser_goes_back_only_to_the_owner_portal_when_the_site_has_one():
    rules.check_return_url("https://anything.example/x", "")
    rules.check_return_url("https://owners.example.cn/ro/1", "https://owners.example.cn")
    with pytest.raises(InvalidInput):
        rules.check_return_url("https://evil.example/ro/1", "https://owners.example.cn")


# -- the settings -------------------------------------------------------------------------------


def settings(environment: str = "production", **extra: Any) -> Settings:
    return Settings(service="workorder", dealer_code="D001", database_url="sqlite://",
                    amqp_uri="memory:///test", environment=environment, extra=extra)


FULL = {"wechatpay_base_url": "https://api.mch.weixin.qq.com", "wechatpay_mchid": MCHID,
        "wechatpay_appid": APPID, "wechatpay_merchant_serial": SERIAL,
        "wechatpay_platform_serial": PLATFORM_SERIAL,
        "payment_notify_url": "https://d001.example.cn/payment-notifications/wechatpay",
        "wechatpay_merchant_private_key": pem(key("merchant")),
        "wechatpay_platform_public_key": pem(key("platform"), public=True),
        "wechatpay_apiv3_key": APIV3.decode()}


def test_a_site_without_online_payment_settings_offers_none():
    assert WorkorderSettings.from_settings(settings()).payment_provider is None


def test_a_site_with_all_of_them_gets_the_wechat_pay_adapter(tmp_path):
    key_file = tmp_path / "merchant.pem"
    key_file.write_text(FULL["wechatpay_merchant_private_key"])
    extra = {**FULL, "wechatpay_merchant_private_key": None,
             "wechatpay_merchant_private_key_file": str(key_file)}
    provider = WorkorderSettings.from_settings(settings(**extra)).payment_provider
    assert isinstance(provider, wx.WechatPayV3)
    assert (provider.name, provider.method) == ("wechatpay", "WECHAT_PAY")
    assert (provider.config.mchid, provider.config.apiv3_key) == (MCHID, APIV3)
    assert "PRIVATE" not in repr(WorkorderSettings.from_settings(settings(**extra)))


@pytest.mark.parametrize(("name", "value"), [
    ("wechatpay_mchid", ""), ("wechatpay_apiv3_key", None), ("payment_notify_url", ""),
    ("wechatpay_apiv3_key", "too-short"), ("wechatpay_merchant_private_key", "not a key"),
    ("wechatpay_platform_public_key", pem(key("platform"))),  # a private key, not the public
    ("wechatpay_base_url", "http://api.mch.weixin.qq.com"),   # https outside development
    ("payment_notify_url", "https://d001.example.cn/notify?x=1"),
])
def test_half_a_setup_or_a_bad_key_stops_the_start_naming_it(name, value):
    with pytest.raises(ConfigError) as refused:
        WorkorderSettings.from_settings(settings(**{**FULL, name: value}))
    assert str(refused.value).startswith(f"{name}: ")


def test_a_development_site_may_use_a_local_provider_over_http():
    local = {**FULL, "wechatpay_base_url": "http://127.0.0.1:8090",
             "payment_notify_url": "http://127.0.0.1:8002/payment-notifications/wechatpay"}
    assert WorkorderSettings.from_settings(settings("development", **local)).payment_provider


# -- the use cases, on a fake unit of work ------------------------------------------------------

CUSTOMER = "CUS-1"
OWNER = Identity(CUSTOMER, Role.OWNER, None)
CASHIER = Identity("CA-1", Role.CASHIER, "D001")
RETURN = "https://owners.example.cn/ro/RO1"


class OnlinePayments:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def add(self, row: dict[str, Any]) -> None:
        self.rows[row["id"]] = dict(row)

    def get(self, ro_id: str, payment_id: str, *, for_update: bool = False
            ) -> dict[str, Any] | None:
        row = self.rows.get(payment_id)
        return dict(row) if row and row["repair_order_id"] == ro_id else None

    def by_out_trade_no(self, out_trade_no: str, *, for_update: bool = False
                        ) -> dict[str, Any] | None:
        return next((dict(r) for r in self.rows.values() if r["out_trade_no"] == out_trade_no),
                    None)

    def pending(self, ro_id: str, *, amount: D, provider: str) -> dict[str, Any] | None:
        found = [r for r in self.rows.values() if r["repair_order_id"] == ro_id
                 and r["status"] == "pending" and r["amount"] == amount
                 and r["provider"] == provider]
        return dict(max(found, key=lambda r: r["created_at"])) if found else None

    def update(self, payment_id: str, **changes: Any) -> None:
        self.rows[payment_id].update(changes)


class Uow(FakeWorkorderUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.online_payments = OnlinePayments()
        self.repair_orders.rows["RO1"] = {"id": "RO1", "customer_id": CUSTOMER,
                                          "stage": "INVOICE", "work_approved": True}
        self.invoices.replace({"repair_order_id": "RO1", "invoice_number": "INV-RO1",
                               "customer_pay_total": D("871.00")}, by="SA-017", at=NOW)


class Provider:
    """The port, in memory: what it was asked, and what it reports."""

    name, method = "wechatpay", "WECHAT_PAY"

    def __init__(self) -> None:
        self.orders: list[rules.OnlinePaymentOrder] = []
        self.reports: dict[str, rules.PaymentNotification] = {}
        self.queried: list[str] = []
        self.down = False

    def start(self, order: rules.OnlinePaymentOrder) -> rules.StartedPayment:
        self.orders.append(order)
        page = f"https://pay.example/{order.out_trade_no}?n={len(self.orders)}"
        return rules.StartedPayment(self.page_for(page, order.return_url), page)

    def page_for(self, provider_url: str, return_url: str) -> str:
        return f"{provider_url}&redirect_url={return_url}"

    def read_notification(self, headers: Any, body: bytes, *, now: float | None = None
                          ) -> rules.PaymentNotification:
        if headers.get("forged"):
            raise Unauthorized("the notification is refused: forged", code="FAIL")
        return self.reports[body.decode()]

    def query(self, out_trade_no: str) -> rules.PaymentNotification:
        self.queried.append(out_trade_no)
        if self.down:
            raise ServiceUnavailable("down")
        return self.reports.get(out_trade_no, rules.PaymentNotification(out_trade_no, "NOTPAY"))

    def paid(self, out_trade_no: str, fen: int = 87100) -> None:
        self.reports[out_trade_no] = rules.PaymentNotification(
            out_trade_no, "SUCCESS", fen, "CNY", transaction_id="4200000001",
            success_time="2025-03-18T09:31:02+08:00")


def start(uow: Uow, provider: Provider | None, *, at: datetime = NOW,
          who: Identity = OWNER) -> tuple[dict[str, Any], bool]:
    return uc.start_online_payment(uow, provider, actor=who, ro_id="RO1", return_url=RETURN,
                                   client_ip="10.1.2.3", owner_portal_url="", now=at)


def notify(uow: Uow, provider: Provider, out_trade_no: str, **headers: Any) -> None:
    uc.record_online_payment(uow, provider, headers=headers, body=out_trade_no.encode(),
                             now=NOW)


def test_starting_asks_the_provider_for_the_balance_and_keeps_a_pending_payment():
    uow, provider = Uow(), Provider()
    payment, created = start(uow, provider)
    assert created and payment["status"] == "pending" and payment["amount"] == D("871.00")
    order = provider.orders[0]
    assert (order.amount_fen, order.description, order.client_ip, order.return_url) == (
        87100, "维修结算 INV-RO1", "10.1.2.3", RETURN)
    assert payment["payment_url"].endswith(f"&redirect_url={RETURN}")
    # Asked again while it is pending for the same amount: the same payment, the same page.
    again, created = start(uow, provider, at=NOW + timedelta(minutes=1), who=CASHIER)
    assert not created and again["payment_id"] == payment["payment_id"]
    assert again["payment_url"] == payment["payment_url"] and len(provider.orders) == 1
    # Once the provider's page has expired, the same order gets a fresh one.
    later, created = start(uow, provider, at=NOW + timedelta(minutes=5))
    assert not created and later["payment_id"] == payment["payment_id"]
    assert len(provider.orders) == 2 and provider.orders[1].out_trade_no == order.out_trade_no
    assert later["payment_url"] != payment["payment_url"]


def test_starting_is_refused_without_a_provider_an_invoice_or_a_balance():
    with pytest.raises(Conflict) as unconfigured:
        start(Uow(), None)
    assert unconfigured.value.detail["reason"] == "online_payment_not_configured"
    assert "counter" in unconfigured.value.message
    no_invoice = Uow()
    no_invoice.invoices.rows.clear()
    with pytest.raises(Conflict):
        start(no_invoice, Provider())
    paid = Uow()
    paid.invoices.add_payment("RO1", method="CASH", amount=D("871.00"), reference=None,
                              by="CA-1", at=NOW)
    with pytest.raises(Conflict) as nothing:
        start(paid, Provider())
    assert nothing.value.detail["reason"] == "nothing_due"
    with pytest.raises(NotFound):  # another owner's repair order
        start(Uow(), Provider(), who=Identity("CUS-2", Role.OWNER, None))


def test_a_notification_records_the_payment_once_as_a_counter_payment_would():
    uow, provider = Uow(), Provider()
    payment, _ = start(uow, provider)
    provider.paid(payment["out_trade_no"])
    notify(uow, provider, payment["out_trade_no"])
    notify(uow, provider, payment["out_trade_no"])  # WeChat Pay sends it again
    assert [(p["method"], p["amount"], p["reference"], p["received_by"])
            for p in uow.invoices.payments("RO1")] == [
        ("WECHAT_PAY", D("871.00"), "4200000001", "online:wechatpay")]
    seen = uc.get_online_payment(uow, provider, viewer=OWNER, ro_id="RO1",
                                 payment_id=payment["payment_id"], now=NOW)
    assert (seen["status"], seen["transaction_id"]) == ("paid", "4200000001")


def test_a_forged_or_unknown_or_wrong_amount_notification_records_nothing():
    uow, provider = Uow(), Provider()
    payment, _ = start(uow, provider)
    provider.paid(payment["out_trade_no"])
    with pytest.raises(Unauthorized):
        notify(uow, provider, payment["out_trade_no"], forged=True)
    provider.paid("UNKNOWN-ORDER")
    with pytest.raises(NotFound):
        notify(uow, provider, "UNKNOWN-ORDER")
    provider.paid(payment["out_trade_no"], fen=100)
    with pytest.raises(Conflict):
        notify(uow, provider, payment["out_trade_no"])
    assert uow.invoices.payments("RO1") == []
    assert uow.online_payments.rows[payment["payment_id"]]["status"] == "pending"


def test_money_collected_when_the_balance_changed_is_not_recorded_and_fails_for_a_refund():
    uow, provider = Uow(), Provider()
    payment, _ = start(uow, provider)
    uow.invoices.add_payment("RO1", method="CASH", amount=D("100.00"), reference=None,
                             by="CA-1", at=NOW)  # the counter took some meanwhile
    provider.paid(payment["out_trade_no"])
    notify(uow, provider, payment["out_trade_no"])
    assert [p["method"] for p in uow.invoices.payments("RO1")] == ["CASH"]
    row = uow.online_payments.rows[payment["payment_id"]]
    assert row["status"] == "failed" and "refund" in row["failure_reason"]


def test_a_payment_pending_over_a_minute_is_asked_of_the_provider_and_paid_only_if_it_says():
    uow, provider = Uow(), Provider()
    payment, _ = start(uow, provider)

    def status(at: datetime) -> str:
        return uc.get_online_payment(uow, provider, viewer=CASHIER, ro_id="RO1",
                                     payment_id=payment["payment_id"], now=at)["status"]

    assert status(NOW + timedelta(seconds=30)) == "pending" and provider.queried == []
    assert status(NOW + timedelta(seconds=61)) == "pending"   # NOTPAY
    assert status(NOW + timedelta(seconds=90)) == "pending"   # not asked again yet
    assert len(provider.queried) == 1
    provider.down = True
    assert status(NOW + timedelta(seconds=125)) == "pending"  # no answer: still pending
    provider.down = False
    provider.paid(payment["out_trade_no"])
    assert status(NOW + timedelta(seconds=190)) == "paid"
    assert len(provider.queried) == 3 and len(uow.invoices.payments("RO1")) == 1
    with pytest.raises(NotFound):
        uc.get_online_payment(uow, provider, viewer=CASHIER, ro_id="RO1", payment_id="nope",
                              now=NOW)


def test_a_payment_the_provider_closed_fails_and_a_new_one_can_start():
    uow, provider = Uow(), Provider()
    payment, _ = start(uow, provider)
    provider.reports[payment["out_trade_no"]] = rules.PaymentNotification(
        payment["out_trade_no"], "CLOSED")
    seen = uc.get_online_payment(uow, provider, viewer=OWNER, ro_id="RO1",
                                 payment_id=payment["payment_id"], now=NOW + timedelta(minutes=2))
    assert seen["status"] == "failed" and "CLOSED" in seen["failure_reason"]
    fresh, created = start(uow, provider, at=NOW + timedelta(minutes=3))
    assert created and fresh["payment_id"] != payment["payment_id"]
