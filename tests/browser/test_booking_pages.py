"""The owner's booking pages and "my car now" at D001, in a real browser: an owner signed in
by SMS code books a free slot (booking then holds exactly that appointment), two owners in two
browsers submit the last place of a slot at the same moment (one is booked, the other told in
place that it was just taken), an appointment is moved and cancelled through the page, and
the timeline of the car moves on by itself while the site's people work on it."""

from __future__ import annotations

import random
import re
import secrets
import threading
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from chassis.auth import Role
from chassis.testing import wait_for as eventually
from contracts.customer import customer_id_for
from simulator.trade import make_vin
from tests.browser.pages import (
    console_errors,
    console_log,
    no_horizontal_scroll,
    screenshot,
    wait_for,
)
from tests.browser.platform import Platform, new_phone

pytestmark = pytest.mark.integration

CODE = re.compile(r"(\d{6})")
SERVICE = "MAINTENANCE"
ADDRESS = "上海市浦东新区世纪大道 100 号"


# -- the owner and the site's people ---------------------------------------------------------


def sign_in(platform: Platform, driver: WebDriver, phone: str, next_path: str = "/book"
            ) -> None:
    """The owner signs in through the portal's pages with the code headquarters texts them,
    and lands on `next_path`."""
    def codes() -> list[dict[str, Any]]:
        return [m for m in platform.messages(to=phone) if CODE.search(m.get("body") or "")]

    seen = len(codes())  # an owner signing in again waits for the new code
    driver.get(f"{platform.portal}/sign-in?next={quote(next_path, safe='')}")
    driver.find_element(By.ID, "phone").send_keys(phone)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    code_field = wait_for(driver, lambda d: d.find_elements(By.ID, "code"), timeout=15)[0]
    texts = wait_for(driver, lambda d: len(codes()) > seen and codes(), timeout=20)
    code_field.send_keys(CODE.search(texts[-1]["body"]).group(1))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".who"), timeout=15)


def advisor(platform: Platform) -> dict[str, str]:
    return platform.staff(Role.ADVISOR, "SA-01")


def booking_today(platform: Platform) -> date:
    calendar = platform.call("GET", "booking", "/calendar", advisor(platform)).json()
    return datetime.now(ZoneInfo(calendar["time_zone"])).date()


def free_slots(platform: Platform, day: date) -> list[dict[str, Any]]:
    answer = platform.call("GET", "booking", "/availability", advisor(platform),
                           params={"service_type": SERVICE, "from": day.isoformat(),
                                   "to": day.isoformat()})
    assert answer.status_code == 200, answer.text
    return [slot for d in answer.json()["days"] for slot in d["slots"]]


