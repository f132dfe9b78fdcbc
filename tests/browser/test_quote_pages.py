"""The owner's inspection report and quote pages at D001, in a real browser: a car booked and
received at the site, inspected with real photos and quoted; the owner opens the quote link
from the message notify sent, sees the inspection's photos, approves two lines, declines one
and signs on the canvas; workorder then holds exactly those decisions and that signer, and
its QuoteApproved event names exactly those lines. A form without a signer is refused in
place with nothing stored, the total follows the owner's choices before anything is sent,
and additional work (增修) is a new round from a new message, decided the same way."""

from __future__ import annotations

import json
import random
import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from chassis.auth import Role
from chassis.config import load_settings, own_secret
from chassis.testing import rows
from chassis.testing import wait_for as eventually
from contracts.customer import customer_id_for
from simulator import trade, traffic
from tests.browser.pages import console_errors, no_horizontal_scroll, screenshot, wait_for
from tests.browser.platform import SITE, Platform, new_phone
from workorder import links

pytestmark = pytest.mark.integration

OWNER_NAME = "李娜"
TECHNICIAN = trade.TECHNICIANS[0][0]
# Zones in one of which it is daytime at any hour: notify holds every message in the quiet
# hours of the owner's zone, and this owner's messages should go out while the test runs.
ZONES = ("Asia/Shanghai", "Europe/London", "America/New_York", "Pacific/Auckland")
QUOTE_LINK = re.compile(r"https?://\S+/quote-links/[^\s，。]+")
CODE = re.compile(r"(\d{6})")
# What the inspection finds (its first items): RED with two photos, YELLOW with one.
FINDINGS = (("RED", "磨损严重，需立即处理 (worn out: urgent)", 2),
            ("YELLOW", "已有磨损，建议近期处理 (wearing: attend to soon)", 1))


@dataclass
class Car:
    phone: str
    customer_id: str
    repair_order_id: str
    lines: list[dict[str, Any]]          # the first round's lines as workorder sent them
    red_item: str = ""                    # the checklist item found RED (shown first)
    links: list[str] = field(default_factory=list)  # quote links texted, oldest first


