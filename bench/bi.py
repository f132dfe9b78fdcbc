"""BI benchmark: dashboard queries over ≥ 10 million repair-order lines, and a rebuild.

1. Generates the facts of N dealers over Y years (default 1,000 dealers × 3 years, about
   11.5 million quote lines — the repair-order lines customers decided — with their repair
   orders, appointments, reminders, part issues, quality checks and surveys) into a dedicated
   database (`bench_bi`, migrated with BI's own migrations), bulk-loaded with COPY. Each
   dealer-day's rollup row is computed from the generated facts by the projection's own rule
   (`bi.domain.day_measures`), and the monthly rollups by the same sum as
   `bi.projection.refresh_month`, so the queries read what production reads.
2. Times every query the dashboard issues (`bi.reports` called as the HTTP entrypoints call
   them) for all dealers, one region and one dealer over several date ranges, many times
   each, and prints p50/p99 per query.
3. Times `bi.projection.rebuild` (the code of `python -m bi.rebuild`) over a generated event
   log (`bench_bi_rebuild`, default 200,000 events) and reports events/s.

The last line printed is one JSON object: `bi_lines`, `bi_query_p99_ms`, `bi_rebuild_eps`.

    .venv/bin/python bench/bi.py [--quick] [--dealers N] [--years Y] [--events N] [--repeat N]
                                 [--keep] [--reuse]

`--keep` leaves both databases in place; `--reuse` then times the queries again over the
facts already loaded (the load of the full size takes a quarter of an hour on two cores), and
the rebuild over the event log already loaded when it holds as many events.
The spreadsheet export (`/kpis.csv`) is timed too but is not a dashboard question, so it is
left out of `bi_query_p99_ms`.
"""

