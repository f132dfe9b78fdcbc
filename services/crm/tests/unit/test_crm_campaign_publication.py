"""A campaign's RecallCampaignPublished data: the VIN list in chunks, every part complete."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts import events, new_event
from crm.domain.campaigns import published_data

AT = datetime(2025, 3, 20, 1, 0, tzinfo=UTC)
VINS = ["LSVAU2187N2183740", "1M8GDM9AXKP042788", "LSVAU2180N2000019"]


def test_the_vin_list_is_split_into_numbered_parts() -> None:
    campaign = {"code": "RC-1", "title": "召回", "starts_on": date(2025, 4, 1),
                "model": "Lavida", "year_from": 2021, "year_to": None}
    parts = published_data(campaign, VINS, AT, chunk=2)
    assert [(p["part"], p["parts"], p["vins"]) for p in parts] == [
        (1, 2, VINS[:2]), (2, 2, VINS[2:])]
    assert all(p["model"] == "Lavida" and p["year_from"] == 2021 and "year_to" not in p
               for p in parts)
    for data in parts:  # each part is a valid event
        new_event(events.RecallCampaignPublished, data, source="hq/crm", subject="RC-1",
                  dealer_code="HQ", correlation_id="RC-1", sequence=data["part"])


def test_a_model_campaign_is_one_part_without_vins() -> None:
    campaign = {"code": "SC-1", "title": "升级", "starts_on": date(2025, 4, 1), "model": "X"}
    [data] = published_data(campaign, [], AT)
    assert (data["part"], data["parts"], "vins" in data) == (1, 1, False)
