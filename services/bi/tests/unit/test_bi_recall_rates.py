"""Recall completion rates, per campaign, dealer and region, worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bi.domain.recalls import completion, rate

DONE = datetime(2025, 3, 20, 9, 0, tzinfo=UTC)


def test_a_dealer_is_measured_on_the_recall_cars_it_delivered_since_the_start() -> None:
    campaigns = [{"campaign_code": "RC-1", "title": "召回", "kind": "RECALL",
                  "starts_on": date(2025, 3, 1)}]
    cars = [{"campaign_code": "RC-1", "vin": "V1", "dealer_code": "D1", "completed_at": DONE},
            {"campaign_code": "RC-1", "vin": "V2", "dealer_code": None, "completed_at": None},
            {"campaign_code": "RC-1", "vin": "V3", "dealer_code": None, "completed_at": None},
            {"campaign_code": "RC-9", "vin": "V1", "dealer_code": None, "completed_at": None}]
    deliveries = [{"vin": "V1", "dealer_code": "D1", "delivered_day": date(2025, 3, 20)},
                  {"vin": "V2", "dealer_code": "D1", "delivered_day": date(2025, 3, 2)},
                  {"vin": "V2", "dealer_code": "D2", "delivered_day": date(2025, 2, 27)}]
    [found] = completion(campaigns, cars, deliveries, {"D1": "NORTH"})
    # 1 of 3 cars done; D1 delivered V1 (done) and V2 (missed); D2's visit was before.
    assert (found["cars"], found["completed"], found["completion_rate"]) == (3, 1, "0.3333")
    assert found["dealers"] == [{"dealer_code": "D1", "region": "NORTH", "cars": 2,
                                 "completed": 1, "completion_rate": "0.5000"}]
    assert found["regions"] == [{"region": "NORTH", "cars": 2, "completed": 1,
                                 "completion_rate": "0.5000"}]


def test_no_cars_no_rate() -> None:
    assert rate(0, 0) is None
    assert rate(2, 3) == "0.6667"
