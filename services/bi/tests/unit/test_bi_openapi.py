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


def test_the_dashboard_and_its_files_are_public():
    paths = build_openapi(BiService)["paths"]
    assert "x-roles" not in paths["/dashboard"]["get"]
    assert "x-roles" not in paths["/static/{path}"]["get"]
    query = {p["name"] for p in paths["/dashboard"]["get"]["parameters"]}
    assert query == {"lang", "from", "to", "dealer", "region", "kpi"}
