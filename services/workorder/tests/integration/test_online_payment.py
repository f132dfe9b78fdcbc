"""Paying the invoice online over HTTP, on the real PostgreSQL and RabbitMQ, against a local
WeChat Pay speaking the real protocol (tests/support/wechatpay_provider.py): the owner starts
the payment, pays on the provider's page, the provider's signed notification records it as the
cashier's payment would; forgeries, duplicates, a site without a provider, and a lost
notification reconciled by asking the provider."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

from chassis.testing import make_settings, service_database
from services.workorder.tests.integration.site_client import CUSTOMER, PartsStandIn, Site
from tests.support.wechatpay_provider import LocalWechatPay, Merchant
from workorder.service import WorkorderService

INVOICE = {"sundries": [{"description": "废油处理 (waste oil disposal)", "amount": "20.00"}],
           "discount": "100.00"}
RETURN = "https://owners.d001.example.cn/repair-orders/paid?from=wechat"


@pytest.fixture
def paying(database, amqp_uri, services, tmp_path) -> Any:
    """Workorder (with parts) set up to take payments through a local WeChat Pay."""
    merchant = Merchant.generate()
    with LocalWechatPay.for_merchant(merchant) as provider:
        services(PartsStandIn, make_settings("parts", "postgresql://unused", amqp_uri))
        settings = make_settings("workorder", service_database(database, WorkorderService),
                                 amqp_uri, media_dir=str(tmp_path / "media"))
        notify_url = f"http://127.0.0.1:{settings.http_port}/payment-notifications/wechatpay"
        settings = settings.with_overrides(
            extra={**settings.extra, **provider.workorder_settings(merchant, notify_url)})
        services(WorkorderService, settings)
        yield Site(settings), provider


def _invoiced(site: Site) -> str:
    ro_id = site.ro_at_invoice()
    assert site.ok("POST", f"/repair-orders/{ro_id}/invoice", 201, json=INVOICE)["balance"] \
        == "871.00"
    return ro_id


def _start(site: Site, ro_id: str, status: int = 201, **who: Any) -> dict[str, Any]:
    return site.ok("POST", f"/repair-orders/{ro_id}/online-payments", status,
                   json={"return_url": RETURN}, **(who or site.as_owner()))


def _status(site: Site, ro_id: str, payment_id: str) -> dict[str, Any]:
    return site.ok("GET", f"/repair-orders/{ro_id}/online-payments/{payment_id}",
                   **site.as_owner())


def _pay_on_the_page(payment_url: str) -> requests.Response:
    """The owner's phone: open the provider's page, press 确认支付 (the form's POST)."""
    browser = requests.Session()
    page = browser.get(payment_url, timeout=10)
    assert page.status_code == 200 and "确认支付 / Pay" in page.text, page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    return browser.post(urljoin(page.url, action), data=form, allow_redirects=False,
                        timeout=20)


def _outbox_types(site: Site) -> list[str]:
    return [row["event_type"] for row in site.query("SELECT event_type FROM outbox ORDER BY id")]


def _age(site: Site, payment_id: str, minutes: int = 2) -> None:
    """Make a pending payment older, as a minute passing would."""
    engine = sa.create_engine(site.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE online_payments SET created_at = created_at - make_interval(mins => :m),"
                " checked_at = checked_at - make_interval(mins => :m) WHERE id = :id"),
                {"m": minutes, "id": payment_id})
    finally:
        engine.dispose()


def test_the_owner_pays_online_and_the_invoice_is_paid_as_at_the_counter(paying):
    site, provider = paying
    ro_id = _invoiced(site)
    events_before = _outbox_types(site)

    started = _start(site, ro_id)
    assert (started["status"], started["amount"], started["currency"]) == ("pending", "871.00",
                                                                          "CNY")
    assert started["payment_url"].startswith(provider.url)
    assert "&redirect_url=https%3A%2F%2Fowners.d001.example.cn" in started["payment_url"]
    order = provider.transactions[started["out_trade_no"]]
    assert (order["total"], order["description"]) == (87100, f"维修结算 INV-{ro_id}")
    # Asked again (the page reloaded, the cashier helping): the same pending payment.
    again = _start(site, ro_id, 200, role="cashier", subject="CASH-01")
    assert again["payment_id"] == started["payment_id"]
    assert site.call("POST", f"/repair-orders/{ro_id}/online-payments",
                     json={"return_url": RETURN},
                     **site.as_owner("someone-else")).status_code == 404

    paid = _pay_on_the_page(started["payment_url"])
    assert paid.status_code == 303 and paid.headers["Location"] == RETURN  # back to the portal
    assert [(n["status"], n["answer"]) for n in provider.notifications] == [
        (200, '{"code": "SUCCESS"}')]

    transaction_id = provider.transactions[started["out_trade_no"]]["transaction_id"]
    invoice = site.ok("GET", f"/repair-orders/{ro_id}/invoice", **site.as_owner())
    assert (invoice["paid"], invoice["balance"]) == ("871.00", "0.00")
    assert [(p["method"], p["amount"], p["reference"]) for p in invoice["payments"]] == [
        ("WECHAT_PAY", "871.00", transaction_id)]
    seen = _status(site, ro_id, started["payment_id"])
    assert (seen["status"], seen["transaction_id"]) == ("paid", transaction_id)
    assert seen["paid_at"] == provider.transactions[started["out_trade_no"]]["success_time"]
    # A counter payment publishes no event of its own, and neither does this one; the car
    # leaves on it as on a cashier's payment, and VehicleDelivered says so.
    assert _outbox_types(site) == events_before
    _start(site, ro_id, 409)  # nothing is due any more
    site.ok("POST", f"/repair-orders/{ro_id}/invoice/signature", json={"name": "王伟"},
            **site.as_owner())
    site.ok("POST", f"/repair-orders/{ro_id}/hand-over")
    delivered = site.events("VehicleDelivered")
    assert [e["data"]["repair_order_id"] for e in delivered] == [ro_id]
    assert delivered[0]["data"]["customer_id"] == CUSTOMER


