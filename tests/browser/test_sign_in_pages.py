"""Signing in through the portal in a real browser: a member of staff with the password the
site's identity holds, an owner with the code headquarters sends by SMS. What the portal keeps
is a session under an HttpOnly cookie; a form from another origin is refused; signing out ends
the session here and its refresh token at the issuer."""

from __future__ import annotations

import re

import pytest
import requests
from selenium.webdriver.common.by import By

from chassis.auth import Role
from chassis.testing import rows
from tests.browser.pages import console_errors, no_horizontal_scroll, screenshot, wait_for
from tests.browser.platform import new_phone

pytestmark = pytest.mark.integration

CODE = re.compile(r"(\d{6})")


def sessions(platform) -> list:
    return rows(platform.site.databases["portal"],
                "SELECT role, subject, display_name FROM sessions ORDER BY created_at")


def test_a_member_of_staff_signs_in_with_the_sites_password(platform, desktop):
    password = platform.staff_password(Role.ADVISOR, "advisor.sign-in")
    desktop.get(f"{platform.portal}/staff/sign-in")
    screenshot(desktop, "sign-in-staff-desktop")
    desktop.find_element(By.ID, "username").send_keys("advisor.sign-in")
    desktop.find_element(By.ID, "password").send_keys(password)
    desktop.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(desktop, lambda d: "/staff/sign-in" not in d.current_url, timeout=15)
    assert ("advisor", "advisor.sign-in", "advisor.sign-in") in [tuple(r) for r in
                                                                 sessions(platform)]
    cookie = desktop.get_cookie("portal_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    # Staff land on the workshop board.
    assert desktop.current_url.endswith("/board")


def test_a_wrong_password_is_answered_on_the_page_and_opens_no_session(platform, phone):
    platform.staff_password(Role.ADVISOR, "advisor.wrong")
    before = len(sessions(platform))
    phone.get(f"{platform.portal}/staff/sign-in")
    phone.find_element(By.ID, "username").send_keys("advisor.wrong")
    phone.find_element(By.ID, "password").send_keys("not-the-password")
    phone.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    alert = wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, "[role=alert]"))
    assert alert[0].is_displayed()
    assert len(sessions(platform)) == before and phone.get_cookie("portal_session") is None


def test_an_owner_signs_in_with_the_code_sent_by_sms(platform, phone):
    number = new_phone()
    phone.get(f"{platform.portal}/sign-in?next=%2F")
    assert no_horizontal_scroll(phone)
    screenshot(phone, "sign-in-owner-phone")
    phone.find_element(By.ID, "phone").send_keys(number)
    phone.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    code_field = wait_for(phone, lambda d: d.find_elements(By.ID, "code"), timeout=15)[0]
    texts = wait_for(phone, lambda d: [m for m in platform.messages(to=number)
                                       if CODE.search(m.get("body") or "")], timeout=20)
    code_field.send_keys(CODE.search(texts[-1]["body"]).group(1))
    phone.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, ".who"), timeout=15)
    assert phone.find_element(By.CSS_SELECTOR, ".who").text == f"{number[:3]}****{number[-4:]}"
    assert ("owner", f"{number[:3]}****{number[-4:]}") in [(r[0], r[2])
                                                          for r in sessions(platform)]
    assert no_horizontal_scroll(phone) and not console_errors(phone)
    screenshot(phone, "home-owner-phone")


def test_a_form_posted_from_another_origin_is_refused(platform):
    answer = requests.post(f"{platform.portal}/staff/sign-in", timeout=10,
                           data={"username": "x", "password": "y"},
                           headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert answer.status_code == 403 and "set-cookie" not in answer.headers


def test_signing_out_ends_the_refresh_token_at_the_issuer(platform):
    password = platform.staff_password(Role.ADVISOR, "advisor.out")
    browser = requests.Session()
    signed = browser.post(f"{platform.portal}/staff/sign-in", timeout=15, allow_redirects=False,
                          data={"username": "advisor.out", "password": password, "next": "/"})
    assert signed.status_code == 303 and "portal_session" in browser.cookies
    out = browser.post(f"{platform.portal}/sign-out", timeout=15, allow_redirects=False)
    assert out.status_code == 303 and "portal_session" not in browser.cookies
    assert [r for r in sessions(platform) if r[1] == "advisor.out"] == []
    audit = requests.get(f"{platform.url('identity')}/audit", timeout=15,
                         headers=platform.staff(Role.DEALER_MANAGER, "MGR-1")).json()
    assert any(entry["kind"] == "SIGNED_OUT" and entry["subject"] == "advisor.out"
               for entry in audit["items"]), audit["items"][:3]


def test_every_page_has_its_policy_and_nothing_caches_it(platform):
    answer = requests.get(f"{platform.portal}/sign-in", timeout=10)
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert answer.headers["Cache-Control"] == "private, no-store"
    assert answer.headers["X-Frame-Options"] == "DENY"
    english = requests.get(f"{platform.portal}/sign-in?lang=en", timeout=10)
    assert 'lang="en"' in english.text and "lang=en" in english.headers["Set-Cookie"]
