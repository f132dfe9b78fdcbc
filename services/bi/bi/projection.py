"""The projection: events of every site → facts → rollups per dealer and day.

`Projection.apply` turns one event into fact rows and remembers which dealer-days it
touched; `flush` recomputes those rollup rows from their facts. Recomputing a dealer-day (a
hundred-odd facts) instead of adding deltas is what makes the result independent of arrival
order and duplicates: a rollup row is always a function of the facts, and each fact keeps
the latest state by the aggregate's own `sequence`.

The rules (`FactRules`) read and write facts through a small store (`Facts`): BI's tables
for the live `Projection`, dicts for `rebuild`, which replays the whole log in memory and
writes the facts and rollups in bulk. One set of rules, so a rebuild equals the live result.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

import psycopg2.extensions
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bi import domain
from bi.models import (
    FACT_TABLES,
    appointment_facts,
    daily_rollups,
    event_log,
    monthly_rollups,
    part_issue_facts,
    projection_lock,
    quality_check_facts,
    quote_line_facts,
    reminder_facts,
    repair_order_facts,
    survey_facts,
)
from contracts import events

DealerDay = tuple[str, date]
Progress = Callable[[int, int], None]

_APPOINTMENT_STATUS = {
    events.AppointmentConfirmed.type: "CONFIRMED",
    events.AppointmentCancelled.type: "CANCELLED",
    events.AppointmentNoShow.type: "NO_SHOW",
    events.AppointmentCheckedIn.type: "CHECKED_IN",
}


def _utc(value: datetime | None) -> datetime | None:
    """Stored moments are UTC; SQLite hands them back without a zone."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _moment(text: str | None) -> datetime | None:
    return _utc(domain.parse_time(text)) if text else None


def _plain(row: Any) -> dict[str, Any]:
    return {k: _utc(v) if isinstance(v, datetime) else v for k, v in row._mapping.items()}


# Personal data no KPI needs: names, phones, plates, addresses, customers' own words.
_PERSONAL = frozenset({"name", "phone", "plate", "pickup_address", "comment"})


