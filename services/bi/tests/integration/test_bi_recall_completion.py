"""Recall completion rates from crm's campaigns and completions and the sites' deliveries,
sent twice and shuffled, on RabbitMQ and PostgreSQL; the expected rates are worked out by
hand below."""

from __future__ import annotations

import random
from typing import Any

import requests

from chassis.db import count_rows
from chassis.testing import auth, wait_for
from contracts import events
from services.bi.tests.integration.bi_history import _event
from services.bi.tests.integration.conftest import publish
from services.bi.tests.integration.test_bi_dashboard import CHROMIUM, shown_by_chromium

OPERATOR = auth("operator", subject="ops-1")
V1, V2, V3, V4, V5 = ("LSVAU2187N2183740", "1M8GDM9AXKP042788", "LSVAU2180N2000016",
                      "LSVAU2182N2000020", "LSVAU2184N2000021")


def _campaign(code: str, starts_on: str, **scope: Any) -> dict[str, Any]:
    event = _event(events.RecallCampaignPublished, "HQ", code, 1, campaign_code=code,
                   title=f"{code} 召回", starts_on=starts_on, part=1, parts=1, **scope)
    for name in {"vins", "year_from", "year_to"} - set(scope):
        event["data"].pop(name)  # the example's VIN list and years: not this campaign's
    return event


def _delivered(dealer: str, ro: str, vin: str, day: str) -> dict[str, Any]:
    return _event(events.VehicleDelivered, dealer, ro, 9, repair_order_id=ro, vin=vin,
                  opened_at=f"{day}T08:00:00+08:00", promised_at=f"{day}T16:00:00+08:00",
                  delivered_at=f"{day}T17:00:00+08:00")


def _completed(code: str, vin: str, dealer: str, ro: str, day: str) -> dict[str, Any]:
    return _event(events.RecallCompleted, dealer, vin, 1, campaign_code=code, vin=vin,
                  dealer_code=dealer, repair_order_id=ro,
                  delivered_at=f"{day}T17:00:00+08:00", completed_at=f"{day}T17:01:00+08:00")


def _fixture() -> list[dict[str, Any]]:
    """RC-A (from 03-01) names V1-V4; RC-B (from 03-10) is by model and was done on V5.
    V1: delivered at D001 on 03-05 with the recall done. V2: delivered at D001 on 03-06
    without it (D001 missed it), done at D002 on 03-20. V3: at D002 on 02-20 (before the
    start: not counted), at D003 on 03-12 without it. V4: never seen. V5: RC-B at D002."""
    return [
        _campaign("RC-A", "2025-03-01", vins=[V1, V2, V3, V4], model="朗逸",
                  year_from=2021, year_to=2022),
        _campaign("RC-B", "2025-03-10", model="帕萨特"),
        _delivered("D001", "RO-D001-1", V1, "2025-03-05"),
        _completed("RC-A", V1, "D001", "RO-D001-1", "2025-03-05"),
        _delivered("D001", "RO-D001-2", V2, "2025-03-06"),
        _delivered("D002", "RO-D002-1", V2, "2025-03-20"),
        _completed("RC-A", V2, "D002", "RO-D002-1", "2025-03-20"),
        _delivered("D002", "RO-D002-2", V3, "2025-02-20"),
        _delivered("D003", "RO-D003-1", V3, "2025-03-12"),
        _delivered("D002", "RO-D002-3", V5, "2025-03-15"),
        _completed("RC-B", V5, "D002", "RO-D002-3", "2025-03-15"),
    ]


def test_completion_rates_per_campaign_dealer_and_region_equal_the_hand_count(
        empty_bi, amqp_uri) -> None:
    for dealer in ("D001", "D002"):
        answer = requests.put(f"{empty_bi.url}/dealers/{dealer}", headers=OPERATOR,
                              timeout=15, json={"name": dealer, "region": "EAST"})
        assert answer.status_code == 200, answer.text
    sent = _fixture()
    publish(amqp_uri, random.Random(7).sample(sent * 2, k=2 * len(sent)))
    wait_for(lambda: count_rows(empty_bi.settings.database_url, "event_log") == len(sent),
             message="every event logged once")

    a, b = empty_bi.ok("/recall-completion")["items"]
    # RC-A: 4 cars named, done on V1 and V2: 2 / 4.
    assert (a["campaign_code"], a["cars"], a["completed"], a["completion_rate"]) == (
        "RC-A", 4, 2, "0.5000")
    # D001 saw V1 (done) and V2 (missed): 1 / 2. D002 saw V2 since the start (V3's visit
    # was before it) and did it: 1 / 1. D003 saw V3 and missed it: 0 / 1.
    assert [(d["dealer_code"], d["region"], d["cars"], d["completed"], d["completion_rate"])
            for d in a["dealers"]] == [("D001", "EAST", 2, 1, "0.5000"),
                                       ("D002", "EAST", 1, 1, "1.0000"),
                                       ("D003", "UNASSIGNED", 1, 0, "0.0000")]
    # EAST (D001, D002) saw V1 and V2, both done: 2 / 2; D003's region: 0 / 1.
    assert [(r["region"], r["cars"], r["completed"], r["completion_rate"])
            for r in a["regions"]] == [("EAST", 2, 2, "1.0000"), ("UNASSIGNED", 1, 0, "0.0000")]
    # RC-B, by model: the one car BI knows it covers is V5, done at D002: 1 / 1.
    assert (b["campaign_code"], b["cars"], b["completed"], b["completion_rate"]) == (
        "RC-B", 1, 1, "1.0000")
    assert [(d["dealer_code"], d["completion_rate"]) for d in b["dealers"]] == [
        ("D002", "1.0000")]

    if CHROMIUM:  # the headquarters dashboard shows the same rates
        shown = shown_by_chromium(empty_bi, "lang=en&from=2025-03-01&to=2025-03-31")
        table = shown[shown.index('id="recall-table"'):]
        for row in ("RC-A RC-A 召回</td><td class=\"v\">4</td><td class=\"v\">2</td>"
                    "<td class=\"v\">50.0%",
                    "Dealer D003</td><td class=\"v\">1</td><td class=\"v\">0</td>"
                    "<td class=\"v\">0.0%",
                    "Region EAST</td><td class=\"v\">2</td><td class=\"v\">2</td>"
                    "<td class=\"v\">100.0%"):
            assert row in table, table[:3000]

    one = empty_bi.ok("/recall-completion", campaign="RC-B")["items"]
    assert one == [b]
    assert empty_bi.get("/recall-completion", OPERATOR).status_code == 403
    bad = empty_bi.get("/recall-completion", auth("oem_analyst"), campaign="rc a")
    assert bad.status_code == 422 and "campaign" in bad.text