def png(seed: int, width: int = 64, height: int = 48) -> bytes:
    """A real PNG picture (the browser decodes it: naturalWidth > 0), different per seed."""
    rng = random.Random(seed)
    colour = bytes(rng.randrange(256) for _ in range(3))
    stripe = bytes(rng.randrange(256) for _ in range(3))
    raw = b"".join(b"\x00" + b"".join(stripe if (x + y) % 16 < 4 else colour
                                      for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def daytime_zone() -> str:
    now = datetime.now(UTC)
    return next(z for z in ZONES if 9 <= now.astimezone(ZoneInfo(z)).hour < 20)


def advisor(platform: Platform) -> dict[str, str]:
    return platform.staff(Role.ADVISOR, "SA-01")


def workorder(platform: Platform, method: str, path: str, role: Role = Role.ADVISOR,
              subject: str = "SA-01", **kwargs: Any) -> Any:
    headers = {**platform.staff(role, subject), **kwargs.pop("headers", {})}
    answer = platform.call(method, "workorder", path, headers, **kwargs)
    assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
    return answer.json()


def quote_links(platform: Platform, phone: str) -> list[str]:
    """The quote links in the messages notify texted the owner, oldest first."""
    return [QUOTE_LINK.search(m["body"]).group(0) for m in platform.messages(to=phone)
            if m.get("kind") == "QUOTE_WAITING" and QUOTE_LINK.search(m.get("body") or "")]


def next_quote_link(platform: Platform, car: Car) -> str:
    """The link of the next quote message to the owner (parsed out of the SMS's words)."""
    known = len(car.links)
    links = eventually(lambda: (found := quote_links(platform, car.phone))[known:] and found,
                       timeout=90, interval=0.5, message="the quote message")
    car.links = links
    return links[-1]


def book_and_receive(platform: Platform, phone: str) -> str:
    """The owner books at D001 in the app and the advisor receives the car, as the simulator's
    people do; its repair order. notify learns the owner's phone from the booking."""
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
    car.customer = trade.Customer(OWNER_NAME, phone)
    platform.people.introduce_owner(phone)
    day._book(car)
    # The owner's zone for notify: daytime now (see ZONES), before anything is texted.
    notify = f"{platform.url('notify', 'HQ')}/customers/{customer_id_for(phone)}/preferences"
    headers = platform.owner(phone)
    eventually(lambda: requests.put(notify, json={"time_zone": daytime_zone()},
                                    headers=headers, timeout=10).status_code == 200,
               timeout=60, interval=0.5, message="notify to know the owner")
    return day._receive(car)


def inspect_with_photos(platform: Platform, ro_id: str) -> str:
    """The technician's inspection: the first items RED and YELLOW with real photos, every
    other GREEN; submitted (the owner may see it). The RED item's name."""
    tech = {"role": Role.TECHNICIAN, "subject": TECHNICIAN}
    started = workorder(platform, "POST", f"/repair-orders/{ro_id}/inspection", json={},
                        **tech)
    items = started["items"]
    for index, item in enumerate(items):
        result: dict[str, Any] = {"status": "GREEN"}
        if index < len(FINDINGS):
            status, notes, count = FINDINGS[index]
            shots = [workorder(platform, "POST", f"/repair-orders/{ro_id}/photos",
                               data=png(index * 10 + n + random.randrange(10**6)),
                               headers={"Content-Type": "image/png"}, **tech)["sha256"]
                     for n in range(count)]
            result = {"status": status, "notes": notes, "photos": shots}
        workorder(platform, "PUT", f"/repair-orders/{ro_id}/inspection/items/{item['code']}",
                  json=result, **tech)
    workorder(platform, "POST", f"/repair-orders/{ro_id}/inspection/submit", **tech)
    return items[0]["name"]


def send_quote(platform: Platform, ro_id: str, lines: list[dict[str, Any]]
               ) -> list[dict[str, Any]]:
    """The advisor quotes the lines and sends the round; its lines as workorder keeps them."""
    workorder(platform, "POST", f"/repair-orders/{ro_id}/quote-lines", json={"lines": lines})
    sent = workorder(platform, "POST", f"/repair-orders/{ro_id}/quote/send")
    current = next(r for r in sent["rounds"] if r["round"] == sent["current_round"])
    return sorted(current["lines"], key=lambda line: int(line["line_id"].lstrip("L")))


@pytest.fixture(scope="module")
def car(platform: Platform) -> Car:
    phone = new_phone()
    ro_id = book_and_receive(platform, phone)
    red_item = inspect_with_photos(platform, ro_id)
    # The maintenance job: the labour line and its two parts (oil, filter).
    lines = send_quote(platform, ro_id, list(trade.BASE_JOBS["MAINTENANCE"][0]))
    assert len(lines) == 3
    return Car(phone, customer_id_for(phone), ro_id, lines, red_item)


def the_quote(platform: Platform, ro_id: str) -> dict[str, Any]:
    return workorder(platform, "GET", f"/repair-orders/{ro_id}/quote")


def approvals(platform: Platform, ro_id: str) -> list[dict[str, Any]]:
    """The data of workorder's QuoteApproved events about the repair order, in order."""
    return [json.loads(payload)["data"] for (payload,) in rows(
        platform.site.databases["workorder"],
        "SELECT payload FROM outbox WHERE event_type = 'aftersales.QuoteApproved.v1' "
        "AND aggregate_id = :ro ORDER BY id", ro=ro_id)]


def yuan(amount: Decimal) -> str:
    return f"¥{amount:,.2f}"


def photos_loaded(driver: WebDriver) -> list[int]:
    """The natural widths of the page's inspection photos, once every one has loaded (a photo
    that failed is complete with width 0)."""
    return wait_for(driver, lambda d: (widths := d.execute_script(
        "var shots = Array.from(document.querySelectorAll('.photos img'));"
        " return shots.every(function (i) { return i.complete; })"
        " ? shots.map(function (i) { return i.naturalWidth; }) : null;")) is not None
        and widths, timeout=15, message="the photos to load") or []


def check_page(driver: WebDriver, name: str | None = None) -> None:
    if driver.kind == "phone":
        assert no_horizontal_scroll(driver), name
    assert console_errors(driver) == [], name
    if name:
        screenshot(driver, name)


def choose(driver: WebDriver, line_id: str, decision: str) -> None:
    label = driver.find_element(By.CSS_SELECTOR,
                                f"label[for=decision-{line_id}-{decision.lower()}]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", label)
    label.click()


def approved_total(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "approved-total").text


def draw_signature(driver: WebDriver) -> None:
    """The owner signs in the box with the mouse (a finger on a phone is the same pointer
    events): a few strokes."""
    pad = driver.find_element(By.ID, "signature-pad")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", pad)
    ActionChains(driver).move_to_element_with_offset(pad, -100, 10).click_and_hold() \
        .move_by_offset(25, -30).move_by_offset(25, 40).move_by_offset(25, -35) \
        .move_by_offset(25, 30).move_by_offset(40, -10).release().perform()
    ActionChains(driver).move_to_element_with_offset(pad, 60, -20).click_and_hold() \
        .move_by_offset(10, 45).release().perform()


def submit(driver: WebDriver) -> None:
    button = driver.find_element(By.ID, "quote-submit")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()


def test_the_owner_decides_the_quote_from_the_message_and_workorder_keeps_exactly_that(
        platform: Platform, car: Car, phone: WebDriver, desktop: WebDriver) -> None:
    link = next_quote_link(platform, car)
    assert link.startswith(f"{platform.portal}/quote-links/")
    labour, oil, filter_ = (line["line_id"] for line in car.lines)
    amounts = {line["line_id"]: Decimal(line["amount"]) for line in car.lines}

    # The quote on a desktop: the lines, the findings with their photos, the report link.
    desktop.get(link)
    wait_for(desktop, lambda d: d.find_elements(By.ID, "quote-form"), timeout=15)
    widths = photos_loaded(desktop)
    assert len(widths) == 3 and all(w > 0 for w in widths), widths
    assert len(desktop.find_elements(By.CSS_SELECTOR, "input.pick-input")) == 6
    check_page(desktop, "quote-desktop")
    # By keyboard: space chooses, the arrows move within a line's choices; the total follows.
    approve = desktop.find_element(By.ID, f"decision-{labour}-approved")
    approve.send_keys(Keys.SPACE)
    assert approve.is_selected() and approved_total(desktop) == yuan(amounts[labour])
    ActionChains(desktop).send_keys(Keys.ARROW_RIGHT).perform()
    assert desktop.find_element(By.ID, f"decision-{labour}-declined").is_selected()
    assert approved_total(desktop) == yuan(Decimal("0"))
    desktop.find_element(By.CSS_SELECTOR, "a.report-link").click()
    wait_for(desktop, lambda d: "/inspection-reports/" in d.current_url, timeout=15)
    assert all(w > 0 for w in photos_loaded(desktop))
    # Worst first: the RED item leads, then the YELLOW one, and every item is there.
    colours = [e.get_attribute("class") for e in
               desktop.find_elements(By.CSS_SELECTOR, "li.finding")]
    assert colours[:2] == ["finding red", "finding yellow"]
    assert all(c == "finding green" for c in colours[2:])
    assert desktop.find_element(By.CSS_SELECTOR, "li.finding.red .finding-name").text == \
        car.red_item
    assert desktop.find_elements(By.CSS_SELECTOR, "a.quote-link")  # back to the quote
    check_page(desktop, "inspection-report-desktop")

    phone.get(desktop.current_url)
    assert len(photos_loaded(phone)) == 3
    check_page(phone, "inspection-report-phone")

    # In English beside zh-CN (opening the link decides nothing).
    english = requests.get(f"{link}?lang=en", timeout=15)
    assert english.status_code == 200 and "Sign and send" in english.text

    # On the phone: the total follows each choice before anything is sent.
    phone.get(link)
    assert all(w > 0 for w in photos_loaded(phone))
    assert approved_total(phone) == yuan(Decimal("0"))
    choose(phone, labour, "APPROVED")
    assert approved_total(phone) == yuan(amounts[labour])
    choose(phone, oil, "APPROVED")
    assert approved_total(phone) == yuan(amounts[labour] + amounts[oil])
    choose(phone, filter_, "APPROVED")
    assert approved_total(phone) == yuan(sum(amounts.values()))
    choose(phone, filter_, "DECLINED")
    assert approved_total(phone) == yuan(amounts[labour] + amounts[oil])
    assert "0 " in phone.find_element(By.ID, "total-counted").text  # nothing left to choose

    # No signer: refused in place (422) and nothing stored; the choices stay as they were.
    phone.execute_script("document.getElementById('quote-form').noValidate = true;")
    submit(phone)
    problems = wait_for(phone, lambda d: d.find_elements(By.ID, "quote-problems"), timeout=15)
    assert problems[0].is_displayed() and phone.find_elements(By.ID, "signer-problem")
    assert phone.find_element(By.ID, f"decision-{filter_}-declined").is_selected()
    assert approved_total(phone) == yuan(amounts[labour] + amounts[oil])
    assert no_horizontal_scroll(phone)
    own_status_only(phone, 422)
    unsigned = requests.post(link, timeout=15, data={
        f"decision-{labour}": "APPROVED", f"decision-{oil}": "APPROVED",
        f"decision-{filter_}": "DECLINED", "signer_name": "  "})
    assert unsigned.status_code == 422
    waiting = the_quote(platform, car.repair_order_id)["rounds"][0]
    assert waiting["decided_at"] is None
    assert {line["status"] for line in waiting["lines"]} == {"PROPOSED"}
    assert approvals(platform, car.repair_order_id) == []

    # Signed: the name typed, and drawn on the canvas with the mouse (on the page afresh).
    phone.get(link)
    wait_for(phone, lambda d: d.find_elements(By.ID, "quote-form"), timeout=15)
    for line_id, decision in ((labour, "APPROVED"), (oil, "APPROVED"), (filter_, "DECLINED")):
        choose(phone, line_id, decision)
    assert approved_total(phone) == yuan(amounts[labour] + amounts[oil])
    phone.find_element(By.ID, "signer_name").send_keys(OWNER_NAME)
    draw_signature(phone)
    drawn = phone.find_element(By.ID, "signature_image").get_attribute("value")
    assert drawn.startswith("data:image/png;base64,")
    check_page(phone, "quote-phone")
    submit(phone)
    wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, ".quote-done"), timeout=20)
    assert [e.get_attribute("data-line") for e in
            phone.find_elements(By.CSS_SELECTOR, ".approved-lines li")] == [labour, oil]
    assert [e.get_attribute("data-line") for e in
            phone.find_elements(By.CSS_SELECTOR, ".declined-lines li")] == [filter_]
    assert phone.find_element(By.ID, "done-approved-total").text == \
        yuan(amounts[labour] + amounts[oil])
    check_page(phone, "quote-approved-phone")

    # workorder holds exactly those decisions, that signer and the drawn signature.
    decided = the_quote(platform, car.repair_order_id)["rounds"][0]
    assert {line["line_id"]: line["status"] for line in decided["lines"]} == {
        labour: "APPROVED", oil: "APPROVED", filter_: "DECLINED"}
    assert (decided["signer_name"], decided["approved_via"]) == (OWNER_NAME, "LINK")
    assert Decimal(decided["approved_total"]) == amounts[labour] + amounts[oil]
    [(signed_by, signature)] = rows(
        platform.site.databases["workorder"],
        "SELECT signed_by, signature_sha256 FROM quotes WHERE repair_order_id = :ro "
        "AND round = 1", ro=car.repair_order_id)
    assert signed_by == car.customer_id and signature
    [approved] = approvals(platform, car.repair_order_id)
    assert [line["line_id"] for line in approved["approved_lines"]] == [labour, oil]
    assert [line["line_id"] for line in approved["declined_lines"]] == [filter_]
    assert (approved["round"], approved["approved_via"], approved["signed_by"]) == (
        1, "LINK", car.customer_id)

    # The link again: decided, so it opens no form, and a second answer is refused (409).
    phone.get(link)
    wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, ".quote-closed"), timeout=15)
    assert not phone.find_elements(By.ID, "quote-form")
    again = requests.post(link, timeout=15, data={
        f"decision-{labour}": "DECLINED", f"decision-{oil}": "DECLINED",
        f"decision-{filter_}": "DECLINED", "signer_name": OWNER_NAME})
    assert again.status_code == 409
    assert len(approvals(platform, car.repair_order_id)) == 1


