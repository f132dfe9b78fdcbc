"""BI's rules on facts: dealer-local days, comebacks, recaptured declined work, the
measures of one dealer-day, and the rebuild's progress bar."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bi import domain
from bi.domain import DayFacts, LineDecision, Visit
from bi.rebuild import progress_bar


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


def test_a_fact_belongs_to_the_dealers_own_calendar_day():
    # 23:30 in Beijing is 15:30 UTC: the dealer's day, not the UTC one.
    assert domain.local_day("2025-03-18T23:30:00+08:00") == date(2025, 3, 18)
    assert domain.local_day("2025-03-18T00:30:00+08:00") == date(2025, 3, 18)


def test_the_same_concern_is_the_same_code_or_else_the_same_words():
    keys = domain.concern_keys([{"description": "Brake  NOISE", "code": "BRK01"},
                                {"description": "Brake noise  when cold"}])
    assert keys == ["code:BRK01", "text:brake noise when cold"]


def test_a_repeat_of_a_concern_within_the_window_is_a_comeback():
    visits = [
        Visit("RO-1", at(1), ("code:BRK01",)),
        Visit("RO-2", at(20), ("code:BRK01", "code:OIL")),   # 19 days later, same concern
        Visit("RO-3", at(25), ("code:AC",)),                 # other concern
    ]
    assert domain.comebacks(visits, window_days=30) == {"RO-2"}
    # Given in any order, the earlier visit is never the comeback.
    assert domain.comebacks(list(reversed(visits)), window_days=30) == {"RO-2"}
    # Outside a 10-day window it is a new repair, not a comeback.
    assert domain.comebacks(visits, window_days=10) == set()


def test_a_declined_line_sold_later_on_the_same_vehicle_is_recaptured():
    lines = [
        LineDecision(("RO-1", "L1"), "PART:BRAKE-PAD", approved=False, decided_at=at(1)),
        LineDecision(("RO-1", "L2"), "LABOUR:ALIGN", approved=False, decided_at=at(1)),
        LineDecision(("RO-2", "L1"), "PART:BRAKE-PAD", approved=True, decided_at=at(20)),
        # approved before the decline: not a recapture of it
        LineDecision(("RO-0", "L9"), "LABOUR:ALIGN", approved=True, decided_at=at(1, 8)),
    ]
    assert domain.recaptured(lines) == {("RO-1", "L1")}


def test_the_latest_appointment_event_decides_its_status_whatever_arrives_first():
    checked_in_then_late_booking = domain.appointment_status(("CHECKED_IN", 3), "SCHEDULED", 1)
    assert checked_in_then_late_booking == ("CHECKED_IN", 3)
    assert domain.appointment_status(("SCHEDULED", 1), "CANCELLED", 2) == ("CANCELLED", 2)


def test_the_measures_of_a_dealer_day_from_its_facts():
    opened = at(18, 6)
    delivered_ro = {
        "promised_at": at(18, 10), "delivered_at": at(18, 9), "grand_total": Decimal("1619.00"),
        "customer_pay": Decimal("1619.00"), "warranty": Decimal("0"), "internal": Decimal("0"),
        "labour_total": Decimal("510.00"), "parts_total": Decimal("1189.00"),
        "labour_hours_sold": Decimal("1.70"), "clocked_hours": Decimal("2.25"),
        "booked_at": opened - timedelta(days=2), "opened_at": opened,
        "inspected_at": opened + timedelta(minutes=30), "approved_at": None,
        "work_done_at": None, "qc_passed_at": None,
    }
    late_ro = {**delivered_ro, "delivered_at": at(18, 11), "booked_at": None,
               "inspected_at": None}
    m = domain.day_measures(DayFacts(
        appointments=[{"status": "CHECKED_IN", "lead_id": "LD-1"},
                      {"status": "NO_SHOW", "lead_id": None},
                      {"status": "CANCELLED", "lead_id": "LD-2"}],
        reminders=[{"booked": True, "arrived": False}, {"booked": False, "arrived": False}],
        opened=[{"comeback": True}, {"comeback": False}],
        delivered=[delivered_ro, late_ro],
        lines=[{"amount": Decimal("300.00"), "approved": True, "recaptured": False},
               {"amount": Decimal("100.00"), "approved": False, "recaptured": True}],
        issues=[{"from_stock": True}, {"from_stock": False}],
        checks=[{"passed": False}, {"passed": True}],
        surveys=[{"score": 10}, {"score": 6}, {"score": 8}],
    ))
    assert (m["appointments"], m["appointments_arrived"], m["appointments_no_show"],
            m["appointments_cancelled"], m["lead_appointments"], m["lead_arrivals"]) == \
        (3, 1, 1, 1, 2, 1)
    assert (m["reminders"], m["reminders_booked"], m["reminders_arrived"]) == (2, 1, 0)
    assert (m["ros_opened"], m["comebacks"]) == (2, 1)
    # one delivered at 09:00 for a 10:00 promise, one at 11:00: 1 on time of 2
    assert (m["ros_delivered"], m["delivered_on_time"]) == (2, 1)
    assert m["revenue_total"] == Decimal("3238.00")  # 2 × 1 619.00
    assert (m["ros_customer_pay"], m["ros_warranty"], m["ros_internal"]) == (2, 0, 0)
    assert m["labour_hours_sold"] == Decimal("3.40")  # 2 × 1.70
    # booking → reception: only the first RO has both ends: 2 days = 172 800 s
    assert (m["booking_to_reception_seconds"], m["booking_to_reception_count"]) == (172800, 1)
    assert (m["reception_to_inspection_seconds"], m["reception_to_inspection_count"]) == (1800, 1)
    assert m["approval_to_work_done_count"] == 0
    assert (m["lines_quoted"], m["lines_approved"], m["lines_declined"]) == (2, 1, 1)
    assert (m["value_approved"], m["value_declined"], m["declined_recaptured"]) == \
        (Decimal("300.00"), Decimal("100.00"), 1)
    assert (m["parts_issues"], m["parts_issues_from_stock"]) == (2, 1)
    assert (m["qc_checks"], m["qc_failed"]) == (2, 1)
    # 10 is a promoter, 6 a detractor, 8 passive; 10 + 6 + 8 = 24
    assert (m["surveys"], m["promoters"], m["detractors"], m["survey_score_sum"]) == \
        (3, 1, 1, 24)


def test_the_rebuild_progress_bar_counts_events():
    out = io.StringIO()
    show = progress_bar(out)
    show(0, 4)
    show(2, 4)
    show(4, 4)
    assert out.getvalue().split("\r")[2].startswith("[" + "#" * 20 + "." * 20 + "]  50 % 2/4")
    assert out.getvalue().endswith("100 % 4/4 events\n")
