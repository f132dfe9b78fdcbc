"""Workorder's queries: store classes over the unit of work's SQLAlchemy session.

Every statement workorder runs is here (SQLAlchemy Core), grouped by what it keeps: repair
orders, vehicles, expected arrivals, inspections and photos, quotes, the workshop, invoices
and online payments, recall campaigns and part issues. Stores return rows (mappings) or
domain objects and never commit: the unit of work's transaction is committed by the
framework. At the end, `WorkorderUnitOfWork`, which carries them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chassis.config import own_secret
from chassis.errors import Conflict, InvalidInput, NotFound
from chassis.unit_of_work import Emits, UnitOfWork
from workorder import models as m
from workorder.domain.reception import repair_order_number
from workorder.domain.stages import OPEN_STAGES, Stage
from workorder.domain.workshop import JobStatus, Technician
from workorder.links import OwnerLinks
from workorder.media import MediaStore

Row = Mapping[str, Any]

_ro, _lines, _jobs = m.repair_orders.c, m.quote_lines.c, m.jobs.c

# Statements every request runs, built once.
_REPAIR_ORDER = sa.select(m.repair_orders).where(_ro.id == sa.bindparam("ro_id"))
_REPAIR_ORDER_FOR_UPDATE = _REPAIR_ORDER.with_for_update()
_HISTORY = (sa.select(m.stage_history.c.to_stage, m.stage_history.c.action,
                      m.stage_history.c.at)
            .where(m.stage_history.c.repair_order_id == sa.bindparam("ro_id"))
            .order_by(m.stage_history.c.id))
_LINES = sa.select(m.quote_lines).where(_lines.repair_order_id == sa.bindparam("ro_id"))
_LINE = _LINES.where(_lines.line_id == sa.bindparam("line_id"))
_PHOTOS = (sa.select(m.photos)
           .join(m.repair_order_photos, m.repair_order_photos.c.sha256 == m.photos.c.sha256)
           .where(m.repair_order_photos.c.repair_order_id == sa.bindparam("ro_id")))
_INVOICE = sa.select(m.invoices).where(m.invoices.c.repair_order_id == sa.bindparam("ro_id"))
_PAYMENTS = (sa.select(m.payments).where(m.payments.c.repair_order_id == sa.bindparam("ro_id"))
             .order_by(m.payments.c.id))
_LINE_OF_JOB = sa.and_(_lines.repair_order_id == _jobs.repair_order_id,
                       _lines.line_id == _jobs.line_id)
_JOBS = (sa.select(m.jobs, _lines.description, _lines.operation_code, _lines.skill,
                   _lines.flat_rate_hours, _lines.position)
         .join(m.quote_lines, _LINE_OF_JOB)
         .where(_jobs.repair_order_id == sa.bindparam("ro_id")).order_by(_lines.position))
_JOB = sa.select(m.jobs).where(_jobs.repair_order_id == sa.bindparam("ro_id"),
                               _jobs.line_id == sa.bindparam("line_id"))
_CLOCK_ENTRIES = (sa.select(m.clock_entries)
                  .where(m.clock_entries.c.repair_order_id == sa.bindparam("ro_id"))
                  .order_by(m.clock_entries.c.id))


class _Store:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _first(self, statement: Any, **params: Any) -> Row | None:
        return self.session.execute(statement, params).mappings().first()

    def _all(self, statement: Any, **params: Any) -> list[Row]:
        return list(self.session.execute(statement, params).mappings().all())


def _insert(session: Session, table: sa.Table) -> Any:
    """INSERT that can skip rows already there (PostgreSQL, or SQLite in embedded runs)."""
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


# -- repair orders and vehicles ------------------------------------------------------------


class RepairOrders(_Store):
    def get(self, repair_order_id: str, *, for_update: bool = False) -> Row:
        """The repair order; NotFound (404) when this site has none by that id.

        `for_update` locks it: every change to a repair order goes through its row, so two
        requests on one RO (two technicians, the cashier and the advisor) apply one after the
        other and the stage they check is the stage they change.
        """
        row = self.find(repair_order_id, for_update=for_update)
        if row is None:
            raise NotFound(f"repair order {repair_order_id} not found")
        return row

    def find(self, repair_order_id: str, *, for_update: bool = False) -> Row | None:
        return self._first(_REPAIR_ORDER_FOR_UPDATE if for_update else _REPAIR_ORDER,
                           ro_id=repair_order_id)

    def received_as(self, appointment_id: str | None) -> str | None:
        """The repair order an appointment was received as, if it was."""
        if not appointment_id:
            return None
        return self.session.scalar(sa.select(_ro.id).where(_ro.appointment_id == appointment_id))

    def open_for(self, vin: str) -> str | None:
        return self.session.scalar(sa.select(_ro.id).where(
            _ro.vin == vin, _ro.stage.in_([s.value for s in OPEN_STAGES])).limit(1))

    def add(self, row: dict[str, Any], *, dealer_code: str, local_day: date) -> str:
        """Insert with the day's next running number; a number taken by a racing request is
        retried with the next one."""
        prefix = repair_order_number(dealer_code, local_day, 0)[:-4]
        for _attempt in range(20):
            taken = self.session.scalar(sa.select(sa.func.count()).select_from(m.repair_orders)
                                        .where(_ro.id.like(f"{prefix}%")))
            ro_id = repair_order_number(dealer_code, local_day, taken + 1)
            try:
                with self.session.begin_nested():
                    self.session.execute(m.repair_orders.insert().values(id=ro_id, **row))
                return ro_id
            except IntegrityError as exc:
                if "appointment_id" in str(exc.orig):
                    raise Conflict("this appointment has already been received",
                                   appointment_id=row.get("appointment_id")) from None
                continue
        raise RuntimeError("could not allocate a repair order number")

    def entered(self, ro_id: str, to: Stage, *, action: str, actor: str, at: datetime,
                from_stage: str | None = None) -> None:
        """A line of the stage history (cycle times are measured from it)."""
        self.session.execute(m.stage_history.insert().values(
            repair_order_id=ro_id, from_stage=from_stage, to_stage=to.value, action=action,
            actor=actor, at=at))

    def set_stage(self, ro: Row, to: Stage, *, action: str, actor: str, at: datetime,
                  **changes: Any) -> None:
        self.session.execute(m.repair_orders.update().where(_ro.id == ro["id"])
                             .values(stage=to.value, **changes))
        self.entered(ro["id"], to, action=action, actor=actor, at=at, from_stage=ro["stage"])

    def listed(self, *, customer_id: str | None, stage: str | None, vin: str | None,
               limit: int) -> list[Row]:
        """Newest first; `customer_id` keeps an owner to their own."""
        query = sa.select(m.repair_orders).order_by(_ro.opened_at.desc())
        if customer_id is not None:
            query = query.where(_ro.customer_id == customer_id)
        if stage:
            query = query.where(_ro.stage == stage)
        if vin:
            query = query.where(_ro.vin == vin)
        return self._all(query.limit(limit))

    def history(self, ro_id: str) -> list[Row]:
        return self._all(_HISTORY, ro_id=ro_id)


class Vehicles(_Store):
    def lock(self, vin: str) -> None:
        """Lock the vehicle's record (if known): two receptions of one car apply one at a
        time."""
        self.session.execute(sa.select(m.vehicles.c.vin).where(m.vehicles.c.vin == vin)
                             .with_for_update())

    def remember(self, *, vin: str, plate: str, model: str | None, mileage_km: int,
                 at: datetime) -> None:
        known = self._first(sa.select(m.vehicles).where(m.vehicles.c.vin == vin)
                            .with_for_update())
        values = {"plate": plate, "last_mileage_km": mileage_km, "last_seen_at": at}
        if model:
            values["model"] = model
        if known is None:
            try:
                with self.session.begin_nested():
                    self.session.execute(m.vehicles.insert().values(vin=vin, **values))
            except IntegrityError:
                raise Conflict(f"vehicle {vin} is being received by another request") from None
        else:
            self.session.execute(m.vehicles.update().where(m.vehicles.c.vin == vin)
                                 .values(**values))

    def last_mileage(self, vin: str) -> int | None:
        return self.session.scalar(sa.select(m.vehicles.c.last_mileage_km)
                                   .where(m.vehicles.c.vin == vin))

    def model_of(self, vin: str) -> str | None:
        return self.session.scalar(sa.select(m.vehicles.c.model).where(m.vehicles.c.vin == vin))


class ExpectedArrivals(_Store):
    def for_appointment(self, appointment_id: str) -> Row | None:
        return self._first(sa.select(m.expected_arrivals).where(
            m.expected_arrivals.c.appointment_id == appointment_id))

    def add(self, row: dict[str, Any]) -> None:
        self.session.execute(m.expected_arrivals.insert().values(**row))

    def all(self) -> list[Row]:
        return self._all(sa.select(m.expected_arrivals)
                         .order_by(m.expected_arrivals.c.expected_at))


# -- inspection and photos -----------------------------------------------------------------


class Inspections(_Store):
    def templates(self) -> tuple[list[Row], list[Row]]:
        """Every checklist template, and every template item in checklist order."""
        return (self._all(sa.select(m.checklist_templates)
                          .order_by(m.checklist_templates.c.code)),
                self._all(sa.select(m.checklist_template_items)
                          .order_by(m.checklist_template_items.c.position)))

    def checklist(self, template_code: str | None) -> tuple[str, list[Row]]:
        """The template asked for (else the default one) and its items."""
        templates = m.checklist_templates
        query = sa.select(templates.c.code)
        query = query.where(templates.c.code == template_code) if template_code else \
            query.where(templates.c.is_default.is_(True))
        code = self.session.scalar(query.limit(1))
        if code is None:
            raise InvalidInput("template_code", f"no checklist template {template_code}")
        items = self._all(sa.select(m.checklist_template_items)
                          .where(m.checklist_template_items.c.template_code == code)
                          .order_by(m.checklist_template_items.c.position))
        return code, items

    def start(self, *, inspection_id: str, ro_id: str, template_code: str,
              items: Iterable[Row], by: str, at: datetime) -> None:
        self.session.execute(m.inspections.insert().values(
            id=inspection_id, repair_order_id=ro_id, template_code=template_code,
            started_by=by, started_at=at))
        rows = [{"inspection_id": inspection_id, "code": item["item_code"], "name": item["name"],
                 "position": item["position"], "photos": []} for item in items]
        if rows:
            self.session.execute(m.inspection_items.insert(), rows)

    def of(self, ro_id: str) -> Row | None:
        return self._first(sa.select(m.inspections)
                           .where(m.inspections.c.repair_order_id == ro_id))

    def items(self, inspection_id: str) -> list[Row]:
        return self._all(sa.select(m.inspection_items)
                         .where(m.inspection_items.c.inspection_id == inspection_id)
                         .order_by(m.inspection_items.c.position))

    def record_item(self, inspection_id: str, code: str, values: dict[str, Any], *,
                    new: tuple[str, int] | None = None) -> None:
        """Record a result; `new` (name, position) adds an item off the checklist."""
        table = m.inspection_items
        if new is None:
            self.session.execute(table.update().where(table.c.inspection_id == inspection_id,
                                                      table.c.code == code).values(**values))
        else:
            name, position = new
            self.session.execute(table.insert().values(inspection_id=inspection_id, code=code,
                                                       name=name, position=position, **values))

    def submit(self, inspection_id: str, *, by: str, at: datetime) -> None:
        self.session.execute(m.inspections.update().where(m.inspections.c.id == inspection_id)
                             .values(submitted_by=by, submitted_at=at))


class Photos(_Store):
    def of(self, ro_id: str) -> dict[str, Row]:
        return {row["sha256"]: row for row in self._all(_PHOTOS, ro_id=ro_id)}

    def register(self, *, ro_id: str, sha256: str, content_type: str, size_bytes: int,
                 by: str, at: datetime) -> None:
        """Record the photo once, and its link to the repair order once."""
        session = self.session
        if session.scalar(sa.select(m.photos.c.sha256).where(m.photos.c.sha256 == sha256)) \
                is None:
            try:
                with session.begin_nested():
                    session.execute(m.photos.insert().values(
                        sha256=sha256, content_type=content_type, size_bytes=size_bytes,
                        stored_at=at))
            except IntegrityError:
                pass  # the same photo uploaded at the same moment by another request
        linked = session.scalar(sa.select(m.repair_order_photos.c.sha256).where(
            m.repair_order_photos.c.repair_order_id == ro_id,
            m.repair_order_photos.c.sha256 == sha256))
        if linked is None:
            session.execute(m.repair_order_photos.insert().values(
                repair_order_id=ro_id, sha256=sha256, uploaded_by=by, uploaded_at=at))


# -- quotes --------------------------------------------------------------------------------


class Quotes(_Store):
    def lines(self, ro_id: str, *, round_: int | None = None,
              status: str | Iterable[str] | None = None) -> list[Row]:
        query = _LINES
        if round_ is not None:
            query = query.where(_lines.round == round_)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            query = query.where(_lines.status.in_(statuses))
        return self._all(query.order_by(_lines.position), ro_id=ro_id)

    def line(self, ro_id: str, line_id: str) -> Row | None:
        return self._first(_LINE, ro_id=ro_id, line_id=line_id)

    def highest_line_number(self, ro_id: str) -> int:
        """The highest line number on the RO. A removed draft line's number may come back:
        drafts are never published, so no one outside has seen it."""
        return self.session.scalar(sa.select(sa.func.coalesce(sa.func.max(_lines.position), 0))
                                   .where(_lines.repair_order_id == ro_id)) or 0

    def rounds(self, ro_id: str) -> list[Row]:
        return self._all(sa.select(m.quotes).where(m.quotes.c.repair_order_id == ro_id)
                         .order_by(m.quotes.c.round))

    def open_round(self, ro_id: str, round_: int, *, quote_id: str, by: str,
                   at: datetime) -> None:
        self.session.execute(m.quotes.insert().values(
            repair_order_id=ro_id, round=round_, quote_id=quote_id, opened_at=at, opened_by=by))

    def add_lines(self, ro_id: str, rows: list[dict[str, Any]], *, by: str,
                  at: datetime) -> None:
        rows = [{**row, "repair_order_id": ro_id, "created_by": by, "created_at": at}
                for row in rows]
        columns = set().union(*rows)  # labour and part lines fill different columns
        self.session.execute(m.quote_lines.insert(),
                             [{name: row.get(name) for name in columns} for row in rows])

    def remove_line(self, ro_id: str, line_id: str) -> None:
        self.session.execute(m.quote_lines.delete().where(_lines.repair_order_id == ro_id,
                                                          _lines.line_id == line_id))

    def send_round(self, ro_id: str, round_: int, *, status: str, by: str,
                   at: datetime) -> None:
        """The round's lines go to the owner (`status`), and the round is marked sent."""
        self.session.execute(m.quote_lines.update().where(
            _lines.repair_order_id == ro_id, _lines.round == round_).values(status=status))
        self.session.execute(m.quotes.update().where(
            m.quotes.c.repair_order_id == ro_id, m.quotes.c.round == round_)
            .values(sent_at=at, sent_by=by))

    def decide_lines(self, ro_id: str, line_ids: list[str], *, status: str,
                     at: datetime) -> None:
        if line_ids:
            self.session.execute(m.quote_lines.update().where(
                _lines.repair_order_id == ro_id, _lines.line_id.in_(line_ids))
                .values(status=status, decided_at=at))

    def record_decision(self, ro_id: str, round_: int, **values: Any) -> None:
        self.session.execute(m.quotes.update().where(
            m.quotes.c.repair_order_id == ro_id, m.quotes.c.round == round_).values(**values))

    def count_issued(self, ro_id: str, line_id: str, quantity: Decimal) -> None:
        self.session.execute(m.quote_lines.update().where(
            _lines.repair_order_id == ro_id, _lines.line_id == line_id).values(
            issued_quantity=_lines.issued_quantity + quantity))


