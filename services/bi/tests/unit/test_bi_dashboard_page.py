"""The dashboard page and its files, without a server: both languages name every KPI, nothing
is loaded from another host, and /static serves a fixed list of files."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest

from bi import dashboard, kpis

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z]+:)?//|url\(\s*["']?"""
                      r"""\s*(?:[a-z]+:)?//|@import""", re.IGNORECASE)


@pytest.mark.parametrize("lang", dashboard.LANGUAGES)
def test_every_kpi_has_a_label_and_a_unit_in_each_language(lang):
    assert set(dashboard.KPI_LABELS[lang]) == set(kpis.KPIS)
    assert set(dashboard.UNITS) == set(kpis.KPIS)
    assert set(dashboard.HEADLINE) <= set(kpis.KPIS)
    assert set(dashboard.TEXT[lang]) == set(dashboard.TEXT["zh-CN"])
    page = dashboard.page(lang)
    assert f'<html lang="{lang}">' in page
    for name in kpis.KPIS:
        assert html.escape(dashboard.KPI_LABELS[lang][name]) in page, name
    assert "__" not in page.replace("__proto__", "")  # every placeholder filled


def test_chinese_is_the_default_and_english_the_other():
    assert "售后 KPI 看板" in dashboard.page() and "净推荐值 NPS" in dashboard.page()
    english = dashboard.page("en")
    assert "After-sales KPI dashboard" in english and "Comeback rate" in english
    assert "返修率" not in english


@pytest.mark.parametrize("name", ["page", "dashboard.js", "dashboard.css"])
def test_nothing_is_loaded_from_another_host(name):
    text = dashboard.page() if name == "page" else dashboard.static_file(name).body.decode()
    assert not EXTERNAL.search(text), EXTERNAL.search(text)
    assert "http://" not in text and "https://" not in text


def test_the_page_loads_the_vendored_echarts_and_its_own_script():
    page = dashboard.page()
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        assert dashboard.static_file(src.removeprefix("/static/")) is not None, src
    assert '<script src="/static/vendor/echarts/echarts.min.js">' in page


def test_the_vendored_script_is_apache_echarts_of_the_stated_version():
    found = dashboard.static_file("vendor/echarts/echarts.min.js")
    assert found.content_type.startswith("text/javascript")
    text = found.body.decode()
    assert "Apache Software Foundation" in text[:2000]
    assert f'version="{dashboard.ECHARTS_VERSION}"' in text and "echarts" in text
    readme = dashboard.static_file("vendor/echarts/README.md").body.decode()
    assert f"ECharts {dashboard.ECHARTS_VERSION}" in readme
    assert b"Apache License" in dashboard.static_file("vendor/echarts/LICENSE").body


@pytest.mark.parametrize("path", [
    "../service.py", "../../pyproject.toml", "vendor/echarts/../../service.py", "/etc/passwd",
    "", "vendor", "vendor/echarts", "vendor/echarts/", "dashboard.js/", "./dashboard.js",
    "DASHBOARD.JS", "dashboard.py", "vendor/echarts/echarts.min.js\x00.txt"])
def test_only_listed_files_are_served(path):
    assert dashboard.static_file(path) is None


def test_the_chart_grain_keeps_a_chart_to_about_a_hundred_points():
    assert dashboard.grain_for(date(2025, 1, 1), date(2025, 3, 31)) == "day"
    assert dashboard.grain_for(date(2025, 1, 1), date(2025, 12, 31)) == "week"
    assert dashboard.grain_for(date(2023, 1, 1), date(2025, 12, 31)) == "month"
