"""BI running on RabbitMQ and PostgreSQL: every site's events, duplicated and shuffled, become
KPIs that analysts query by dealer, region and period, and dealer managers for their own
dealer only."""

from __future__ import annotations

import csv
import io

import requests

from chassis.testing import auth

ANALYST = auth("oem_analyst", subject="analyst-1")
OPERATOR = auth("operator", subject="ops-1")
MARCH = {"from": "2025-03-01", "to": "2025-03-31"}


def test_kpis_from_duplicated_out_of_order_events_by_dealer_region_and_period(bi):
    assert bi.ok("/kpis", **MARCH)["kpis"]["ro_count"] == 3  # RO-D001-1, -2 and RO-D002-1
    d001 = bi.ok("/kpis", dealer="D001", **MARCH)["kpis"]
    assert (d001["ro_count"], d001["comeback_rate"], d001["declined_work_recapture"]) == \
        (2, "0.5000", "1.0000")
    assert d001["revenue_customer_pay"] == "150.00"
    # Regions: D001 in EAST; D002, not registered, counts as UNASSIGNED.
    answer = requests.put(f"{bi.url}/dealers/D001", headers=OPERATOR, timeout=15,
                          json={"name": "北京东区4S店", "region": "EAST"})
    assert answer.status_code == 200, answer.text
    assert bi.ok("/kpis", region="EAST", **MARCH)["kpis"]["ro_count"] == 2
    assert bi.ok("/kpis", region="UNASSIGNED", **MARCH)["kpis"]["ro_count"] == 1
    # Only the week of 2025-03-17 has D002's delivered revenue of 1 000.00.
    weeks = bi.ok("/series", kpi="revenue", grain="week", dealer="D002", **MARCH)["items"]
    assert weeks == [{"period": "2025-03-17", "value": "1000.00"}]
    assert bi.ok("/series", kpi="revenue", grain="month", **MARCH)["items"] == \
        [{"period": "2025-03-01", "value": "1150.00"}]


def test_dealers_ranked_by_a_kpi_and_exported_as_csv(bi):
    ranking = bi.ok("/rankings", kpi="on_time_delivery", **MARCH)["items"]
    assert [(r["rank"], r["dealer_code"], r["value"]) for r in ranking] == \
        [(1, "D001", "1.0000"), (2, "D002", "0.0000")]
    # For comebacks the lowest is best: D002 has none of 1 RO, D001 1 of 2.
    ranking = bi.ok("/rankings", kpi="comeback_rate", **MARCH)["items"]
    assert [(r["rank"], r["dealer_code"], r["value"]) for r in ranking] == \
        [(1, "D002", "0.0000"), (2, "D001", "0.5000")]
    # Without data for a KPI a dealer is listed last, unranked (D002 issued no parts).
    ranking = bi.ok("/rankings", kpi="parts_fill_rate", **MARCH)["items"]
    assert [(r["rank"], r["dealer_code"]) for r in ranking] == [(1, "D001"), (None, "D002")]
    answer = bi.get("/kpis.csv", ANALYST, **MARCH)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [(r["dealer_code"], r["region"], r["nps"]) for r in rows] == \
        [("D001", "UNASSIGNED", "100.00"), ("D002", "UNASSIGNED", "-100.00")]


def test_a_dealer_manager_sees_only_their_own_dealer(bi):
    manager = auth("dealer_manager", dealer_code="D002", subject="mgr-2")
    own = bi.ok("/kpis", manager, dealer="D002", **MARCH)["kpis"]
    assert own["appointment_show_rate"] == "0.0000"
    assert bi.get("/kpis", manager, dealer="D001", **MARCH).status_code == 403
    assert bi.get("/kpis", manager, **MARCH).status_code == 403  # all dealers
    assert bi.get("/series", manager, kpi="nps", **MARCH).status_code == 403
    assert bi.get("/kpis.csv", manager, dealer="D001", **MARCH).status_code == 403
    assert bi.get("/rankings", manager, kpi="nps", **MARCH).status_code == 403
    assert bi.get("/kpis", auth("advisor", dealer_code="D002"), dealer="D002",
                  **MARCH).status_code == 403
    assert bi.get("/kpis", {}, **MARCH).status_code == 401
    assert requests.put(f"{bi.url}/dealers/D002", headers=ANALYST, timeout=15,
                        json={"name": "x", "region": "WEST"}).status_code == 403


def test_the_dashboard_page_is_served_to_anyone_and_holds_no_data(empty_bi):
    answer = requests.get(f"{empty_bi.url}/dashboard", timeout=15)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert "售后 KPI 看板" in answer.text


def test_bad_questions_are_refused_naming_the_parameter(empty_bi):
    bi = empty_bi

    def fields(answer: requests.Response) -> set[str]:
        assert answer.status_code == 422, answer.text
        return set(answer.json()["fields"])

    assert fields(bi.get("/kpis", ANALYST, **{"from": "2025-03-31", "to": "2025-03-01"})) \
        == {"to"}
    assert fields(bi.get("/kpis", ANALYST, to="2025-03-01")) == {"from"}
    assert fields(bi.get("/rankings", ANALYST, kpi="happiness", **MARCH)) == {"kpi"}
    assert fields(bi.get("/series", ANALYST, kpi="nps", grain="hour", **MARCH)) == {"grain"}
    assert fields(bi.get("/kpis", ANALYST, colour="red", **MARCH)) == {"colour"}
    answer = requests.put(f"{bi.url}/dealers/D002", headers=OPERATOR, timeout=15,
                          json={"name": "", "region": "west"})
    assert fields(answer) == {"name", "region"}
