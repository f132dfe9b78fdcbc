"""A campaign as the dealer sites receive it: RecallCampaignPublished events, the VIN list
split into chunks so no message grows past what the brokers and the sites' consumers handle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from contracts.vocabulary import CAMPAIGN_VINS_PER_EVENT

# Campaign fields every event repeats, so each part stands on its own at a site.
_SCOPE = ("model", "year_from", "year_to")


def published_data(campaign: Mapping[str, Any], vins: Sequence[str], published_at: datetime,
                   *, chunk: int = CAMPAIGN_VINS_PER_EVENT) -> list[dict[str, Any]]:
    """The `data` of each RecallCampaignPublished for `campaign` (as POST /campaigns stored
    it), in order: one event per `chunk` VINs, or one without VINs for a model-only campaign.

    crm does not record the campaign's kind or labour operation, so neither is sent."""
    chunks = [list(vins[i:i + chunk]) for i in range(0, len(vins), chunk)] or [[]]
    header: dict[str, Any] = {
        "campaign_code": campaign["code"], "title": campaign["title"],
        "starts_on": campaign["starts_on"].isoformat(), "parts": len(chunks),
        "published_at": published_at.isoformat(),
        **{k: campaign[k] for k in _SCOPE if campaign.get(k) is not None}}
    return [{**header, "part": n, **({"vins": part} if part else {})}
            for n, part in enumerate(chunks, start=1)]
