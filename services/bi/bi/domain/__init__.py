"""BI's rules in plain Python: which day a fact belongs to, comebacks, recaptured declined
work, and the measures of one dealer-day (what `daily_rollups` stores).

Everything here is a function of the facts alone, never of the order events arrived in:
that is what makes the projections order-independent and a replay equal to the live result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

COMEBACK_WINDOW_DAYS = 30
UNASSIGNED = "UNASSIGNED"  # the region of a dealer nobody put in one
PROMOTER_MIN, DETRACTOR_MAX = 9, 6

STAGES: tuple[tuple[str, str, str], ...] = (
    # (stage name, from timestamp, to timestamp) — booking → … → delivery
    ("booking_to_reception", "booked_at", "opened_at"),
    ("reception_to_inspection", "opened_at", "inspected_at"),
    ("inspection_to_approval", "inspected_at", "approved_at"),
    ("approval_to_work_done", "approved_at", "work_done_at"),
    ("work_done_to_qc", "work_done_at", "qc_passed_at"),
    ("qc_to_delivery", "qc_passed_at", "delivered_at"),
)

Row = Mapping[str, Any]

# The measures every KPI is computed from (kpis.py): sums over any set of dealer-days add up.
ROLLUP_MEASURES: tuple[str, ...] = (
    "appointments", "appointments_cancelled", "appointments_no_show", "appointments_arrived",
    "lead_appointments", "lead_arrivals",
    "reminders", "reminders_booked", "reminders_arrived",
    "ros_opened", "comebacks",
    "ros_delivered", "delivered_on_time",
    "ros_customer_pay", "ros_warranty", "ros_internal",
    "revenue_total", "revenue_customer_pay", "revenue_warranty", "revenue_internal",
    "labour_revenue", "parts_revenue", "labour_hours_sold", "clocked_hours",
    "lines_quoted", "lines_approved", "lines_declined",
    "value_quoted", "value_approved", "value_declined", "declined_recaptured",
    "parts_issues", "parts_issues_from_stock",
    "qc_checks", "qc_failed",
    "surveys", "survey_score_sum", "promoters", "detractors",
    *(f"{stage}_{part}" for stage in (
        "booking_to_reception", "reception_to_inspection", "inspection_to_approval",
        "approval_to_work_done", "work_done_to_qc", "qc_to_delivery")
      for part in ("seconds", "count")),
)
DECIMAL_MEASURES = frozenset({
    "revenue_total", "revenue_customer_pay", "revenue_warranty", "revenue_internal",
    "labour_revenue", "parts_revenue", "labour_hours_sold", "clocked_hours",
    "value_quoted", "value_approved", "value_declined"})


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def local_day(value: str | datetime) -> date:
    """The calendar day at the dealer: events carry the site's UTC offset, so the date as
    written is the dealer's own day (a 23:30+08:00 delivery counts for that evening)."""
    moment = parse_time(value) if isinstance(value, str) else value
    return moment.date()


def concern_keys(concerns: Iterable[Mapping[str, Any]]) -> list[str]:
    """What identifies "the same concern": the symptom code, else the words, normalised."""
    keys = set()
    for concern in concerns:
        code = concern.get("code")
        keys.add(f"code:{code}" if code else "text:" + " ".join(
            str(concern.get("description", "")).lower().split()))
    return sorted(keys)


def work_key(line: Mapping[str, Any]) -> str:
    """What makes two quote lines "the same work": the labour operation or the part number."""
    if line["kind"] == "LABOUR":
        return f"LABOUR:{line.get('operation_code', '')}"
    return f"PART:{line.get('part_number', '')}"


@dataclass(frozen=True)
class Visit:
    """One repair order of a vehicle, for comeback detection."""

    repair_order_id: str
    opened_at: datetime
    concerns: tuple[str, ...]


def comebacks(visits: Iterable[Visit], window_days: int = COMEBACK_WINDOW_DAYS) -> set[str]:
    """Repair orders that repeat a concern of an earlier visit of the same vehicle opened at
    most `window_days` before (返修): the later visit is the comeback."""
    ordered = sorted(visits, key=lambda v: (v.opened_at, v.repair_order_id))
    window = timedelta(days=window_days)
    found = set()
    for index, later in enumerate(ordered):
        for earlier in ordered[:index]:
            if (timedelta(0) < later.opened_at - earlier.opened_at <= window
                    and set(later.concerns) & set(earlier.concerns)):
                found.add(later.repair_order_id)
                break
    return found


@dataclass(frozen=True)
class LineDecision:
    """A quote line of one vehicle as the customer decided it."""

    key: tuple[str, str]  # (repair order id, line id)
    work_key: str
    approved: bool
    decided_at: datetime


def recaptured(lines: Iterable[LineDecision]) -> set[tuple[str, str]]:
    """Declined lines of a vehicle that were later sold: an approved line for the same work
    on the same vehicle decided after the decline."""
    lines = list(lines)
    return {declined.key for declined in lines if not declined.approved and any(
        sold.approved and sold.work_key == declined.work_key
        and sold.decided_at > declined.decided_at for sold in lines)}