def without_personal_data(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope as BI logs it, without the personal data it never uses (PIPL: collect
    what is needed). The VIN stays: comebacks and recaptured work are per vehicle."""
    def strip(part: dict[str, Any]) -> dict[str, Any]:
        return {k: strip(v) if isinstance(v, dict) else v for k, v in part.items()
                if k not in _PERSONAL}

    return {**envelope, "data": strip(envelope["data"])}


class Facts(Protocol):
    """Where the projection's rules read and write fact rows: the database (live) or memory
    (a rebuild, which starts from empty tables). Rows are plain dicts of every column; the
    rules copy a row before changing it and write changes through `save` and `mark` only."""

    def row(self, table: sa.Table, **key: Any) -> dict[str, Any] | None:
        """The row with this primary key, locked for the transaction."""

    def rows_where(self, table: sa.Table, column: str, value: Any) -> list[dict[str, Any]]:
        """Every row whose `column` equals `value`."""

    def save(self, table: sa.Table, before: dict[str, Any] | None, after: dict[str, Any],
             **key: Any) -> None:
        """Insert `after` (when `before` is None) or write the columns that changed."""

    def mark(self, table: sa.Table, key: dict[str, Any], **values: Any) -> None:
        """Set flags of an existing row (never a column rows are looked up by)."""


class DatabaseFacts:
    """Facts in BI's tables, within the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, table: sa.Table, **key: Any) -> dict[str, Any] | None:
        query = sa.select(table).where(*(table.c[k] == v for k, v in key.items()))
        found = self.session.execute(query.with_for_update()).first()
        return _plain(found) if found else None

    def rows_where(self, table: sa.Table, column: str, value: Any) -> list[dict[str, Any]]:
        return [_plain(r) for r in self.session.execute(
            sa.select(table).where(table.c[column] == value))]

    def save(self, table: sa.Table, before: dict[str, Any] | None, after: dict[str, Any],
             **key: Any) -> None:
        if before is None:
            self.session.execute(table.insert().values(**key, **after))
        else:
            changes = {k: v for k, v in after.items() if before.get(k) != v}
            if changes:
                self.session.execute(table.update().where(
                    *(table.c[k] == v for k, v in key.items())).values(**changes))

    def mark(self, table: sa.Table, key: dict[str, Any], **values: Any) -> None:
        self.session.execute(table.update().where(
            *(table.c[k] == v for k, v in key.items())).values(**values))


# The columns a rebuild looks rows up by, besides the primary key.
_MEMORY_INDEXES: dict[str, tuple[str, ...]] = {
    repair_order_facts.name: ("appointment_id", "vin"),
    quote_line_facts.name: ("vin",),
}


class MemoryFacts:
    """Facts in dicts, as the database would hand them back (defaults filled in, amounts
    rounded to the column's scale), for a rebuild that writes them in bulk at the end."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {
            t.name: {} for t in FACT_TABLES}
        self._keys = {t.name: tuple(c.name for c in t.primary_key.columns) for t in FACT_TABLES}
        self._blank = {t.name: {c.name: c.default.arg if c.default is not None
                                and c.default.is_scalar else None for c in t.columns}
                       for t in FACT_TABLES}
        self._scales = {t.name: {c.name: Decimal(1).scaleb(-c.type.scale) for c in t.columns
                                 if isinstance(c.type, sa.Numeric) and c.type.scale is not None}
                        for t in FACT_TABLES}
        self._indexes: dict[tuple[str, str], dict[Any, set[tuple[Any, ...]]]] = {
            (name, column): {} for name, columns in _MEMORY_INDEXES.items()
            for column in columns}

    def rows(self, table: sa.Table) -> Iterable[dict[str, Any]]:
        return self.tables[table.name].values()

    def row(self, table: sa.Table, **key: Any) -> dict[str, Any] | None:
        return self.tables[table.name].get(tuple(key[k] for k in self._keys[table.name]))

    def rows_where(self, table: sa.Table, column: str, value: Any) -> list[dict[str, Any]]:
        stored = self.tables[table.name]
        if self._keys[table.name] == (column,):
            found = stored.get((value,))
            return [found] if found else []
        return [stored[k] for k in self._indexes[table.name, column].get(value, ())]

    def save(self, table: sa.Table, before: dict[str, Any] | None, after: dict[str, Any],
             **key: Any) -> None:
        name = table.name
        k = tuple(key[c] for c in self._keys[name])
        old = self.tables[name].get(k)
        new = {**(old or self._blank[name]), **after, **key}
        for column, quantum in self._scales[name].items():
            value = new[column]
            if value is not None and (old is None or value is not old[column]):
                new[column] = Decimal(value).quantize(quantum, ROUND_HALF_UP)
        self.tables[name][k] = new
        for column in _MEMORY_INDEXES.get(name, ()):
            index = self._indexes[name, column]
            if old is not None and old[column] is not None:
                index[old[column]].discard(k)
            if new[column] is not None:
                index.setdefault(new[column], set()).add(k)

    def mark(self, table: sa.Table, key: dict[str, Any], **values: Any) -> None:
        self.tables[table.name][tuple(key[c] for c in self._keys[table.name])].update(values)

    def day_facts(self, days: Iterable[DealerDay]) -> dict[DealerDay, domain.DayFacts]:
        """The facts of each of these dealer-days, as `day_facts` reads one from the tables."""
        found = {day: domain.DayFacts([], [], [], [], [], [], [], []) for day in days}
        appointments = self.tables[appointment_facts.name]
        statuses: dict[str, set[str]] = {}
        for a in appointments.values():
            if a["reminder_id"] is not None:
                statuses.setdefault(a["reminder_id"], set()).add(a["status"])
            if (on := found.get((a["dealer_code"], a["day"]))) is not None:
                on.appointments.append(a)
        for r in self.rows(reminder_facts):
            if (on := found.get((r["dealer_code"], r["day"]))) is not None:
                seen = statuses.get(r["reminder_id"], set())
                on.reminders.append({"reminder_id": r["reminder_id"], "booked": bool(seen),
                                     "arrived": "CHECKED_IN" in seen})
        for ro in self.rows(repair_order_facts):
            if (on := found.get((ro["dealer_code"], ro["opened_day"]))) is not None:
                on.opened.append(ro)
            if (on := found.get((ro["dealer_code"], ro["delivered_day"]))) is not None:
                booking = appointments.get((ro["appointment_id"],))
                on.delivered.append({**ro, "booked_at": booking["booked_at"] if booking
                                     else None})
        for table, facts_of in ((quote_line_facts, lambda f: f.lines),
                                (part_issue_facts, lambda f: f.issues),
                                (quality_check_facts, lambda f: f.checks),
                                (survey_facts, lambda f: f.surveys)):
            for fact in self.rows(table):
                if (on := found.get((fact["dealer_code"], fact["day"]))) is not None:
                    facts_of(on).append(fact)
        return found


class FactRules:
    """How each event changes BI's facts, and which dealer-days it touches: the one set of
    rules behind the live projection and the rebuild."""

    def __init__(self, facts: Facts, comeback_days: int = domain.COMEBACK_WINDOW_DAYS
                 ) -> None:
        self.facts = facts
        self.comeback_days = comeback_days
        self.touched: set[DealerDay] = set()
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            events.AppointmentBooked.type: self._appointment,
            events.AppointmentRescheduled.type: self._appointment,
            events.AppointmentConfirmed.type: self._appointment,
            events.AppointmentCancelled.type: self._appointment,
            events.AppointmentNoShow.type: self._appointment,
            events.AppointmentCheckedIn.type: self._appointment,
            events.RepairOrderOpened.type: self._repair_order_opened,
            events.InspectionUploaded.type: self._inspection_uploaded,
            events.QuoteApproved.type: self._quote_approved,
            events.QualityCheckCompleted.type: self._quality_check,
            events.VehicleDelivered.type: self._vehicle_delivered,
            events.PartIssued.type: self._part_issued,
            events.SurveyAnswered.type: self._survey_answered,
            events.ReminderDue.type: self._reminder_due,
        }

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def apply(self, envelope: dict[str, Any]) -> None:
        handler = self._handlers.get(envelope["type"])
        if handler is not None:
            handler(envelope)

    # -- helpers ---------------------------------------------------------------------------

    def _touch(self, dealer_code: str | None, day: date | None) -> None:
        if dealer_code and day:
            self.touched.add((dealer_code, day))

    def _insert_once(self, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
        if self.facts.row(table, **key) is None:
            self.facts.save(table, None, values, **key)
        self._touch(values["dealer_code"], values["day"])

    # -- appointments ------------------------------------------------------------------------

    def _appointment(self, e: dict[str, Any]) -> None:
        data, seq, dealer = e["data"], e["sequence"], e["dealercode"]
        appointment_id = data["appointment_id"]
        before = self.facts.row(appointment_facts, appointment_id=appointment_id)
        after = dict(before or {"dealer_code": dealer, "slot_sequence": 0, "status_sequence": 0,
                                "status": "SCHEDULED"})
        after.pop("appointment_id", None)
        if seq >= after["slot_sequence"]:
            after.update(slot_start=_moment(data["slot_start"]), slot_sequence=seq,
                         day=domain.local_day(data["slot_start"]))
        status = _APPOINTMENT_STATUS.get(e["type"], data.get("status"))
        if status:
            after["status"], after["status_sequence"] = domain.appointment_status(
                (after["status"], after["status_sequence"]), status, seq)
        if e["type"] == events.AppointmentBooked.type:
            after.update(channel=data["channel"], service_type=data["service_type"],
                         reminder_id=data.get("reminder_id"), lead_id=data.get("lead_id"),
                         booked_at=_moment(data["booked_at"]))
            # Booking → reception is measured on the repair order's delivery day.
            for ro in self.facts.rows_where(repair_order_facts, "appointment_id",
                                            appointment_id):
                self._touch(ro["dealer_code"], ro["delivered_day"])
        if e["type"] == events.AppointmentCheckedIn.type:
            after["checked_in_at"] = _moment(data["checked_in_at"])
        self.facts.save(appointment_facts, before, after, appointment_id=appointment_id)
        self._touch(after["dealer_code"], after["day"])
        if before:
            self._touch(before["dealer_code"], before["day"])
        if after.get("reminder_id"):
            for reminder in self.facts.rows_where(reminder_facts, "reminder_id",
                                                  after["reminder_id"]):
                self._touch(reminder["dealer_code"], reminder["day"])

    def _reminder_due(self, e: dict[str, Any]) -> None:
        data = e["data"]
        self._insert_once(reminder_facts, {"reminder_id": data["reminder_id"]}, {
            "dealer_code": e["dealercode"], "day": domain.local_day(data["raised_at"]),
            "reason": data["reason"]})

    # -- repair orders -------------------------------------------------------------------------

    def _repair_order(self, e: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> None:
        repair_order_id = e["data"]["repair_order_id"]
        before = self.facts.row(repair_order_facts, repair_order_id=repair_order_id)
        after = dict(before or {"dealer_code": e["dealercode"], "comeback": False})
        after.pop("repair_order_id", None)
        change(after)
        self.facts.save(repair_order_facts, before, after, repair_order_id=repair_order_id)
        for row in (before, after):
            if row:
                self._touch(row["dealer_code"], row.get("opened_day"))
                self._touch(row["dealer_code"], row.get("delivered_day"))

    def _repair_order_opened(self, e: dict[str, Any]) -> None:
        data = e["data"]

        def change(ro: dict[str, Any]) -> None:
            ro.update(vin=data["vin"], appointment_id=data.get("appointment_id"),
                      concerns=domain.concern_keys(data["concerns"]),
                      opened_at=_moment(data["opened_at"]),
                      opened_day=domain.local_day(data["opened_at"]))
            ro["promised_at"] = ro.get("promised_at") or _moment(data.get("promised_at"))

        self._repair_order(e, change)
        self._recount_comebacks(data["vin"])

    def _inspection_uploaded(self, e: dict[str, Any]) -> None:
        inspected_at = _moment(e["data"]["inspected_at"])
        self._repair_order(e, lambda ro: ro.update(
            inspected_at=domain.earliest(ro.get("inspected_at"), inspected_at)))

    def _quote_approved(self, e: dict[str, Any]) -> None:
        data, seq = e["data"], e["sequence"]
        signed_at = _moment(data["signed_at"])
        self._repair_order(e, lambda ro: ro.update(
            approved_at=domain.earliest(ro.get("approved_at"), signed_at)))
        decided = [(line, True) for line in data["approved_lines"]] + \
                  [(line, False) for line in data["declined_lines"]]
        for line, approved in decided:
            key = {"repair_order_id": data["repair_order_id"], "line_id": line["line_id"]}
            before = self.facts.row(quote_line_facts, **key)
            if before and before["decision_sequence"] > seq:
                continue  # a later decision on this line is already known
            after = {"dealer_code": e["dealercode"], "vin": data["vin"],
                     "day": domain.local_day(data["signed_at"]), "decided_at": signed_at,
                     "decision_sequence": seq, "kind": line["kind"],
                     "work_key": domain.work_key(line), "pay_type": line["pay_type"],
                     "amount": Decimal(line["amount"]), "approved": approved,
                     "recaptured": before["recaptured"] if before else False}
            self.facts.save(quote_line_facts, before, after, **key)
            self._touch(after["dealer_code"], after["day"])
            if before:
                self._touch(before["dealer_code"], before["day"])
        self._recount_recaptured(data["vin"])

    def _quality_check(self, e: dict[str, Any]) -> None:
        data = e["data"]
        checked_at = _moment(data["checked_at"])
        self._insert_once(quality_check_facts, {"check_id": data["check_id"]}, {
            "repair_order_id": data["repair_order_id"], "dealer_code": e["dealercode"],
            "day": domain.local_day(data["checked_at"]), "stage": data["stage"],
            "passed": data["passed"]})
        if data["passed"]:
            # The last passed check counts: work is done (and checked) after any rework.
            column = "work_done_at" if data["stage"] == "SELF" else "qc_passed_at"
            self._repair_order(e, lambda ro: ro.update(
                {column: domain.latest(ro.get(column), checked_at)}))

    def _vehicle_delivered(self, e: dict[str, Any]) -> None:
        data, seq = e["data"], e["sequence"]
        pay = data["totals_by_pay_type"]

        def change(ro: dict[str, Any]) -> None:
            if ro.get("delivered_sequence") is not None and ro["delivered_sequence"] > seq:
                return
            ro.update(
                vin=ro.get("vin") or data["vin"],
                appointment_id=ro.get("appointment_id") or data.get("appointment_id"),
                opened_at=ro.get("opened_at") or _moment(data["opened_at"]),
                opened_day=ro.get("opened_day") or domain.local_day(data["opened_at"]),
                promised_at=_moment(data["promised_at"]),
                delivered_at=_moment(data["delivered_at"]),
                delivered_day=domain.local_day(data["delivered_at"]), delivered_sequence=seq,
                labour_total=Decimal(data["labour_total"]),
                parts_total=Decimal(data["parts_total"]),
                grand_total=Decimal(data["grand_total"]),
                customer_pay=Decimal(pay["CUSTOMER_PAY"]), warranty=Decimal(pay["WARRANTY"]),
                internal=Decimal(pay["INTERNAL"]),
                labour_hours_sold=Decimal(data["labour_hours_sold"]),
                clocked_hours=Decimal(data["clocked_hours"]))

        self._repair_order(e, change)

    def _part_issued(self, e: dict[str, Any]) -> None:
        data = e["data"]
        self._insert_once(part_issue_facts, {"issue_id": data["issue_id"]}, {
            "repair_order_id": data["repair_order_id"], "dealer_code": e["dealercode"],
            "day": domain.local_day(data["issued_at"]), "from_stock": data["from_stock"]})

    def _survey_answered(self, e: dict[str, Any]) -> None:
        data = e["data"]
        self._insert_once(survey_facts, {"survey_id": data["survey_id"]}, {
            "repair_order_id": data["repair_order_id"], "dealer_code": e["dealercode"],
            "day": domain.local_day(data["answered_at"]), "score": data["score"]})

    # -- facts that depend on a vehicle's other visits ------------------------------------------

    def _recount_comebacks(self, vin: str) -> None:
        rows = [r for r in self.facts.rows_where(repair_order_facts, "vin", vin)
                if r["opened_at"] is not None]
        found = domain.comebacks((domain.Visit(r["repair_order_id"], r["opened_at"],
                                               tuple(r["concerns"] or ())) for r in rows),
                                 self.comeback_days)
        for r in rows:
            flag = r["repair_order_id"] in found
            if flag != r["comeback"]:
                self.facts.mark(repair_order_facts,
                                {"repair_order_id": r["repair_order_id"]}, comeback=flag)
                self._touch(r["dealer_code"], r["opened_day"])

    def _recount_recaptured(self, vin: str) -> None:
        rows = self.facts.rows_where(quote_line_facts, "vin", vin)
        found = domain.recaptured(domain.LineDecision(
            (r["repair_order_id"], r["line_id"]), r["work_key"], r["approved"], r["decided_at"])
            for r in rows)
        for r in rows:
            flag = (r["repair_order_id"], r["line_id"]) in found
            if flag != r["recaptured"]:
                self.facts.mark(quote_line_facts, {"repair_order_id": r["repair_order_id"],
                                                   "line_id": r["line_id"]}, recaptured=flag)
                self._touch(r["dealer_code"], r["day"])


class Projection(FactRules):
    """Applies events to BI's facts within the caller's transaction (never commits)."""

    def __init__(self, session: Session, comeback_days: int = domain.COMEBACK_WINDOW_DAYS
                 ) -> None:
        super().__init__(DatabaseFacts(session), comeback_days)
        self.session = session

    def receive(self, envelope: dict[str, Any]) -> None:
        """A new event: log it, apply it. The inbox drops duplicates, but two copies can be
        in flight in two workers at once: the log's unique event id settles which applies."""
        lock_projection(self.session)
        logged = _insert_ignore(self.session, event_log, {
            "event_id": envelope["id"], "event_type": envelope["type"],
            "source": envelope["source"], "dealer_code": envelope["dealercode"],
            "subject": envelope["subject"], "sequence": envelope["sequence"],
            "envelope": without_personal_data(envelope), "received_at": datetime.now(UTC)})
        if not logged:
            return
        self.apply(envelope)
        self.flush()

    def flush(self) -> None:
        """Recompute every touched dealer-day, in a fixed order so that concurrent workers
        lock rollup rows in the same order."""
        touched, self.touched = sorted(self.touched), set()
        for dealer_code, day in touched:
            refresh_rollup(self.session, dealer_code, day)
        for dealer_code, month in sorted({(d, day.replace(day=1)) for d, day in touched}):
            refresh_month(self.session, dealer_code, month)


# -- rollups ---------------------------------------------------------------------------------


def _insert_ignore(session: Session, table: sa.Table, values: dict[str, Any]) -> bool:
    """Insert unless the key exists; True when a row was inserted."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    result = session.execute(insert(table).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)


def lock_projection(session: Session) -> None:
    """Wait for BI's single writer lock (held until the transaction ends)."""
    query = sa.select(projection_lock.c.id).where(projection_lock.c.id == 1).with_for_update()
    if session.execute(query).first() is None:
        _insert_ignore(session, projection_lock, {"id": 1})
        session.execute(query)


def _rows(session: Session, query: sa.Select) -> list[dict[str, Any]]:
    return [_plain(r) for r in session.execute(query)]


def day_facts(session: Session, dealer_code: str, day: date) -> domain.DayFacts:
    a, ro, r = appointment_facts, repair_order_facts, reminder_facts
    reminders = _rows(session, sa.select(r.c.reminder_id).where(
        r.c.dealer_code == dealer_code, r.c.day == day))
    statuses: dict[str, set[str]] = {}
    if reminders:
        for found in session.execute(sa.select(a.c.reminder_id, a.c.status).where(
                a.c.reminder_id.in_([x["reminder_id"] for x in reminders]))):
            statuses.setdefault(found.reminder_id, set()).add(found.status)
    for reminder in reminders:
        seen = statuses.get(reminder["reminder_id"], set())
        reminder.update(booked=bool(seen), arrived="CHECKED_IN" in seen)

    def on_day(table: sa.Table, *columns: Any) -> list[dict[str, Any]]:
        return _rows(session, sa.select(*columns).where(
            table.c.dealer_code == dealer_code, table.c.day == day))

    return domain.DayFacts(
        appointments=on_day(a, a.c.status, a.c.lead_id),
        reminders=reminders,
        opened=_rows(session, sa.select(ro.c.comeback).where(
            ro.c.dealer_code == dealer_code, ro.c.opened_day == day)),
        delivered=_rows(session, sa.select(ro, a.c.booked_at)
                        .select_from(ro.outerjoin(a, a.c.appointment_id == ro.c.appointment_id))
                        .where(ro.c.dealer_code == dealer_code, ro.c.delivered_day == day)),
        lines=on_day(quote_line_facts, quote_line_facts.c.amount, quote_line_facts.c.approved,
                     quote_line_facts.c.recaptured),
        issues=on_day(part_issue_facts, part_issue_facts.c.from_stock),
        checks=on_day(quality_check_facts, quality_check_facts.c.passed),
        surveys=on_day(survey_facts, survey_facts.c.score),
    )


def refresh_rollup(session: Session, dealer_code: str, day: date) -> None:
    """Recompute one dealer-day. The rollup row is locked before the facts are read, so of
    two transactions touching the same day the second reads the first's committed facts."""
    _insert_ignore(session, daily_rollups, {"dealer_code": dealer_code, "day": day})
    key = (daily_rollups.c.dealer_code == dealer_code, daily_rollups.c.day == day)
    session.execute(sa.select(daily_rollups.c.day).where(*key).with_for_update())
    measures = domain.day_measures(day_facts(session, dealer_code, day))
    session.execute(daily_rollups.update().where(*key).values(**measures))


def refresh_month(session: Session, dealer_code: str, month: date) -> None:
    """Recompute one dealer-month as the sum of its dealer-days (at most 31 rows)."""
    d, m = daily_rollups, monthly_rollups
    last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    sums = session.execute(sa.select(*(
        sa.func.coalesce(sa.func.sum(d.c[name]), 0).label(name)
        for name in domain.ROLLUP_MEASURES)).where(
        d.c.dealer_code == dealer_code, d.c.day >= month, d.c.day <= last)).one()
    _insert_ignore(session, m, {"dealer_code": dealer_code, "month": month})
    session.execute(m.update().where(m.c.dealer_code == dealer_code, m.c.month == month)
                    .values(**dict(sums._mapping)))


# -- replay ----------------------------------------------------------------------------------


def rebuild(session: Session, progress: Progress | None = None, page: int = 5000,
            comeback_days: int = domain.COMEBACK_WINDOW_DAYS) -> int:
    """Empty every fact and rollup table and replay the event log (in the order BI received
    the events) in one transaction. Returns the number of events replayed.

    The tables start empty, so the facts are built in memory by the live projection's own
    rules (`FactRules` over `MemoryFacts`), then every touched dealer-day's rollup is
    computed once by `domain.day_measures` and everything is written in bulk: a few
    statements per table instead of several per event. It needs memory for the facts of the
    whole log: about 1.5 KB per event (200,000 events: 420 MB all told).

    Run it with BI's consumers stopped (they would wait on the projection lock throughout);
    dashboards read the previous facts until the rebuild commits."""
    collecting = gc.isenabled()
    # Facts held in memory are hundreds of thousands of long-lived dicts without cycles:
    # the cycle collector would rescan them again and again (a fifth of the time).
    gc.disable()
    try:
        return _rebuild(session, progress, page, comeback_days)
    finally:
        if collecting:
            gc.enable()


def _rebuild(session: Session, progress: Progress | None, page: int, comeback_days: int
             ) -> int:
    lock_projection(session)
    for table in (monthly_rollups, daily_rollups, *FACT_TABLES):
        session.execute(table.delete())
    total = session.scalar(sa.select(sa.func.count()).select_from(event_log)) or 0
    facts = MemoryFacts()
    rules = FactRules(facts, comeback_days)
    done, last_id = 0, 0
    if progress:
        progress(0, total)
    while True:
        batch = session.execute(sa.select(event_log.c.id, event_log.c.envelope)
                                .where(event_log.c.id > last_id)
                                .order_by(event_log.c.id).limit(page)).all()
        if not batch:
            break
        for row in batch:
            rules.apply(row.envelope)
        done += len(batch)
        last_id = batch[-1].id
        if progress and done < total:  # 100 % once written
            progress(done, total)
    daily = [{"dealer_code": dealer_code, "day": day, **domain.day_measures(of_day)}
             for (dealer_code, day), of_day in sorted(facts.day_facts(rules.touched).items())]
    for table in FACT_TABLES:
        write_rows(session, table, facts.rows(table))
    write_rows(session, daily_rollups, daily)
    write_rows(session, monthly_rollups, month_sums(daily))
    session.commit()
    if progress:
        progress(done, max(done, total))
    return done


def month_sums(daily: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The monthly rollup rows of these daily rows: what `refresh_month` sums, for all at
    once."""
    months: dict[tuple[str, date], dict[str, Any]] = {}
    for row in daily:
        key = (row["dealer_code"], row["day"].replace(day=1))
        sums = months.get(key)
        if sums is None:
            months[key] = sums = {"dealer_code": key[0], "month": key[1],
                                  **domain.empty_measures()}
        for name in domain.ROLLUP_MEASURES:
            sums[name] += row[name]
    return list(months.values())


_COPY_CHUNK = 1 << 16  # characters of COPY text sent at a time


class _CopySource:
    """COPY's input read as it is formatted, so the server stores one chunk while the next
    is being written (and the whole text is never held at once)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._rest = ""

    def read(self, size: int = -1) -> str:
        parts, length = [self._rest], len(self._rest)
        for line in self._lines:
            parts.append(line)
            length += len(line)
            if 0 <= size <= length:
                break
        text = "".join(parts)
        if size < 0:
            self._rest = ""
            return text
        self._rest = text[size:]
        return text[:size]


def write_rows(session: Session, table: sa.Table, rows: Iterable[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL (psycopg2, BI's
    driver), else executemany. Every row has every column of `table`."""
    dialect = session.get_bind().dialect
    if (dialect.name, dialect.driver) != ("postgresql", "psycopg2"):
        rows = list(rows)
        if rows:
            session.execute(table.insert(), rows)
        return
    columns = [(c.name, _copy_format(c.type)) for c in table.columns]
    statement = f"COPY {table.name} ({', '.join(name for name, _ in columns)}) FROM STDIN"
    cursor = session.connection().connection.cursor()
    green = psycopg2.extensions.get_wait_callback()
    # psycopg2 refuses COPY while a wait callback is set (services run under eventlet):
    # the rebuild is a one-off command, so it may block the hub for the COPY's length.
    psycopg2.extensions.set_wait_callback(None)
    try:
        lines = ("\t".join([r"\N" if (v := row[name]) is None else text(v)
                            for name, text in columns]) + "\n" for row in rows)
        cursor.copy_expert(statement, _CopySource(lines), size=_COPY_CHUNK)
    finally:
        psycopg2.extensions.set_wait_callback(green)
        cursor.close()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_string(value: str) -> str:
    return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value


def _copy_format(kind: sa.types.TypeEngine) -> Callable[[Any], str]:
    """How a column's (non-null) values are written in COPY's text format."""
    if isinstance(kind, sa.JSON):
        return lambda value: _copy_string(json.dumps(value, ensure_ascii=False))
    if isinstance(kind, sa.Boolean):
        return lambda value: "t" if value else "f"
    if isinstance(kind, sa.String):
        return _copy_string
    if isinstance(kind, sa.Date | sa.DateTime):  # ISO 8601, moments with their zone
        return lambda value: value.isoformat()
    return str


def progress_bar(stream: Any) -> Progress:
    """A terminal progress bar: `[#####.....]  52 % 5200/10000 events`."""
    def show(done: int, total: int) -> None:
        width = 40
        filled = width * done // total if total else width
        percent = 100 * done // total if total else 100
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {percent:3d} % "
                     f"{done}/{total} events")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show

