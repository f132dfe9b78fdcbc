"""A recall campaign closes for a car when a dealer delivers a repair order whose work done
includes the campaign's labour operation: crm records it once per campaign and car, at
whichever dealer, and announces RecallCompleted (which goes to every site)."""

from __future__ import annotations

from chassis.testing import wait_for
from contracts import events
from services.crm.tests.integration.crm_hq import VIN, delivered, opened

OTHER_VIN = "1M8GDM9AXKP042788"


def test_a_delivery_with_the_operation_completes_the_campaign_once(crm, sites) -> None:
    created = crm.post("/campaigns", {
        "code": "RC-2025-14", "title": "安全气囊召回 (airbag recall)", "kind": "RECALL",
        "starts_on": "2025-03-01", "operation_code": "RCL-ABG-02", "vins": [VIN, OTHER_VIN]})
    assert created.status_code == 201, created.text
    assert (created.json()["kind"], created.json()["operation_code"]) == ("RECALL", "RCL-ABG-02")
    [published] = crm.outbox(events.RecallCampaignPublished.type)
    assert published["data"]["operation_code"] == "RCL-ABG-02"

    without = delivered("D001", "RO-D001-1", "cust-1")
    without["data"]["labour_operation_codes"] = ["MNT-OIL-01"]
    with_it = delivered("D002", "RO-D002-7", "cust-1")  # the example: MNT-OIL-01, RCL-ABG-02
    again = delivered("D001", "RO-D001-2", "cust-1")
    sites.publish(opened("D001", "RO-D001-1", "cust-1"), without, with_it, with_it)
    wait_for(lambda: crm.count("SELECT count(*) FROM visits") == 2, message="both deliveries")
    sites.publish(again)
    wait_for(lambda: crm.count("SELECT count(*) FROM visits") == 3,
             message="the third delivery")

    [done] = crm.outbox(events.RecallCompleted.type)
    assert (done["subject"], done["dealercode"], done["correlationid"]) == (
        VIN, "D002", "RO-D002-7")
    assert {k: done["data"][k] for k in ("campaign_code", "vin", "dealer_code",
                                         "repair_order_id", "operation_code")} == {
        "campaign_code": "RC-2025-14", "vin": VIN, "dealer_code": "D002",
        "repair_order_id": "RO-D002-7", "operation_code": "RCL-ABG-02"}
    assert crm.count("SELECT count(*) FROM recall_completions") == 1
