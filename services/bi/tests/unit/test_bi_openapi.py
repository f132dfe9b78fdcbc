"""BI's API document: every endpoint declares who may call it."""

from __future__ import annotations

from bi.service import BiService
from chassis.openapi import build_openapi


def test_every_kpi_endpoint_declares_its_roles():
    paths = build_openapi(BiService)["paths"]
    readers = ["dealer_manager", "oem_analyst"]
    assert paths["/kpis"]["get"]["x-roles"] == readers
    assert paths["/kpis.csv"]["get"]["x-roles"] == readers
    assert paths["/series"]["get"]["x-roles"] == readers
    assert paths["/rankings"]["get"]["x-roles"] == ["oem_analyst"]
    assert paths["/dealers/{dealer_code}"]["put"]["x-roles"] == ["operator"]
    query = {p["name"] for p in paths["/series"]["get"]["parameters"]}
    assert query == {"from", "to", "dealer", "region", "kpi", "grain"}


def test_the_dashboard_names_every_kpi_in_chinese_and_english():
    from bi import dashboard, kpis

    assert set(dashboard.LABELS) == set(kpis.KPIS)
    page = dashboard.page()
    assert 'lang="zh-CN"' in page and "净推荐值 NPS" in page
