"""The browser harness itself: real Chromium, a phone and a desktop, zh-CN text in a CJK font,
a strict CSP, screenshots and the console, on a tiny page served from this machine."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.webdriver.common.by import By

from tests.browser.pages import console_errors, no_horizontal_scroll, screenshot, wait_for

pytestmark = pytest.mark.integration

CSP = "default-src 'self'"

PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>预约保养</title>
<link rel="stylesheet" href="/page.css">
</head>
<body>
<h1 id="title">预约保养</h1>
<p id="intro">选择门店和时间，我们会在到店前一天提醒您。</p>
<button id="book" type="button">立即预约</button>
<p id="inline">未执行</p>
<script>document.getElementById("inline").textContent = "内联脚本执行了";</script>
<script src="/page.js"></script>
</body>
</html>
"""

SCRIPT = """document.getElementById("book").addEventListener("click", function () {
  this.textContent = "已预约";
});
"""

STYLE = """body { margin: 0; padding: 16px; font-family: sans-serif; }
button { width: 100%; padding: 12px; font-size: 18px; }
"""

FILES = {
    "/": ("text/html; charset=utf-8", PAGE),
    "/page.js": ("text/javascript; charset=utf-8", SCRIPT),
    "/page.css": ("text/css; charset=utf-8", STYLE),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        if self.path not in FILES:
            self.send_error(404)
            return
        content_type, text = FILES[self.path]
        body = text.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # port 0: a free one
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def book(driver, site: str) -> None:
    driver.get(site)
    assert driver.find_element(By.ID, "title").text == "预约保养"
    button = driver.find_element(By.ID, "book")
    assert button.text == "立即预约"
    button.click()
    wait_for(driver, lambda d: d.find_element(By.ID, "book").text == "已预约",
             message="the same-origin script did not handle the click")


def test_a_click_runs_the_same_origin_script_on_a_phone_and_a_desktop(phone, desktop, site):
    for driver in (phone, desktop):
        book(driver, site)


def test_the_phone_is_375_css_pixels_wide_at_scale_2_and_mobile(phone, site):
    phone.get(site)
    width, ratio, agent, lang = phone.execute_script(
        "return [window.innerWidth, window.devicePixelRatio, navigator.userAgent,"
        " navigator.language];")
    assert (width, ratio) == (375, 2)
    assert "Mobile" in agent
    assert lang == "zh-CN"
    assert no_horizontal_scroll(phone)


def test_the_desktop_is_1280_by_900(desktop, site):
    desktop.get(site)
    assert desktop.execute_script("return [window.innerWidth, window.innerHeight];") == [1280, 900]
    assert no_horizontal_scroll(desktop)


def test_too_wide_content_is_seen_as_horizontal_scroll(phone, site):
    phone.get(site)
    phone.execute_script(
        "var wide = document.createElement('div'); wide.style.width = '600px';"
        " wide.style.height = '10px'; document.body.appendChild(wide);")
    assert not no_horizontal_scroll(phone)
    # What a phone does with it: it zooms out, so window.innerWidth grows past 375.
    assert phone.execute_script("return window.innerWidth;") > 375


def test_the_strict_csp_blocks_the_inline_script_and_the_console_says_so(phone, site):
    phone.get(site)
    assert phone.find_element(By.ID, "inline").text == "未执行"
    errors = console_errors(phone)
    assert any("Content Security Policy" in message and "inline script" in message
               for message in errors), errors
    assert console_errors(phone) == []  # read once: the log starts empty again


def test_a_full_page_screenshot_is_written(phone, site, tmp_path):
    phone.get(site)
    phone.execute_script(  # taller than the screen: the whole page is in the picture
        "var tall = document.createElement('div'); tall.style.height = '2000px';"
        " document.body.appendChild(tall);")
    path = screenshot(phone, "harness-phone", directory=tmp_path)
    assert path == tmp_path / "harness-phone.png"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert width == 375 * 2
    assert height > 812 * 2  # beyond the viewport


def test_chinese_text_is_drawn_with_a_cjk_font(phone, site):
    fc_list = shutil.which("fc-list")
    assert fc_list, "fontconfig's fc-list is missing: run scripts/ensure-browser"
    fonts = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True,
                           check=True, timeout=30).stdout
    assert "Noto Sans CJK" in fonts or "Noto Serif CJK" in fonts, (
        f"no Noto CJK font for zh (run scripts/ensure-browser): {fonts!r}")
    phone.get(site)
    # The font the browser really drew the heading's glyphs with (DevTools' CSS domain).
    phone.execute_cdp_cmd("DOM.enable", {})
    phone.execute_cdp_cmd("CSS.enable", {})
    root = phone.execute_cdp_cmd("DOM.getDocument", {})["root"]["nodeId"]
    title = phone.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": "#title"})
    used = phone.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": title["nodeId"]})
    families = {font["familyName"]: font["glyphCount"] for font in used["fonts"]}
    assert any("CJK" in family for family in families), families


def test_two_browsers_at_once_are_independent(new_browser, site):
    first, second = new_browser("phone"), new_browser("phone")
    assert first.session_id != second.session_id
    first.get(site)
    second.get(site)
    first.execute_script("localStorage.setItem('owner', '张先生');")
    assert second.execute_script("return localStorage.getItem('owner');") is None
    book(first, site)
    assert second.find_element(By.ID, "book").text == "立即预约"