# ruff: noqa: E402  -- the script's own folder must leave sys.path before `bi` is imported.
from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/bi.py`, this file would shadow the `bi` package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import io
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bi import dashboard, domain, kpis, reports
from bi.models import (
    appointment_facts,
    daily_rollups,
    dealers,
    event_log,
    monthly_rollups,
    part_issue_facts,
    quality_check_facts,
    quote_line_facts,
    reminder_facts,
    repair_order_facts,
    survey_facts,
)
from bi.projection import rebuild, without_personal_data
from bi.reports import Scope
from bi.service import BiService
from chassis.db import create_engine, drop_database, migrate
from chassis.runner import migrations_dir
from chassis.testing import POSTGRES
from contracts import EventContract, events, validate_event

CST = timezone(timedelta(hours=8))  # dealers' local time, as the sites stamp their events
LAST_DAY = date(2026, 10, 31)
REGIONS = ("EAST", "NORTH", "SOUTH", "WEST", "CENTRAL", "NORTHEAST", "NORTHWEST", "SOUTHWEST")
OPERATIONS = ("MNT-OIL-01", "MNT-FILTER", "BRAKE-PAD-F", "BRAKE-DISC-R", "TYRE-ROT", "AC-GAS",
              "WIPER", "BATTERY", "ALIGN-4W", "SPARK-PLUG")
CONCERNS = ("code:BRAKE_NOISE", "code:OIL_LEAK", "code:AC_WEAK", "text:30000 km service",
            "code:VIBRATION", "code:WARNING_LAMP")
CHUNK_BYTES = 8 << 20  # one COPY per table per 8 MiB of text
EXPORT = "kpis.csv"  # the spreadsheet export: timed, but not a question the dashboard asks


# -- generated facts -------------------------------------------------------------------------


def _ts(moment: datetime) -> str:
    return moment.isoformat(sep=" ")


def _copy_value(value: Any) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return _ts(value)
    return str(value)


class CopyWriter:
    """Rows per table as COPY text, sent in chunks over one psycopg2 connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.buffers: dict[str, tuple[list[str], io.StringIO]] = {}
        self.rows: dict[str, int] = {}

    def add(self, table: sa.Table, row: dict[str, Any]) -> None:
        columns, buffer = self.buffers.setdefault(table.name, (list(row), io.StringIO()))
        buffer.write("\t".join(_copy_value(row[c]) for c in columns))
        buffer.write("\n")
        self.rows[table.name] = self.rows.get(table.name, 0) + 1
        if buffer.tell() > CHUNK_BYTES:
            self._send(table.name)

    def _send(self, name: str) -> None:
        columns, buffer = self.buffers[name]
        buffer.seek(0)
        with self.connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {name} ({', '.join(columns)}) FROM STDIN", buffer)
        self.buffers[name] = (columns, io.StringIO())

    def flush(self) -> None:
        for name in list(self.buffers):
            self._send(name)
        self.connection.commit()


@dataclass
class Size:
    dealers: int
    first_day: date
    last_day: date

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def dealer_code(index: int) -> str:
    return f"D{index:04d}"


def _at(day: date, minutes: float) -> datetime:
    return datetime(day.year, day.month, day.day, 8, tzinfo=CST) + timedelta(minutes=minutes)


def generate_dealer_day(rng: random.Random, code: str, day: date, vins: list[str],
                        out: CopyWriter) -> None:
    """One dealer's day of trade: 2-5 repair orders of 1-5 quote lines each (about 10.5
    lines), appointments (some cancelled or missed), reminders, part issues, checks and
    surveys; then the day's rollup row from those facts by `domain.day_measures`."""
    stamp = f"{code}-{day:%Y%m%d}"
    facts = domain.DayFacts([], [], [], [], [], [], [], [])
    unclaimed = []  # reminders raised today; the owner of the first books at once
    for r in range(rng.randint(0, 2)):
        reminder = {"reminder_id": f"RMD-{stamp}-{r}", "dealer_code": code, "day": day,
                    "reason": "MILEAGE"}
        out.add(reminder_facts, reminder)
        flags = {"booked": False, "arrived": False}
        facts.reminders.append(flags)
        if r == 0:
            unclaimed.append((reminder["reminder_id"], flags))
    for a in range(rng.randint(0, 1)):
        status = "CANCELLED" if a == 0 and rng.random() < 0.5 else "NO_SHOW"
        row = {"appointment_id": f"APT-{stamp}-X{a}", "dealer_code": code, "day": day,
               "slot_start": _at(day, 60), "slot_sequence": 1, "status": status,
               "status_sequence": 2, "channel": "APP", "service_type": "MAINTENANCE",
               "reminder_id": None, "lead_id": None, "booked_at": _at(day, -2880),
               "checked_in_at": None}
        out.add(appointment_facts, row)
        facts.appointments.append(row)
    for n in range(rng.randint(2, 5)):
        ro_id = f"RO-{stamp}-{n}"
        vin = vins[rng.randrange(len(vins))]
        opened = _at(day, 30 * n + rng.randint(0, 20))
        booked = rng.random() < 0.6
        appointment_id = f"APT-{stamp}-{n}" if booked else None
        booked_at = opened - timedelta(hours=rng.randint(20, 96)) if booked else None
        if booked:
            reminder_id = None
            if unclaimed:
                reminder_id, flags = unclaimed.pop()
                flags.update(booked=True, arrived=True)
            row = {"appointment_id": appointment_id, "dealer_code": code, "day": day,
                   "slot_start": opened, "slot_sequence": 1, "status": "CHECKED_IN",
                   "status_sequence": 3, "channel": "WECHAT", "service_type": "MAINTENANCE",
                   "reminder_id": reminder_id, "lead_id": "LEAD" if n == 0 else None,
                   "booked_at": booked_at, "checked_in_at": opened}
            out.add(appointment_facts, row)
            facts.appointments.append(row)
        inspected = opened + timedelta(minutes=rng.randint(15, 45))
        approved = inspected + timedelta(minutes=rng.randint(5, 30))
        work_done = approved + timedelta(minutes=rng.randint(40, 180))
        qc_passed = work_done + timedelta(minutes=rng.randint(10, 40))
        delivered = qc_passed + timedelta(minutes=rng.randint(10, 60))
        promised = opened + timedelta(hours=rng.choice((3, 4, 5, 6)))
        labour = parts = Decimal(0)
        hours = Decimal(0)
        for k in range(1, rng.randint(1, 5) + 1):
            part = k % 2 == 0
            amount = Decimal(rng.randint(80, 1500))
            ok = rng.random() < 0.8
            line = {"repair_order_id": ro_id, "line_id": f"L{k}", "dealer_code": code,
                    "vin": vin, "day": day, "decided_at": approved, "decision_sequence": 3,
                    "kind": "PART" if part else "LABOUR",
                    "work_key": ("PART:" if part else "LABOUR:") + OPERATIONS[k * 2 - 1 - part],
                    "pay_type": "CUSTOMER_PAY", "amount": amount, "approved": ok,
                    "recaptured": not ok and rng.random() < 0.1}
            out.add(quote_line_facts, line)
            facts.lines.append(line)
            if ok and part:
                parts += amount
                issue = {"issue_id": f"ISS-{ro_id}-{k}", "repair_order_id": ro_id,
                         "dealer_code": code, "day": day, "from_stock": rng.random() < 0.92}
                out.add(part_issue_facts, issue)
                facts.issues.append(issue)
            elif ok:
                labour += amount
                hours += Decimal("1.5")
        warranty = labour if rng.random() < 0.15 else Decimal(0)
        ro = {"repair_order_id": ro_id, "dealer_code": code, "vin": vin,
              "appointment_id": appointment_id,
              "concerns": json.dumps([CONCERNS[rng.randrange(len(CONCERNS))]]),
              "opened_at": opened, "opened_day": day, "promised_at": promised,
              "inspected_at": inspected, "approved_at": approved, "work_done_at": work_done,
              "qc_passed_at": qc_passed, "delivered_at": delivered, "delivered_day": day,
              "delivered_sequence": 9, "labour_total": labour, "parts_total": parts,
              "grand_total": labour + parts, "customer_pay": labour + parts - warranty,
              "warranty": warranty, "internal": Decimal(0), "labour_hours_sold": hours,
              "clocked_hours": hours * Decimal("1.2"), "comeback": rng.random() < 0.03}
        out.add(repair_order_facts, ro)
        facts.opened.append(ro)
        facts.delivered.append({**ro, "booked_at": booked_at})
        for c, passed in enumerate((True, rng.random() < 0.95)):
            check = {"check_id": f"QC-{ro_id}-{c}", "repair_order_id": ro_id,
                     "dealer_code": code, "day": day, "stage": "INSPECTOR" if c else "SELF",
                     "passed": passed}
            out.add(quality_check_facts, check)
            facts.checks.append(check)
        if rng.random() < 0.5:
            survey = {"survey_id": f"SVY-{ro_id}", "repair_order_id": ro_id,
                      "dealer_code": code, "day": day, "score": rng.choice((6, 8, 9, 10, 10))}
            out.add(survey_facts, survey)
            facts.surveys.append(survey)
    out.add(daily_rollups, {"dealer_code": code, "day": day, **domain.day_measures(facts)})


def generate_facts(engine: sa.Engine, size: Size, seed: int = 7) -> dict[str, int]:
    """Bulk-load every dealer's facts and daily rollups, then the monthly rollups."""
    rng = random.Random(seed)
    raw = engine.raw_connection()
    try:
        out = CopyWriter(raw)
        now = datetime.now(UTC)
        for index in range(1, size.dealers + 1):
            if index % 20 != 0:  # every twentieth dealer is left UNASSIGNED
                out.add(dealers, {"dealer_code": dealer_code(index),
                                  "name": f"经销商 {index:04d}",
                                  "region": REGIONS[index % len(REGIONS)], "updated_at": now})
        started = time.monotonic()
        fleets = {dealer_code(i): [f"LBENCH{i:04d}{v:07d}" for v in range(400)]
                  for i in range(1, size.dealers + 1)}
        # Day by day, every dealer each day: the order events reach headquarters, and so the
        # order the projection writes rollup rows in (a date range is then a few pages).
        for offset in range(size.days):
            day = size.first_day + timedelta(days=offset)
            for code, vins in fleets.items():
                generate_dealer_day(rng, code, day, vins, out)
            if offset % 10 == 9 or offset == size.days - 1:
                out.flush()
                lines = out.rows.get(quote_line_facts.name, 0)
                rate = lines / max(time.monotonic() - started, 1e-9)
                print(f"\r  days {offset + 1}/{size.days}, lines {lines:,} "
                      f"({rate:,.0f} lines/s)", end="", file=sys.stderr, flush=True)
        out.flush()
        print(file=sys.stderr)
    finally:
        raw.close()
    d = daily_rollups
    measures = ", ".join(domain.ROLLUP_MEASURES)
    sums = ", ".join(f"sum({name})" for name in domain.ROLLUP_MEASURES)
    with engine.begin() as connection:
        # The sum `refresh_month` takes for each dealer-month, for all of them at once.
        connection.execute(sa.text(
            f"INSERT INTO {monthly_rollups.name} (dealer_code, month, {measures}) "
            f"SELECT dealer_code, date_trunc('month', day)::date, {sums} FROM {d.name} "
            "GROUP BY dealer_code, date_trunc('month', day)::date"))
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    return dict(out.rows)


def check_rollups(engine: sa.Engine, size: Size) -> None:
    """A few dealer-days recomputed by the projection from the stored facts must equal the
    loaded rollup rows: the benchmark reads what the projection would have written."""
    from bi.projection import day_facts

    rng = random.Random(11)
    with Session(engine) as session:
        for _ in range(5):
            code = dealer_code(rng.randint(1, size.dealers))
            day = size.first_day + timedelta(days=rng.randrange(size.days))
            expected = domain.day_measures(day_facts(session, code, day))
            stored = session.execute(sa.select(daily_rollups).where(
                daily_rollups.c.dealer_code == code, daily_rollups.c.day == day)).one()
            found = {k: stored._mapping[k] for k in domain.ROLLUP_MEASURES}
            wrong = {k for k in found if found[k] != expected[k]}
            if wrong:
                raise SystemExit(f"rollup of {code} {day} differs from the projection's: "
                                 f"{sorted(wrong)}")


# -- dashboard queries -------------------------------------------------------------------------


@dataclass
class Timing:
    name: str
    samples: list[float]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def query_plan(size: Size) -> list[tuple[str, Callable[[Session], Any]]]:
    """Every question the dashboard asks (HQ view, a region, a dealer's own view) over
    several ranges: a month, an unaligned quarter, a year and the whole history."""
    last = size.last_day
    ranges = {
        "month": (last.replace(day=1), last),
        "90 days": (last - timedelta(days=89), last),
        "year": (max(size.first_day, last - timedelta(days=364)), last),
        "all": (max(size.first_day, last - timedelta(days=3 * 366)), last),
    }
    plan: list[tuple[str, Callable[[Session], Any]]] = []
    for label, (first, to) in ranges.items():
        if label == "all" and (to - first).days < 366:
            continue
        grain = dashboard.grain_for(first, to)
        for who, scope in (("HQ", Scope(first, to)), ("region", Scope(first, to, region="EAST")),
                           ("dealer", Scope(first, to, dealer_code=dealer_code(1)))):
            plan.append((f"kpis {who} {label}",
                         lambda s, sc=scope: kpis.compute_all(reports.totals(s, sc))))
            plan.append((f"series {who} {label} ({grain})",
                         lambda s, sc=scope, g=grain: reports.series(s, sc, "revenue", g)))
            if who != "dealer":
                plan.append((f"rankings {who} {label}",
                             lambda s, sc=scope: reports.ranking(s, sc, "on_time_delivery")))
        everyone = Scope(first, to)
        plan.append((f"{EXPORT} HQ {label}",
                     lambda s, sc=everyone: [kpis.compute_all(d["totals"])
                                             for d in reports.by_dealer(s, sc)]))
    return plan


def time_queries(engine: sa.Engine, size: Size, repeat: int) -> list[Timing]:
    timings = []
    with Session(engine) as session:
        for name, run in query_plan(size):
            run(session)  # warm the cache: the dashboard's data is read again and again
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                run(session)
                samples.append(time.perf_counter() - started)
                session.rollback()  # each HTTP request is its own transaction
            timings.append(Timing(name, samples))
            print(f"  {name:<40} p50 {timings[-1].quantile(0.5):8.1f} ms   "
                  f"p99 {timings[-1].quantile(0.99):8.1f} ms", file=sys.stderr)
    return timings


# -- rebuild -------------------------------------------------------------------------------------


_EXAMPLES: dict[str, dict[str, Any]] = {}


def _example(contract: EventContract) -> dict[str, Any]:
    if contract.type not in _EXAMPLES:
        from importlib import resources

        text = resources.files("contracts").joinpath(contract.example_file).read_text("utf-8")
        _EXAMPLES[contract.type] = json.loads(text)["data"]
    return _EXAMPLES[contract.type]


def _envelope(contract: EventContract, dealer: str, subject: str, sequence: int,
              when: datetime, **data: Any) -> dict[str, Any]:
    """The envelope `contracts.new_event` writes (validated on a sample, see event_history)."""
    source = f"hq/{contract.producer}" if contract.producer == "crm" else \
        f"dealer/{dealer}/{contract.producer}"
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
            "type": contract.type, "subject": subject,
            "time": when.isoformat(timespec="milliseconds"),
            "datacontenttype": "application/json", "dataschema": contract.dataschema,
            "dealercode": dealer, "sequence": sequence, "correlationid": subject,
            "data": {**_example(contract), **data}}


def _line(line_id: str, part: bool, key: str, amount: int) -> dict[str, Any]:
    line = {"line_id": line_id, "kind": "PART" if part else "LABOUR", "description": key,
            "unit_price": f"{amount}.00", "amount": f"{amount}.00", "pay_type": "CUSTOMER_PAY"}
    if part:
        line.update(part_number=key, quantity="1")
    else:
        line.update(operation_code=key, flat_rate_hours="1.5")
    return line


def repair_order_story(rng: random.Random, dealer: str, day: date, n: int,
                       vin: str) -> list[dict[str, Any]]:
    """One car's visit as its dealer's site and headquarters send it: about 11 events."""
    stamp = f"{dealer}-{day:%Y%m%d}-{n}"
    ro, apt, opened = f"RO-{stamp}", f"APT-{stamp}", _at(day, 20 * n % 480)
    t = lambda minutes: (opened + timedelta(minutes=minutes)).isoformat()  # noqa: E731
    story = []
    reminder_id = None
    if rng.random() < 0.3:
        reminder_id = f"RMD-{stamp}"
        story.append(_envelope(events.ReminderDue, dealer, reminder_id, 1,
                               opened - timedelta(days=5), reminder_id=reminder_id,
                               dealer_code=dealer, vin=vin, raised_at=t(-7200)))
    booked = {"appointment_id": apt, "dealer_code": dealer, "slot_start": t(0),
              "slot_end": t(60), "booked_at": t(-2880), "reminder_id": reminder_id}
    if reminder_id is None:
        booked.pop("reminder_id")
    appointment = _envelope(events.AppointmentBooked, dealer, apt, 1,
                            opened - timedelta(days=2), **booked)
    if reminder_id is None:
        appointment["data"].pop("reminder_id", None)
    lines = [_line(f"L{k}", k % 2 == 0, OPERATIONS[k % len(OPERATIONS)], rng.randint(80, 900))
             for k in range(1, rng.randint(2, 5) + 1)]
    approved = [x for x in lines if rng.random() < 0.8] or lines[:1]
    declined = [x for x in lines if x not in approved]
    total = sum(int(x["unit_price"][:-3]) for x in approved)
    story += [
        appointment,
        _envelope(events.AppointmentCheckedIn, dealer, apt, 2, opened, appointment_id=apt,
                  slot_start=t(0), checked_in_at=t(-5)),
        _envelope(events.RepairOrderOpened, dealer, ro, 1, opened, repair_order_id=ro,
                  appointment_id=apt, vin=vin, opened_at=t(0), promised_at=t(240),
                  concerns=[{"description": "noise", "code": rng.choice(
                      ("BRAKE_NOISE", "OIL_LEAK", "AC_WEAK"))}]),
        _envelope(events.InspectionUploaded, dealer, ro, 2, opened, repair_order_id=ro,
                  vin=vin, inspected_at=t(30)),
        _envelope(events.QuoteApproved, dealer, ro, 3, opened, repair_order_id=ro,
                  quote_id=f"Q-{stamp}", vin=vin, approved_lines=approved,
                  declined_lines=declined, approved_total=f"{total}.00",
                  declined_total=f"{sum(int(x['unit_price'][:-3]) for x in declined)}.00",
                  signed_at=t(45)),
        _envelope(events.PartIssued, dealer, ro, 1, opened, issue_id=f"ISS-{stamp}",
                  repair_order_id=ro, vin=vin, from_stock=rng.random() < 0.9,
                  issued_at=t(60)),
        _envelope(events.QualityCheckCompleted, dealer, ro, 4, opened, repair_order_id=ro,
                  check_id=f"QC-{stamp}-1", stage="SELF", passed=True, checked_at=t(150)),
        _envelope(events.QualityCheckCompleted, dealer, ro, 5, opened, repair_order_id=ro,
                  check_id=f"QC-{stamp}-2", stage="INSPECTOR", passed=True,
                  checked_at=t(170)),
        _envelope(events.VehicleDelivered, dealer, ro, 6, opened, repair_order_id=ro,
                  appointment_id=apt, vin=vin, labour_total=f"{total}.00",
                  parts_total="0.00", sundries_total="0.00", discount_total="0.00",
                  tax_total="0.00", grand_total=f"{total}.00",
                  totals_by_pay_type={"CUSTOMER_PAY": f"{total}.00", "WARRANTY": "0.00",
                                      "INTERNAL": "0.00"},
                  labour_hours_sold="1.5", clocked_hours="1.8", opened_at=t(0),
                  promised_at=t(240), delivered_at=t(200)),
    ]
    if rng.random() < 0.5:
        story.append(_envelope(events.SurveyAnswered, dealer, f"SVY-{stamp}", 1, opened,
                               survey_id=f"SVY-{stamp}", repair_order_id=ro,
                               score=rng.choice((5, 8, 9, 10)), answered_at=t(1500)))
    return story


def event_history(count: int, seed: int = 5) -> Iterator[dict[str, Any]]:
    """About `count` events of 50 dealers' visits, day by day, each validated by the contract
    for the first stories (the rest have the same shape)."""
    rng = random.Random(seed)
    made, day, checked = 0, LAST_DAY - timedelta(days=400), 0
    while made < count:
        for dealer in range(1, 51):
            vins = [f"LREBLD{dealer:04d}{v:07d}" for v in range(200)]
            for n in range(3):
                for envelope in repair_order_story(rng, dealer_code(dealer), day, n,
                                                   vins[rng.randrange(len(vins))]):
                    if checked < 200:
                        validate_event(envelope)
                        checked += 1
                    yield envelope
                    made += 1
                    if made >= count:
                        return
        day += timedelta(days=1)


def load_event_log(engine: sa.Engine, count: int) -> int:
    raw = engine.raw_connection()
    try:
        out = CopyWriter(raw)
        received = datetime.now(UTC)
        for envelope in event_history(count):
            out.add(event_log, {
                "event_id": envelope["id"], "event_type": envelope["type"],
                "source": envelope["source"], "dealer_code": envelope["dealercode"],
                "subject": envelope["subject"], "sequence": envelope["sequence"],
                # COPY text format: backslashes in the JSON must be escaped.
                "envelope": json.dumps(without_personal_data(envelope), ensure_ascii=False)
                .replace("\\", "\\\\"),
                "received_at": received})
        out.flush()
        return out.rows.get(event_log.name, 0)
    finally:
        raw.close()


def logged_events(url: str) -> int | None:
    """Events in the rebuild's log from an earlier `--keep` run, None without that database."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.select(sa.func.count()).select_from(event_log))
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()


def time_rebuild(url: str, count: int, reuse: bool = False) -> tuple[int, float]:
    """Times `rebuild` over a log of `count` events (the one kept in place by `--keep` when
    `reuse` and it holds as many)."""
    loaded = logged_events(url) if reuse else None
    if loaded != count:
        drop_database(url)
        migrate(url, migrations_dir(BiService))
    engine = create_engine(url)
    try:
        if loaded != count:
            loaded = load_event_log(engine, count)
        with Session(engine) as session:
            started = time.perf_counter()
            replayed = rebuild(session)
            seconds = time.perf_counter() - started
        assert replayed == loaded, (replayed, loaded)
        return replayed, seconds
    finally:
        engine.dispose()


# -- the run ---------------------------------------------------------------------------------


def database_size(engine: sa.Engine) -> str:
    with engine.connect() as connection:
        return connection.scalar(sa.text(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dealers", type=int, default=1000, help="dealers (default 1000)")
    parser.add_argument("--years", type=float, default=3.0, help="years of trade (default 3)")
    parser.add_argument("--events", type=int, default=200_000,
                        help="events in the rebuild's log (default 200000; 0: no rebuild)")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each query")
    parser.add_argument("--quick", action="store_true",
                        help="20 dealers × 3 months, 10,000 events: a smoke run")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the facts already loaded in bench_bi (same size) and the "
                             "event log in bench_bi_rebuild (same count), and only time the "
                             "queries and the rebuild")
    parser.add_argument("--keep", action="store_true", help="do not drop the databases after")
    args = parser.parse_args(argv)
    if args.quick:
        args.dealers, args.years, args.events = 20, 0.25, 10_000
        args.repeat = min(args.repeat, 10)
    days = max(1, round(args.years * 365.25))
    size = Size(args.dealers, LAST_DAY - timedelta(days=days - 1), LAST_DAY)
    url, rebuild_url = f"{POSTGRES}/bench_bi", f"{POSTGRES}/bench_bi_rebuild"

    print(f"size: {size.dealers} dealers × {size.days} days "
          f"({size.first_day} … {size.last_day}); rebuild over {args.events:,} events")
    engine = create_engine(url)
    try:
        if not args.reuse:
            engine.dispose()
            drop_database(url)
            migrate(url, migrations_dir(BiService))
            started = time.monotonic()
            rows = generate_facts(engine, size)
            load_seconds = time.monotonic() - started
            print(f"loaded in {load_seconds:.0f} s: " + ", ".join(
                f"{name} {count:,}" for name, count in sorted(rows.items())))
        check_rollups(engine, size)
        with engine.connect() as connection:
            lines = connection.scalar(sa.select(sa.func.count()).select_from(quote_line_facts))
            rollup_rows = connection.scalar(sa.select(sa.func.count())
                                            .select_from(daily_rollups))
        print(f"database bench_bi: {database_size(engine)}; repair-order lines {lines:,}, "
              f"daily rollup rows {rollup_rows:,}")
        print(f"dashboard queries ({args.repeat} runs each, after one warm-up run), ms:")
        timings = time_queries(engine, size, args.repeat)
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(url)

    print(f"{'query':<44}{'p50':>9}{'p99':>9}")
    for t in timings:
        print(f"{t.name:<44}{t.quantile(0.5):9.1f}{t.quantile(0.99):9.1f}")
    overall = Timing("all", [s for t in timings if not t.name.startswith(EXPORT)
                             for s in t.samples])
    print(f"{'every dashboard query':<44}{overall.quantile(0.5):9.1f}"
          f"{overall.quantile(0.99):9.1f}")

    replayed, eps = 0, 0.0
    if args.events:
        try:
            replayed, seconds = time_rebuild(rebuild_url, args.events, args.reuse)
        finally:
            if not args.keep:
                drop_database(rebuild_url)
        eps = replayed / seconds
        print(f"rebuild: {replayed:,} events replayed in {seconds:.1f} s = {eps:,.0f} "
              "events/s")
    print(json.dumps({"bi_lines": lines, "bi_dealers": size.dealers, "bi_days": size.days,
                      "bi_query_p50_ms": round(overall.quantile(0.5), 1),
                      "bi_query_p99_ms": round(overall.quantile(0.99), 1),
                      "bi_rebuild_events": replayed, "bi_rebuild_eps": round(eps)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
