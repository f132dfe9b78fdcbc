"""Reading and writing parts' tables: the SQL, and nothing else.

Locking order, kept by every movement so that two movements never wait on each other:
repair orders first (sorted by id), then stock rows (sorted by part number). The repair
order lock also serialises the events of one repair order, whose outbox sequence numbers
must not race.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parts import domain, models
from parts.domain import ZERO, Lot, Reservation, Stock

OPEN, CLOSED, CANCELLED = "OPEN", "CLOSED", "CANCELLED"


@dataclass(frozen=True)
class Part:
    part_number: str
    name: str
    unit: str
    unit_price: Decimal
    tracking: str


@dataclass
class LockedPart:
    """A catalogue part with its stock row locked for this transaction."""

    part: Part
    stock: Stock
    bin_location: str | None = None
    shortfall: Decimal = ZERO
    before: tuple[Stock, Decimal] = field(init=False)

    def __post_init__(self) -> None:
        self.before = (self.stock, self.shortfall)


# -- catalogue ----------------------------------------------------------------------------------


def part_row(session: Session, part_number: str) -> dict[str, Any] | None:
    """A part with its stock and compatible models, as the API shows it."""
    rows = part_rows(session, sa.true(), part_numbers=[part_number])
    return rows[0] if rows else None


def part_rows(session: Session, where: Any, *, part_numbers: Sequence[str] | None = None,
              limit: int = 100) -> list[dict[str, Any]]:
    p, s = models.parts, models.stock_levels
    query = (sa.select(p, s.c.on_hand, s.c.reserved, s.c.bin_location, s.c.reorder_point,
                       s.c.reorder_quantity)
             .join(s, s.c.part_number == p.c.part_number).where(where)
             .order_by(p.c.part_number).limit(limit))
    if part_numbers is not None:
        query = query.where(p.c.part_number.in_(part_numbers))
    rows = [dict(r) for r in session.execute(query).mappings()]
    fitments = models_of(session, [r["part_number"] for r in rows])
    for row in rows:
        row["available"] = row["on_hand"] - row["reserved"]
        row["compatible_models"] = fitments.get(row["part_number"], [])
    return rows


def models_of(session: Session, part_numbers: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if not part_numbers:
        return found
    m = models.part_models
    for pn, code in session.execute(sa.select(m.c.part_number, m.c.model_code)
                                    .where(m.c.part_number.in_(part_numbers))
                                    .order_by(m.c.part_number, m.c.model_code)):
        found.setdefault(pn, []).append(code)
    return found


def insert_part(session: Session, values: dict[str, Any], stock: dict[str, Any],
                compatible_models: Iterable[str], now: datetime) -> None:
    session.execute(models.parts.insert().values(**values, created_at=now, updated_at=now))
    session.execute(models.stock_levels.insert().values(
        part_number=values["part_number"], on_hand=ZERO, reserved=ZERO, updated_at=now, **stock))
    set_models(session, values["part_number"], compatible_models)


def set_models(session: Session, part_number: str, codes: Iterable[str]) -> None:
    m = models.part_models
    session.execute(m.delete().where(m.c.part_number == part_number))
    rows = [{"part_number": part_number, "model_code": c} for c in sorted(set(codes))]
    if rows:
        session.execute(m.insert(), rows)


def update_part(session: Session, part_number: str, values: dict[str, Any],
                stock: dict[str, Any], now: datetime) -> None:
    if values:
        session.execute(models.parts.update().where(models.parts.c.part_number == part_number)
                        .values(**values, updated_at=now))
    if stock:
        s = models.stock_levels
        session.execute(s.update().where(s.c.part_number == part_number)
                        .values(**stock, updated_at=now))


def vin_model_map(session: Session, prefixes: Sequence[str]) -> dict[str, str]:
    v = models.vin_models
    return dict(session.execute(sa.select(v.c.vin_prefix, v.c.model_code)
                                .where(v.c.vin_prefix.in_(prefixes))).all())


def put_vin_model(session: Session, prefix: str, model_code: str, model_name: str | None,
                  actor: str, now: datetime) -> bool:
    """Create or replace a prefix; True when it was new."""
    v = models.vin_models
    values = {"model_code": model_code, "model_name": model_name, "updated_by": actor,
              "updated_at": now}
    changed = session.execute(v.update().where(v.c.vin_prefix == prefix).values(**values))
    if changed.rowcount:
        return False
    session.execute(v.insert().values(vin_prefix=prefix, **values))
    return True


# -- locks --------------------------------------------------------------------------------------


def _insert_ignoring_duplicates(session: Session, table: sa.Table) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database {dialect}")


def remember_repair_order(session: Session, repair_order_id: str, vin: str,
                          now: datetime) -> None:
    """Record a repair order on first sight (lock it with lock_repair_orders)."""
    session.execute(_insert_ignoring_duplicates(session, models.repair_orders).values(
        id=repair_order_id, vin=vin, status=OPEN, created_at=now, updated_at=now))


def lock_repair_orders(session: Session, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    ro = models.repair_orders
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(sa.select(ro).where(ro.c.id.in_(wanted)).order_by(ro.c.id)
                           .with_for_update()).mappings()
    return {r["id"]: dict(r) for r in rows}


def set_repair_order_status(session: Session, repair_order_id: str, status: str,
                            now: datetime) -> None:
    ro = models.repair_orders
    session.execute(ro.update().where(ro.c.id == repair_order_id)
                    .values(status=status, updated_at=now))


def lock_parts(session: Session, part_numbers: Iterable[str]) -> dict[str, LockedPart]:
    """Catalogue parts with their stock rows locked (SELECT … FOR UPDATE), in part-number
    order; unknown part numbers are left out."""
    wanted = sorted(set(part_numbers))
    if not wanted:
        return {}
    p, s = models.parts, models.stock_levels
    rows = session.execute(
        sa.select(s, p.c.name, p.c.unit, p.c.unit_price, p.c.tracking)
        .join(p, p.c.part_number == s.c.part_number)
        .where(s.c.part_number.in_(wanted)).order_by(s.c.part_number)
        .with_for_update(of=s)).mappings().all()
    shortfalls = shortfall_by_part(session, wanted)
    return {r["part_number"]: LockedPart(
        part=Part(r["part_number"], r["name"], r["unit"], r["unit_price"], r["tracking"]),
        stock=Stock(r["part_number"], r["on_hand"], r["reserved"], r["reorder_point"],
                    r["reorder_quantity"]),
        bin_location=r["bin_location"], shortfall=shortfalls.get(r["part_number"], ZERO))
        for r in rows}


def save_stock(session: Session, stock: Stock, now: datetime) -> None:
    s = models.stock_levels
    session.execute(s.update().where(s.c.part_number == stock.part_number)
                    .values(on_hand=stock.on_hand, reserved=stock.reserved, updated_at=now))


# -- reservations -------------------------------------------------------------------------------

_OUTSTANDING = (models.reservations.c.quantity_approved - models.reservations.c.quantity_reserved
                - models.reservations.c.quantity_issued)
# Lines still waiting for parts (a shortfall).
WAITING = sa.and_(models.reservations.c.status == domain.ACTIVE, _OUTSTANDING > 0)


def _reservation(row: Any) -> Reservation:
    return Reservation(
        id=row["id"], repair_order_id=row["repair_order_id"],
        quote_line_id=row["quote_line_id"], part_number=row["part_number"],
        approved=row["quantity_approved"], reserved=row["quantity_reserved"],
        issued=row["quantity_issued"], returned=row["quantity_returned"],
        status=row["status"], decided_sequence=row["decided_sequence"],
        from_stock=row["from_stock"], unit_price=row["unit_price"])


def reservations_of(session: Session, repair_order_id: str) -> dict[str, Reservation]:
    r = models.reservations
    rows = session.execute(sa.select(r).where(r.c.repair_order_id == repair_order_id)
                           ).mappings()
    return {row["quote_line_id"]: _reservation(row) for row in rows}


def reservation_rows(session: Session, where: Any, limit: int = 500) -> list[dict[str, Any]]:
    r, ro = models.reservations, models.repair_orders
    rows = session.execute(sa.select(r, ro.c.vin).join(ro, ro.c.id == r.c.repair_order_id)
                           .where(where).order_by(r.c.created_at, r.c.id).limit(limit)
                           ).mappings()
    out = []
    for row in rows:
        line = _reservation(row)
        out.append({**dict(row), "shortfall": line.shortfall})
    return out


def shortfall_by_part(session: Session, part_numbers: Sequence[str]) -> dict[str, Decimal]:
    r = models.reservations
    rows = session.execute(
        sa.select(r.c.part_number, sa.func.sum(_OUTSTANDING))
        .where(r.c.part_number.in_(part_numbers), r.c.status == domain.ACTIVE, _OUTSTANDING > 0)
        .group_by(r.c.part_number)).all()
    return {pn: Decimal(total) for pn, total in rows}


def repair_orders_waiting_for(session: Session, part_numbers: Sequence[str]) -> list[str]:
    """Repair orders with a shortfall on any of these parts (read without locks)."""
    r = models.reservations
    return list(session.scalars(
        sa.select(r.c.repair_order_id).distinct()
        .where(r.c.part_number.in_(part_numbers), r.c.status == domain.ACTIVE,
               _OUTSTANDING > 0)))


def repair_orders_holding(session: Session, part_number: str) -> list[str]:
    r = models.reservations
    return list(session.scalars(
        sa.select(r.c.repair_order_id).distinct()
        .where(r.c.part_number == part_number, r.c.quantity_reserved > 0)))


def waiting_lines(session: Session, part_number: str, repair_order_ids: Sequence[str]
                  ) -> list[Reservation]:
    """Lines short of this part, first approved first."""
    r = models.reservations
    rows = session.execute(
        sa.select(r).where(r.c.part_number == part_number, r.c.status == domain.ACTIVE,
                           _OUTSTANDING > 0, r.c.repair_order_id.in_(repair_order_ids))
        .order_by(r.c.created_at, r.c.id)).mappings()
    return [_reservation(row) for row in rows]


def holding_lines_newest_first(session: Session, part_number: str,
                               repair_order_ids: Sequence[str]) -> list[Reservation]:
    r = models.reservations
    rows = session.execute(
        sa.select(r).where(r.c.part_number == part_number, r.c.quantity_reserved > 0,
                           r.c.repair_order_id.in_(repair_order_ids))
        .order_by(r.c.created_at.desc(), r.c.id.desc())).mappings()
    return [_reservation(row) for row in rows]


def save_reservation(session: Session, line: Reservation, now: datetime) -> None:
    r = models.reservations
    values = {"part_number": line.part_number, "quantity_approved": line.approved,
              "quantity_reserved": line.reserved, "quantity_issued": line.issued,
              "quantity_returned": line.returned, "status": line.status,
              "decided_sequence": line.decided_sequence, "from_stock": line.from_stock,
              "unit_price": line.unit_price, "updated_at": now}
    changed = session.execute(r.update().where(r.c.id == line.id).values(**values))
    if not changed.rowcount:
        session.execute(r.insert().values(id=line.id, repair_order_id=line.repair_order_id,
                                          quote_line_id=line.quote_line_id, created_at=now,
                                          **values))


# -- lots ---------------------------------------------------------------------------------------


def _lot(row: Any, remaining: Decimal | None = None) -> Lot:
    return Lot(id=row["id"], batch_number=row["batch_number"],
               serial_number=row["serial_number"],
               remaining=row["quantity_remaining"] if remaining is None else remaining,
               received_at=row["received_at"])


def lots_on_hand(session: Session, part_number: str) -> list[Lot]:
    lots = models.stock_lots
    rows = session.execute(sa.select(lots).where(lots.c.part_number == part_number,
                                                 lots.c.quantity_remaining > 0)).mappings()
    return [_lot(row) for row in rows]


def serials_on_hand(session: Session, part_number: str, serials: Sequence[str]) -> list[str]:
    lots = models.stock_lots
    return list(session.scalars(sa.select(lots.c.serial_number).where(
        lots.c.part_number == part_number, lots.c.serial_number.in_(serials),
        lots.c.quantity_remaining > 0)))


def add_lot(session: Session, part_number: str, lot: domain.IncomingLot, receipt_id: str,
            now: datetime) -> Lot:
    lots = models.stock_lots
    lot_id = session.execute(lots.insert().values(
        part_number=part_number, batch_number=lot.batch_number,
        serial_number=lot.serial_number, quantity_received=lot.quantity,
        quantity_remaining=lot.quantity, receipt_id=receipt_id, received_at=now)
        .returning(lots.c.id)).scalar_one()
    return Lot(lot_id, lot.batch_number, lot.serial_number, lot.quantity, now)


def change_lot(session: Session, lot_id: int, change: Decimal) -> None:
    lots = models.stock_lots
    session.execute(lots.update().where(lots.c.id == lot_id)
                    .values(quantity_remaining=lots.c.quantity_remaining + change))


def issued_to_line(session: Session, repair_order_id: str, quote_line_id: str
                   ) -> list[tuple[Lot, Decimal]]:
    """Lots that went to this line and have not come back, last issued first."""
    m, lots = models.stock_movements, models.stock_lots
    net = sa.func.sum(-m.c.on_hand_change)
    rows = session.execute(
        sa.select(lots, net.label("net"), sa.func.max(m.c.id).label("last"))
        .join(lots, lots.c.id == m.c.lot_id)
        .where(m.c.repair_order_id == repair_order_id, m.c.quote_line_id == quote_line_id,
               m.c.kind.in_([domain.ISSUE, domain.RETURN]))
        .group_by(*lots.c).having(net > 0).order_by(sa.desc("last"))).mappings()
    return [(_lot(row), Decimal(row["net"])) for row in rows]


# -- the ledger ---------------------------------------------------------------------------------


@dataclass
class Ledger:
    """Writes movement rows for one part, keeping the running balances."""

    session: Session
    part_number: str
    on_hand: Decimal
    reserved: Decimal
    kind: str
    reference: str
    actor: str
    at: datetime
    reason: str | None = None
    repair_order_id: str | None = None
    quote_line_id: str | None = None
    vin: str | None = None

    def record(self, on_hand_change: Decimal = ZERO, reserved_change: Decimal = ZERO,
               lot: Lot | None = None, **overrides: Any) -> None:
        self.on_hand += on_hand_change
        self.reserved += reserved_change
        values = {
            "kind": self.kind, "part_number": self.part_number,
            "lot_id": lot.id if lot else None,
            "batch_number": lot.batch_number if lot else None,
            "serial_number": lot.serial_number if lot else None,
            "on_hand_change": on_hand_change, "reserved_change": reserved_change,
            "on_hand_after": self.on_hand, "reserved_after": self.reserved,
            "repair_order_id": self.repair_order_id, "quote_line_id": self.quote_line_id,
            "vin": self.vin, "reference": self.reference, "reason": self.reason,
            "actor": self.actor, "moved_at": self.at}
        values.update(overrides)
        self.session.execute(models.stock_movements.insert().values(**values))


def movements(session: Session, where: Any, *, after_id: int = 0, limit: int = 100
              ) -> list[dict[str, Any]]:
    m = models.stock_movements
    rows = session.execute(sa.select(m).where(where, m.c.id > after_id).order_by(m.c.id)
                           .limit(limit)).mappings()
    return [dict(r) for r in rows]


# -- reports --------------------------------------------------------------------------------


def reorder_candidates(session: Session) -> list[dict[str, Any]]:
    """Stock rows that may be low: available at or below the reorder point, or waited for."""
    p, s, r = models.parts, models.stock_levels, models.reservations
    waited_for = (sa.select(r.c.part_number).where(r.c.status == domain.ACTIVE,
                                                   _OUTSTANDING > 0))
    rows = session.execute(
        sa.select(s, p.c.name, p.c.unit).join(p, p.c.part_number == s.c.part_number)
        .where(sa.or_(s.c.on_hand - s.c.reserved <= s.c.reorder_point,
                      s.c.part_number.in_(waited_for)))
        .order_by(s.c.part_number)).mappings().all()
    shortfalls = shortfall_by_part(session, [r["part_number"] for r in rows])
    return [{**dict(r), "shortfall": shortfalls.get(r["part_number"], ZERO)} for r in rows]


def stocktakes(session: Session, part_number: str | None, limit: int) -> list[dict[str, Any]]:
    a = models.stock_adjustments
    query = sa.select(a).order_by(a.c.adjusted_at.desc(), a.c.id).limit(limit)
    if part_number:
        query = query.where(a.c.part_number == part_number)
    return [{**dict(r), "adjustment_id": r["id"]} for r in session.execute(query).mappings()]


_ISSUE_KINDS = (domain.ISSUE, domain.RETURN)


def traced_issues(session: Session, where: Any) -> list[dict[str, Any]]:
    """Net quantities that went into vehicles, per repair order line and batch or serial."""
    m = models.stock_movements
    net = sa.func.sum(-m.c.on_hand_change)
    rows = session.execute(
        sa.select(m.c.repair_order_id, m.c.quote_line_id, m.c.vin, m.c.part_number,
                  m.c.batch_number, m.c.serial_number, net.label("quantity"),
                  sa.func.min(m.c.moved_at).label("first_issued_at"))
        .where(where, m.c.kind.in_(_ISSUE_KINDS))
        .group_by(m.c.repair_order_id, m.c.quote_line_id, m.c.vin, m.c.part_number,
                  m.c.batch_number, m.c.serial_number)
        .order_by(sa.func.min(m.c.moved_at), m.c.repair_order_id)).mappings()
    return [dict(r) for r in rows]


def lots_where(session: Session, where: Any) -> list[dict[str, Any]]:
    lots = models.stock_lots
    return [dict(r) for r in session.execute(
        sa.select(lots).where(where).order_by(lots.c.received_at, lots.c.id)).mappings()]
