"""The workshop board in a real browser at D001: an advisor signed in through the portal
watches a car received, inspected, quoted, approved, worked on, checked, paid and handed over
through workorder's own API, and the car's card moves column by column without the page
being reloaded; a car past its promised time shows as late; the card opens the car's page."""

from __future__ import annotations

import base64
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from chassis.auth import Role
from chassis.testing import wait_for as eventually
from simulator import trade
from tests.browser.pages import console_errors, no_horizontal_scroll, screenshot, wait_for
from tests.browser.platform import Platform, new_phone

pytestmark = pytest.mark.integration

ADVISOR = "SA-board"
TECHNICIAN = "T-board"
CODE = re.compile(r"(\d{6})")
OIL_CHANGE = {"kind": "LABOUR", "description": "更换机油及机油滤清器", "pay_type": "CUSTOMER_PAY",
              "operation_code": "MNT-OIL-01", "flat_rate_hours": "0.5"}
MOVED = 30  # seconds a card may take to move: a few of the board's polls, on a busy machine


class Workshop:
    """The site's people acting on one repair order through workorder's API."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.rng = random.Random()

    def act(self, role: Role, who: str, method: str, path: str, status: int = 200,
            **kwargs: Any) -> Any:
        answer = self.platform.call(method, "workorder", path,
                                    self.platform.staff(role, who), **kwargs)
        assert answer.status_code == status, f"{method} {path}: {answer.text}"
        return answer.json()

    def receive(self, *, promised_in: timedelta = timedelta(hours=4)) -> dict[str, Any]:
        vehicle = trade.make_vehicle(self.rng)
        return self.act(Role.ADVISOR, ADVISOR, "POST", "/repair-orders", 201, json={
            "customer_phone": new_phone(), "vin": vehicle.vin, "plate": vehicle.plate,
            "model": vehicle.model, "mileage_km": vehicle.mileage_km, "fuel_level": 60,
            "concerns": [{"description": "保养到期 (service due)", "code": "MAINTENANCE"}],
            "promised_at": (datetime.now(UTC) + promised_in).isoformat()})

    def inspect(self, ro_id: str) -> None:
        started = self.act(Role.TECHNICIAN, TECHNICIAN, "POST",
                           f"/repair-orders/{ro_id}/inspection", 201, json={})
        for item in started["items"]:
            result = {"status": "YELLOW", "notes": "轮胎花纹 3 mm"} if item["code"] == \
                started["items"][0]["code"] else {"status": "GREEN"}
            self.act(Role.TECHNICIAN, TECHNICIAN, "PUT",
                     f"/repair-orders/{ro_id}/inspection/items/{item['code']}", json=result)
        self.act(Role.TECHNICIAN, TECHNICIAN, "POST", f"/repair-orders/{ro_id}/inspection/submit")


def column_of_card(driver: WebDriver, ro_id: str) -> str | None:
    found = driver.find_elements(By.CSS_SELECTOR, f'[data-ro="{ro_id}"]')
    if not found:
        return None
    return found[0].find_element(By.XPATH, "ancestor::section[@data-column]") \
        .get_attribute("data-column")


def card_in(driver: WebDriver, ro_id: str, column: str, waits: str | None = None) -> None:
    """Wait until the card is in `column` (saying it waits for `waits`), on the same page."""
    def there(d: WebDriver) -> bool:
        if column_of_card(d, ro_id) != column:
            return False
        text = d.find_element(By.CSS_SELECTOR, f'[data-ro="{ro_id}"] [data-field=waits]').text
        return waits is None or text == waits
    wait_for(driver, there, timeout=MOVED,
             message=f"{ro_id} in {column} ({waits}): {column_of_card(driver, ro_id)}")
    assert driver.execute_script("return window.boardNotReloaded") == "still here", \
        "the board page was reloaded"


def sign_in(platform: Platform, driver: WebDriver) -> None:
    password = platform.staff_password(Role.ADVISOR, ADVISOR)
    driver.get(f"{platform.portal}/board")
    wait_for(driver, lambda d: "/staff/sign-in" in d.current_url, timeout=15)
    assert "next=%2Fboard" in driver.current_url
    driver.find_element(By.ID, "username").send_keys(ADVISOR)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: d.current_url.endswith("/board") and
             d.find_elements(By.ID, "board"), timeout=15)


def test_a_car_moves_across_the_board_from_reception_to_hand_over(platform, desktop, phone):
    shop = Workshop(platform)
    platform.staff_password(Role.TECHNICIAN, TECHNICIAN)
    added = platform.call("POST", "workorder", "/technicians",
                          platform.staff(Role.DEALER_MANAGER, "MGR-board"),
                          json={"id": TECHNICIAN, "name": "王师傅", "skills": []})
    assert added.status_code in (201, 409), added.text
    sign_in(platform, desktop)
    desktop.execute_script("window.boardNotReloaded = 'still here';")

    ro = shop.receive()
    ro_id = ro["id"]
    card_in(desktop, ro_id, "received", "等待环检")
    card = desktop.find_element(By.CSS_SELECTOR, f'[data-ro="{ro_id}"]')
    assert ro["plate"] in card.text and ro["model"] in card.text and ADVISOR in card.text
    assert "late" not in card.get_attribute("class")

    shop.inspect(ro_id)
    card_in(desktop, ro_id, "quote", "等待报价")

    base = f"/repair-orders/{ro_id}"
    shop.act(Role.ADVISOR, ADVISOR, "POST", f"{base}/quote-lines", 201,
             json={"lines": [OIL_CHANGE]})
    shop.act(Role.ADVISOR, ADVISOR, "POST", f"{base}/quote/send")
    card_in(desktop, ro_id, "approval", "等待客户确认")

    # A keyboard user on the card: it keeps the focus when it moves to the next column.
    desktop.execute_script(f"document.querySelector('[data-ro=\"{ro_id}\"] a').focus();")
    shop.act(Role.ADVISOR, ADVISOR, "POST", f"{base}/quote/approval", json={
        "decisions": [{"line_id": "L1", "decision": "APPROVED"}],
        "signature": {"name": "李娜"}, "approved_via": "PHONE"})
    card_in(desktop, ro_id, "work", "等待派工")
    assert desktop.execute_script(
        "return document.activeElement.closest('[data-ro]').getAttribute('data-ro')") == ro_id

    shop.act(Role.ADVISOR, ADVISOR, "POST", f"{base}/jobs/L1/assign",
             json={"technician_id": TECHNICIAN})
    shop.act(Role.TECHNICIAN, TECHNICIAN, "POST", f"{base}/jobs/L1/clock-on")
    card_in(desktop, ro_id, "work", "施工中")
    wait_for(desktop, lambda d: "在修" in d.find_element(
        By.CSS_SELECTOR, f'[data-technician="{TECHNICIAN}"]').text, timeout=MOVED)
    shop.act(Role.TECHNICIAN, TECHNICIAN, "POST", f"{base}/jobs/L1/clock-off",
             json={"completed": True})
    card_in(desktop, ro_id, "work", "等待自检")
    shop.act(Role.TECHNICIAN, TECHNICIAN, "POST", f"{base}/self-check", 201,
             json={"passed": True})
    card_in(desktop, ro_id, "quality", "等待终检")
    shop.act(Role.QC_INSPECTOR, "QC-board", "POST", f"{base}/inspector-check", 201,
             json={"passed": True})
    card_in(desktop, ro_id, "settlement", "等待开单结算")

    invoice = shop.act(Role.ADVISOR, ADVISOR, "POST", f"{base}/invoice", 201, json={})
    card_in(desktop, ro_id, "settlement", "等待付款")
    shop.act(Role.CASHIER, "CA-board", "POST", f"{base}/payments", 201,
             json={"method": "WECHAT_PAY", "amount": invoice["balance"]})
    card_in(desktop, ro_id, "settlement", "等待客户签字")
    pad = base64.b64encode(trade.photo_bytes(shop.rng)).decode()
    shop.act(Role.ADVISOR, ADVISOR, "POST", f"{base}/invoice/signature", json={
        "name": "李娜", "image": pad, "image_content_type": "image/png"})
    card_in(desktop, ro_id, "settlement", "可交车")
    shop.act(Role.ADVISOR, ADVISOR, "POST", f"{base}/hand-over", json={})
    card_in(desktop, ro_id, "delivered")

    # A car promised a few seconds from now is late once that passes: red, and said so.
    hurried = shop.receive(promised_in=timedelta(seconds=3))["id"]
    card_in(desktop, hurried, "received")
    wait_for(desktop, lambda d: "late" in d.find_element(
        By.CSS_SELECTOR, f'[data-ro="{hurried}"]').get_attribute("class"), timeout=MOVED,
        message="the late card")
    late_text = desktop.find_element(By.CSS_SELECTOR, f'[data-ro="{hurried}"] .when').text
    assert late_text.startswith("已超时")
    assert desktop.execute_script("return window.boardNotReloaded") == "still here"
    assert console_errors(desktop) == []
    screenshot(desktop, "board-desktop")

    # The card is a link: it opens the car's page with its lines, jobs, inspection, times.
    desktop.find_element(By.CSS_SELECTOR, f'[data-ro="{ro_id}"] a').click()
    wait_for(desktop, lambda d: d.current_url.endswith(f"/board/repair-orders/{ro_id}"),
             timeout=15)
    page = desktop.find_element(By.ID, "main").text
    for expected in (ro["plate"], "更换机油及机油滤清器", TECHNICIAN,
                     "已完工", "红 0 · 黄 1 · 绿", "轮胎花纹 3 mm", "已接车", "已交车"):
        assert expected in page, expected
    assert console_errors(desktop) == []
    screenshot(desktop, "board-detail-desktop")

    # On a phone: the columns stack, nothing scrolls sideways; the late card too.
    sign_in(platform, phone)
    wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-ro="{hurried}"].late'),
             timeout=MOVED)
    assert no_horizontal_scroll(phone)
    assert console_errors(phone) == []
    screenshot(phone, "board-phone")
    phone.get(f"{platform.portal}/board/repair-orders/{ro_id}")
    wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, ".board-detail"), timeout=15)
    assert no_horizontal_scroll(phone) and console_errors(phone) == []
    screenshot(phone, "board-detail-phone")


def test_the_board_is_for_staff_only(platform):
    anonymous = requests.get(f"{platform.portal}/board", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"] == "/staff/sign-in?next=%2Fboard"
    assert requests.get(f"{platform.portal}/board.json", timeout=10).status_code == 401

    number, owner = new_phone(), requests.Session()
    owner.post(f"{platform.portal}/sign-in/code", data={"phone": number}, timeout=15)
    texts = wait_for_messages(platform, number)
    signed = owner.post(f"{platform.portal}/sign-in", timeout=15, allow_redirects=False,
                        data={"phone": number, "code": CODE.search(texts[-1]["body"]).group(1)})
    assert signed.status_code == 303, signed.text
    assert owner.get(f"{platform.portal}/board", timeout=10).status_code == 403
    assert owner.get(f"{platform.portal}/board.json", timeout=10).status_code == 403


def wait_for_messages(platform: Platform, number: str) -> list[dict[str, Any]]:
    return eventually(lambda: [m for m in platform.messages(to=number)
                               if CODE.search(m.get("body") or "")], timeout=20,
                      interval=0.3, message="the sign-in code")