def test_a_forged_notification_gets_401_and_records_nothing(paying):
    site, provider = paying
    ro_id = _invoiced(site)
    started = _start(site, ro_id)
    provider.pay(started["out_trade_no"])  # paid at the provider, not yet notified
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert provider.notify(started["out_trade_no"], signed_by=stranger) == 401
    assert provider.notify(started["out_trade_no"], apiv3_key=b"x" * 32) == 401
    assert provider.notify(started["out_trade_no"],
                           timestamp=int(provider.clock()) - 301) == 401
    assert site.count("payments") == 0
    assert _status(site, ro_id, started["payment_id"])["status"] == "pending"
    # Not even JSON, and unsigned: refused the same way.
    assert requests.post(f"{site.url}/payment-notifications/wechatpay", data=b"{}",
                         timeout=10).status_code == 401
    assert provider.notify(started["out_trade_no"]) == 200  # the real one
    assert site.count("payments") == 1


def test_a_notification_sent_again_is_recorded_once(paying):
    site, provider = paying
    ro_id = _invoiced(site)
    started = _start(site, ro_id)
    assert _pay_on_the_page(started["payment_url"]).status_code == 303
    assert provider.notify(started["out_trade_no"]) == 200
    with ThreadPoolExecutor(4) as pool:  # WeChat Pay retrying while an earlier one is handled
        assert list(pool.map(provider.notify, [started["out_trade_no"]] * 4)) == [200] * 4
    assert site.count("payments") == 1
    assert site.ok("GET", f"/repair-orders/{ro_id}/invoice")["balance"] == "0.00"


def test_a_site_without_a_provider_sends_the_owner_to_the_counter(site):
    ro_id = _invoiced(site)
    refused = site.call("POST", f"/repair-orders/{ro_id}/online-payments",
                        json={"return_url": RETURN}, **site.as_owner())
    assert refused.status_code == 409
    assert refused.json()["reason"] == "online_payment_not_configured"
    assert "counter" in refused.json()["message"]
    assert requests.post(f"{site.url}/payment-notifications/wechatpay", data=b"{}",
                         timeout=10).status_code == 409
    # The counter takes it as it always has.
    taken = site.call("POST", f"/repair-orders/{ro_id}/payments", role="cashier",
                      subject="CASH-01", json={"method": "WECHAT_PAY", "amount": "871.00"})
    assert taken.status_code == 201 and taken.json()["balance"] == "0.00"


def test_online_payment_needs_an_issued_invoice_with_something_due(paying):
    site, _provider = paying
    ro_id = site.ro_at_invoice()
    assert site.call("POST", f"/repair-orders/{ro_id}/online-payments",
                     json={"return_url": RETURN}, **site.as_owner()).status_code == 409
    site.ok("POST", f"/repair-orders/{ro_id}/invoice", 201, json=INVOICE)
    bad = site.call("POST", f"/repair-orders/{ro_id}/online-payments",
                    json={"return_url": "javascript:alert(1)"}, **site.as_owner())
    assert bad.status_code == 422 and "return_url" in bad.json()["fields"]


def test_a_lost_notification_is_reconciled_by_asking_the_provider(paying):
    site, provider = paying
    provider.send_notifications = False  # every notification lost on the way
    ro_id = _invoiced(site)
    started = _start(site, ro_id)
    queries = lambda: [r for r in provider.requests if r["method"] == "GET"]  # noqa: E731

    # Not paid yet, and over a minute old: the provider is asked, and says NOTPAY.
    _age(site, started["payment_id"])
    assert _status(site, ro_id, started["payment_id"])["status"] == "pending"
    assert len(queries()) == 1 and all(r["ok"] for r in queries())
    assert _status(site, ro_id, started["payment_id"])["status"] == "pending"
    assert len(queries()) == 1  # once a minute at most

    assert _pay_on_the_page(started["payment_url"]).status_code == 303
    assert provider.notifications == []
    assert _status(site, ro_id, started["payment_id"])["status"] == "pending"  # not asked yet
    assert site.count("payments") == 0
    _age(site, started["payment_id"])
    seen = _status(site, ro_id, started["payment_id"])
    assert seen["status"] == "paid" and len(queries()) == 2
    assert site.ok("GET", f"/repair-orders/{ro_id}/invoice")["balance"] == "0.00"
    # The notification arriving after all changes nothing.
    assert provider.notify(started["out_trade_no"]) == 200
    assert site.count("payments") == 1
