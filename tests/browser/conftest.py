"""Fixtures for tests that drive a real Chromium (Debian's, through its chromedriver).

`phone` and `desktop` are a fresh browser each, quit after the test; `new_browser(kind)` gives
as many independent ones as a test needs (two owners booking the same slot at once). Nothing is
ever downloaded: the driver and the browser are the Debian binaries, and Selenium Manager is
kept offline. Without them the fixtures fail (never skip): `scripts/ensure-browser` installs
them, and `make test` runs it first.

Every test here is in the integration tier (it starts processes and talks to servers): the
root conftest.py puts unlisted paths there, and a test file says so with its `pytestmark`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

Kind = Literal["phone", "desktop"]
Launch = Callable[..., WebDriver]  # (kind: Kind = "phone") -> WebDriver

# An iPhone-sized phone (375×812 CSS pixels at device scale 2) with a mobile Chrome user agent.
PHONE_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36")
PHONE = {"deviceMetrics": {"width": 375, "height": 812, "pixelRatio": 2},
         "userAgent": PHONE_USER_AGENT}
DESKTOP_SIZE = (1280, 900)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Runs after the root conftest's hook (tryfirst) has given every test its tier. A browser
    # test in the unit tier would hit the socket guard talking to chromedriver: say so plainly.
    for item in items:
        if Path(str(item.path)).resolve().is_relative_to(HERE) and item.get_closest_marker("unit"):
            raise pytest.UsageError(
                f"{item.nodeid}: a browser test is integration, not unit (it starts Chromium)")


def _missing() -> list[str]:
    return [path for path in (CHROMIUM, CHROMEDRIVER)
            if not (os.path.isfile(path) and os.access(path, os.X_OK))]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Launch]:
    """A factory: `chromium("phone")` or `chromium("desktop")` starts a new headless Chromium
    and returns its WebDriver. The caller quits it (`new_browser` does that for tests)."""
    missing = _missing()
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: run scripts/ensure-browser "
                    "(it installs Debian's chromium, chromium-driver and fonts-noto-cjk)",
                    pytrace=False)
    # Selenium Manager is skipped when the driver's path is given; offline in any case, so it
    # can never fetch a driver or a browser build of its own.
    previous = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    def start(kind: Kind = "phone") -> WebDriver:
        if kind not in ("phone", "desktop"):
            raise ValueError(f"kind is 'phone' or 'desktop', not {kind!r}")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--lang=zh-CN", "--no-first-run", "--no-default-browser-check",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-extensions", "--disable-sync", "--hide-scrollbars"):
            options.add_argument(flag)
        options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN"})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        if kind == "phone":
            options.add_experimental_option("mobileEmulation", PHONE)
        else:
            options.add_argument("--window-size={},{}".format(*DESKTOP_SIZE))
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER),
                                  options=options)
        if kind == "desktop":
            # The viewport itself is 1280×900, whatever the headless window's frame adds.
            width, height = DESKTOP_SIZE
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False,
                "screenWidth": width, "screenHeight": height})
        driver.kind = kind  # what pages.screenshot and the tests may look at
        return driver

    yield start

    if previous is None:
        os.environ.pop("SE_OFFLINE", None)
    else:
        os.environ["SE_OFFLINE"] = previous


@pytest.fixture
def new_browser(chromium: Launch) -> Iterator[Launch]:
    """`new_browser(kind="phone")`: another independent browser (its own process, cookies and
    storage) each call; every one is quit when the test ends."""
    started: list[WebDriver] = []

    def new(kind: Kind = "phone") -> WebDriver:
        driver = chromium(kind)
        started.append(driver)
        return driver

    yield new

    errors = []
    for driver in started:
        try:
            driver.quit()
        except Exception as error:  # one browser that died must not leave the others running
            errors.append(error)
    if errors:
        raise errors[0]


@pytest.fixture
def phone(new_browser: Launch) -> WebDriver:
    """A fresh phone browser: 375×812 CSS pixels, device scale 2, mobile user agent."""
    return new_browser("phone")


@pytest.fixture
def desktop(new_browser: Launch) -> WebDriver:
    """A fresh desktop browser: a 1280×900 viewport."""
    return new_browser("desktop")


# The running platform (headquarters and D001 with their portals), for the pages' tests.
from tests.browser.platform import platform  # noqa: E402,F401
