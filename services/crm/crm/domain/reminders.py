"""The reminder engine: who is due for what, and who must not be reminded. Plain Python.

Reasons (the contract's value set): MAINTENANCE by model schedule, INSURANCE and
ANNUAL_INSPECTION by the dates on the vehicle, DECLINED_WORK some days after the customer
declined a quote line, RECALL for vehicles a campaign names.

A reminder is raised when its due date falls within the reason's lead time of the run date.
Its id is derived from what it is about (vehicle, reason, due mileage or date, campaign,
declined line), so running the same day twice, or a day later, raises nothing twice.
"""

from __future__ import annotations

import math
import uuid
from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from contracts.vin import model_year as vin_model_year
from contracts.vocabulary import CONSENT_CHANNELS, CONSENT_PURPOSES, REMINDER_PURPOSE

MAINTENANCE = "MAINTENANCE"
INSURANCE = "INSURANCE"
ANNUAL_INSPECTION = "ANNUAL_INSPECTION"
DECLINED_WORK = "DECLINED_WORK"
RECALL = "RECALL"

# Consent purposes and channels (per customer; see Consents), as published in the contract.
SERVICE_MESSAGES = "SERVICE"
MARKETING = "MARKETING"
PURPOSES = CONSENT_PURPOSES
CHANNELS = CONSENT_CHANNELS

# The contract's rule, shared with notify: a recall is a service message, every other
# reminder invites a sale and is marketing (see contracts.payloads.REMINDER_PURPOSE).
PURPOSE_OF = REMINDER_PURPOSE

DEFAULT_KM_PER_DAY = 40
# Visits closer together than this say little about how much the car is driven.
MIN_DAYS_FOR_ESTIMATE = 30

OPTED_OUT = "OPTED_OUT"
ALREADY_BOOKED = "ALREADY_BOOKED"
NO_DEALER = "NO_DEALER"


@dataclass(frozen=True)
class MaintenanceSchedule:
    """First service at first_km or first_months, then every interval_km or interval_months,
    whichever comes first."""

    first_km: int = 5_000
    first_months: int = 6
    interval_km: int = 10_000
    interval_months: int = 12


DEFAULT_SCHEDULE = MaintenanceSchedule()


@dataclass(frozen=True)
class LeadTimes:
    """Days before the due date a reminder is raised, per reason; follow-up delay for
    declined work."""

    maintenance_days: int = 14
    insurance_days: int = 30
    inspection_days: int = 30
    declined_follow_up_days: int = 30


@dataclass(frozen=True)
class Visit:
    on: date
    mileage_km: int | None
    dealer_code: str


@dataclass(frozen=True)
class DeclinedLine:
    repair_order_id: str
    line_id: str
    dealer_code: str
    declined_on: date


@dataclass(frozen=True)
class Campaign:
    code: str
    starts_on: date
    vins: frozenset[str] = frozenset()
    model: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    operation_code: str | None = None
    completed: frozenset[str] = frozenset()  # VINs the campaign is done on

    def covers(self, vin: str, model: str | None) -> bool:
        """Whether the campaign is due on the car: named by it and not done on it yet."""
        if vin in self.completed:
            return False
        if vin in self.vins:
            return True
        if self.model is None:
            return False
        if not model or model.casefold() != self.model.casefold():
            return False
        year = model_year(vin)
        if year is None:
            return self.year_from is None and self.year_to is None
        return ((self.year_from is None or year >= self.year_from)
                and (self.year_to is None or year <= self.year_to))


@dataclass
class Consents:
    """What a customer allowed, per purpose and channel.

    Service messages are allowed until withdrawn (the customer is being served); marketing
    needs an explicit opt-in. A customer with no channel left for a purpose has opted out.
    """

    given: dict[tuple[str, str], bool] = field(default_factory=dict)

    def allows(self, purpose: str, channel: str) -> bool:
        explicit = self.given.get((purpose, channel))
        if explicit is not None:
            return explicit
        return purpose == SERVICE_MESSAGES

    def channels_for(self, purpose: str) -> list[str]:
        return [c for c in CHANNELS if self.allows(purpose, c)]



@dataclass
class VehicleFacts:
    vin: str
    customer_id: str
    model: str | None
    first_seen_on: date
    visits: list[Visit] = field(default_factory=list)
    insurance_expires_on: date | None = None
    inspection_due_on: date | None = None
    declined: list[DeclinedLine] = field(default_factory=list)
    consents: Consents = field(default_factory=Consents)
    has_open_appointment: bool = False
    last_dealer_code: str | None = None


