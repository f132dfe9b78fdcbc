"""A campaign created at headquarters goes out to the dealer sites: RecallCampaignPublished
events in crm's outbox, written with the campaign, the VIN list split into chunks."""

from __future__ import annotations

from contracts import events
from contracts.payloads import CAMPAIGN_VINS_PER_EVENT
from contracts.vin import CHECK_POSITION, check_digit
from services.crm.tests.integration.crm_hq import ANALYST


def _vins(count: int) -> list[str]:
    """`count` distinct valid VINs (serials 000001 up, check digit computed)."""
    found = []
    for serial in range(1, count + 1):
        draft = f"LSVAU2180N2{serial:06d}"
        digit = check_digit(draft)
        found.append(draft[:CHECK_POSITION - 1] + digit + draft[CHECK_POSITION:])
    return found


def test_a_campaign_is_published_in_chunks_with_the_campaign(crm) -> None:
    vins = _vins(2 * CAMPAIGN_VINS_PER_EVENT + 1)
    campaign = {"code": "RC-2025-14", "title": "安全气囊召回 (airbag recall)",
                "starts_on": "2025-04-01", "vins": vins + vins[:10], "model": "朗逸",
                "year_from": 2021, "year_to": 2022}
    created = crm.post("/campaigns", campaign)
    assert created.status_code == 201, created.text

    published = crm.outbox(events.RecallCampaignPublished.type)
    assert [e["data"]["part"] for e in published] == [1, 2, 3]
    assert {e["data"]["parts"] for e in published} == {3}
    assert {(e["subject"], e["source"], e["dealercode"]) for e in published} == {
        ("RC-2025-14", "hq/crm", "HQ")}
    assert [e["sequence"] for e in published] == [1, 2, 3]
    assert [len(e["data"]["vins"]) for e in published] == [5000, 5000, 1]
    assert sorted(v for e in published for v in e["data"]["vins"]) == sorted(vins)
    for event in published:
        assert (event["data"]["model"], event["data"]["year_from"], event["data"]["year_to"],
                event["data"]["starts_on"]) == ("朗逸", 2021, 2022, "2025-04-01")


def test_a_model_campaign_is_one_event_and_a_refused_one_none(crm) -> None:
    campaign = {"code": "SC-2025-03", "title": "变速箱软件升级 (gearbox software update)",
                "starts_on": "2025-05-01", "model": "帕萨特 330TSI"}
    assert crm.post("/campaigns", campaign).status_code == 201
    assert crm.post("/campaigns", campaign).status_code == 409
    assert crm.post("/campaigns", {**campaign, "code": "SC-2025-04"},
                    headers=ANALYST).status_code == 403
    assert crm.post("/campaigns", {**campaign, "code": "SC-2025-05", "model": None}
                    ).status_code == 422
    [event] = crm.outbox(events.RecallCampaignPublished.type)
    assert event["data"] == {
        "campaign_code": "SC-2025-03", "title": "变速箱软件升级 (gearbox software update)",
        "starts_on": "2025-05-01", "model": "帕萨特 330TSI", "part": 1, "parts": 1,
        "published_at": event["data"]["published_at"]}
