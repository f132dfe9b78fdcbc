"""Headquarters' pages for owners, in a real browser: the follow-up survey opened from the
link in the message notify sent after a real visit at D001 (crm then holds exactly the score
and comment given), and unsubscribing from marketing, where opening the link changes nothing
and only the owner's confirmation unsubscribes (notify's consents say so)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from notify.domain import unsubscribe_token
from simulator import trade, traffic
from tests.browser.pages import console_errors, no_horizontal_scroll, screenshot, wait_for
from tests.browser.platform import SITE, Platform, new_phone

pytestmark = pytest.mark.integration

COMMENT = "交车时没有说明更换了哪些零件，等了很久 (nobody explained the parts changed)"
SCORE = 4  # a detractor's score: crm opens a complaint, the page says the dealer will call
# Zones in one of which it is daytime at any hour: notify holds every message in the quiet
# hours of the owner's zone, and this owner's survey should go out while the test runs.
ZONES = ("Asia/Shanghai", "Europe/London", "America/New_York", "Pacific/Auckland")


@dataclass
class Owner:
    phone: str
    customer_id: str
    repair_order_id: str


def hq(platform: Platform, service: str) -> str:
    return platform.url(service, "HQ")


def operator(platform: Platform) -> dict[str, str]:
    return platform.people.headers(Role.OPERATOR, "ops-sim", None)


def daytime_zone() -> str:
    now = datetime.now(UTC)
    return next(z for z in ZONES if 9 <= now.astimezone(ZoneInfo(z)).hour < 20)


def drive_one_car(platform: Platform, phone: str) -> str:
    """A car the owner booked in the app at D001, from the booking to the hand-over, every
    step as the simulator's people take it (check-in, inspection, quote approved, parts,
    jobs, QC, invoice, payment); its repair order. notify learns the owner's phone from the
    booking."""
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
    car.customer = trade.Customer("李娜", phone)
    platform.people.introduce_owner(phone)
    # A refusal of any step raises StepRefused: the test fails with it.
    day._book(car)
    day._visit(car)
    [delivered] = run.delivered
    return delivered.repair_order_id


def crm_survey(platform: Platform, owner: Owner) -> dict[str, Any] | None:
    answer = requests.get(f"{hq(platform, 'crm')}/customers/{owner.customer_id}",
                          headers=operator(platform), timeout=10)
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    return next((s for s in answer.json()["surveys"]
                 if s["repair_order_id"] == owner.repair_order_id), None)


@pytest.fixture(scope="module")
def owner(platform: Platform) -> Iterator[Owner]:
    phone = new_phone()
    found = Owner(phone, customer_id_for(phone), drive_one_car(platform, phone))
    # The owner's zone for notify: daytime now (see ZONES); notify knows them by now.
    headers = platform.owner(phone)
    eventually(lambda: requests.put(
        f"{hq(platform, 'notify')}/customers/{found.customer_id}/preferences",
        json={"time_zone": daytime_zone()}, headers=headers, timeout=10).status_code == 200,
        timeout=30, interval=0.5, message="notify to know the owner")
    yield found


@pytest.fixture(scope="module")
def survey_link(platform: Platform, owner: Owner) -> str:
    """The survey link of the message notify sent the owner: crm learns of the delivery over
    the site's link, its run (as of the survey's due time, a day after delivery) requests it,
    and notify texts the owner."""
    survey = eventually(lambda: crm_survey(platform, owner), timeout=60, interval=0.5,
                        message="crm to know the delivery")
    due = datetime.fromisoformat(survey["due_at"])
    run = requests.post(f"{hq(platform, 'crm')}/survey-runs", headers=operator(platform),
                        json={"at": (due + timedelta(minutes=1)).isoformat()}, timeout=30)
    assert run.status_code == 200, run.text
    [message] = eventually(lambda: [m for m in platform.messages(to=owner.phone)
                                    if m.get("kind") == "SURVEY"], timeout=60, interval=0.5,
                           message="the survey message")
    assert message["link"] in message["body"]
    return message["link"]


def check_page(driver: WebDriver, name: str) -> None:
    if driver.kind == "phone":
        assert no_horizontal_scroll(driver), name
    assert console_errors(driver) == [], name
    screenshot(driver, name)


def test_an_owner_answers_the_survey_from_the_message_and_crm_holds_the_answer(
        platform: Platform, owner: Owner, survey_link: str, phone: WebDriver,
        desktop: WebDriver) -> None:
    assert survey_link.startswith(f"{platform.hq_portal}/surveys/")
    desktop.get(survey_link)
    wait_for(desktop, lambda d: d.find_elements(By.ID, "score-10"))
    check_page(desktop, "survey-form-desktop")

    # A form without a score is sent back to fix (in either language); crm is not asked.
    for lang in ("zh-CN", "en"):
        unfinished = requests.post(f"{survey_link}?lang={lang}", data={"comment": "x"},
                                   timeout=10)
        assert unfinished.status_code == 422
    assert crm_survey(platform, owner)["answered_at"] is None

    phone.get(survey_link)
    wait_for(phone, lambda d: d.find_elements(By.ID, "score-0"))
    assert len(phone.find_elements(By.CSS_SELECTOR, "input[name=score]")) == 11
    # Big enough to tap: every score is at least 44 CSS pixels square.
    sizes = [label.size for label in phone.find_elements(By.CSS_SELECTOR, "label.score")]
    assert all(s["width"] >= 44 and s["height"] >= 44 for s in sizes), sizes
    # A tap on a score chooses it; the keyboard's arrows move along the group.
    phone.find_element(By.CSS_SELECTOR, f"label[for=score-{SCORE - 1}]").click()
    assert phone.find_element(By.ID, f"score-{SCORE - 1}").is_selected()
    ActionChains(phone).send_keys(Keys.ARROW_RIGHT).perform()
    assert phone.find_element(By.ID, f"score-{SCORE}").is_selected()
    wait_for(phone, lambda d: d.find_element(By.ID, "low-prompt").is_displayed())
    phone.find_element(By.ID, "comment").send_keys(COMMENT)
    check_page(phone, "survey-form-phone")
    assert crm_survey(platform, owner)["answered_at"] is None  # opening it changed nothing

    phone.find_element(By.CSS_SELECTOR, "form.survey-form button[type=submit]").click()
    wait_for(phone, lambda d: d.current_url.split("?")[0].endswith("/thanks"), timeout=15)
    assert phone.find_elements(By.CSS_SELECTOR, ".call-back")  # the complaint's call back
    check_page(phone, "survey-thanks-phone")

    stored = crm_survey(platform, owner)
    assert (stored["score"], stored["comment"], stored["channel"]) == (SCORE, COMMENT, "WEB")
    complaints = requests.get(f"{hq(platform, 'crm')}/customers/{owner.customer_id}",
                              headers=operator(platform), timeout=10).json()["complaints"]
    assert [(c["score"], c["comment"], c["status"]) for c in complaints] == [
        (SCORE, COMMENT, "OPEN")]

    desktop.get(f"{survey_link}/thanks")
    check_page(desktop, "survey-thanks-desktop")

    # The link again: crm says it was answered, and a second answer is refused there.
    phone.get(survey_link)
    assert not phone.find_elements(By.CSS_SELECTOR, "form.survey-form")
    check_page(phone, "survey-answered-phone")
    again = requests.post(survey_link, data={"score": "10"}, timeout=10)
    assert again.status_code == 409
    assert crm_survey(platform, owner)["score"] == SCORE

    # A link crm did not sign: nothing to answer.
    forged = survey_link[:-4] + ("AAAA" if not survey_link.endswith("AAAA") else "BBBB")
    assert requests.get(forged, timeout=10).status_code == 404
    assert requests.post(forged, data={"score": "9"}, timeout=10).status_code == 404


def marketing_consents(platform: Platform, customer_id: str) -> list[tuple[str, bool, str]]:
    return [tuple(r) for r in rows(
        platform.hq.databases["notify"],
        "SELECT channel, granted, via FROM consents WHERE customer_id = :c "
        "AND purpose = 'MARKETING' ORDER BY channel", c=customer_id)]


def test_an_owner_unsubscribes_only_when_they_confirm(
        platform: Platform, owner: Owner, survey_link: str, phone: WebDriver,
        desktop: WebDriver) -> None:
    # The token notify puts in its marketing messages' unsubscribe link (its own rule and
    # secret: a marketing message would need a consent and a due reminder first).
    notify = load_settings("notify", platform.hq.config_file)
    token = unsubscribe_token(own_secret(notify, "link_secret"), owner.customer_id)
    link = f"{platform.hq_portal}/unsubscribe/{token}"
    preferences = f"{hq(platform, 'notify')}/customers/{owner.customer_id}/preferences"
    headers = platform.owner(owner.phone)
    before = marketing_consents(platform, owner.customer_id)

    desktop.get(link)
    check_page(desktop, "unsubscribe-confirm-desktop")
    phone.get(link)
    wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, "button.danger"))
    check_page(phone, "unsubscribe-confirm-phone")
    # Opening the link (as a mail scanner would) unsubscribed nobody.
    assert marketing_consents(platform, owner.customer_id) == before
    assert requests.get(preferences, headers=headers,
                        timeout=10).json()["unsubscribed"] is False

    phone.find_element(By.CSS_SELECTOR, "button.danger").click()
    wait_for(phone, lambda d: d.current_url.endswith("/done"), timeout=15)
    check_page(phone, "unsubscribe-done-phone")
    assert requests.get(preferences, headers=headers, timeout=10).json()["unsubscribed"]
    consents = marketing_consents(platform, owner.customer_id)
    assert consents and all(not granted and via == "UNSUBSCRIBE_LINK"
                            for _, granted, via in consents)

    desktop.get(f"{link}/done")
    check_page(desktop, "unsubscribe-done-desktop")

    # A link notify did not sign unsubscribes nobody.
    refused = requests.post(f"{platform.hq_portal}/unsubscribe/{token}x", timeout=10)
    assert refused.status_code == 404
