"""crm's unit of work in memory: the stores' methods the use cases call, over plain dicts, and
the chassis' fake events (checked against their contracts). No database, no broker, no
files, no keys: phone numbers are matched on their normal form instead of a blind index.

Rows are `SimpleNamespace`s with the columns' names, as the real stores' rows have them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from chassis.unit_of_work import FakeUnitOfWork
from contracts.payloads import consent_supersedes
from crm.domain import reminders as rules
from crm.domain.leads import LeadFacts
from crm.privacy import normalise_phone

Row = SimpleNamespace
# The tables that name a customer, and so follow two records found to be one person.
CUSTOMER_TABLES = ("vehicles", "visits", "declined", "appointments", "reminders", "surveys",
                   "complaints", "leads")
RECORD_ORDER = {"visits": "opened_at", "declined": "declined_at",
                "appointments": "slot_start", "reminders": "due_on",
                "surveys": "delivered_at", "complaints": "opened_at"}


class Tables:
    """Every table, keyed by its primary key."""

    def __init__(self) -> None:
        self.customers: dict[str, Row] = {}
        self.aliases: dict[str, str] = {}
        self.consents: dict[tuple[str, str, str], Row] = {}
        self.campaigns: dict[str, Row] = {}
        self.recall_completions: dict[tuple[str, str], Row] = {}
        self.schedules: dict[str, Row] = {}
        self.lead_contacts: list[Row] = []
        for name in CUSTOMER_TABLES:
            setattr(self, name, {})

    def of_customer(self, name: str, customer_id: str) -> list[Row]:
        return [row for row in getattr(self, name).values() if row.customer_id == customer_id]


class FakeCustomers:
    def __init__(self, tables: Tables) -> None:
        self.t = tables
        self.projection_turns = 0  # how often a writer asked for the projection's turn

    def lock_projection(self) -> None:
        self.projection_turns += 1

    def resolve_customer(self, alias: str, seen_at: datetime, *, phone: str | None = None,
                         name: str | None = None) -> str:
        by_alias = self.t.aliases.get(alias)
        by_phone = next((c.id for c in self.t.customers.values()
                         if phone and c.phone == normalise_phone(phone)), None)
        if by_phone and by_alias and by_phone != by_alias:
            self._merge(keep=by_phone, gone=by_alias)
        customer_id = by_phone or by_alias
        if customer_id is None:
            customer_id = alias if alias not in self.t.customers else f"crm-{len(self.t.customers)}"
            self.t.customers[customer_id] = Row(id=customer_id, name=None, phone=None,
                                                id_number=None, contact_as_of=None,
                                                first_seen_at=seen_at)
        customer = self.t.customers[customer_id]
        customer.first_seen_at = min(customer.first_seen_at, seen_at)
        self.t.aliases[alias] = customer_id
        if phone and name and (customer.contact_as_of is None or customer.contact_as_of < seen_at):
            customer.phone, customer.name = normalise_phone(phone), name
            customer.contact_as_of = seen_at
        return customer_id

    def _merge(self, keep: str, gone: str) -> None:
        for alias, customer_id in list(self.t.aliases.items()):
            if customer_id == gone:
                self.t.aliases[alias] = keep
        for name in CUSTOMER_TABLES:
            for row in self.t.of_customer(name, gone):
                row.customer_id = keep
        for key, row in list(self.t.consents.items()):
            if key[0] == gone:
                del self.t.consents[key]
                self.record_consent(keep, row.purpose, [row.channel], row.granted,
                                    row.recorded_at, row.recorded_by)
        del self.t.customers[gone]

    def record_consent(self, customer_id: str, purpose: str, channels: list[str],
                       granted: bool, at: datetime, by: str) -> list[str]:
        changed = []
        for channel in dict.fromkeys(channels):
            stored = self.t.consents.get((customer_id, purpose, channel))
            if not consent_supersedes(stored and (stored.granted, stored.recorded_at),
                                      granted, at):
                continue
            self.t.consents[(customer_id, purpose, channel)] = Row(
                customer_id=customer_id, purpose=purpose, channel=channel, granted=granted,
                recorded_at=at, recorded_by=by)
            if stored is None or stored.granted != granted:
                changed.append(channel)
        return changed

    def aliases_of(self, customer_id: str) -> list[str]:
        return sorted(a for a, c in self.t.aliases.items() if c == customer_id and a != c)

    def touch_vehicle(self, vin: str, at: datetime, *, customer_id: str | None = None,
                      plate: str | None = None, model: str | None = None) -> None:
        car = self.t.vehicles.get(vin)
        if car is None:
            self.t.vehicles[vin] = Row(vin=vin, plate=plate, model=model,
                                       customer_id=customer_id,
                                       described_as_of=at if (plate or model) else None,
                                       owner_as_of=at if customer_id else None,
                                       first_seen_on=at.date(), insurance_expires_on=None,
                                       inspection_due_on=None)
            return
        car.first_seen_on = min(car.first_seen_on, at.date())
        if (plate or model) and (car.described_as_of is None or at > car.described_as_of):
            car.described_as_of, car.plate = at, plate or car.plate
            car.model = model or car.model
        if customer_id and (car.owner_as_of is None or at > car.owner_as_of):
            car.owner_as_of, car.customer_id = at, customer_id

    def set_vehicle_dates(self, vin: str, changes: dict[str, date | None]) -> bool:
        car = self.t.vehicles.get(vin)
        if car is not None:
            vars(car).update(changes)
        return car is not None

    def record_visit(self, dealer_code: str, repair_order_id: str, values: dict[str, Any]
                     ) -> None:
        _fill(self.t.visits, (dealer_code, repair_order_id), values,
              dealer_code=dealer_code, repair_order_id=repair_order_id, opened_at=None,
              delivered_at=None, mileage_in_km=None, mileage_out_km=None)

    def record_declined(self, dealer_code: str, repair_order_id: str, line: dict[str, Any],
                        **values: Any) -> None:
        self.t.declined.setdefault((dealer_code, repair_order_id, line["line_id"]), Row(
            dealer_code=dealer_code, repair_order_id=repair_order_id, line_id=line["line_id"],
            kind=line["kind"], description=line["description"], amount=line["amount"],
            **values))

    def record_appointment(self, dealer_code: str, appointment_id: str, sequence: int,
                           status: str, slot_start: datetime, details: dict[str, Any]) -> None:
        key = (dealer_code, appointment_id)
        row = self.t.appointments.get(key)
        if row is None:
            self.t.appointments[key] = Row(dealer_code=dealer_code,
                                           appointment_id=appointment_id, status=status,
                                           slot_start=slot_start, status_sequence=sequence,
                                           **{"vin": None, "lead_id": None, **details})
            return
        vars(row).update(details)
        if sequence > row.status_sequence:
            row.status, row.slot_start, row.status_sequence = status, slot_start, sequence

    def search(self, *, phone: str | None = None, name: str | None = None,
               plate: str | None = None, vin: str | None = None, limit: int = 20) -> list[str]:
        found = []
        for c in sorted(self.t.customers.values(), key=lambda c: c.id):
            cars = self.t.of_customer("vehicles", c.id)
            if ((not phone or c.phone == normalise_phone(phone))
                    and (not name or c.name == name)
                    and (not plate or any(v.plate == plate for v in cars))
                    and (not vin or any(v.vin == vin for v in cars))):
                found.append(c.id)
        return found[:limit]

    def customer(self, customer_id: str) -> Row | None:
        return self.t.customers.get(customer_id)

    def customer_of_alias(self, alias: str) -> str | None:
        return self.t.aliases.get(alias)

    def customer_by_phone(self, phone: str) -> str | None:
        return self.search(phone=phone)[0] if self.search(phone=phone) else None

    def set_id_number(self, customer_id: str, id_number: str) -> bool:
        customer = self.t.customers.get(customer_id)
        if customer is not None:
            customer.id_number = id_number
        return customer is not None

    def vehicles_of(self, customer_id: str) -> list[Row]:
        return sorted(self.t.of_customer("vehicles", customer_id), key=lambda v: v.vin)

    def visits_of(self, customer_id: str) -> list[Row]:
        return self.t.of_customer("visits", customer_id)

    def vehicle(self, vin: str) -> tuple[Row, list[Row]] | None:
        car = self.t.vehicles.get(vin)
        if car is None:
            return None
        return car, [v for v in self.t.visits.values() if v.vin == vin]

    def records(self, customer_id: str, dealer: str | None) -> dict[str, list[Row]]:
        found = {}
        for name, newest in RECORD_ORDER.items():
            rows = [r for r in self.t.of_customer(name, customer_id)
                    if dealer is None or r.dealer_code == dealer]
            found[name] = sorted(rows, key=lambda r: _sortable(getattr(r, newest, None)),
                                 reverse=True)
        return found

    def consents_of(self, customer_id: str) -> list[Row]:
        return sorted((r for r in self.t.consents.values() if r.customer_id == customer_id),
                      key=lambda r: r.purpose)


class FakeReminders:
    """The run reads `fleet`: the vehicles' facts as the real store would gather them."""

    def __init__(self, tables: Tables) -> None:
        self.t = tables
        self.fleet: list[rules.VehicleFacts] = []

    def campaign_exists(self, code: str) -> bool:
        return code in self.t.campaigns

    def add_campaign(self, campaign: dict[str, Any], vins: list[str], *, at: datetime,
                     by: str) -> None:
        self.t.campaigns[campaign["code"]] = Row(**campaign, vins=list(vins), created_at=at,
                                                 created_by=by)

    def put_schedule(self, model: str, schedule: dict[str, int], *, at: datetime, by: str
                     ) -> None:
        self.t.schedules[model] = Row(model=model, **schedule, updated_at=at, updated_by=by)

    def campaigns(self, run_on: date) -> list[rules.Campaign]:
        return [_campaign(self.t, c, vins=frozenset(c.vins))
                for c in self.t.campaigns.values() if c.starts_on <= run_on]

    def schedules(self) -> dict[str, rules.MaintenanceSchedule]:
        return {s.model: rules.MaintenanceSchedule(s.first_km, s.first_months, s.interval_km,
                                                   s.interval_months)
                for s in self.t.schedules.values()}

    def vehicle_facts(self, run_start: datetime, after_vin: str, limit: int
                      ) -> list[rules.VehicleFacts]:
        return sorted((f for f in self.fleet if f.vin > after_vin), key=lambda f: f.vin)[:limit]

    def raised_among(self, ids: Iterable[str]) -> set[str]:
        return set(ids) & set(self.t.reminders)

    def add(self, plan: rules.ReminderPlan, *, raised_on: date) -> None:
        self.t.reminders[plan.reminder_id] = Row(**vars(plan), id=plan.reminder_id,
                                                 raised_on=raised_on, status="RAISED")

    def mark_booked(self, reminder_id: str) -> None:
        if reminder_id in self.t.reminders:
            self.t.reminders[reminder_id].status = "BOOKED"

    def due_list(self, dealer_code: str, by: date, reason: str | None) -> list[Row]:
        return sorted((r for r in self.t.reminders.values()
                       if r.dealer_code == dealer_code and r.due_on <= by
                       and r.status == "RAISED" and (not reason or r.reason == reason)),
                      key=lambda r: (r.due_on, r.id))


