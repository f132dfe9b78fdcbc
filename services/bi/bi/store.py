"""BI's queries: facts in its tables or in memory, the event log, the rollups, the bulk write
of a rebuild, dealers and the KPI reports; `BiUnitOfWork` at the end. No commits.

Facts are named by table name (`bi.domain.facts`); `DatabaseFacts` finds the table, and
`MemoryFacts` keeps rows as the database would hand them back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg2.extensions
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bi import domain, reports
from bi.domain import Scope
from bi.domain.facts import (
    APPOINTMENTS,
    PART_ISSUES,
    QUALITY_CHECKS,
    QUOTE_LINES,
    REMINDERS,
    REPAIR_ORDERS,
    SURVEYS,
    DealerDay,
    utc,
    without_personal_data,
)
from bi.models import (
    FACT_TABLES,
    appointment_facts,
    daily_rollups,
    dealers,
    event_log,
    monthly_rollups,
    part_issue_facts,
    projection_lock,
    quality_check_facts,
    quote_line_facts,
    recall_campaign_facts,
    recall_car_facts,
    reminder_facts,
    repair_order_facts,
    survey_facts,
)
from chassis.unit_of_work import Emits, UnitOfWork

_FACT_TABLES = {t.name: t for t in FACT_TABLES}


def _plain(row: Any) -> dict[str, Any]:
    return {k: utc(v) if isinstance(v, datetime) else v for k, v in row._mapping.items()}


# -- facts -----------------------------------------------------------------------------------


class DatabaseFacts:
    """Facts in BI's tables, within the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._tables = _FACT_TABLES

    def row(self, name: str, **key: Any) -> dict[str, Any] | None:
        table = self._tables[name]
        query = sa.select(table).where(*(table.c[k] == v for k, v in key.items()))
        found = self.session.execute(query.with_for_update()).first()
        return _plain(found) if found else None

    def rows_where(self, name: str, column: str, value: Any) -> list[dict[str, Any]]:
        table = self._tables[name]
        return [_plain(r) for r in self.session.execute(
            sa.select(table).where(table.c[column] == value))]

    def save(self, name: str, before: dict[str, Any] | None, after: dict[str, Any],
             **key: Any) -> None:
        table = self._tables[name]
        if before is None:
            self.session.execute(table.insert().values(**key, **after))
        else:
            changes = {k: v for k, v in after.items() if before.get(k) != v}
            if changes:
                self.session.execute(table.update().where(
                    *(table.c[k] == v for k, v in key.items())).values(**changes))

    def mark(self, name: str, key: dict[str, Any], **values: Any) -> None:
        table = self._tables[name]
        self.session.execute(table.update().where(
            *(table.c[k] == v for k, v in key.items())).values(**values))