def appointment_status(current: tuple[str, int] | None, status: str,
                       sequence: int) -> tuple[str, int]:
    """The status of the latest event in the appointment's own sequence wins."""
    if current is None or sequence >= current[1]:
        return status, sequence
    return current


def earliest(current: datetime | None, new: datetime) -> datetime:
    return new if current is None or new < current else current


def latest(current: datetime | None, new: datetime) -> datetime:
    return new if current is None or new > current else current


@dataclass(frozen=True)
class DayFacts:
    """The facts that make up one dealer-day, each list holding that day's rows."""

    appointments: list[Row]
    reminders: list[Row]  # with `booked` and `arrived` flags from their appointments
    opened: list[Row]  # repair orders opened that day
    delivered: list[Row]  # repair orders delivered that day, with the appointment `booked_at`
    lines: list[Row]
    issues: list[Row]
    checks: list[Row]
    surveys: list[Row]


def empty_measures() -> dict[str, Any]:
    return {name: Decimal("0") if name in DECIMAL_MEASURES else 0 for name in ROLLUP_MEASURES}


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal("0")


def day_measures(facts: DayFacts) -> dict[str, Any]:
    """The rollup row of one dealer-day from its facts (every measure is a sum or a count,
    so rows of many days and dealers add up to the measures of the whole)."""
    m = empty_measures()
    for a in facts.appointments:
        m["appointments"] += 1
        arrived = a["status"] == "CHECKED_IN"
        m["appointments_cancelled"] += a["status"] == "CANCELLED"
        m["appointments_no_show"] += a["status"] == "NO_SHOW"
        m["appointments_arrived"] += arrived
        if a.get("lead_id"):
            m["lead_appointments"] += 1
            m["lead_arrivals"] += arrived
    for r in facts.reminders:
        m["reminders"] += 1
        m["reminders_booked"] += bool(r["booked"])
        m["reminders_arrived"] += bool(r["arrived"])
    for ro in facts.opened:
        m["ros_opened"] += 1
        m["comebacks"] += bool(ro["comeback"])
    for ro in facts.delivered:
        m["ros_delivered"] += 1
        promised = ro["promised_at"]
        m["delivered_on_time"] += bool(promised and ro["delivered_at"] <= promised)
        # An RO counts once for each pay type that has a share of its invoice.
        m["ros_customer_pay"] += _money(ro["customer_pay"]) > 0
        m["ros_warranty"] += _money(ro["warranty"]) > 0
        m["ros_internal"] += _money(ro["internal"]) > 0
        m["revenue_total"] += _money(ro["grand_total"])
        m["revenue_customer_pay"] += _money(ro["customer_pay"])
        m["revenue_warranty"] += _money(ro["warranty"])
        m["revenue_internal"] += _money(ro["internal"])
        m["labour_revenue"] += _money(ro["labour_total"])
        m["parts_revenue"] += _money(ro["parts_total"])
        m["labour_hours_sold"] += _money(ro["labour_hours_sold"])
        m["clocked_hours"] += _money(ro["clocked_hours"])
        for stage, start, end in STAGES:
            began, ended = ro.get(start), ro.get(end)
            if began is not None and ended is not None and ended >= began:
                m[f"{stage}_seconds"] += int((ended - began).total_seconds())
                m[f"{stage}_count"] += 1
    for line in facts.lines:
        amount = _money(line["amount"])
        m["lines_quoted"] += 1
        m["value_quoted"] += amount
        if line["approved"]:
            m["lines_approved"] += 1
            m["value_approved"] += amount
        else:
            m["lines_declined"] += 1
            m["value_declined"] += amount
            m["declined_recaptured"] += bool(line["recaptured"])
    for issue in facts.issues:
        m["parts_issues"] += 1
        m["parts_issues_from_stock"] += bool(issue["from_stock"])
    for check in facts.checks:
        m["qc_checks"] += 1
        m["qc_failed"] += not check["passed"]
    for survey in facts.surveys:
        m["surveys"] += 1
        m["survey_score_sum"] += survey["score"]
        m["promoters"] += survey["score"] >= PROMOTER_MIN
        m["detractors"] += survey["score"] <= DETRACTOR_MAX
    return {k: int(v) if k not in DECIMAL_MEASURES else v for k, v in m.items()}


def month_sums(daily: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The monthly rollup rows of these daily rows (each with `dealer_code`, `day` and every
    measure): the sum of a dealer-month's days, as the live projection keeps it."""
    months: dict[tuple[str, date], dict[str, Any]] = {}
    for row in daily:
        key = (row["dealer_code"], row["day"].replace(day=1))
        sums = months.get(key)
        if sums is None:
            months[key] = sums = {"dealer_code": key[0], "month": key[1], **empty_measures()}
        for name in ROLLUP_MEASURES:
            sums[name] += row[name]
    return list(months.values())


@dataclass(frozen=True)
class Scope:
    """Which dealer-days a question is about: `to` included."""

    first: date
    last: date
    dealer_code: str | None = None
    region: str | None = None