def untouched_slot(platform: Platform, *, avoid: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A slot of the coming days nobody booked yet, nor the one after it (a maintenance takes
    two slots): a test's bookings there are the only ones."""
    today = booking_today(platform)
    for ahead in range(1, 7):
        slots = free_slots(platform, today + timedelta(days=ahead))
        for slot, after in zip(slots, slots[1:], strict=False):
            if (slot["bookable"] and slot["free"] == slot["capacity"]
                    and after["free"] == after["capacity"] and slot["start"] not in avoid):
                return slot
    raise AssertionError("no untouched slot in the coming days")


def same_moment(one: str, other: str) -> bool:
    return datetime.fromisoformat(one) == datetime.fromisoformat(other)


def appointments_at(platform: Platform, start: str) -> list[dict[str, Any]]:
    """Every appointment booking holds at this slot, as the advisor sees them."""
    day = datetime.fromisoformat(start).date().isoformat()
    answer = platform.call("GET", "booking", "/appointments", advisor(platform),
                           params={"from": day, "to": day, "limit": 500})
    assert answer.status_code == 200, answer.text
    return [a for a in answer.json()["items"] if same_moment(a["slot_start"], start)]


def plate() -> str:
    return "沪A" + "".join(secrets.choice("0123456789") for _ in range(5))


def vin() -> str:
    """A VIN with a good check digit (position 9), as workorder's reception wants it."""
    return make_vin(random.Random(secrets.randbits(32)))


def book_by_phone_call(platform: Platform, phone: str, start: str) -> dict[str, Any]:
    """The owner phoned the dealer, and the advisor booked for them (the owner's own
    appointment all the same: booking knows them by their phone)."""
    body = {"customer": {"name": "王芳", "phone": phone}, "vehicle": {"plate": plate()},
            "service_type": SERVICE, "slot_start": start, "channel": "PHONE"}
    answer = platform.call("POST", "booking", "/appointments", advisor(platform), json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def share_session(platform: Platform, signed_in: WebDriver, other: WebDriver) -> None:
    """The same owner's session in a second browser (headquarters sends one phone a code a
    minute at most, so the second browser does not sign in again)."""
    other.get(f"{platform.portal}/static/portal.css")
    cookie = signed_in.get_cookie("portal_session")
    other.add_cookie({"name": cookie["name"], "value": cookie["value"], "path": "/",
                      "httpOnly": True, "sameSite": "Lax"})
    console_log(other)  # a style sheet opened as a page asks for /favicon.ico: not a page's


def check_page(driver: WebDriver, name: str | None = None, *, status: int | None = None
               ) -> None:
    """No sideways scrolling on a phone, nothing wrong in the console. `status`: the page
    itself was answered with it (a refusal shown in place), which Chrome logs as a failed
    load of the page: that one line is expected, and nothing else."""
    if driver.kind == "phone":
        assert no_horizontal_scroll(driver), name or driver.current_url
    errors = console_errors(driver)
    if status is not None:
        errors = [e for e in errors if not (e.startswith(driver.current_url.split("?")[0])
                                            and f"status of {status}" in e)]
    assert errors == [], name or driver.current_url
    if name:
        screenshot(driver, name)


# -- filling the booking form ----------------------------------------------------------------


def choose_slot(driver: WebDriver, start: str) -> None:
    radio = next(r for r in driver.find_elements(By.CSS_SELECTOR, "input[name=slot_start]")
                 if same_moment(r.get_attribute("value"), start))
    group = radio.find_element(By.XPATH, "ancestor::div[@data-day]")
    if not group.is_displayed():  # booking.js shows one day at a time: open that day's tab
        day = group.get_attribute("data-day")
        driver.find_element(By.CSS_SELECTOR, f".day-chip[data-day='{day}']").click()
        wait_for(driver, lambda d: group.is_displayed())
    driver.find_element(By.CSS_SELECTOR, f"label[for='{radio.get_attribute('id')}']").click()
    assert radio.is_selected()


def fill_in(driver: WebDriver, *, name: str, phone: str, car: str) -> None:
    for field, value in (("name", name), ("phone", phone), ("plate", car)):
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)


def slot_offered(driver: WebDriver, start: str) -> bool:
    return any(same_moment(r.get_attribute("value"), start)
               for r in driver.find_elements(By.CSS_SELECTOR, "input[name=slot_start]"))


# -- the tests -----------------------------------------------------------------------------


def test_an_owner_books_a_slot_and_booking_holds_exactly_that_appointment(
        platform: Platform, phone: WebDriver, desktop: WebDriver) -> None:
    number, car = new_phone(), plate()
    slot = untouched_slot(platform)
    sign_in(platform, phone, number, "/book")
    assert phone.current_url.endswith("/book")
    # The dealer's service types, maintenance first for this owner; the free times per day.
    services = Select(phone.find_element(By.ID, "service_type"))
    assert services.first_selected_option.get_attribute("value") == SERVICE
    # Choosing another service puts its predecessor's times away until asked for.
    other = next(o.get_attribute("value") for o in services.options
                 if o.get_attribute("value") != SERVICE)
    services.select_by_value(other)
    assert phone.find_element(By.ID, "service-changed").is_displayed()
    assert not phone.find_element(By.ID, "book-submit").is_enabled()
    services.select_by_value(SERVICE)
    assert not phone.find_element(By.ID, "service-changed").is_displayed()
    assert phone.find_element(By.ID, "book-submit").is_enabled()
    wait_for(phone, lambda d: slot_offered(d, slot["start"]), timeout=10)
    assert len(phone.find_elements(By.CSS_SELECTOR, ".day")) >= 1
    check_page(phone, "book-phone")

    choose_slot(phone, slot["start"])
    # booking.js repeats the chosen time beside the button.
    assert phone.find_element(By.ID, "chosen-slot").text
    # First with another number than the one signed in with: booking refuses it (an owner
    # books for themselves), and the page says so at the phone field, the rest kept.
    fill_in(phone, name="李娜", phone=new_phone(), car=car.lower())
    phone.find_element(By.ID, "arrival-pickup").click()
    wait_for(phone, lambda d: d.find_element(By.ID, "pickup_address").is_displayed())
    phone.find_element(By.ID, "pickup_address").send_keys(ADDRESS)
    phone.find_element(By.ID, "loaner").click()
    phone.find_element(By.ID, "book-submit").click()
    problem = wait_for(phone, lambda d: d.find_elements(By.ID, "phone-problem"), timeout=15)[0]
    assert "customer.phone" in problem.text
    assert phone.find_element(By.ID, "phone").get_attribute("aria-invalid") == "true"
    assert phone.find_element(By.CSS_SELECTOR, "[role=alert]").is_displayed()
    check_page(phone, status=422)
    assert [a for a in appointments_at(platform, slot["start"])] == []
    kept = next(r for r in phone.find_elements(By.CSS_SELECTOR, "input[name=slot_start]")
                if same_moment(r.get_attribute("value"), slot["start"]))
    assert kept.is_selected() and phone.find_element(By.ID, "loaner").is_selected()
    assert phone.find_element(By.ID, "pickup_address").get_attribute("value") == ADDRESS

    fill_in(phone, name="李娜", phone=number, car=car.lower())
    phone.find_element(By.ID, "book-submit").click()
    banner = wait_for(phone, lambda d: d.find_elements(By.ID, "done-banner"), timeout=15)[0]
    assert banner.is_displayed() and "/book/" in phone.current_url
    check_page(phone, "book-confirmed-phone")

    # Booking holds exactly that appointment, booked through the web by this owner.
    mine = [a for a in appointments_at(platform, slot["start"])
            if a["customer"]["customer_id"] == customer_id_for(number)]
    assert len(mine) == 1
    [held] = mine
    assert phone.current_url.split("?")[0].endswith(f"/book/{held['id']}")
    assert (held["service_type"], held["status"], held["channel"]) == (SERVICE, "SCHEDULED",
                                                                        "WEB")
    assert (held["customer"]["name"], held["customer"]["phone"]) == ("李娜", number)
    assert held["vehicle"]["plate"] == car
    assert (held["pickup_address"], held["loaner_requested"], held["customer_waiting"]) == (
        ADDRESS, True, False)
    assert phone.find_element(By.ID, "appointment-status").get_attribute(
        "data-status") == "SCHEDULED"

    # The same owner on a computer: the form (their name, phone and car filled in from this
    # booking) and the confirmation.
    share_session(platform, phone, desktop)
    desktop.get(f"{platform.portal}/book")
    assert desktop.find_element(By.ID, "phone").get_attribute("value") == number
    assert desktop.find_element(By.CSS_SELECTOR, f"a[href='/book/{held['id']}']")
    check_page(desktop, "book-desktop")
    desktop.get(f"{platform.portal}/book/{held['id']}?done=booked")
    check_page(desktop, "book-confirmed-desktop")


def test_the_last_place_of_a_slot_goes_to_one_of_two_owners_booking_at_once(
        platform: Platform, new_browser) -> None:
    slot = untouched_slot(platform)
    start, capacity = slot["start"], slot["capacity"]
    # Everyone else has booked the slot but one place (the advisor, on the phone for them).
    for _ in range(capacity - 1):
        body = {"customer": {"name": "张伟", "phone": new_phone()}, "vehicle": {"plate": plate()},
                "service_type": SERVICE, "slot_start": start, "channel": "PHONE"}
        answer = platform.call("POST", "booking", "/appointments", advisor(platform), json=body)
        assert answer.status_code == 201, answer.text
    [left] = [s for s in free_slots(platform, datetime.fromisoformat(start).date())
              if same_moment(s["start"], start)]
    assert left["free"] == 1 and left["bookable"]

    owners = [(new_phone(), new_browser("phone")), (new_phone(), new_browser("phone"))]
    for number, driver in owners:
        sign_in(platform, driver, number, f"/book?service_type={SERVICE}")
        choose_slot(driver, start)
        fill_in(driver, name="陈静", phone=number, car=plate())

    # Both press "book" at the same moment.
    ready = threading.Barrier(len(owners))
    failures: list[BaseException] = []

    def submit(driver: WebDriver) -> None:
        try:
            ready.wait(timeout=30)
            driver.execute_script("document.querySelector('form.book-form').requestSubmit();")
        except BaseException as error:  # reported by the test's thread below
            failures.append(error)

    threads = [threading.Thread(target=submit, args=(driver,)) for _, driver in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures

    outcomes = []
    for _, driver in owners:
        wait_for(driver, lambda d: d.find_elements(By.ID, "done-banner")
                 or d.find_elements(By.CSS_SELECTOR, ".slot-taken"), timeout=20)
        outcomes.append("booked" if driver.find_elements(By.ID, "done-banner") else "taken")
    assert sorted(outcomes) == ["booked", "taken"]
    winner, loser = (owners[outcomes.index("booked")], owners[outcomes.index("taken")])

    # The other owner is told in place, with the free times as they are now: not that one.
    page = loser[1]
    assert page.find_element(By.CSS_SELECTOR, ".slot-taken").is_displayed()
    assert page.find_element(By.ID, "name").get_attribute("value") == "陈静"  # kept as typed
    assert not slot_offered(page, start)
    assert page.find_elements(By.CSS_SELECTOR, "input[name=slot_start]")
    check_page(page, status=409)

    check_page(winner[1])
    held = appointments_at(platform, start)
    theirs = [a for a in held if a["customer"]["customer_id"] in
              {customer_id_for(number) for number, _ in owners}]
    assert [a["customer"]["customer_id"] for a in theirs] == [customer_id_for(winner[0])]
    assert len([a for a in held if a["status"] in ("SCHEDULED", "CONFIRMED")]) == capacity


def test_an_owner_moves_and_then_cancels_an_appointment_through_the_page(
        platform: Platform, phone: WebDriver) -> None:
    number = new_phone()
    first = untouched_slot(platform)
    appointment = book_by_phone_call(platform, number, first["start"])
    later = untouched_slot(platform, avoid=frozenset({first["start"]}))
    sign_in(platform, phone, number, "/book")

    phone.find_element(By.CSS_SELECTOR, f"a[href='/book/{appointment['id']}']").click()
    wait_for(phone, lambda d: d.find_elements(By.ID, "reschedule-link"))
    phone.find_element(By.ID, "reschedule-link").click()
    wait_for(phone, lambda d: d.current_url.endswith("/reschedule"))
    assert not slot_offered(phone, first["start"])  # its own time is not offered again
    choose_slot(phone, later["start"])
    check_page(phone)
    phone.find_element(By.ID, "book-submit").click()
    wait_for(phone, lambda d: "done=rescheduled" in d.current_url, timeout=15)
    assert phone.find_element(By.ID, "done-banner").is_displayed()
    moved = platform.call("GET", "booking", f"/appointments/{appointment['id']}",
                          advisor(platform)).json()
    assert same_moment(moved["slot_start"], later["start"])
    assert moved["reschedule_count"] == 1 and moved["status"] == "SCHEDULED"
    check_page(phone)

    Select(phone.find_element(By.ID, "reason")).select_by_value("SERVICED_ELSEWHERE")
    phone.find_element(By.ID, "cancel-submit").click()
    wait_for(phone, lambda d: "done=cancelled" in d.current_url, timeout=15)
    assert phone.find_element(By.ID, "appointment-status").get_attribute(
        "data-status") == "CANCELLED"
    assert not phone.find_elements(By.ID, "reschedule-link")
    cancelled = platform.call("GET", "booking", f"/appointments/{appointment['id']}",
                              advisor(platform)).json()
    assert (cancelled["status"], cancelled["cancel_reason"], cancelled["cancelled_by"]) == (
        "CANCELLED", "SERVICED_ELSEWHERE", "CUSTOMER")
    check_page(phone)
    # Its slots are free again for others.
    assert not [a for a in appointments_at(platform, later["start"])
                if a["status"] != "CANCELLED"]
    # The page in English, beside the default Chinese.
    phone.get(f"{platform.portal}/book/{appointment['id']}?lang=en")
    assert phone.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert phone.find_element(By.ID, "appointment-title").text == "Your appointment"
    check_page(phone)


def current_step(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "now").get_attribute("data-current")


def test_my_car_now_moves_on_by_itself_while_the_site_works_on_the_car(
        platform: Platform, phone: WebDriver, desktop: WebDriver) -> None:
    number, car_vin = new_phone(), vin()
    slot = untouched_slot(platform)
    appointment = book_by_phone_call(platform, number, slot["start"])
    sign_in(platform, phone, number, "/my-car")
    assert current_step(phone) == "booked"
    assert phone.find_element(By.CSS_SELECTOR, "[aria-current=step]").get_attribute(
        "data-step") == "booked"
    # A mark on this very page: a reload would drop it.
    phone.execute_script("window.timelineMark = 'still this page';")

    # The car arrives: the advisor checks it in and opens its repair order.
    staff = advisor(platform)
    checked = platform.call("POST", "booking", f"/appointments/{appointment['id']}/check-in",
                            staff, json={})
    assert checked.status_code == 200, checked.text
    reception = {"appointment_id": appointment["id"], "vin": car_vin,
                 "plate": appointment["vehicle"]["plate"], "model": "Model Y",
                 "mileage_km": 12000, "fuel_level": 60,
                 "concerns": [{"description": "常规保养 (scheduled maintenance)"}],
                 "promised_at": (datetime.fromisoformat(slot["start"])
                                 + timedelta(hours=4)).isoformat()}

    def opened() -> dict[str, Any] | None:
        answer = platform.call("POST", "workorder", "/repair-orders", staff, json=reception)
        if answer.status_code == 422 and "appointment_id" in answer.json().get("fields", {}):
            return None  # the appointment has not reached the workshop yet
        assert answer.status_code == 201, answer.text
        return answer.json()

    ro = eventually(opened, timeout=30, interval=0.5, message="the repair order to open")
    wait_for(phone, lambda d: current_step(d) == "received", timeout=20,
             message="the timeline to show the car received")

    # The technician inspects the car and submits the inspection.
    technician = platform.staff(Role.TECHNICIAN, "T-01")
    base = f"/repair-orders/{ro['id']}/inspection"
    started = platform.call("POST", "workorder", base, technician, json={})
    assert started.status_code == 201, started.text
    for item in started.json()["items"]:
        recorded = platform.call("PUT", "workorder", f"{base}/items/{item['code']}", technician,
                                 json={"status": "GREEN"})
        assert recorded.status_code == 200, recorded.text
    submitted = platform.call("POST", "workorder", f"{base}/submit", technician)
    assert submitted.status_code == 200, submitted.text
    wait_for(phone, lambda d: current_step(d) == "inspected", timeout=20,
             message="the timeline to show the car inspected")
    # Now there is an inspection report to read: its link appears too.
    assert phone.find_element(By.ID, "inspection-link").get_attribute("href").endswith(
        f"/repair-orders/{ro['id']}/inspection")

    assert phone.execute_script("return window.timelineMark;") == "still this page"
    steps = {li.get_attribute("data-step"): li.get_attribute("class").split()
             for li in phone.find_elements(By.CSS_SELECTOR, "#timeline li")}
    assert "current" in steps["inspected"] and "done" in steps["received"]
    assert "done" in steps["booked"] and "todo" in steps["quote_waiting"]
    check_page(phone, "my-car-phone")

    share_session(platform, phone, desktop)
    desktop.get(f"{platform.portal}/my-car")
    assert current_step(desktop) == "inspected"
    check_page(desktop, "my-car-desktop")