def sign_in_owner(platform: Platform, driver: WebDriver, phone: str) -> None:
    """The owner signs in at the site's portal with the code texted to them (the session's
    cookie handed to the browser)."""
    session = requests.Session()
    before = len(platform.messages(to=phone))

    def send_code() -> bool:
        # identity sends one code a minute per phone, and the test's people asked for one
        # when the owner booked: ask again once that minute is over.
        sent = session.post(f"{platform.portal}/sign-in/code", timeout=15,
                            data={"phone": phone, "next": "/"})
        assert sent.status_code in (200, 429), sent.text
        return sent.status_code == 200

    eventually(send_code, timeout=120, interval=2, message="a sign-in code for the owner")
    [code] = eventually(lambda: [CODE.search(m["body"]).group(1)
                                 for m in platform.messages(to=phone)[before:]
                                 if m.get("kind") != "QUOTE_WAITING"
                                 and CODE.search(m.get("body") or "")][-1:],
                        timeout=30, interval=0.3, message="the sign-in code")
    signed = session.post(f"{platform.portal}/sign-in", timeout=15, allow_redirects=False,
                          data={"phone": phone, "code": code, "next": "/"})
    assert signed.status_code == 303, signed.text
    driver.get(f"{platform.portal}/?lang=zh-CN")
    driver.add_cookie({"name": "portal_session", "value": session.cookies["portal_session"],
                       "path": "/", "httpOnly": True})