# -- the workshop --------------------------------------------------------------------------


class Workshop(_Store):
    def technicians_with_load(self, *, active_only: bool = True) -> list[Technician]:
        """Every technician with the flat-rate hours of the unfinished jobs assigned to them."""
        load = (sa.select(_jobs.technician_id, sa.func.sum(_lines.flat_rate_hours).label("hours"))
                .join(m.quote_lines, _LINE_OF_JOB)
                .where(_jobs.status != JobStatus.DONE.value, _jobs.technician_id.is_not(None))
                .group_by(_jobs.technician_id).subquery())
        query = (sa.select(m.technicians, load.c.hours)
                 .outerjoin(load, load.c.technician_id == m.technicians.c.id)
                 .order_by(m.technicians.c.id))
        if active_only:
            query = query.where(m.technicians.c.active.is_(True))
        return [Technician(id=row["id"], name=row["name"], skills=frozenset(row["skills"]),
                           load_hours=Decimal(row["hours"] or 0).quantize(Decimal("0.01")))
                for row in self._all(query)]

    def technician(self, technician_id: str) -> Row | None:
        return self._first(sa.select(m.technicians)
                           .where(m.technicians.c.id == technician_id))

    def add_technician(self, *, technician_id: str, name: str, skills: list[str],
                       at: datetime) -> None:
        self.session.execute(m.technicians.insert().values(
            id=technician_id, name=name, skills=skills, active=True, created_at=at))

    def jobs(self, ro_id: str) -> list[Row]:
        """The RO's jobs with their lines' description, skill and hours, in line order."""
        return self._all(_JOBS, ro_id=ro_id)

    def job(self, ro_id: str, line_id: str) -> Row | None:
        return self._first(_JOB, ro_id=ro_id, line_id=line_id)

    def add_jobs(self, ro_id: str, line_ids: list[str]) -> None:
        if line_ids:
            self.session.execute(m.jobs.insert(), [
                {"repair_order_id": ro_id, "line_id": line_id,
                 "status": JobStatus.PENDING.value, "assignment_overridden": False,
                 "rework_count": 0} for line_id in line_ids])

    def update_job(self, ro_id: str, line_id: str, **changes: Any) -> None:
        self.session.execute(m.jobs.update().where(_jobs.repair_order_id == ro_id,
                                                   _jobs.line_id == line_id).values(**changes))

    def reopen_jobs(self, ro_id: str, line_ids: list[str], *, rework: bool) -> None:
        """A failed check sends jobs back to their technicians (`rework` counts it on them)."""
        self.session.execute(m.jobs.update().where(
            _jobs.repair_order_id == ro_id, _jobs.line_id.in_(line_ids))
            .values(status=JobStatus.ASSIGNED.value, completed_at=None,
                    rework_count=_jobs.rework_count + (1 if rework else 0)))

    def open_clock(self, technician_id: str) -> Row | None:
        return self._first(sa.select(m.clock_entries).where(
            m.clock_entries.c.technician_id == technician_id,
            m.clock_entries.c.clocked_off_at.is_(None)))

    def clock_entries(self, ro_id: str) -> list[Row]:
        return self._all(_CLOCK_ENTRIES, ro_id=ro_id)

    def clock_on(self, *, ro_id: str, line_id: str, technician_id: str, at: datetime) -> None:
        """Start a clock; the database's one-open-clock index settles two racing requests."""
        try:
            with self.session.begin_nested():
                self.session.execute(m.clock_entries.insert().values(
                    repair_order_id=ro_id, line_id=line_id, technician_id=technician_id,
                    clocked_on_at=at))
        except IntegrityError:
            raise Conflict(f"technician {technician_id} is already clocked on another job: "
                           "clock off first") from None

    def clock_off(self, entry_id: int, *, at: datetime) -> None:
        self.session.execute(m.clock_entries.update().where(m.clock_entries.c.id == entry_id)
                             .values(clocked_off_at=at))

    def next_check_id(self, ro_id: str) -> str:
        done = self.session.scalar(sa.select(sa.func.count()).select_from(m.quality_checks)
                                   .where(m.quality_checks.c.repair_order_id == ro_id))
        return f"QC-{ro_id}-{done + 1}"

    def add_check(self, check: dict[str, Any]) -> None:
        self.session.execute(m.quality_checks.insert().values(**check))


