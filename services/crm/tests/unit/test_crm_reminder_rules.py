"""The reminder engine's rules: maintenance by mileage or time, whichever comes first;
insurance, inspection, declined work and recalls; nobody opted out or already booked."""

from __future__ import annotations

from datetime import date

from contracts.payloads import REMINDER_REASONS
from crm.domain import reminders as r
from crm.domain.reminders import (
    Campaign,
    Consents,
    DeclinedLine,
    MaintenanceSchedule,
    VehicleFacts,
    Visit,
)

SCHEDULE = MaintenanceSchedule(first_km=5_000, first_months=6, interval_km=10_000,
                               interval_months=12)
VIN = "LSVAU2187N2183740"
# Reminders other than recalls invite a sale: marketing, sent only with an opt-in.
OPTED_IN = Consents({("MARKETING", "SMS"): True})


def car(*visits: Visit, **changes: object) -> VehicleFacts:
    facts = VehicleFacts(vin=VIN, customer_id="C1", model="帕萨特 330TSI",
                         first_seen_on=date(2024, 1, 10), visits=list(visits),
                         last_dealer_code="D001")
    for name, value in changes.items():
        setattr(facts, name, value)
    return facts


def test_months_before_km_when_the_car_is_driven_little() -> None:
    # 10 km a day: 10,000 km take 1,000 days, so the 12 months come first.
    facts = car(Visit(date(2024, 1, 10), 10_000, "D001"), Visit(date(2025, 1, 10), 13_660, "D001"))
    due = r.maintenance_due(facts, SCHEDULE)
    assert (due.by, due.due_on, due.due_mileage_km) == ("TIME", date(2026, 1, 10), 23_660)


def test_km_before_months_when_the_car_is_driven_a_lot() -> None:
    # 100 km a day: the next 10,000 km are done in 100 days, well before 12 months.
    facts = car(Visit(date(2024, 1, 1), 20_000, "D001"), Visit(date(2024, 4, 10), 30_000, "D001"))
    due = r.maintenance_due(facts, SCHEDULE)
    assert due.by == "MILEAGE"
    assert due.due_mileage_km == 40_000
    assert due.due_on == date(2024, 7, 19)  # 10,000 km / 100 km per day after 10 April


def test_first_service_counts_from_when_the_car_was_first_seen() -> None:
    due = r.maintenance_due(car(), SCHEDULE, default_km_per_day=20)  # 5,000 km take 250 days
    assert (due.by, due.due_on, due.due_mileage_km) == ("TIME", date(2024, 7, 10), 5_000)


def test_default_rate_when_visits_are_too_close_together() -> None:
    visits = [Visit(date(2024, 5, 1), 12_000, "D001"), Visit(date(2024, 5, 3), 12_900, "D001")]
    assert r.km_per_day(visits) == r.DEFAULT_KM_PER_DAY


def test_month_arithmetic_clamps_to_the_end_of_the_month() -> None:
    assert r.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert r.add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)


def test_maintenance_is_raised_within_its_lead_time_only() -> None:
    facts = car(Visit(date(2024, 1, 10), 10_000, "D001"), Visit(date(2025, 1, 10), 13_660, "D001"),
                consents=OPTED_IN)
    assert not r.run_reminders([facts], date(2025, 12, 1), [], set()).raised
    raised = r.run_reminders([facts], date(2025, 12, 28), [], set()).raised
    assert [(p.reason, p.dealer_code, p.due_mileage_km) for p in raised] == [
        ("MAINTENANCE", "D001", 23_660)]


def test_the_same_reminder_is_raised_once() -> None:
    facts = car(insurance_expires_on=date(2025, 3, 1),
                consents=Consents({("MARKETING", "SMS"): True}))
    first = r.run_reminders([facts], date(2025, 2, 10), [], set())
    again = r.run_reminders([facts], date(2025, 2, 11), [], {p.reminder_id for p in first.raised})
    assert "INSURANCE" in [p.reason for p in first.raised]
    assert again.raised == []


def test_reminder_purposes_are_the_contracts_rule() -> None:
    assert r.PURPOSE_OF == {"MAINTENANCE": "MARKETING", "INSURANCE": "MARKETING",
                            "ANNUAL_INSPECTION": "MARKETING", "DECLINED_WORK": "MARKETING",
                            "RECALL": "SERVICE"}
    assert set(r.PURPOSE_OF) == set(REMINDER_REASONS)


