"""Reading and writing workorder's tables for the entrypoints (SQLAlchemy Core, one session)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chassis.errors import Conflict, InvalidInput, NotFound
from workorder import models as m
from workorder.domain.reception import repair_order_number
from workorder.domain.stages import OPEN_STAGES, Stage
from workorder.domain.workshop import JobStatus, Technician

Row = Mapping[str, Any]


def repair_order(session: Session, repair_order_id: str, *, for_update: bool = False) -> Row:
    """The repair order; NotFound (404) when this site has none by that id.

    `for_update` locks it: every change to a repair order goes through its row, so two
    requests on one RO (two technicians, the cashier and the advisor) apply one after the
    other and the stage they check is the stage they change.
    """
    query = sa.select(m.repair_orders).where(m.repair_orders.c.id == repair_order_id)
    if for_update:
        query = query.with_for_update()
    row = session.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"repair order {repair_order_id} not found")
    return row


def insert_repair_order(session: Session, row: dict[str, Any], *, dealer_code: str,
                        local_day: Any) -> str:
    """Insert with the day's next running number; a number taken by a racing request is
    retried with the next one."""
    prefix = repair_order_number(dealer_code, local_day, 0)[:-4]
    for _attempt in range(20):
        taken = session.scalar(sa.select(sa.func.count()).select_from(m.repair_orders)
                               .where(m.repair_orders.c.id.like(f"{prefix}%")))
        ro_id = repair_order_number(dealer_code, local_day, taken + 1)
        try:
            with session.begin_nested():
                session.execute(m.repair_orders.insert().values(id=ro_id, **row))
            return ro_id
        except IntegrityError as exc:
            if "appointment_id" in str(exc.orig):
                raise Conflict("this appointment has already been received",
                               appointment_id=row.get("appointment_id")) from None
            continue
    raise RuntimeError("could not allocate a repair order number")


def open_repair_order_for(session: Session, vin: str) -> str | None:
    return session.scalar(sa.select(m.repair_orders.c.id).where(
        m.repair_orders.c.vin == vin,
        m.repair_orders.c.stage.in_([s.value for s in OPEN_STAGES])).limit(1))


def set_stage(session: Session, ro: Row, to: Stage, *, action: str, actor: str, at: datetime,
              **changes: Any) -> None:
    session.execute(m.repair_orders.update().where(m.repair_orders.c.id == ro["id"])
                    .values(stage=to.value, **changes))
    session.execute(m.stage_history.insert().values(
        repair_order_id=ro["id"], from_stage=ro["stage"], to_stage=to.value, action=action,
        actor=actor, at=at))


def update_repair_order(session: Session, ro_id: str, **changes: Any) -> None:
    session.execute(m.repair_orders.update().where(m.repair_orders.c.id == ro_id)
                    .values(**changes))


def remember_vehicle(session: Session, *, vin: str, plate: str, model: str | None,
                     mileage_km: int, at: datetime) -> None:
    known = session.execute(sa.select(m.vehicles).where(m.vehicles.c.vin == vin)
                            .with_for_update()).mappings().first()
    values = {"plate": plate, "last_mileage_km": mileage_km, "last_seen_at": at}
    if model:
        values["model"] = model
    if known is None:
        try:
            with session.begin_nested():
                session.execute(m.vehicles.insert().values(vin=vin, **values))
        except IntegrityError:
            raise Conflict(f"vehicle {vin} is being received by another request") from None
    else:
        session.execute(m.vehicles.update().where(m.vehicles.c.vin == vin).values(**values))


def last_known_mileage(session: Session, vin: str) -> int | None:
    return session.scalar(sa.select(m.vehicles.c.last_mileage_km).where(m.vehicles.c.vin == vin))


# -- inspection ----------------------------------------------------------------------------


def checklist(session: Session, template_code: str | None) -> tuple[str, list[Row]]:
    templates = m.checklist_templates
    query = sa.select(templates.c.code)
    query = query.where(templates.c.code == template_code) if template_code else \
        query.where(templates.c.is_default.is_(True))
    code = session.scalar(query.limit(1))
    if code is None:
        raise InvalidInput("template_code", f"no checklist template {template_code}")
    items = session.execute(
        sa.select(m.checklist_template_items)
        .where(m.checklist_template_items.c.template_code == code)
        .order_by(m.checklist_template_items.c.position)).mappings().all()
    return code, list(items)


def inspection_of(session: Session, ro_id: str) -> Row | None:
    return session.execute(sa.select(m.inspections)
                           .where(m.inspections.c.repair_order_id == ro_id)).mappings().first()


def inspection_items(session: Session, inspection_id: str) -> list[Row]:
    return list(session.execute(
        sa.select(m.inspection_items).where(m.inspection_items.c.inspection_id == inspection_id)
        .order_by(m.inspection_items.c.position)).mappings().all())


def photos_of(session: Session, ro_id: str) -> dict[str, Row]:
    rows = session.execute(
        sa.select(m.photos).join(m.repair_order_photos,
                                 m.repair_order_photos.c.sha256 == m.photos.c.sha256)
        .where(m.repair_order_photos.c.repair_order_id == ro_id)).mappings().all()
    return {row["sha256"]: row for row in rows}


def register_photo(session: Session, *, ro_id: str, sha256: str, content_type: str,
                   size_bytes: int, by: str, at: datetime) -> None:
    """Record the photo once, and its link to the repair order once."""
    if session.scalar(sa.select(m.photos.c.sha256).where(m.photos.c.sha256 == sha256)) is None:
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


# -- quote ---------------------------------------------------------------------------------


def lines(session: Session, ro_id: str, *, round_: int | None = None,
          status: str | Iterable[str] | None = None) -> list[Row]:
    query = sa.select(m.quote_lines).where(m.quote_lines.c.repair_order_id == ro_id)
    if round_ is not None:
        query = query.where(m.quote_lines.c.round == round_)
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        query = query.where(m.quote_lines.c.status.in_(statuses))
    return list(session.execute(query.order_by(m.quote_lines.c.position)).mappings().all())


def line(session: Session, ro_id: str, line_id: str) -> Row | None:
    return session.execute(sa.select(m.quote_lines).where(
        m.quote_lines.c.repair_order_id == ro_id,
        m.quote_lines.c.line_id == line_id)).mappings().first()


def line_count(session: Session, ro_id: str) -> int:
    """The highest line number on the RO. A removed draft line's number may come back: drafts
    are never published, so no one outside has seen it."""
    return session.scalar(sa.select(sa.func.coalesce(sa.func.max(m.quote_lines.c.position), 0))
                          .where(m.quote_lines.c.repair_order_id == ro_id)) or 0


def quote_rounds(session: Session, ro_id: str) -> list[Row]:
    return list(session.execute(sa.select(m.quotes).where(m.quotes.c.repair_order_id == ro_id)
                                .order_by(m.quotes.c.round)).mappings().all())


def quote_round(session: Session, ro_id: str, round_: int) -> Row | None:
    return session.execute(sa.select(m.quotes).where(
        m.quotes.c.repair_order_id == ro_id, m.quotes.c.round == round_)).mappings().first()


# -- workshop ------------------------------------------------------------------------------


def _line_of_job() -> sa.ColumnElement[bool]:
    return sa.and_(m.quote_lines.c.repair_order_id == m.jobs.c.repair_order_id,
                   m.quote_lines.c.line_id == m.jobs.c.line_id)


def technicians_with_load(session: Session, *, active_only: bool = True) -> list[Technician]:
    """Every technician with the flat-rate hours of the unfinished jobs assigned to them."""
    load = (sa.select(m.jobs.c.technician_id,
                      sa.func.sum(m.quote_lines.c.flat_rate_hours).label("hours"))
            .join(m.quote_lines, _line_of_job())
            .where(m.jobs.c.status != JobStatus.DONE.value,
                   m.jobs.c.technician_id.is_not(None))
            .group_by(m.jobs.c.technician_id).subquery())
    query = (sa.select(m.technicians, load.c.hours)
             .outerjoin(load, load.c.technician_id == m.technicians.c.id)
             .order_by(m.technicians.c.id))
    if active_only:
        query = query.where(m.technicians.c.active.is_(True))
    return [Technician(id=row["id"], name=row["name"], skills=frozenset(row["skills"]),
                       load_hours=Decimal(row["hours"] or 0).quantize(Decimal("0.01")))
            for row in session.execute(query).mappings().all()]


def technician(session: Session, technician_id: str) -> Row | None:
    return session.execute(sa.select(m.technicians)
                           .where(m.technicians.c.id == technician_id)).mappings().first()


def jobs(session: Session, ro_id: str) -> list[Row]:
    query = (sa.select(m.jobs, m.quote_lines.c.description, m.quote_lines.c.operation_code,
                       m.quote_lines.c.skill, m.quote_lines.c.flat_rate_hours,
                       m.quote_lines.c.position)
             .join(m.quote_lines, _line_of_job())
             .where(m.jobs.c.repair_order_id == ro_id).order_by(m.quote_lines.c.position))
    return list(session.execute(query).mappings().all())


def job(session: Session, ro_id: str, line_id: str) -> Row | None:
    return session.execute(sa.select(m.jobs).where(
        m.jobs.c.repair_order_id == ro_id, m.jobs.c.line_id == line_id)).mappings().first()


def update_job(session: Session, ro_id: str, line_id: str, **changes: Any) -> None:
    session.execute(m.jobs.update().where(m.jobs.c.repair_order_id == ro_id,
                                          m.jobs.c.line_id == line_id).values(**changes))


def open_clock(session: Session, technician_id: str) -> Row | None:
    return session.execute(sa.select(m.clock_entries).where(
        m.clock_entries.c.technician_id == technician_id,
        m.clock_entries.c.clocked_off_at.is_(None))).mappings().first()


def clock_entries(session: Session, ro_id: str, line_id: str | None = None) -> list[Row]:
    query = sa.select(m.clock_entries).where(m.clock_entries.c.repair_order_id == ro_id)
    if line_id is not None:
        query = query.where(m.clock_entries.c.line_id == line_id)
    return list(session.execute(query.order_by(m.clock_entries.c.id)).mappings().all())


def next_check_id(session: Session, ro_id: str) -> str:
    done = session.scalar(sa.select(sa.func.count()).select_from(m.quality_checks)
                          .where(m.quality_checks.c.repair_order_id == ro_id))
    return f"QC-{ro_id}-{done + 1}"


# -- settlement ----------------------------------------------------------------------------


def invoice(session: Session, ro_id: str) -> Row | None:
    return session.execute(sa.select(m.invoices)
                           .where(m.invoices.c.repair_order_id == ro_id)).mappings().first()


def payments(session: Session, ro_id: str) -> list[Row]:
    return list(session.execute(sa.select(m.payments).where(m.payments.c.repair_order_id == ro_id)
                                .order_by(m.payments.c.id)).mappings().all())


def _insert(session: Session, table: sa.Table) -> Any:
    """INSERT that can skip rows already there (PostgreSQL, or SQLite in embedded runs)."""
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def record_campaign(session: Session, data: Row, *, recorded_at: datetime) -> int:
    """Keep one part of a published campaign; a part already kept changes nothing (the same
    chunk may come again under a new event id). Returns how many VINs were new."""
    c = m.recall_campaigns.c
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
    result = session.execute(_insert(session, m.recall_campaign_vins).on_conflict_do_nothing(),
                             [{"campaign_code": data["campaign_code"], "vin": v} for v in vins])
    return max(result.rowcount, 0)


def campaigns_for(session: Session, vin: str, model: str | None, on: date
                  ) -> tuple[list[Row], set[str]]:
    """Campaigns started by `on` that may cover the car (those listing its VIN, and those
    naming a model when it has one), and the codes of those listing it. The model and year
    rule is applied by `workorder.domain.campaigns`."""
    c, v = m.recall_campaigns.c, m.recall_campaign_vins.c
    listed = set(session.scalars(sa.select(v.campaign_code).where(v.vin == vin)))
    scope = [c.code.in_(listed)] if listed else []
    if model:
        scope.append(c.model.is_not(None))
    if not scope:
        return [], set()
    rows = session.execute(sa.select(m.recall_campaigns)
                           .where(c.starts_on <= on, sa.or_(*scope))).mappings().all()
    return list(rows), listed