# -- the workshop board --------------------------------------------------------------------


class Board(_Store):
    """What the workshop board reads: a fixed handful of statements however many cars are
    in, each over the board's repair orders at once (the board is polled every few seconds)."""

    def repair_orders(self, *, open_stages: Iterable[str], delivered_stages: Iterable[str],
                      delivered_since: datetime) -> list[Row]:
        """Open repair orders, and those handed over since `delivered_since`; the soonest
        promised first."""
        return self._all(sa.select(m.repair_orders).where(sa.or_(
            _ro.stage.in_(list(open_stages)),
            sa.and_(_ro.stage.in_(list(delivered_stages)),
                    _ro.delivered_at >= delivered_since)))
            .order_by(_ro.promised_at, _ro.id))

    def jobs(self, ro_ids: list[str]) -> list[Row]:
        return self._all(sa.select(_jobs.repair_order_id, _jobs.status, _jobs.technician_id)
                         .where(_jobs.repair_order_id.in_(ro_ids))) if ro_ids else []

    def parts_outstanding(self, ro_ids: list[str]) -> dict[str, int]:
        """Approved part lines not fully issued from the store yet, per repair order."""
        if not ro_ids:
            return {}
        rows = self.session.execute(
            sa.select(_lines.repair_order_id, sa.func.count())
            .where(_lines.repair_order_id.in_(ro_ids), _lines.kind == "PART",
                   _lines.status == "APPROVED", _lines.issued_quantity < _lines.quantity)
            .group_by(_lines.repair_order_id)).all()
        return {ro_id: count for ro_id, count in rows}

    def settlements(self, ro_ids: list[str]) -> list[Row]:
        """Each invoice's customer-pay total, what is paid on it and whether it is signed."""
        if not ro_ids:
            return []
        paid = (sa.select(m.payments.c.repair_order_id,
                          sa.func.sum(m.payments.c.amount).label("paid"))
                .where(m.payments.c.repair_order_id.in_(ro_ids))
                .group_by(m.payments.c.repair_order_id).subquery())
        inv = m.invoices.c
        return self._all(sa.select(inv.repair_order_id, inv.customer_pay_total, inv.signed_at,
                                   paid.c.paid)
                         .outerjoin(paid, paid.c.repair_order_id == inv.repair_order_id)
                         .where(inv.repair_order_id.in_(ro_ids)))

    def unfinished_jobs_by_technician(self) -> dict[str, int]:
        rows = self.session.execute(
            sa.select(_jobs.technician_id, sa.func.count())
            .where(_jobs.status != JobStatus.DONE.value, _jobs.technician_id.is_not(None))
            .group_by(_jobs.technician_id)).all()
        return {technician_id: count for technician_id, count in rows}

    def open_clocks(self) -> list[Row]:
        return self._all(sa.select(m.clock_entries)
                         .where(m.clock_entries.c.clocked_off_at.is_(None)))