class FakeSurveys:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def add(self, *, survey_id: str, **values: Any) -> None:
        self.t.surveys.setdefault(survey_id, Row(id=survey_id, **values, requested_at=None,
                                                 answered_at=None, score=None, comment=None,
                                                 channel=None))

    def due(self, at: datetime, limit: int) -> list[Row]:
        return sorted((s for s in self.t.surveys.values()
                       if s.requested_at is None and s.due_at <= at),
                      key=lambda s: s.due_at)[:limit]

    def mark_requested(self, survey_id: str, at: datetime) -> None:
        self.t.surveys[survey_id].requested_at = at

    def for_answer(self, survey_id: str) -> Row | None:
        return self.t.surveys.get(survey_id)

    def get(self, survey_id: str) -> Row | None:
        return self.t.surveys.get(survey_id)

    def record_answer(self, survey_id: str, *, at: datetime, score: int, comment: str | None,
                      channel: str) -> None:
        vars(self.t.surveys[survey_id]).update(answered_at=at, score=score, comment=comment,
                                               channel=channel)

    def open_complaint(self, *, complaint_id: str, survey: Row, score: int,
                       comment: str | None, owner: str, due_on: date, at: datetime) -> None:
        self.t.complaints[complaint_id] = Row(
            id=complaint_id, survey_id=survey.id, customer_id=survey.customer_id,
            dealer_code=survey.dealer_code, repair_order_id=survey.repair_order_id,
            score=score, comment=comment, owner=owner, due_on=due_on, status="OPEN",
            opened_at=at, closed_at=None, resolution=None)

    def complaints(self, dealer_code: str | None, status: str | None) -> list[Row]:
        return sorted((c for c in self.t.complaints.values()
                       if (not dealer_code or c.dealer_code == dealer_code)
                       and (not status or c.status == status)),
                      key=lambda c: (c.due_on, c.id))

    def complaint(self, complaint_id: str, *, lock: bool = False) -> Row | None:
        return self.t.complaints.get(complaint_id)

    def close_complaint(self, complaint_id: str, *, at: datetime, resolution: str) -> None:
        vars(self.t.complaints[complaint_id]).update(status="CLOSED", closed_at=at,
                                                     resolution=resolution)