# The columns a rebuild looks rows up by, besides the primary key.
_MEMORY_INDEXES: dict[str, tuple[str, ...]] = {
    REPAIR_ORDERS: ("appointment_id", "vin"),
    QUOTE_LINES: ("vin",),
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

    def rows(self, table: str) -> Iterable[dict[str, Any]]:
        return self.tables[table].values()

    def row(self, table: str, **key: Any) -> dict[str, Any] | None:
        return self.tables[table].get(tuple(key[k] for k in self._keys[table]))

    def rows_where(self, table: str, column: str, value: Any) -> list[dict[str, Any]]:
        stored = self.tables[table]
        if self._keys[table] == (column,):
            found = stored.get((value,))
            return [found] if found else []
        return [stored[k] for k in self._indexes[table, column].get(value, ())]

    def save(self, table: str, before: dict[str, Any] | None, after: dict[str, Any],
             **key: Any) -> None:
        name = table
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

    def mark(self, table: str, key: dict[str, Any], **values: Any) -> None:
        self.tables[table][tuple(key[c] for c in self._keys[table])].update(values)

    def day_facts(self, days: Iterable[DealerDay]) -> dict[DealerDay, domain.DayFacts]:
        """The facts of each of these dealer-days, as `day_facts` reads one from the tables."""
        found = {day: domain.DayFacts([], [], [], [], [], [], [], []) for day in days}
        appointments = self.tables[APPOINTMENTS]
        statuses: dict[str, set[str]] = {}
        for a in appointments.values():
            if a["reminder_id"] is not None:
                statuses.setdefault(a["reminder_id"], set()).add(a["status"])
            if (on := found.get((a["dealer_code"], a["day"]))) is not None:
                on.appointments.append(a)
        for r in self.rows(REMINDERS):
            if (on := found.get((r["dealer_code"], r["day"]))) is not None:
                seen = statuses.get(r["reminder_id"], set())
                on.reminders.append({"reminder_id": r["reminder_id"], "booked": bool(seen),
                                     "arrived": "CHECKED_IN" in seen})
        for ro in self.rows(REPAIR_ORDERS):
            if (on := found.get((ro["dealer_code"], ro["opened_day"]))) is not None:
                on.opened.append(ro)
            if (on := found.get((ro["dealer_code"], ro["delivered_day"]))) is not None:
                booking = appointments.get((ro["appointment_id"],))
                on.delivered.append({**ro, "booked_at": booking["booked_at"] if booking
                                     else None})
        for table, facts_of in ((QUOTE_LINES, lambda f: f.lines),
                                (PART_ISSUES, lambda f: f.issues),
                                (QUALITY_CHECKS, lambda f: f.checks),
                                (SURVEYS, lambda f: f.surveys)):
            for fact in self.rows(table):
                if (on := found.get((fact["dealer_code"], fact["day"]))) is not None:
                    facts_of(on).append(fact)
        return found


# -- the event log and the rollups ------------------------------------------------------


class EventLog:
    """Every event BI applied, as received (without personal data), append-only: what a
    rebuild replays. Its lock makes BI's projection a single writer."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self) -> None:
        lock_projection(self.session)

    def append(self, envelope: dict[str, Any], received_at: datetime) -> bool:
        """Log an event; False when its id is logged already (two copies in flight in two
        workers at once: the log's unique event id settles which applies)."""
        return _insert_ignore(self.session, event_log, {
            "event_id": envelope["id"], "event_type": envelope["type"],
            "source": envelope["source"], "dealer_code": envelope["dealercode"],
            "subject": envelope["subject"], "sequence": envelope["sequence"],
            "envelope": without_personal_data(envelope), "received_at": received_at})

    def count(self) -> int:
        return self.session.scalar(sa.select(sa.func.count()).select_from(event_log)) or 0

    def pages(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """The logged envelopes in the order BI received them, `size` at a time."""
        last_id = 0
        while True:
            batch = self.session.execute(sa.select(event_log.c.id, event_log.c.envelope)
                                         .where(event_log.c.id > last_id)
                                         .order_by(event_log.c.id).limit(size)).all()
            if not batch:
                return
            last_id = batch[-1].id
            yield [row.envelope for row in batch]


class Rollups:
    """The daily and monthly rollups, recomputed from the facts."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def refresh(self, touched: Iterable[DealerDay]) -> None:
        """Recompute these dealer-days and their months, in a fixed order so that concurrent
        workers lock rollup rows in the same order."""
        days = sorted(touched)
        for dealer_code, day in days:
            refresh_rollup(self.session, dealer_code, day)
        for dealer_code, month in sorted({(d, day.replace(day=1)) for d, day in days}):
            refresh_month(self.session, dealer_code, month)

    def clear_all(self) -> None:
        """Empty every fact and rollup table (a rebuild starts from nothing)."""
        for table in (monthly_rollups, daily_rollups, *FACT_TABLES):
            self.session.execute(table.delete())

    def write_all(self, facts: MemoryFacts, daily: list[dict[str, Any]],
                  monthly: list[dict[str, Any]]) -> None:
        """A rebuild's facts and rollups, in bulk."""
        for table in FACT_TABLES:
            write_rows(self.session, table, facts.rows(table.name))
        write_rows(self.session, daily_rollups, daily)
        write_rows(self.session, monthly_rollups, monthly)


def _insert_ignore(session: Session, table: sa.Table, values: dict[str, Any]) -> bool:
    """Insert unless the key exists; True when a row was inserted."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" \
        else sqlite.insert
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


# -- the bulk write of a rebuild -------------------------------------------------------------

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


# -- dealers and reports ---------------------------------------------------------------------


class Dealers:
    """Dealers' names and regions (dealers not listed count as UNASSIGNED)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> list[dict[str, Any]]:
        rows = self.session.execute(sa.select(dealers.c.dealer_code, dealers.c.name,
                                              dealers.c.region).order_by(dealers.c.dealer_code))
        return [dict(r._mapping) for r in rows]

    def save(self, dealer_code: str, *, name: str, region: str, now: datetime) -> None:
        values = {"name": name, "region": region, "updated_at": now}
        found = self.session.execute(sa.select(dealers.c.dealer_code).where(
            dealers.c.dealer_code == dealer_code).with_for_update()).first()
        if found:
            self.session.execute(dealers.update().where(dealers.c.dealer_code == dealer_code)
                                 .values(**values))
        else:
            self.session.execute(dealers.insert().values(dealer_code=dealer_code, **values))


class KpiReports:
    """The measures behind the KPIs, summed from the rollups (`bi.reports` builds the
    statements: whole months from the monthly rollups, the rest from the daily ones)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def totals(self, scope: Scope) -> dict[str, Any]:
        return reports.totals(self.session, scope)

    def by_dealer(self, scope: Scope) -> list[dict[str, Any]]:
        return reports.by_dealer(self.session, scope)

    def ranking(self, scope: Scope, kpi: str) -> list[dict[str, Any]]:
        return reports.ranking(self.session, scope, kpi)

    def series(self, scope: Scope, kpi: str, grain: str) -> list[dict[str, Any]]:
        return reports.series(self.session, scope, kpi, grain)


class RecallReports:
    """What recall completion rates are computed from (`bi.domain.recalls`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def facts(self, campaign_code: str | None) -> dict[str, list[dict[str, Any]]]:
        """The campaigns (one, or all), their cars, and the deliveries of those cars."""
        c, car, ro = recall_campaign_facts, recall_car_facts, repair_order_facts
        campaigns = sa.select(c)
        cars = sa.select(car)
        if campaign_code is not None:
            campaigns = campaigns.where(c.c.campaign_code == campaign_code)
            cars = cars.where(car.c.campaign_code == campaign_code)
        vins = sa.select(cars.subquery().c.vin)
        return {"campaigns": _rows(self.session, campaigns),
                "cars": _rows(self.session, cars),
                "deliveries": _rows(self.session, sa.select(
                    ro.c.vin, ro.c.dealer_code, ro.c.delivered_day).where(
                    ro.c.vin.in_(vins), ro.c.delivered_day.is_not(None)))}

    def regions(self) -> dict[str, str]:
        return {r.dealer_code: r.region for r in self.session.execute(
            sa.select(dealers.c.dealer_code, dealers.c.region))}


class _NoEvents:
    def emit(self, contract: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise TypeError(f"{contract.type}: BI publishes no events")


class BiUnitOfWork(UnitOfWork):
    """BI's stores over one transaction. BI publishes no events (it has no outbox)."""

    def __init__(self, session: Session, events: Emits | None = None) -> None:
        events = events if events is not None else _NoEvents()
        super().__init__(session, events)
        self.facts = DatabaseFacts(session)
        self.log = EventLog(session)
        self.rollups = Rollups(session)
        self.dealers = Dealers(session)
        self.reports = KpiReports(session)
        self.recalls = RecallReports(session)

    def memory_facts(self) -> MemoryFacts:
        """Empty facts in memory, for a rebuild to fill and write in bulk."""
        return MemoryFacts()
