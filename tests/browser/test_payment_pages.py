"""The owner's invoice and payment at D001, in a real browser: a real repair order driven to
its invoice through workorder (an oil change the owner pays, a recall repair under warranty,
a loaner day on the dealer, a discount), the owner signed in by the code sent by SMS.

The page shows exactly the lines workorder holds; choosing the counter changes nothing; paying
online goes to the site's local WeChat Pay (tests/support/wechatpay_provider.py, the real API
v3 protocol, run by the topology): a declined payment shows so and offers to try again or pay
at the counter, a paid one is recorded once by workorder from the provider's signed
notification, and only then does the result page say paid. A second payment of the paid
invoice is refused on the page it came from."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from chassis.auth import Role
from chassis.testing import rows
from simulator import trade, traffic
from tests.browser.pages import (
    console_errors,
    console_log,
    no_horizontal_scroll,
    screenshot,
    wait_for,
)
from tests.browser.platform import SITE, Platform, new_phone

pytestmark = pytest.mark.integration

CODE = re.compile(r"(\d{6})")
WAIT = re.compile(r"try again in (\d+) s")
# Issued by the advisor on top of the approved lines: a charge the owner pays, one the dealer
# bears, and a discount off the owner's share.
INVOICE_BODY = {"sundries": [
    {"description": "废油处理 (waste oil disposal)", "amount": "20.00",
     "pay_type": "CUSTOMER_PAY"},
    {"description": "代步车一天 (a loaner car for the day)", "amount": "150.00",
     "pay_type": "INTERNAL"}], "discount": "10.00"}
# What the owner came for and a recall done at the same visit (the manufacturer pays).
RECALL_JOB = trade.BASE_JOBS["RECALL"][0]


@dataclass
class Owner:
    phone: str
    repair_order_id: str


class _ToInvoice(traffic._RepairOrder):
    """The simulator's repair order, its one job the oil change with the recall repair, up to
    the invoice (issued, not paid: what the owner pays is the test's)."""

    def first_round_jobs(self) -> list[list[dict[str, Any]]]:
        jobs = super().first_round_jobs()
        return [jobs[0] + [dict(line) for line in RECALL_JOB], *jobs[1:]]

    def settle_and_hand_over(self) -> None:
        self.wo("invoice", "POST", "/invoice", json=INVOICE_BODY)


def drive_to_invoice(platform: Platform, phone: str) -> str:
    """A car the owner booked in the app at D001, through check-in, inspection, the quote the
    owner approved, parts, jobs and QC, to its invoice; its repair order."""
    site = traffic.SiteEndpoints(SITE, platform.url("booking"), platform.url("workorder"),
                                 platform.url("parts"), platform.portal)
    traffic.seed_site(site, platform.people)
    report = traffic.DayReport(days=[], dealers={SITE: traffic.DealerTally(SITE)})
    run = traffic._Run(platform.people, requests.Session(), None, 0, report, SITE)
    plan = trade.CarPlan(seed=random.randrange(2**31), service_type="MAINTENANCE",
                         channel="APP")
    [open_day] = traffic.working_days(site, platform.people, 1, run.session)
    day = traffic._Day(run, site, open_day, 1, [plan])
    car = day.cars[0]
    car.customer = trade.Customer("王芳", phone)
    platform.people.introduce_owner(phone)
    day._book(car)
    ro_id = day._receive(car)
    _ToInvoice(day, car, ro_id).go_round()
    return ro_id


@pytest.fixture(scope="module")
def owner(platform: Platform) -> Iterator[Owner]:
    phone = new_phone()
    yield Owner(phone, drive_to_invoice(platform, phone))


def workorder_invoice(platform: Platform, ro_id: str) -> dict[str, Any]:
    answer = platform.call("GET", "workorder", f"/repair-orders/{ro_id}/invoice",
                           platform.staff(Role.CASHIER, "CASH-01"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def text_of(driver: WebDriver) -> str:
    """The page's words (read in one go: nothing goes stale while a page loads)."""
    return str(driver.execute_script(
        "return document.body ? document.body.innerText : '';") or "")


def sign_in(driver: WebDriver, platform: Platform, phone: str, url: str) -> None:
    """Open `url`; the portal asks the owner to sign in, and sends them back there. A code
    sent to the phone within the last minute (the simulator's owner approved the quote) makes
    identity ask them to wait: they wait as it says and ask again."""
    driver.get(url)
    wait_for(driver, lambda d: d.find_elements(By.ID, "phone"), timeout=15)
    assert "/sign-in?next=" in driver.current_url
    before = len(platform.messages(to=phone))
    driver.find_element(By.ID, "phone").send_keys(phone)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    for _ in range(3):
        wait_for(driver, lambda d: d.find_elements(By.ID, "code") or WAIT.search(text_of(d)),
                 timeout=15)
        asked_to_wait = WAIT.search(text_of(driver))
        if not asked_to_wait:
            break
        time.sleep(int(asked_to_wait.group(1)) + 1)
        driver.back()
        wait_for(driver, lambda d: d.find_elements(By.ID, "phone"), timeout=15)
        field = driver.find_element(By.ID, "phone")
        field.clear()
        field.send_keys(phone)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    code_field = driver.find_element(By.ID, "code")
    console_log(driver)  # identity's "wait a minute" (429) is the sign-in's, not these pages'
    texts = wait_for(driver, lambda d: [m for m in platform.messages(to=phone)[before:]
                                        if CODE.search(m.get("body") or "")
                                        and not m.get("link")], timeout=20)
    code_field.send_keys(CODE.search(texts[-1]["body"]).group(1))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: d.current_url.split("?")[0] == url.split("?")[0], timeout=15)


def same_session(driver: WebDriver, signed_in: WebDriver, portal: str) -> None:
    """The owner's session on another browser (their computer, where they opened the link
    too): its cookie, as a second sign-in would give within the minute identity makes the
    phone wait between codes."""
    driver.get(f"{portal}/sign-in")
    cookie = signed_in.get_cookie("portal_session")
    assert cookie is not None
    driver.add_cookie({k: cookie[k] for k in ("name", "value", "path", "httpOnly", "sameSite")})


def check_page(driver: WebDriver, name: str | None = None) -> None:
    if driver.kind == "phone":
        assert no_horizontal_scroll(driver), name or driver.current_url
    assert console_errors(driver) == [], name or driver.current_url
    if name:
        screenshot(driver, name)


def shown_lines(driver: WebDriver) -> list[tuple[str, str, str, Decimal]]:
    """The invoice's lines as the page shows them: (id or description, kind, pay type,
    amount)."""
    found = []
    for row in driver.find_elements(By.CSS_SELECTOR, "tr.line"):
        name = row.get_attribute("data-line-id") or row.find_element(
            By.CSS_SELECTOR, ".line-description").text
        found.append((name, row.get_attribute("data-kind"), row.get_attribute("data-pay-type"),
                      Decimal(row.get_attribute("data-amount"))))
    return sorted(found)


def held_lines(invoice: dict[str, Any]) -> list[tuple[str, str, str, Decimal]]:
    return sorted([(line["line_id"], line["kind"], line["pay_type"], Decimal(line["amount"]))
                   for line in invoice["lines"]]
                  + [(s["description"], "SUNDRY", s["pay_type"], Decimal(s["amount"]))
                     for s in invoice["sundries"]])


def money_text(amount: str | Decimal) -> str:
    return f"¥{Decimal(amount):,.2f}"


def choose(driver: WebDriver, method: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f"label[for=method-{method}]").click()
    assert driver.find_element(By.ID, f"method-{method}").is_selected()
    driver.find_element(By.ID, "pay-submit").click()


def at_provider(driver: WebDriver, platform: Platform) -> None:
    payments = platform.site.payments
    assert payments is not None
    wait_for(driver, lambda d: d.current_url.startswith(payments.url), timeout=15)
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button[type=submit]"))
    console_errors(driver)  # the provider's page is not the portal's: its console is not ours


def press(driver: WebDriver, label: str) -> None:
    """A button of the provider's page, by its words."""
    [button] = [b for b in driver.find_elements(By.CSS_SELECTOR, "button[type=submit]")
                if label in b.text]
    button.click()


def online_payments(platform: Platform, ro_id: str) -> list[tuple[str, str, Decimal]]:
    return [(r[0], r[1], Decimal(r[2])) for r in rows(
        platform.site.databases["workorder"],
        "SELECT id, status, amount FROM online_payments WHERE repair_order_id = :ro "
        "ORDER BY created_at", ro=ro_id)]


def as_if_a_minute_passed(platform: Platform, payment_id: str) -> None:
    """A pending payment a minute old, which workorder then asks the provider about (its
    notification never comes for a payment the bank declined)."""
    engine = sa.create_engine(platform.site.databases["workorder"])
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE online_payments SET created_at = created_at - "
                                 "make_interval(mins => 2) WHERE id = :id"), {"id": payment_id})
    finally:
        engine.dispose()