class FakeLeads:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def add(self, *, lead_id: str, **values: Any) -> None:
        self.t.leads[lead_id] = Row(id=lead_id, **values, assigned_to=None,
                                    first_contacted_at=None, appointment_id=None)

    def get(self, lead_id: str, *, lock: bool = False) -> Row | None:
        return self.t.leads.get(lead_id)

    def update(self, lead_id: str, **changes: Any) -> bool:
        lead = self.t.leads.get(lead_id)
        if lead is not None:
            vars(lead).update(changes)
        return lead is not None

    def add_contact(self, lead_id: str, *, agent: str, outcome: str, note: str | None,
                    at: datetime) -> None:
        self.t.lead_contacts.append(Row(lead_id=lead_id, agent=agent, outcome=outcome,
                                        note=note, contacted_at=at))

    def listed(self, *, dealer_code: str | None, status: str | None,
               new_and_due_before: datetime | None) -> list[Row]:
        return sorted((x for x in self.t.leads.values()
                       if (not dealer_code or x.dealer_code == dealer_code)
                       and (not status or x.status == status)
                       and (new_and_due_before is None or (
                           x.status == "NEW" and x.first_contact_due_at < new_and_due_before))),
                      key=lambda x: (x.first_contact_due_at, x.id))

    def funnel_facts(self, start: datetime, end: datetime, dealer_code: str | None
                     ) -> list[LeadFacts]:
        return [LeadFacts(x.status, x.first_contact_due_at, x.first_contacted_at)
                for x in self.t.leads.values()
                if start <= x.received_at < end and (not dealer_code
                                                     or x.dealer_code == dealer_code)]

    def of_appointment(self, dealer_code: str, appointment_id: str
                       ) -> tuple[str, str, str] | None:
        appointment = self.t.appointments.get((dealer_code, appointment_id))
        if appointment is None or appointment.lead_id not in self.t.leads:
            return None
        return appointment.lead_id, self.t.leads[appointment.lead_id].status, appointment.status