# -- settlement ----------------------------------------------------------------------------


class Invoices(_Store):
    def invoice(self, ro_id: str) -> Row | None:
        return self._first(_INVOICE, ro_id=ro_id)

    def payments(self, ro_id: str) -> list[Row]:
        return self._all(_PAYMENTS, ro_id=ro_id)

    def replace(self, record: dict[str, Any], *, by: str, at: datetime) -> None:
        """Issue the invoice, instead of any issued before."""
        self.session.execute(m.invoices.delete().where(
            m.invoices.c.repair_order_id == record["repair_order_id"]))
        self.session.execute(m.invoices.insert().values(**record, issued_by=by, issued_at=at))

    def add_payment(self, ro_id: str, *, method: str, amount: Decimal, reference: str | None,
                    by: str, at: datetime) -> None:
        self.session.execute(m.payments.insert().values(
            repair_order_id=ro_id, method=method, amount=amount, reference=reference,
            received_by=by, received_at=at))

    def sign(self, ro_id: str, **signature: Any) -> None:
        self.session.execute(m.invoices.update().where(m.invoices.c.repair_order_id == ro_id)
                             .values(**signature))


class OnlinePayments(_Store):
    """Payments the owner makes online, by the id the owner's page holds or the merchant order
    number the provider names."""

    def add(self, row: dict[str, Any]) -> None:
        self.session.execute(m.online_payments.insert().values(**row))

    def get(self, ro_id: str, payment_id: str, *, for_update: bool = False) -> Row | None:
        query = sa.select(m.online_payments).where(
            m.online_payments.c.repair_order_id == ro_id, m.online_payments.c.id == payment_id)
        return self._first(query.with_for_update() if for_update else query)

    def by_out_trade_no(self, out_trade_no: str, *, for_update: bool = False) -> Row | None:
        query = sa.select(m.online_payments).where(
            m.online_payments.c.out_trade_no == out_trade_no)
        return self._first(query.with_for_update() if for_update else query)

    def pending(self, ro_id: str, *, amount: Decimal, provider: str) -> Row | None:
        """The latest payment still pending for this amount through this provider."""
        c = m.online_payments.c
        return self._first(sa.select(m.online_payments).where(
            c.repair_order_id == ro_id, c.status == "pending", c.amount == amount,
            c.provider == provider).order_by(c.created_at.desc()).limit(1))

    def update(self, payment_id: str, **changes: Any) -> None:
        self.session.execute(m.online_payments.update()
                             .where(m.online_payments.c.id == payment_id).values(**changes))