def test_additional_work_is_a_new_round_from_a_new_message_decided_the_same_way(
        platform: Platform, car: Car, desktop: WebDriver) -> None:
    if not approvals(platform, car.repair_order_id):
        pytest.skip("needs the first round decided (the test before)")
    first_link = car.links[-1]
    workorder(platform, "POST", f"/repair-orders/{car.repair_order_id}/additional-work",
              role=Role.TECHNICIAN, subject=TECHNICIAN, json={})
    extra = send_quote(platform, car.repair_order_id, list(trade.ADDITIONAL_JOB))
    fluid, part = (line["line_id"] for line in extra)
    link = next_quote_link(platform, car)
    assert link != first_link

    # Through the new link alone: the additional round, marked as such, to decide.
    desktop.get(link)
    wait_for(desktop, lambda d: d.find_elements(By.ID, "quote-form"), timeout=15)
    assert desktop.find_elements(By.CSS_SELECTOR, ".round-name .tag")  # 增修
    assert {e.get_attribute("data-line") for e in
            desktop.find_elements(By.CSS_SELECTOR, "input.pick-input")} == {fluid, part}
    assert desktop.find_elements(By.CSS_SELECTOR, ".earlier-note")
    check_page(desktop)

    # Signed in, the owner sees the first round decided above it, read-only.
    sign_in_owner(platform, desktop, car.phone)
    desktop.get(link)
    wait_for(desktop, lambda d: d.find_elements(By.ID, "quote-form"), timeout=15)
    [earlier] = desktop.find_elements(By.CSS_SELECTOR, "section.round.decided")
    assert [e.get_attribute("class") for e in earlier.find_elements(By.CSS_SELECTOR, "li")] \
        == ["line approved", "line approved", "line declined"]
    assert not earlier.find_elements(By.CSS_SELECTOR, "input")
    assert all(w > 0 for w in photos_loaded(desktop))
    choose(desktop, fluid, "APPROVED")
    choose(desktop, part, "DECLINED")
    assert approved_total(desktop) == yuan(Decimal(extra[0]["amount"]))
    desktop.find_element(By.ID, "signer_name").send_keys(OWNER_NAME)  # a typed name alone
    submit(desktop)
    wait_for(desktop, lambda d: d.find_elements(By.CSS_SELECTOR, ".quote-done"), timeout=20)
    assert [e.get_attribute("data-line") for e in
            desktop.find_elements(By.CSS_SELECTOR, ".approved-lines li")] == [fluid]
    check_page(desktop, "quote-approved-desktop")

    second = next(r for r in the_quote(platform, car.repair_order_id)["rounds"]
                  if r["round"] == 2)
    assert {line["line_id"]: line["status"] for line in second["lines"]} == {
        fluid: "APPROVED", part: "DECLINED"}
    assert second["signer_name"] == OWNER_NAME
    first, then = approvals(platform, car.repair_order_id)[:2]
    assert [line["line_id"] for line in then["approved_lines"]] == [fluid]
    assert [line["line_id"] for line in then["declined_lines"]] == [part]
    assert then["round"] == 2 and first["round"] == 1

    # The signed-in owner's own quote page: both rounds decided, nothing left to decide.
    mine = f"{platform.portal}/repair-orders/{car.repair_order_id}/quote"
    desktop.get(mine)
    assert len(desktop.find_elements(By.CSS_SELECTOR, "section.round.decided")) == 2
    assert not desktop.find_elements(By.ID, "quote-form")
    check_page(desktop)

    # More work found: a third round, decided on that page by the signed-in owner (WEB).
    workorder(platform, "POST", f"/repair-orders/{car.repair_order_id}/additional-work",
              role=Role.TECHNICIAN, subject=TECHNICIAN, json={})
    [wipers, blades] = send_quote(platform, car.repair_order_id, list(trade.FINDINGS["WIPERS"]))
    desktop.get(mine)
    wait_for(desktop, lambda d: d.find_elements(By.ID, "quote-form"), timeout=15)
    assert len(desktop.find_elements(By.CSS_SELECTOR, "section.round.decided")) == 2
    assert len(photos_loaded(desktop)) == 3  # the owner's own inspection, beside the lines
    choose(desktop, wipers["line_id"], "APPROVED")
    choose(desktop, blades["line_id"], "APPROVED")
    desktop.find_element(By.ID, "signer_name").send_keys(OWNER_NAME)
    submit(desktop)
    wait_for(desktop, lambda d: "/quote/done?round=3" in d.current_url, timeout=20)
    assert [e.get_attribute("data-line") for e in
            desktop.find_elements(By.CSS_SELECTOR, ".approved-lines li")] == [
        wipers["line_id"], blades["line_id"]]
    check_page(desktop)
    third = approvals(platform, car.repair_order_id)[-1]
    assert (third["round"], third["approved_via"], third["signed_by"]) == (
        3, "WEB", car.customer_id)
    assert [line["line_id"] for line in third["approved_lines"]] == [
        wipers["line_id"], blades["line_id"]] and third["declined_lines"] == []

    # The report InspectionUploaded names (no grant: the signed-in owner's), with photos. Read
    # from workorder's event: notify holds that message for the site's quiet hours (it does
    # not name the customer, so notify cannot use the owner's zone).
    [(payload,)] = rows(platform.site.databases["workorder"],
                        "SELECT payload FROM outbox WHERE event_type = "
                        "'aftersales.InspectionUploaded.v1' AND aggregate_id = :ro",
                        ro=car.repair_order_id)
    report_url = json.loads(payload)["data"]["report_url"]
    assert report_url.startswith(f"{platform.portal}/inspections/")
    desktop.get(report_url)
    wait_for(desktop, lambda d: d.find_elements(By.CSS_SELECTOR, "li.finding"), timeout=15)
    assert len(photos_loaded(desktop)) == 3
    check_page(desktop)