def _campaign(t: Tables, c: Row, **sets: frozenset[str]) -> rules.Campaign:
    done = frozenset(vin for code, vin in t.recall_completions if code == c.code)
    optional = {k: getattr(c, k, None) for k in ("model", "year_from", "year_to",
                                                 "operation_code")}
    return rules.Campaign(code=c.code, starts_on=c.starts_on, completed=done, **optional,
                          **sets)


class FakeRecalls:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def campaigns_of_operations(self, operations: list[str], vin: str
                                ) -> tuple[list[rules.Campaign], set[str]]:
        found = [c for c in self.t.campaigns.values()
                 if getattr(c, "operation_code", None) in operations]
        return ([_campaign(self.t, c) for c in found],
                {c.code for c in found if vin in c.vins})

    def record(self, data: dict[str, Any]) -> bool:
        key = (data["campaign_code"], data["vin"])
        if key in self.t.recall_completions:
            return False
        self.t.recall_completions[key] = Row(**data)
        return True


class FakeCrmUnitOfWork(FakeUnitOfWork):
    """crm's unit of work with in-memory stores; `emitted` holds the validated events."""

    def __init__(self) -> None:
        super().__init__()
        self.tables = Tables()
        self.customers = FakeCustomers(self.tables)
        self.reminders = FakeReminders(self.tables)
        self.surveys = FakeSurveys(self.tables)
        self.leads = FakeLeads(self.tables)
        self.recalls = FakeRecalls(self.tables)

    def events_of(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.emitted if e["type"] == event_type]


def _fill(table: dict[Any, Row], key: Any, values: dict[str, Any], **blank: Any) -> None:
    """Fill in the given columns of one row, creating it when it is the first event."""
    row = table.get(key)
    if row is None:
        table[key] = row = Row(**blank)
    vars(row).update(values)


def _sortable(value: Any) -> Any:
    # Dates and times sort together by their ISO text; a missing one sorts last.
    return value.isoformat() if value is not None else ""
