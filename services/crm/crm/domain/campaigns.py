"""A campaign as the dealer sites receive it: RecallCampaignPublished events, the VIN list
split into chunks so no message grows past what the brokers and the sites' consumers handle;
and when a delivered repair order completes it for a car (RecallCompleted)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from contracts.vocabulary import CAMPAIGN_VINS_PER_EVENT
from crm.domain.reminders import Campaign

# Campaign fields every event repeats, so each part stands on its own at a site.
_SCOPE = ("kind", "operation_code", "model", "year_from", "year_to")


def published_data(campaign: Mapping[str, Any], vins: Sequence[str], published_at: datetime,
                   *, chunk: int = CAMPAIGN_VINS_PER_EVENT) -> list[dict[str, Any]]:
    """The `data` of each RecallCampaignPublished for `campaign` (as POST /campaigns stored
    it), in order: one event per `chunk` VINs, or one without VINs for a model-only campaign."""
    chunks = [list(vins[i:i + chunk]) for i in range(0, len(vins), chunk)] or [[]]
    header: dict[str, Any] = {
        "campaign_code": campaign["code"], "title": campaign["title"],
        "starts_on": campaign["starts_on"].isoformat(), "parts": len(chunks),
        "published_at": published_at.isoformat(),
        **{k: campaign[k] for k in _SCOPE if campaign.get(k) is not None}}
    return [{**header, "part": n, **({"vins": part} if part else {})}
            for n, part in enumerate(chunks, start=1)]


def completed_by_delivery(campaigns: Iterable[Campaign], listed: Iterable[str], *, vin: str,
                          model: str | None, operations: Iterable[str],
                          delivered_on: date) -> list[Campaign]:
    """The campaigns a delivered repair order completes for its car: started by the day of
    delivery, covering the car (its VIN listed, `listed`: those campaigns' codes, or its model
    and years), not done on it before, and whose labour operation was done on the RO.

    Only a delivery counts: an RO opened, in work, or with the operation merely quoted or
    declined has not done it (`operations` is what the delivery says was done)."""
    done, named = set(operations), set(listed)
    return sorted((c for c in campaigns
                   if c.operation_code in done and c.starts_on <= delivered_on
                   and vin not in c.completed and (c.code in named or c.covers(vin, model))),
                  key=lambda c: c.code)


def completion_data(campaign: Campaign, delivery: Mapping[str, Any], *, dealer_code: str,
                    completed_at: datetime) -> dict[str, Any]:
    """The `data` of the RecallCompleted a delivery makes for one campaign."""
    return {"campaign_code": campaign.code, "vin": delivery["vin"], "dealer_code": dealer_code,
            "repair_order_id": delivery["repair_order_id"],
            "operation_code": campaign.operation_code,
            "delivered_at": delivery["delivered_at"], "completed_at": completed_at.isoformat()}