# -- what other services tell workorder ----------------------------------------------------


class Campaigns(_Store):
    def record(self, data: Row, *, recorded_at: datetime) -> int:
        """Keep one part of a published campaign; a part already kept changes nothing (the
        same chunk may come again under a new event id). Returns how many VINs were new."""
        session, c = self.session, m.recall_campaigns.c
        session.execute(_insert(session, m.recall_campaigns).values(
            code=data["campaign_code"], kind=data.get("kind"), title=data["title"],
            starts_on=date.fromisoformat(data["starts_on"]),
            operation_code=data.get("operation_code"), model=data.get("model"),
            year_from=data.get("year_from"), year_to=data.get("year_to"), parts=data["parts"],
            published_at=datetime.fromisoformat(data["published_at"]), recorded_at=recorded_at,
        ).on_conflict_do_nothing(index_elements=[c.code]))
        vins = data.get("vins") or []
        session.execute(_insert(session, m.recall_campaign_parts).values(
            campaign_code=data["campaign_code"], part=data["part"], vins=len(vins),
            recorded_at=recorded_at).on_conflict_do_nothing())
        if not vins:
            return 0
        result = session.execute(
            _insert(session, m.recall_campaign_vins).on_conflict_do_nothing(),
            [{"campaign_code": data["campaign_code"], "vin": v} for v in vins])
        return max(result.rowcount, 0)

    def covering(self, vin: str, model: str | None, on: date) -> tuple[list[Row], set[str]]:
        """Campaigns started by `on` that may cover the car (those listing its VIN, and those
        naming a model when it has one), and the codes of those listing it. The model and
        year rule is applied by `workorder.domain.campaigns`."""
        c, v = m.recall_campaigns.c, m.recall_campaign_vins.c
        listed = set(self.session.scalars(sa.select(v.campaign_code).where(v.vin == vin)))
        scope = [c.code.in_(listed)] if listed else []
        if model:
            scope.append(c.model.is_not(None))
        if not scope:
            return [], set()
        rows = self._all(sa.select(m.recall_campaigns).where(c.starts_on <= on, sa.or_(*scope)))
        return rows, listed

    def record_completion(self, data: Row, *, recorded_at: datetime) -> bool:
        """Keep headquarters' word that a campaign is done on a car; once is enough (the
        same completion may come again). True when it was new."""
        result = self.session.execute(_insert(self.session, m.recall_completions).values(
            campaign_code=data["campaign_code"], vin=data["vin"],
            dealer_code=data["dealer_code"], repair_order_id=data["repair_order_id"],
            delivered_at=datetime.fromisoformat(data["delivered_at"]),
            recorded_at=recorded_at).on_conflict_do_nothing())
        return bool(result.rowcount)

    def completed(self, vin: str) -> set[str]:
        """Codes of the campaigns done on the car, at this dealer or any other."""
        c = m.recall_completions.c
        return set(self.session.scalars(sa.select(c.campaign_code).where(c.vin == vin)))