@dataclass(frozen=True)
class MaintenanceDue:
    due_on: date
    due_mileage_km: int
    by: str  # "MILEAGE" or "TIME": which limit comes first


@dataclass(frozen=True)
class ReminderPlan:
    reminder_id: str
    reason: str
    customer_id: str
    vin: str
    dealer_code: str
    due_on: date
    due_mileage_km: int | None = None
    campaign_code: str | None = None
    source_repair_order_id: str | None = None


@dataclass
class RunResult:
    raised: list[ReminderPlan] = field(default_factory=list)
    suppressed: dict[str, int] = field(default_factory=dict)

    def suppress(self, why: str, count: int = 1) -> None:
        self.suppressed[why] = self.suppressed.get(why, 0) + count

    def add(self, other: RunResult) -> None:
        """Count another part of the run (a page of vehicles) in."""
        self.raised.extend(other.raised)
        for why, count in other.suppressed.items():
            self.suppress(why, count)


def add_months(day: date, months: int) -> date:
    """Same day of the month, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def model_year(vin: str) -> int | None:
    """The model year from the VIN's 10th character (cycle of 30 years; the later one that
    is not in the future is meant, so 'N' is 2022, not 1992). The rule is the contract's, so
    crm's reminders and the sites' reception agree on which cars a campaign covers."""
    if len(vin) != 17:
        return None
    return vin_model_year(vin, date.today().year + 1)


def km_per_day(visits: list[Visit], default: int = DEFAULT_KM_PER_DAY) -> float:
    """How far the car goes per day, from its own visits (first to last), else the default."""
    known = sorted((v for v in visits if v.mileage_km is not None), key=lambda v: v.on)
    if len(known) >= 2:
        days = (known[-1].on - known[0].on).days
        driven = known[-1].mileage_km - known[0].mileage_km  # type: ignore[operator]
        if days >= MIN_DAYS_FOR_ESTIMATE and driven > 0:
            return driven / days
    return float(default)


def maintenance_due(facts: VehicleFacts, schedule: MaintenanceSchedule = DEFAULT_SCHEDULE,
                    default_km_per_day: int = DEFAULT_KM_PER_DAY) -> MaintenanceDue:
    """The next service: by mileage or by time, whichever comes first.

    Until the car has passed the first-service mileage, the first service is due (months
    counted from when the platform first saw the car); after that, an interval after the
    last visit.
    """
    visits = sorted((v for v in facts.visits if v.mileage_km is not None), key=lambda v: v.on)
    rate = km_per_day(facts.visits, default_km_per_day)
    if visits:
        base_on, base_km = visits[-1].on, visits[-1].mileage_km or 0
    else:
        base_on, base_km = facts.first_seen_on, 0
    if base_km < schedule.first_km:
        due_km = schedule.first_km
        by_time = add_months(facts.first_seen_on, schedule.first_months)
    else:
        due_km = base_km + schedule.interval_km
        by_time = add_months(base_on, schedule.interval_months)
    by_mileage = base_on + timedelta(days=math.ceil((due_km - base_km) / rate))
    if by_mileage < by_time:
        return MaintenanceDue(by_mileage, due_km, "MILEAGE")
    return MaintenanceDue(by_time, due_km, "TIME")


def reminder_id(*parts: object) -> str:
    """Stable id of one reminder: the same facts give the same id on every run."""
    return "RMD-" + uuid.uuid5(uuid.NAMESPACE_URL, "crm:" + ":".join(map(str, parts))).hex[:24]


def suppression(reason: str, facts: VehicleFacts) -> str | None:
    """Why this customer must not be reminded for `reason`, or None."""
    if not facts.consents.channels_for(PURPOSE_OF[reason]):
        return OPTED_OUT
    if facts.has_open_appointment:
        return ALREADY_BOOKED
    return None


def due_for_vehicle(facts: VehicleFacts, run_on: date, campaigns: list[Campaign],
                    schedule: MaintenanceSchedule = DEFAULT_SCHEDULE,
                    lead: LeadTimes = LeadTimes(),
                    default_km_per_day: int = DEFAULT_KM_PER_DAY) -> list[ReminderPlan]:
    """Every reminder this vehicle is due for on `run_on`, before consent and bookings."""
    dealer = facts.last_dealer_code
    plans: list[ReminderPlan] = []

    def plan(reason: str, due_on: date, key: object, dealer_code: str | None = None,
             **extra: object) -> None:
        chosen = dealer_code or dealer
        if chosen:
            plans.append(ReminderPlan(reminder_id(reason, facts.vin, key), reason,
                                      facts.customer_id, facts.vin, chosen, due_on,
                                      **extra))  # type: ignore[arg-type]

    horizon = run_on + timedelta(days=lead.maintenance_days)
    due = maintenance_due(facts, schedule, default_km_per_day)
    if due.due_on <= horizon:
        plan(MAINTENANCE, due.due_on, due.due_mileage_km, due_mileage_km=due.due_mileage_km)
    if facts.insurance_expires_on and \
            facts.insurance_expires_on <= run_on + timedelta(days=lead.insurance_days):
        plan(INSURANCE, facts.insurance_expires_on, facts.insurance_expires_on)
    if facts.inspection_due_on and \
            facts.inspection_due_on <= run_on + timedelta(days=lead.inspection_days):
        plan(ANNUAL_INSPECTION, facts.inspection_due_on, facts.inspection_due_on)
    # One follow-up per repair order, however many of its lines were declined.
    first_declined: dict[str, DeclinedLine] = {}
    for line in sorted(facts.declined, key=lambda d: d.declined_on):
        first_declined.setdefault(line.repair_order_id, line)
    for ro_id, line in sorted(first_declined.items()):
        follow_up_on = line.declined_on + timedelta(days=lead.declined_follow_up_days)
        if follow_up_on <= run_on:
            plan(DECLINED_WORK, follow_up_on, ro_id, dealer_code=line.dealer_code,
                 source_repair_order_id=ro_id)
    for campaign in campaigns:
        if campaign.starts_on <= run_on and campaign.covers(facts.vin, facts.model):
            plan(RECALL, campaign.starts_on, campaign.code, campaign_code=campaign.code)
    return plans


def run_reminders(vehicles: list[VehicleFacts], run_on: date, campaigns: list[Campaign],
                  already_raised: set[str], **options: object) -> RunResult:
    """The day's reminders: due, not raised before, not opted out, not already booked."""
    result = RunResult()
    for facts in vehicles:
        for plan in due_for_vehicle(facts, run_on, campaigns, **options):  # type: ignore[arg-type]
            if plan.reminder_id in already_raised:
                continue
            why = suppression(plan.reason, facts)
            if why:
                result.suppress(why)
                continue
            already_raised.add(plan.reminder_id)
            result.raised.append(plan)
    return result


