"""Every KPI against a hand-computed fixture: the arithmetic is in the comments."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bi import kpis
from bi.domain import empty_measures

# One dealer's month, summed from its daily rollups.
MONTH = {
    **empty_measures(),
    "appointments": 50, "appointments_cancelled": 5, "appointments_no_show": 9,
    "appointments_arrived": 36, "lead_appointments": 8, "lead_arrivals": 6,
    "reminders": 40, "reminders_booked": 10, "reminders_arrived": 7,
    "ros_opened": 80, "comebacks": 2,
    "ros_delivered": 75, "delivered_on_time": 69,
    "ros_customer_pay": 70, "ros_warranty": 9, "ros_internal": 1,
    "revenue_total": Decimal("150000.00"), "revenue_customer_pay": Decimal("120000.00"),
    "revenue_warranty": Decimal("25000.00"), "revenue_internal": Decimal("5000.00"),
    "labour_revenue": Decimal("45000.00"), "parts_revenue": Decimal("100000.00"),
    "labour_hours_sold": Decimal("150.00"), "clocked_hours": Decimal("125.00"),
    "lines_quoted": 200, "lines_approved": 150, "lines_declined": 50,
    "value_quoted": Decimal("100000.00"), "value_approved": Decimal("80000.00"),
    "value_declined": Decimal("20000.00"), "declined_recaptured": 5,
    "parts_issues": 120, "parts_issues_from_stock": 111,
    "qc_checks": 90, "qc_failed": 9,
    "surveys": 20, "survey_score_sum": 171, "promoters": 12, "detractors": 3,
    "booking_to_reception_seconds": 3 * 86400 * 10, "booking_to_reception_count": 10,
    "reception_to_inspection_seconds": 75 * 60 * 2, "reception_to_inspection_count": 2,
    "inspection_to_approval_seconds": 0, "inspection_to_approval_count": 0,
    "approval_to_work_done_seconds": 3 * 3600 + 7 * 3600, "approval_to_work_done_count": 2,
    "work_done_to_qc_seconds": 1200, "work_done_to_qc_count": 3,
    "qc_to_delivery_seconds": 5400, "qc_to_delivery_count": 1,
}


@pytest.mark.parametrize(("kpi", "expected"), [
    ("ro_count", 80),
    ("ros_delivered", 75),
    # 70 + 9 + 1 = 80 > 75 delivered: 5 ROs had customer-pay and warranty work
    ("ros_customer_pay", 70),
    ("ros_warranty", 9),
    ("ros_internal", 1),
    ("revenue", Decimal("150000.00")),
    ("revenue_customer_pay", Decimal("120000.00")),
    ("revenue_warranty", Decimal("25000.00")),
    ("revenue_internal", Decimal("5000.00")),
    # 150 hours sold ÷ 75 delivered ROs = 2.00 hours per RO
    ("hours_per_ro", Decimal("2.00")),
    # 45 000 CNY labour ÷ 150 hours = 300.00 CNY/hour
    ("effective_labour_rate", Decimal("300.00")),
    # 150 flat-rate hours ÷ 125 clocked hours = 1.2
    ("technician_efficiency", Decimal("1.2000")),
    # 150 approved ÷ 200 decided lines = 0.75
    ("quote_approval_rate", Decimal("0.7500")),
    # 80 000 ÷ 100 000 = 0.8
    ("quote_approval_rate_value", Decimal("0.8000")),
    # 5 recaptured ÷ 50 declined = 0.1
    ("declined_work_recapture", Decimal("0.1000")),
    # 111 from stock ÷ 120 issues = 0.925
    ("parts_fill_rate", Decimal("0.9250")),
    # 36 arrived ÷ (50 booked − 5 cancelled = 45) = 0.8
    ("appointment_show_rate", Decimal("0.8000")),
    # 69 on time ÷ 75 delivered = 0.92
    ("on_time_delivery", Decimal("0.9200")),
    # 2 comebacks ÷ 80 opened = 0.025
    ("comeback_rate", Decimal("0.0250")),
    # 9 failed ÷ 90 checks = 0.1
    ("qc_rework_rate", Decimal("0.1000")),
    # 171 points ÷ 20 surveys = 8.55
    ("csi", Decimal("8.55")),
    # 12/20 = 60 % promoters − 3/20 = 15 % detractors = 45
    ("nps", Decimal("45.00")),
    # 10 booked ÷ 40 reminders = 0.25; 7 arrived ÷ 40 = 0.175
    ("reminder_booking_rate", Decimal("0.2500")),
    ("reminder_arrival_rate", Decimal("0.1750")),
    # 6 lead appointments arrived ÷ 8 = 0.75
    ("lead_arrival_rate", Decimal("0.7500")),
    # 10 ROs × 3 days = 30 days ÷ 10 = 72.00 hours
    ("cycle_time_booking_to_reception", Decimal("72.00")),
    # 2 × 75 min ÷ 2 = 1.25 hours
    ("cycle_time_reception_to_inspection", Decimal("1.25")),
    # no RO with both timestamps: no data
    ("cycle_time_inspection_to_approval", None),
    # (3 h + 7 h) ÷ 2 = 5.00 hours
    ("cycle_time_approval_to_work_done", Decimal("5.00")),
    # 1 200 s ÷ 3 = 400 s = 0.111… → 0.11 hours
    ("cycle_time_work_done_to_qc", Decimal("0.11")),
    # 5 400 s = 1.50 hours
    ("cycle_time_qc_to_delivery", Decimal("1.50")),
])
def test_each_kpi_matches_the_hand_computed_value(kpi, expected):
    assert kpis.KPIS[kpi](MONTH) == expected


def test_every_kpi_is_covered_by_the_fixture_and_documents_its_formula():
    tested = {name for name, _ in test_each_kpi_matches_the_hand_computed_value
              .pytestmark[0].args[1]}
    assert tested == set(kpis.KPIS)
    assert all("=" in (fn.__doc__ or "") for fn in kpis.KPIS.values())


def test_a_kpi_without_denominator_is_no_data_not_zero():
    nothing = empty_measures()
    values = kpis.compute_all(nothing)
    assert values["ro_count"] == 0 and values["revenue"] == Decimal("0.00")
    assert values["appointment_show_rate"] is None
    assert values["nps"] is None and values["effective_labour_rate"] is None


def test_kpis_are_ratios_of_sums_not_means_of_daily_ratios():
    # Day 1: 1 of 1 line approved (100 %); day 2: 1 of 3 (33 %). Mean of days = 66.7 %,
    # but the period's rate is 2 approved ÷ 4 quoted = 0.5.
    day1 = {**empty_measures(), "lines_quoted": 1, "lines_approved": 1}
    day2 = {**empty_measures(), "lines_quoted": 3, "lines_approved": 1}
    both = {k: day1[k] + day2[k] for k in day1}
    assert kpis.quote_approval_rate(both) == Decimal("0.5000")


def test_nps_counts_passives_in_the_base_only():
    # scores 10, 9, 8, 7, 6, 0: promoters 2, passives 2, detractors 2 → (2 − 2) ÷ 6 = 0
    t = {**empty_measures(), "surveys": 6, "promoters": 2, "detractors": 2,
         "survey_score_sum": 40}
    assert kpis.nps(t) == Decimal("0.00")
    # 1 promoter of 4 answers, 3 detractors: (1 − 3) ÷ 4 = −50
    assert kpis.nps({**t, "surveys": 4, "promoters": 1, "detractors": 3}) == Decimal("-50.00")
