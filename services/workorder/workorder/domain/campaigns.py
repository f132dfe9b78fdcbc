"""Recall and service campaigns at reception: which of headquarters' campaigns cover a car.

A campaign names its cars by VIN list and/or by model and model-year range (the model year
decoded from VIN position 10). It is open from its start day on, until headquarters says it
is done on the car (RecallCompleted: its labour operation was on a repair order delivered at
any dealer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts.vin import model_year


@dataclass(frozen=True)
class Campaign:
    code: str
    title: str
    starts_on: date
    kind: str | None = None
    operation_code: str | None = None
    model: str | None = None
    year_from: int | None = None
    year_to: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "kind": self.kind, "title": self.title,
                "starts_on": self.starts_on.isoformat(), "operation_code": self.operation_code}


def same_model(a: str, b: str) -> bool:
    """Model names as typed at reception and at headquarters: case and spacing do not count."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def covers_by_model(campaign: Campaign, vin: str, model: str | None, today: date) -> bool:
    """Whether the campaign's model and model-year range take in this car. A range with a
    model year the VIN does not encode takes nothing in: reception must not guess."""
    if campaign.model is None or not model or not same_model(campaign.model, model):
        return False
    if campaign.year_from is None and campaign.year_to is None:
        return True
    # Model years run up to a year ahead of the calendar.
    year = model_year(vin, today.year + 1)
    if year is None:
        return False
    return (campaign.year_from or year) <= year <= (campaign.year_to or year)


def open_campaigns(campaigns: Iterable[Campaign], listed: Iterable[str], *, vin: str,
                   model: str | None, today: date, completed: Iterable[str] = ()
                   ) -> list[Campaign]:
    """The started campaigns covering the car and not done on it (`completed`: their codes),
    oldest start first: those whose VIN list names it (`listed`: their codes) and those
    whose model and years take it in."""
    listed_codes, done = set(listed), set(completed)
    found = [c for c in campaigns if c.starts_on <= today and c.code not in done
             and (c.code in listed_codes or covers_by_model(c, vin, model, today))]
    return sorted(found, key=lambda c: (c.starts_on, c.code))