def schedule_for(schedules: Mapping[str, MaintenanceSchedule], model: str | None
                 ) -> MaintenanceSchedule:
    """The model's service schedule, or the default one for a model nobody set."""
    return schedules.get(model or "", DEFAULT_SCHEDULE)


def candidate_ids(page: list[VehicleFacts], run_on: date, campaigns: list[Campaign],
                  schedules: Mapping[str, MaintenanceSchedule], *, default_km_per_day: int
                  ) -> list[str]:
    """The ids of every reminder a page of vehicles is due for: the ones to look up among
    those raised before (one query per page, not per vehicle)."""
    return [plan.reminder_id for facts in page for plan in due_for_vehicle(
        facts, run_on, campaigns, schedule_for(schedules, facts.model),
        default_km_per_day=default_km_per_day)]


def run_page(page: list[VehicleFacts], run_on: date, campaigns: list[Campaign],
             already_raised: set[str], schedules: Mapping[str, MaintenanceSchedule], *,
             default_km_per_day: int) -> RunResult:
    """A page of the day's run, each vehicle on its model's schedule."""
    total = RunResult()
    for facts in page:
        total.add(run_reminders([facts], run_on, campaigns, already_raised,
                                schedule=schedule_for(schedules, facts.model),
                                default_km_per_day=default_km_per_day))
    return total


def due_event_data(plan: ReminderPlan, raised_at: datetime) -> dict[str, Any]:
    """ReminderDue's data for a raised reminder."""
    data: dict[str, Any] = {
        "reminder_id": plan.reminder_id, "reason": plan.reason,
        "customer_id": plan.customer_id, "vin": plan.vin, "dealer_code": plan.dealer_code,
        "due_on": plan.due_on.isoformat(), "raised_at": raised_at.isoformat()}
    for name in ("due_mileage_km", "campaign_code", "source_repair_order_id"):
        if getattr(plan, name) is not None:
            data[name] = getattr(plan, name)
    return data
