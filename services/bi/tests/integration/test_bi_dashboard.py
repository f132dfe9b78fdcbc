"""The dashboard served by a running BI: the page in both languages, its script and the
vendored Apache ECharts from BI itself (never a CDN), a fixed list of static files, and —
where Chromium is installed — the page drawn in a headless browser with a token from the
link's fragment."""

from __future__ import annotations

import http.client
import re
import shutil
import subprocess
import tempfile

import pytest
import requests

from bi import dashboard, kpis
from chassis.testing import auth

CHROMIUM = shutil.which("chromium")


def raw_get(bi, path: str) -> int:
    """The status of `path` sent as written (requests would resolve `..` first)."""
    connection = http.client.HTTPConnection("127.0.0.1", bi.settings.http_port, timeout=15)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_page_names_every_kpi_in_its_language_and_loads_nothing_from_elsewhere(empty_bi,
                                                                                   lang):
    answer = requests.get(f"{empty_bi.url}/dashboard", params={"lang": lang}, timeout=15)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    page = answer.text
    for name in kpis.KPIS:
        assert dashboard.KPI_LABELS[lang][name] in page, name
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        assert requests.get(f"{empty_bi.url}{src}", timeout=15).status_code == 200, src


def test_a_dealer_view_opens_by_its_link_and_bad_parameters_are_named(empty_bi):
    url = f"{empty_bi.url}/dashboard"
    assert requests.get(url, params={"dealer": "D001"}, timeout=15).status_code == 200
    for params, field in (({"lang": "fr"}, "lang"), ({"dealer": "d-1"}, "dealer"),
                          ({"kpi": "happiness"}, "kpi"), ({"colour": "red"}, "colour")):
        answer = requests.get(url, params=params, timeout=15)
        assert answer.status_code == 422 and set(answer.json()["fields"]) == {field}


def test_the_vendored_echarts_is_served_with_its_type_and_cache_headers(empty_bi):
    url = f"{empty_bi.url}/static/vendor/echarts/echarts.min.js"
    answer = requests.get(url, timeout=15)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "max-age=86400" in answer.headers["Cache-Control"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "echarts" in answer.text and f'version="{dashboard.ECHARTS_VERSION}"' in answer.text
    again = requests.get(url, headers={"If-None-Match": answer.headers["ETag"]}, timeout=15)
    assert again.status_code == 304 and not again.content
    style = requests.get(f"{empty_bi.url}/static/dashboard.css", timeout=15)
    assert style.headers["Content-Type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize("path", [
    "/static/../bi/service.py", "/static/%2e%2e/service.py", "/static/..%2fservice.py",
    "/static/vendor/echarts/../../service.py", "/static/dashboard.py", "/static/",
    "/static/vendor/echarts/"])
def test_nothing_outside_the_list_is_served(empty_bi, path):
    assert raw_get(empty_bi, path) == 404


@pytest.mark.parametrize("path", ["/static//etc/passwd", "/static/%2fetc%2fpasswd"])
def test_a_doubled_slash_is_redirected_to_a_path_that_is_not_found(empty_bi, path):
    assert requests.get(f"{empty_bi.url}{path}", timeout=15).status_code == 404


def shown_by_chromium(bi, query: str) -> str:
    """The dashboard's DOM once drawn by headless Chromium, an analyst's token in the link."""
    token = auth("oem_analyst", subject="analyst-1")["Authorization"].removeprefix("Bearer ")
    link = f"{bi.url}/dashboard?{query}#token={token}"
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", link],
            capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
def test_a_headless_browser_draws_the_charts_with_the_token_from_the_link(bi):
    shown = shown_by_chromium(bi, "lang=en&from=2025-03-01&to=2025-03-31")
    assert '<p id="err" role="alert"></p>' in shown, shown[:2000]
    series = shown[shown.index('id="series-chart"'):shown.index('id="ranking-box"')]
    assert "<canvas" in series
    assert "<canvas" in shown[shown.index('id="ranking-chart"'):]
    assert "Trend · Revenue (day)" in shown
    # Both dealers ranked, each row a link to the dealer's own view; the tiles have values.
    assert "D001" in shown and "D002" in shown
    assert '<div class="value">3</div>' in shown  # RO count of March