class PartIssues(_Store):
    def known(self, issue_id: str) -> bool:
        return self.session.scalar(sa.select(m.part_issues.c.issue_id).where(
            m.part_issues.c.issue_id == issue_id)) is not None

    def add(self, row: dict[str, Any]) -> None:
        self.session.execute(m.part_issues.insert().values(**row))

    def of(self, ro_id: str) -> list[Row]:
        return self._all(sa.select(m.part_issues)
                         .where(m.part_issues.c.repair_order_id == ro_id)
                         .order_by(m.part_issues.c.issued_at, m.part_issues.c.recorded_at))


# -- the unit of work ----------------------------------------------------------------------


class WorkorderUnitOfWork(UnitOfWork):
    """One transaction of workorder: its stores over one session, the outbox, and what the
    process shares (the photo files, the owner-link signer)."""

    def __init__(self, session: Session, events: Emits, *, media: MediaStore,
                 links: OwnerLinks) -> None:
        super().__init__(session, events)
        self.repair_orders = RepairOrders(session)
        self.vehicles = Vehicles(session)
        self.arrivals = ExpectedArrivals(session)
        self.inspections = Inspections(session)
        self.photos = Photos(session)
        self.quotes = Quotes(session)
        self.workshop = Workshop(session)
        self.board = Board(session)
        self.invoices = Invoices(session)
        self.online_payments = OnlinePayments(session)
        self.campaigns = Campaigns(session)
        self.part_issues = PartIssues(session)
        self.media = media
        self.links = links


def resources(settings: Any) -> dict[str, Any]:
    """What every unit of work of the process shares, built once at start."""
    return {"media": MediaStore(settings.media_dir),
            # One secret signs every owner link; each purpose derives a key of its own.
            "links": OwnerLinks(own_secret(settings, "report_link_secret"))}
