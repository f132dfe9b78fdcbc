"""Recall completion rates: of a campaign's cars, how many it is done on — per campaign, per
dealer and per region. Plain Python over the recall facts and the cars' deliveries.

* **Per campaign**: cars done / cars the campaign names (its VIN list, and any car it was
  done on by model and model year: BI knows no registry of the cars a model range takes in).
* **Per dealer**: of the campaign's cars the dealer delivered on or after the start day
  (or did the campaign on), those it did the campaign on. A car that visited a dealer which
  missed the recall counts against that dealer, and for the dealer that later did it.
* **Per region**: the same over the region's dealers (each car once); a dealer no one put in
  a region is in UNASSIGNED.

A rate is None when there is nothing to divide by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bi.domain import UNASSIGNED


@dataclass
class _Tally:
    cars: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)

    def view(self) -> dict[str, Any]:
        return {"cars": len(self.cars), "completed": len(self.done),
                "completion_rate": rate(len(self.done), len(self.cars))}


def rate(done: int, cars: int) -> str | None:
    """A share as decimal text to four places ("0.6667"), as BI's other rates are."""
    if not cars:
        return None
    return str((Decimal(done) / Decimal(cars)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def completion(campaigns: Iterable[Mapping[str, Any]], cars: Iterable[Mapping[str, Any]],
               deliveries: Iterable[Mapping[str, Any]], regions: Mapping[str, str]
               ) -> list[dict[str, Any]]:
    """Each campaign's completion, with its dealers and regions (codes in order).

    `campaigns`: campaign_code, title, kind, starts_on; `cars`: campaign_code, vin,
    dealer_code and completed_at (None while open); `deliveries`: vin, dealer_code and
    delivered_day of every repair order BI has seen delivered; `regions`: dealer → region."""
    visits: dict[str, list[tuple[str, date]]] = {}
    for d in deliveries:
        if d["delivered_day"] is not None:
            visits.setdefault(d["vin"], []).append((d["dealer_code"], d["delivered_day"]))
    starts = {c["campaign_code"]: c["starts_on"] for c in campaigns}
    overall: dict[str, _Tally] = {code: _Tally() for code in starts}
    dealers: dict[str, dict[str, _Tally]] = {code: {} for code in starts}
    areas: dict[str, dict[str, _Tally]] = {code: {} for code in starts}
    for car in cars:
        code, vin = car["campaign_code"], car["vin"]
        if code not in overall:
            continue  # its campaign's event has not arrived yet
        done_at = car["dealer_code"] if car["completed_at"] is not None else None
        overall[code].cars.add(vin)
        seen = {dealer for dealer, day in visits.get(vin, ()) if day >= starts[code]}
        if done_at:
            overall[code].done.add(vin)
            seen.add(done_at)
        for dealer in seen:
            dealers[code].setdefault(dealer, _Tally()).cars.add(vin)
            areas[code].setdefault(regions.get(dealer, UNASSIGNED), _Tally()).cars.add(vin)
        if done_at:
            dealers[code][done_at].done.add(vin)
            areas[code][regions.get(done_at, UNASSIGNED)].done.add(vin)
    out = []
    for c in sorted(campaigns, key=lambda c: c["campaign_code"]):
        code = c["campaign_code"]
        out.append({"campaign_code": code, "title": c["title"], "kind": c["kind"],
                    "starts_on": c["starts_on"], **overall[code].view(),
                    "dealers": [{"dealer_code": k, "region": regions.get(k, UNASSIGNED),
                                 **t.view()} for k, t in sorted(dealers[code].items())],
                    "regions": [{"region": k, **t.view()}
                                for k, t in sorted(areas[code].items())]})
    return out
