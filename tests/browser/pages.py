"""Helpers for browser tests: screenshots, layout checks, waiting, and the browser's console."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"

T = TypeVar("T")


def screenshot(driver: WebDriver, name: str, directory: Path | str | None = None) -> Path:
    """Save the whole page (not only the viewport) as `<directory>/<name>.png`, by default
    docs/screenshots/<name>.png, and return the file's path."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"a screenshot name is letters, digits, '.', '_' and '-': {name!r}")
    folder = Path(directory) if directory is not None else SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    content = metrics.get("cssContentSize") or metrics["contentSize"]
    viewport = metrics.get("cssLayoutViewport") or metrics["layoutViewport"]
    clip = {"x": 0, "y": 0, "scale": 1,
            "width": max(content["width"], viewport["clientWidth"]),
            "height": max(content["height"], viewport["clientHeight"])}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip})
    path = folder / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def no_horizontal_scroll(driver: WebDriver) -> bool:
    """True when nothing sticks out sideways: the page is no wider than the layout viewport.

    The viewport's width is `documentElement.clientWidth`, not `window.innerWidth`: a mobile
    browser zooms out to fit content that overflows, and innerWidth (the visual viewport) then
    grows with it (616 for 600 px of content on a 375 px phone), so that comparison is always
    true on a phone."""
    return bool(driver.execute_script(
        "var root = document.documentElement;"
        " return root.scrollWidth <= root.clientWidth;"))


def wait_for(driver: WebDriver, predicate: Callable[[WebDriver], T], timeout: float = 5.0,
             message: str = "") -> T:
    """Wait until `predicate(driver)` is truthy and return its value; TimeoutException after
    `timeout` seconds (with `message`)."""
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(predicate, message)


def console_log(driver: WebDriver) -> list[dict[str, Any]]:
    """The browser's console entries since the last call (reading them empties the log):
    dicts with `level`, `message`, `source` and `timestamp`."""
    return driver.get_log("browser")


def console_errors(driver: WebDriver) -> list[str]:
    """The messages of the console's errors since the last read: JavaScript exceptions, CSP
    violations, failed loads. A test asserts `console_errors(driver) == []`."""
    return [entry["message"] for entry in console_log(driver) if entry["level"] == "SEVERE"]