def test_without_a_marketing_opt_in_no_invitation_is_raised() -> None:
    facts = car(inspection_due_on=date(2025, 3, 1))
    result = r.run_reminders([facts], date(2025, 2, 20), [], set())
    assert result.raised == []
    assert result.suppressed == {"OPTED_OUT": 2}  # the inspection and the first service


def test_a_withdrawn_marketing_consent_stops_invitations_but_not_a_recall() -> None:
    unsubscribed = Consents({("MARKETING", c): False for c in r.CHANNELS})
    recall = Campaign("RC-1", date(2025, 2, 1), vins=frozenset({VIN}))
    facts = car(inspection_due_on=date(2025, 3, 1), consents=unsubscribed)
    result = r.run_reminders([facts], date(2025, 2, 20), [recall], set())
    assert [p.reason for p in result.raised] == ["RECALL"]
    assert result.suppressed == {"OPTED_OUT": 2}


def test_a_recall_stops_only_when_service_messages_are_withdrawn() -> None:
    recall = Campaign("RC-1", date(2025, 2, 1), vins=frozenset({VIN}))
    withdrawn = Consents({("SERVICE", c): False for c in r.CHANNELS})
    result = r.run_reminders([car(consents=withdrawn)], date(2025, 2, 20), [recall], set())
    assert result.raised == [] and result.suppressed == {"OPTED_OUT": 2}


def test_one_channel_left_is_enough() -> None:
    only_wechat = Consents({("MARKETING", c): c == "WECHAT" for c in r.CHANNELS})
    facts = car(inspection_due_on=date(2025, 3, 1), consents=only_wechat)
    reasons = {p.reason for p in r.run_reminders([facts], date(2025, 2, 20), [], set()).raised}
    assert "ANNUAL_INSPECTION" in reasons


def test_insurance_needs_a_marketing_opt_in() -> None:
    facts = car(insurance_expires_on=date(2025, 3, 1))
    result = r.run_reminders([facts], date(2025, 2, 20), [], set())
    assert "INSURANCE" not in {p.reason for p in result.raised}
    assert result.suppressed.get("OPTED_OUT") == 2  # the renewal and the first service
    facts.consents = OPTED_IN
    assert "INSURANCE" in {p.reason for p in r.run_reminders(
        [facts], date(2025, 2, 20), [], set()).raised}


def test_already_booked_customers_are_not_reminded() -> None:
    facts = car(inspection_due_on=date(2025, 3, 1), has_open_appointment=True,
                consents=OPTED_IN)
    result = r.run_reminders([facts], date(2025, 2, 20), [], set())
    assert result.raised == []
    assert result.suppressed["ALREADY_BOOKED"] >= 1


def test_declined_work_is_followed_up_once_per_repair_order_after_the_delay() -> None:
    declined = [DeclinedLine("RO-1", "L6", "D002", date(2025, 1, 1)),
                DeclinedLine("RO-1", "L7", "D002", date(2025, 1, 1))]
    facts = car(declined=declined)
    assert not [p for p in r.due_for_vehicle(facts, date(2025, 1, 30), [])
                if p.reason == "DECLINED_WORK"]
    plans = [p for p in r.due_for_vehicle(facts, date(2025, 1, 31), [])
             if p.reason == "DECLINED_WORK"]
    assert [(p.dealer_code, p.source_repair_order_id, p.due_on) for p in plans] == [
        ("D002", "RO-1", date(2025, 1, 31))]


def test_recall_by_vin_list_and_by_model_and_year() -> None:
    by_list = Campaign("RC-1", date(2025, 1, 1), vins=frozenset({VIN}))
    by_model = Campaign("RC-2", date(2025, 1, 1), model="帕萨特 330TSI", year_from=2021,
                        year_to=2023)  # the VIN's 10th character N is model year 2022
    other_years = Campaign("RC-3", date(2025, 1, 1), model="帕萨特 330TSI", year_from=2015,
                           year_to=2018)
    not_yet = Campaign("RC-4", date(2025, 6, 1), vins=frozenset({VIN}))
    plans = r.due_for_vehicle(car(), date(2025, 2, 1), [by_list, by_model, other_years, not_yet])
    assert sorted(p.campaign_code for p in plans if p.reason == "RECALL") == ["RC-1", "RC-2"]


def test_model_year_from_the_vin() -> None:
    assert r.model_year(VIN) == 2022
    assert r.model_year("1M8GDM9AXKP042788") == 2019


def test_no_dealer_known_means_no_reminder() -> None:
    facts = car(inspection_due_on=date(2025, 3, 1), last_dealer_code=None)
    assert r.due_for_vehicle(facts, date(2025, 2, 20), []) == []
