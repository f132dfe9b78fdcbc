"""Every fixed-ops KPI headquarters measures, defined once (DOMAIN.md "What headquarters
measures").

Each KPI is a pure function of `totals`: the rollup measures (`bi.domain.ROLLUP_MEASURES`)
summed over any set of dealer-days — one dealer's month, a region's week, all dealers on one
day. A KPI is a ratio of sums, never an average of daily ratios, so it is the same whichever
way the days are grouped. A KPI whose denominator is zero is None (no data), never 0.
Ratios are fractions (0.8125, not 81.25 %), except NPS, which is on its usual -100..100 scale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Totals = Mapping[str, Any]
RATIO = Decimal("0.0001")
CENTS = Decimal("0.01")


def _ratio(numerator: Any, denominator: Any, places: Decimal = RATIO) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(str(numerator)) / Decimal(str(denominator))).quantize(places, ROUND_HALF_UP)


def _amount(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENTS, ROUND_HALF_UP)


def ro_count(t: Totals) -> int:
    """Repair orders opened (进厂台次) = count of RepairOrderOpened, by day opened."""
    return int(t["ros_opened"])


def ros_delivered(t: Totals) -> int:
    """Repair orders delivered = count of VehicleDelivered, by day delivered."""
    return int(t["ros_delivered"])


def ros_customer_pay(t: Totals) -> int:
    """Customer-pay ROs = delivered ROs with a CUSTOMER_PAY share > 0 (an RO with customer
    and warranty work counts under both)."""
    return int(t["ros_customer_pay"])


def ros_warranty(t: Totals) -> int:
    """Warranty ROs = delivered ROs with a WARRANTY share > 0."""
    return int(t["ros_warranty"])


def ros_internal(t: Totals) -> int:
    """Internal ROs = delivered ROs with an INTERNAL share > 0."""
    return int(t["ros_internal"])


def revenue(t: Totals) -> Decimal:
    """Revenue = Σ grand_total of delivered ROs (VAT included, after discounts)."""
    return _amount(t["revenue_total"])


def revenue_customer_pay(t: Totals) -> Decimal:
    """Customer-pay revenue = Σ totals_by_pay_type.CUSTOMER_PAY of delivered ROs."""
    return _amount(t["revenue_customer_pay"])


def revenue_warranty(t: Totals) -> Decimal:
    """Warranty revenue = Σ totals_by_pay_type.WARRANTY of delivered ROs."""
    return _amount(t["revenue_warranty"])


def revenue_internal(t: Totals) -> Decimal:
    """Internal revenue = Σ totals_by_pay_type.INTERNAL of delivered ROs."""
    return _amount(t["revenue_internal"])


def hours_per_ro(t: Totals) -> Decimal | None:
    """Hours per RO = Σ labour_hours_sold ÷ delivered ROs."""
    return _ratio(t["labour_hours_sold"], t["ros_delivered"], CENTS)


def effective_labour_rate(t: Totals) -> Decimal | None:
    """Effective labour rate (CNY/hour) = Σ labour_total ÷ Σ labour_hours_sold."""
    return _ratio(t["labour_revenue"], t["labour_hours_sold"], CENTS)


def technician_efficiency(t: Totals) -> Decimal | None:
    """Technician efficiency = Σ flat-rate hours sold ÷ Σ hours clocked on those ROs."""
    return _ratio(t["labour_hours_sold"], t["clocked_hours"])


def quote_approval_rate(t: Totals) -> Decimal | None:
    """Quote approval rate (lines) = approved lines ÷ decided lines (approved + declined)."""
    return _ratio(t["lines_approved"], t["lines_quoted"])


def quote_approval_rate_value(t: Totals) -> Decimal | None:
    """Quote approval rate (value) = Σ approved line amounts ÷ Σ decided line amounts."""
    return _ratio(t["value_approved"], t["value_quoted"])


def declined_work_recapture(t: Totals) -> Decimal | None:
    """Declined-work recapture = declined lines later sold (an approved line for the same
    operation code or part number on the same VIN, decided after the decline) ÷ declined
    lines; counted on the day of the decline."""
    return _ratio(t["declined_recaptured"], t["lines_declined"])


def parts_fill_rate(t: Totals) -> Decimal | None:
    """Parts fill rate = part issues from stock (no emergency purchase) ÷ part issues."""
    return _ratio(t["parts_issues_from_stock"], t["parts_issues"])


def appointment_show_rate(t: Totals) -> Decimal | None:
    """Show rate = appointments checked in ÷ (appointments − cancelled), by slot day; a
    cancelled appointment was never expected, a no-show was."""
    return _ratio(t["appointments_arrived"],
                  int(t["appointments"]) - int(t["appointments_cancelled"]))


def on_time_delivery(t: Totals) -> Decimal | None:
    """On-time delivery = ROs delivered at or before promised_at ÷ ROs delivered."""
    return _ratio(t["delivered_on_time"], t["ros_delivered"])


def comeback_rate(t: Totals) -> Decimal | None:
    """Comeback rate = ROs repeating a concern (same code, else same words) of an RO of the
    same VIN opened at most N days earlier (default 30) ÷ ROs opened."""
    return _ratio(t["comebacks"], t["ros_opened"])


def qc_rework_rate(t: Totals) -> Decimal | None:
    """QC rework rate = failed quality checks (self or inspector) ÷ quality checks."""
    return _ratio(t["qc_failed"], t["qc_checks"])


def csi(t: Totals) -> Decimal | None:
    """CSI = mean survey score (0–10) = Σ scores ÷ surveys answered."""
    return _ratio(t["survey_score_sum"], t["surveys"], CENTS)


def nps(t: Totals) -> Decimal | None:
    """NPS = % promoters (9–10) − % detractors (0–6) = 100 × (P − D) ÷ surveys."""
    if not t["surveys"]:
        return None
    return _ratio(100 * (int(t["promoters"]) - int(t["detractors"])), t["surveys"], CENTS)


def reminder_booking_rate(t: Totals) -> Decimal | None:
    """Reminder conversion to booking = reminders with an appointment booked from them
    (AppointmentBooked.reminder_id) ÷ reminders raised, by day raised."""
    return _ratio(t["reminders_booked"], t["reminders"])


def reminder_arrival_rate(t: Totals) -> Decimal | None:
    """Reminder conversion to arrival = reminders whose appointment checked in ÷ reminders
    raised, by day raised."""
    return _ratio(t["reminders_arrived"], t["reminders"])


def lead_arrival_rate(t: Totals) -> Decimal | None:
    """Lead-to-arrival = appointments booked from a lead (lead_id) that checked in ÷
    appointments booked from a lead, by slot day."""
    return _ratio(t["lead_arrivals"], t["lead_appointments"])


def _cycle_time(stage: str) -> Callable[[Totals], Decimal | None]:
    def kpi(t: Totals) -> Decimal | None:
        return _ratio(Decimal(int(t[f"{stage}_seconds"])) / 3600, t[f"{stage}_count"], CENTS)

    label = stage.replace("_to_", " → ").replace("_", " ")
    kpi.__doc__ = (f"Cycle time {label} (hours) = Σ (end − start) ÷ delivered ROs having "
                   "both timestamps, by day delivered.")
    kpi.__name__ = f"cycle_time_{stage}"
    return kpi


CYCLE_STAGES = ("booking_to_reception", "reception_to_inspection", "inspection_to_approval",
                "approval_to_work_done", "work_done_to_qc", "qc_to_delivery")

KPIS: dict[str, Callable[[Totals], Any]] = {
    fn.__name__: fn for fn in (
        ro_count, ros_delivered, ros_customer_pay, ros_warranty, ros_internal, revenue,
        revenue_customer_pay, revenue_warranty, revenue_internal, hours_per_ro,
        effective_labour_rate, technician_efficiency,
        quote_approval_rate, quote_approval_rate_value, declined_work_recapture,
        parts_fill_rate, appointment_show_rate, on_time_delivery, comeback_rate,
        qc_rework_rate, csi, nps, reminder_booking_rate, reminder_arrival_rate,
        lead_arrival_rate, *(_cycle_time(stage) for stage in CYCLE_STAGES))
}


# Rankings put the best first: the highest value, except for these.
LOWER_IS_BETTER = frozenset({"comeback_rate", "qc_rework_rate",
                             *(f"cycle_time_{stage}" for stage in CYCLE_STAGES)})


def compute_all(totals: Totals) -> dict[str, Any]:
    """Every KPI of one set of totals, by name."""
    return {name: fn(totals) for name, fn in KPIS.items()}
