"""Campaigns published by headquarters (crm's RecallCampaignPublished) reach the site:
reception and the repair order list the open ones covering the car, by VIN list or by model
and model year; a redelivered or repeated part changes nothing; a campaign's parts add up.
A campaign headquarters says is done on the car (RecallCompleted, from any dealer) is no
longer open."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from chassis.broker import ConfirmingPublisher, OutgoingMessage
from chassis.testing import wait_for
from contracts import events, new_event
from services.workorder.tests.integration.site_client import OTHER_VIN, VIN

TODAY = datetime.now(UTC).date()
# Listed alongside the car: valid VINs of other cars.
FLEET = ["LSVAU2180N2000019", "LFV2A21K8N3012345"]


def _published(code: str, part: int, parts: int, *, starts_on: date = TODAY - timedelta(days=7),
               **scope: object) -> dict:
    data = {"campaign_code": code, "kind": "RECALL", "title": f"{code} 召回 (recall)",
            "starts_on": starts_on.isoformat(), "part": part, "parts": parts,
            "published_at": "2025-03-20T09:00:03+08:00", **scope}
    return new_event(events.RecallCampaignPublished, data, source="hq/crm", subject=code,
                     dealer_code="HQ", correlation_id=code, sequence=part)


def _publish(amqp_uri: str, *envelopes: dict,
             contract: events.EventContract = events.RecallCampaignPublished) -> None:
    """As crm's outbox relay would (the uplink carries crm.events to the site's broker)."""
    publisher = ConfirmingPublisher(amqp_uri)
    publisher.publish(OutgoingMessage(
        exchange=contract.exchange, routing_key=contract.type,
        body=json.dumps(envelope).encode(), message_id=envelope["id"])
        for envelope in envelopes)
    publisher.close()


def _codes(campaigns: list[dict]) -> list[str]:
    return [c["code"] for c in campaigns]


def test_reception_lists_the_open_campaigns_covering_the_car(site, amqp_uri) -> None:
    by_list_1 = _published("RC-1", 1, 2, vins=FLEET)
    by_list_2 = _published("RC-1", 2, 2, vins=[VIN], operation_code="RCL-ABG-02")
    by_model = _published("SC-1", 1, 1, model="帕萨特", year_from=2021, year_to=2022,
                          starts_on=TODAY - timedelta(days=30))
    not_started = _published("RC-2", 1, 1, vins=[VIN], starts_on=TODAY + timedelta(days=3))
    other_years = _published("RC-3", 1, 1, model="帕萨特", year_from=2015, year_to=2018)
    _publish(amqp_uri, by_list_1, by_list_1, by_model, not_started, other_years)
    wait_for(lambda: site.count("inbox") == 4, message="the campaigns applied")

    # Before the part listing the car arrives, only the model campaign covers it.
    early = site.ok("GET", f"/vehicles/{VIN}/open-campaigns", params={"model": "帕萨特"})
    assert _codes(early["open_campaigns"]) == ["SC-1"]

    _publish(amqp_uri, by_list_2, by_list_2, _published("RC-1", 2, 2, vins=[VIN]))
    wait_for(lambda: site.count("inbox") == 6, message="the second part applied")
    assert site.query("SELECT count(*) AS n FROM recall_campaign_vins "
                      "WHERE campaign_code = 'RC-1'")[0]["n"] == 3
    assert site.count("recall_campaign_parts") == 5
    assert site.count("recall_campaigns") == 4

    ro = site.open_ro()
    assert _codes(ro["open_campaigns"]) == ["SC-1", "RC-1"]
    recall = ro["open_campaigns"][1]
    assert (recall["kind"], recall["title"], recall["operation_code"]) == (
        "RECALL", "RC-1 召回 (recall)", None)  # the first part's header is kept
    again = site.ok("GET", f"/repair-orders/{ro['id']}")
    assert again["open_campaigns"] == ro["open_campaigns"]

    # A 2019 car of the same model, listed nowhere: no campaign.
    other = site.open_ro(vin=OTHER_VIN, plate="京B54321", customer_phone="13900001111")
    assert other["open_campaigns"] == []

    # The lookup: the model reception recorded for the VIN, or the one asked about.
    looked_up = site.ok("GET", f"/vehicles/{VIN}/open-campaigns", role="technician")
    assert (looked_up["model"], _codes(looked_up["open_campaigns"])) == ("帕萨特", ["SC-1", "RC-1"])
    assert _codes(site.ok("GET", f"/vehicles/{VIN}/open-campaigns", role="dealer_manager",
                          params={"model": "朗逸"})["open_campaigns"]) == ["RC-1"]


def test_the_lookup_refuses_bad_vins_and_other_roles(site) -> None:
    bad = site.call("GET", "/vehicles/LSVAU2188N2183740/open-campaigns")
    assert bad.status_code == 422 and "vin" in bad.text
    assert site.call("GET", f"/vehicles/{VIN}/open-campaigns", role="cashier").status_code == 403
    unknown = site.ok("GET", f"/vehicles/{VIN}/open-campaigns")
    assert (unknown["model"], unknown["open_campaigns"]) == (None, [])


def _completed(code: str, vin: str, dealer: str = "D002") -> dict:
    data = {"campaign_code": code, "vin": vin, "dealer_code": dealer,
            "repair_order_id": f"RO-{dealer}-20250403-0017", "operation_code": "RCL-ABG-02",
            "delivered_at": "2025-04-03T17:40:02+08:00",
            "completed_at": "2025-04-03T17:42:10+08:00"}
    return new_event(events.RecallCompleted, data, source="hq/crm", subject=vin,
                     dealer_code=dealer, correlation_id=data["repair_order_id"], sequence=1)


def test_a_campaign_done_at_another_dealer_is_no_longer_open(site, amqp_uri) -> None:
    # The completion may cross before the campaign does: it is kept all the same.
    done = _completed("RC-7", VIN)
    _publish(amqp_uri, done, done, contract=events.RecallCompleted)
    _publish(amqp_uri, _published("RC-7", 1, 1, vins=[VIN, OTHER_VIN]),
             _published("RC-8", 1, 1, vins=[VIN]))
    wait_for(lambda: site.count("inbox") == 3, message="the campaigns and the completion")
    assert _codes(site.ok("GET", f"/vehicles/{VIN}/open-campaigns")["open_campaigns"]) == [
        "RC-8"]
    other = site.ok("GET", f"/vehicles/{OTHER_VIN}/open-campaigns")
    assert _codes(other["open_campaigns"]) == ["RC-7"]  # done on one car, open on the others
    assert site.count("recall_completions") == 1