def test_the_owner_pays_the_invoice_online_and_workorder_records_it_once(
        platform: Platform, owner: Owner, phone: WebDriver, desktop: WebDriver) -> None:
    ro_id = owner.repair_order_id
    invoice_url = f"{platform.portal}/repair-orders/{ro_id}/invoice"
    held = workorder_invoice(platform, ro_id)
    owed = Decimal(held["totals_by_pay_type"]["CUSTOMER_PAY"])
    assert Decimal(held["balance"]) == owed > 0 and held["payments"] == []
    assert {line["pay_type"] for line in held["lines"]} == {"CUSTOMER_PAY", "WARRANTY"}

    # The invoice: exactly workorder's lines, by who pays; the owner owes the customer-pay
    # share after the discount.
    sign_in(phone, platform, owner.phone, invoice_url)
    assert shown_lines(phone) == held_lines(held)
    groups = [g.get_attribute("class") for g in phone.find_elements(By.CSS_SELECTOR,
                                                                     "section.pay-type")]
    assert [g.split()[-1] for g in groups] == [
        "pay-type-customer_pay", "pay-type-warranty", "pay-type-internal"]
    assert phone.find_element(By.ID, "owed").text == money_text(owed)
    assert phone.find_element(By.ID, "balance").text == money_text(held["balance"])
    assert phone.find_element(By.ID, "grand-total").text == money_text(held["grand_total"])
    assert phone.find_element(By.ID, "tax-total").text == money_text(held["tax_total"])
    assert phone.find_element(By.ID, "discount-total").text == "−" + money_text("10.00")
    assert phone.find_element(By.ID, "invoice-status").text == "待付款"
    assert phone.find_element(By.ID, "method-online").is_selected()
    check_page(phone, "invoice-phone")

    # At the counter: the page says where and how much; nothing is paid.
    choose(phone, "counter")
    wait_for(phone, lambda d: d.current_url.endswith("/invoice/counter"), timeout=15)
    assert phone.find_element(By.ID, "balance").text == money_text(owed)
    assert phone.find_elements(By.ID, "still-unpaid")
    check_page(phone)
    after_counter = workorder_invoice(platform, ro_id)
    assert (after_counter["payments"], Decimal(after_counter["balance"])) == ([], owed)
    assert online_payments(platform, ro_id) == []

    # The desktop opens the invoice too (the owner's other tab, kept open).
    same_session(desktop, phone, platform.portal)
    desktop.get(invoice_url)
    assert shown_lines(desktop) == held_lines(held)
    check_page(desktop, "invoice-desktop")

    # Online, declined by the bank: the result page says not paid and offers both ways.
    phone.get(invoice_url)
    choose(phone, "online")
    at_provider(phone, platform)
    assert money_text(owed) in phone.page_source
    press(phone, "Decline")
    wait_for(phone, lambda d: "/online-payments/" in d.current_url
             and d.current_url.startswith(platform.portal), timeout=15)
    declined_id = phone.current_url.rsplit("/", 1)[1]
    assert phone.find_element(By.ID, "payment-result").get_attribute("data-status") \
        == "pending"  # workorder has not heard: the page says so, not paid
    as_if_a_minute_passed(platform, declined_id)
    phone.find_element(By.ID, "check-again").click()
    wait_for(phone, lambda d: d.find_element(By.ID, "payment-result")
             .get_attribute("data-status") == "failed", timeout=15)
    assert phone.find_elements(By.ID, "pay-at-counter")
    check_page(phone)
    assert online_payments(platform, ro_id) == [(declined_id, "failed", owed)]
    assert Decimal(workorder_invoice(platform, ro_id)["balance"]) == owed

    # Try again, and pay: the provider notifies workorder (signed), which records it; the
    # result page says paid because workorder does.
    phone.find_element(By.ID, "try-again").click()
    at_provider(phone, platform)
    press(phone, "Pay")
    wait_for(phone, lambda d: "/online-payments/" in d.current_url
             and d.current_url.startswith(platform.portal), timeout=15)
    paid_id = phone.current_url.rsplit("/", 1)[1]
    assert paid_id != declined_id
    result = phone.find_element(By.ID, "payment-result")
    assert result.get_attribute("data-status") == "paid"
    assert phone.find_element(By.ID, "paid-amount").text == money_text(owed)
    assert phone.find_element(By.ID, "balance").text == money_text("0")
    check_page(phone, "payment-paid-phone")

    provider = platform.site.payments.provider
    assert [n["status"] for n in provider.notifications] == [200]  # one, accepted
    paid = workorder_invoice(platform, ro_id)
    assert Decimal(paid["balance"]) == 0 and Decimal(paid["paid"]) == owed
    assert [(p["method"], Decimal(p["amount"])) for p in paid["payments"]] == [
        ("WECHAT_PAY", owed)]
    assert online_payments(platform, ro_id) == [(declined_id, "failed", owed),
                                                (paid_id, "paid", owed)]
    # WeChat Pay sends a notification again until it is answered: recorded once all the same.
    [out_trade_no] = [r[0] for r in rows(platform.site.databases["workorder"],
                                         "SELECT out_trade_no FROM online_payments WHERE id = :p",
                                         p=paid_id)]
    assert provider.notify(out_trade_no) == 200
    assert len(workorder_invoice(platform, ro_id)["payments"]) == 1
    stage = platform.call("GET", "workorder", f"/repair-orders/{ro_id}",
                          platform.staff(Role.ADVISOR, "SA-01")).json()["stage"]
    assert stage == "INVOICE"  # paid, waiting for the owner's signature and the hand-over

    # The desktop's tab still offers to pay: workorder refuses, and the page says so there.
    choose(desktop, "online")
    alert = wait_for(desktop, lambda d: d.find_elements(By.ID, "payment-problem"), timeout=15)
    assert "已付清" in alert[0].text
    assert desktop.current_url.startswith(platform.portal)  # never sent to the provider
    assert not desktop.find_elements(By.ID, "pay-submit")
    assert desktop.find_element(By.ID, "invoice-status").text == "已付清"
    # The page's own status is the refusal (409), which the console notes; nothing else.
    [refusal] = console_errors(desktop)
    assert f"/repair-orders/{ro_id}/invoice/payment" in refusal and "409" in refusal
    check_page(desktop)
    assert len(workorder_invoice(platform, ro_id)["payments"]) == 1
    assert len(online_payments(platform, ro_id)) == 2

    desktop.get(f"{platform.portal}/repair-orders/{ro_id}/online-payments/{paid_id}")
    assert desktop.find_element(By.ID, "payment-result").get_attribute("data-status") == "paid"
    check_page(desktop, "payment-paid-desktop")

    # The paid invoice again, on the phone: paid, and no way to pay it twice.
    phone.get(invoice_url)
    assert phone.find_elements(By.ID, "settled") and not phone.find_elements(By.ID, "pay-submit")
    check_page(phone)


def test_the_invoice_asks_for_sign_in_and_refuses_forms_from_elsewhere(
        platform: Platform, owner: Owner) -> None:
    page = f"{platform.portal}/repair-orders/{owner.repair_order_id}/invoice"
    answer = requests.get(page, timeout=10, allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/sign-in?next=")
    forged = requests.post(f"{page}/payment", data={"method": "online"}, timeout=10,
                           headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert forged.status_code == 403
    policy = requests.get(f"{platform.portal}/sign-in", timeout=10).headers[
        "Content-Security-Policy"]
    assert f"form-action 'self' {platform.site.payments.url};" in policy