def own_status_only(driver: WebDriver, status: int) -> None:
    """No console error but the browser's note of the page's own status (a 4xx page is a
    failed load to it)."""
    assert [e for e in console_errors(driver) if f"status of {status}" not in e] == []


def test_links_that_open_nothing_say_so_with_the_right_status(
        platform: Platform, car: Car, phone: WebDriver) -> None:
    # Links the site signed, for this very car, but expired (signed with its own secret).
    secret = own_secret(load_settings("workorder", platform.site.config_file),
                        "report_link_secret")
    long_ago = time.time() - 10 * 86400
    expired_quote = links.quote_token(secret, repair_order_id=car.repair_order_id,
                                      quote_id=f"Q-{car.repair_order_id}-1", round_=1,
                                      customer_id=car.customer_id, ttl_seconds=3600,
                                      now=long_ago)
    [inspection_id] = [r[0] for r in rows(platform.site.databases["workorder"],
                                          "SELECT id FROM inspections WHERE "
                                          "repair_order_id = :ro", ro=car.repair_order_id)]
    expired_report = links.report_token(secret, repair_order_id=car.repair_order_id,
                                        inspection_id=inspection_id, ttl_seconds=3600,
                                        now=long_ago)
    for path, status in ((f"/quote-links/{expired_quote}", 410),
                         (f"/inspection-reports/{expired_report}", 410),
                         ("/quote-links/not-a-grant", 404),
                         ("/inspection-reports/not-a-token", 404),
                         ("/inspection-reports/not-a-token/photos/abc", 404),
                         (f"/inspection-reports/{expired_report}/photos/abc", 404)):
        answer = requests.get(f"{platform.portal}{path}", timeout=15)
        assert answer.status_code == status, (path, answer.text)
    for grant, status in ((expired_quote, 410), ("not-a-grant", 404)):
        assert requests.post(f"{platform.portal}/quote-links/{grant}", timeout=15,
                             data={"signer_name": OWNER_NAME}).status_code == status
    phone.get(f"{platform.portal}/quote-links/{expired_quote}")
    assert phone.find_elements(By.CSS_SELECTOR, ".quote-closed h1")
    assert no_horizontal_scroll(phone)
    own_status_only(phone, 410)
    phone.get(f"{platform.portal}/quote-links/not-a-grant")
    assert phone.find_elements(By.CSS_SELECTOR, ".quote-closed h1")
    own_status_only(phone, 404)
