"""Reading and writing parts' tables: the SQL, and nothing else.

Two stores over the unit of work's session: `Catalogue` (parts, their models, VIN
prefixes) and `StockStore` (stock rows, reservations, lots, the movement ledger and the
documents of each movement). `PartsUnitOfWork`, at the end, carries both for the use cases
(`parts.use_cases`). No commits: the unit of work's transaction is the framework's to end.

Locking order, kept by every movement so that two movements never wait on each other:
repair orders first (sorted by id), then stock rows (sorted by part number). The repair
order lock also serialises the events of one repair order, whose outbox sequence numbers
must not race.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chassis.unit_of_work import Emits, UnitOfWork
from parts import domain, models
from parts.domain import OPEN, ZERO, LockedPart, Lot, Part, Reservation, Stock

# -- catalogue ---------------------------------------------------------------------------------


class Catalogue:
    """The parts this site stocks, what they fit, and which VIN prefixes name which model."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def part_row(self, part_number: str) -> dict[str, Any] | None:
        """A part with its stock and compatible models, as the API shows it."""
        rows = self.part_rows(sa.true(), part_numbers=[part_number])
        return rows[0] if rows else None

    def part_rows(self, where: Any, *, part_numbers: Sequence[str] | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
        p, s = models.parts, models.stock_levels
        query = (sa.select(p, s.c.on_hand, s.c.reserved, s.c.bin_location, s.c.reorder_point,
                           s.c.reorder_quantity)
                 .join(s, s.c.part_number == p.c.part_number).where(where)
                 .order_by(p.c.part_number).limit(limit))
        if part_numbers is not None:
            query = query.where(p.c.part_number.in_(part_numbers))
        rows = [dict(r) for r in self.session.execute(query).mappings()]
        fitments = self.models_of([r["part_number"] for r in rows])
        for row in rows:
            row["available"] = row["on_hand"] - row["reserved"]
            row["compatible_models"] = fitments.get(row["part_number"], [])
        return rows

    def models_of(self, part_numbers: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        if not part_numbers:
            return found
        m = models.part_models
        for pn, code in self.session.execute(sa.select(m.c.part_number, m.c.model_code)
                                             .where(m.c.part_number.in_(part_numbers))
                                             .order_by(m.c.part_number, m.c.model_code)):
            found.setdefault(pn, []).append(code)
        return found

    def insert_part(self, values: dict[str, Any], stock: dict[str, Any],
                    compatible_models: Iterable[str], now: datetime) -> None:
        self.session.execute(models.parts.insert().values(**values, created_at=now,
                                                          updated_at=now))
        self.session.execute(models.stock_levels.insert().values(
            part_number=values["part_number"], on_hand=ZERO, reserved=ZERO, updated_at=now,
            **stock))
        self.set_models(values["part_number"], compatible_models)

    def set_models(self, part_number: str, codes: Iterable[str]) -> None:
        m = models.part_models
        self.session.execute(m.delete().where(m.c.part_number == part_number))
        rows = [{"part_number": part_number, "model_code": c} for c in sorted(set(codes))]
        if rows:
            self.session.execute(m.insert(), rows)

    def update_part(self, part_number: str, values: dict[str, Any],
                    stock: dict[str, Any], now: datetime) -> None:
        if values:
            p = models.parts
            self.session.execute(p.update().where(p.c.part_number == part_number)
                                      .values(**values, updated_at=now))
        if stock:
            s = models.stock_levels
            self.session.execute(s.update().where(s.c.part_number == part_number)
                                 .values(**stock, updated_at=now))

    def vin_model_map(self, prefixes: Sequence[str]) -> dict[str, str]:
        v = models.vin_models
        return dict(self.session.execute(sa.select(v.c.vin_prefix, v.c.model_code)
                                         .where(v.c.vin_prefix.in_(prefixes))).all())

    def put_vin_model(self, prefix: str, model_code: str, model_name: str | None,
                      actor: str, now: datetime) -> bool:
        """Create or replace a prefix; True when it was new."""
        v = models.vin_models
        values = {"model_code": model_code, "model_name": model_name, "updated_by": actor,
                  "updated_at": now}
        changed = self.session.execute(v.update().where(v.c.vin_prefix == prefix).values(**values))
        if changed.rowcount:
            return False
        self.session.execute(v.insert().values(vin_prefix=prefix, **values))
        return True

    def find(self, *, model: str | None = None, text: str | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
        """Parts that fit a model and/or whose number or name contains `text`."""
        p = models.parts
        where: Any = sa.true()
        if model is not None:
            fits = sa.select(models.part_models.c.part_number).where(
                models.part_models.c.model_code == model)
            where = sa.and_(where, p.c.part_number.in_(fits))
        if text is not None:
            like = f"%{text}%"
            where = sa.and_(where, sa.or_(p.c.part_number.ilike(like), p.c.name.ilike(like)))
        return self.part_rows(where, limit=limit)

    def vin_model(self, prefix: str) -> dict[str, Any]:
        v = models.vin_models
        return dict(self.session.execute(sa.select(v).where(v.c.vin_prefix == prefix))
                         .mappings().one())

    def vin_models(self) -> list[dict[str, Any]]:
        v = models.vin_models
        return [dict(r) for r in self.session.execute(sa.select(v).order_by(v.c.vin_prefix))
                .mappings()]

    def delete_vin_model(self, prefix: str) -> bool:
        """Forget a prefix; False when it was not known."""
        v = models.vin_models
        return bool(self.session.execute(v.delete().where(v.c.vin_prefix == prefix)).rowcount)


# -- stock -------------------------------------------------------------------------------------

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


def _lot(row: Any, remaining: Decimal | None = None) -> Lot:
    return Lot(id=row["id"], batch_number=row["batch_number"],
               serial_number=row["serial_number"],
               remaining=row["quantity_remaining"] if remaining is None else remaining,
               received_at=row["received_at"])


_ISSUE_KINDS = (domain.ISSUE, domain.RETURN)



_MOVE = models.stock_movements.insert()
# The document each kind of movement leaves, besides its ledger rows.
DOCUMENTS: dict[str, sa.Table] = {
    "requisition": models.requisitions, "return": models.part_returns,
    "receipt": models.receipts, "transfer": models.transfers,
    "adjustment": models.stock_adjustments,
}


def _equal(table: sa.Table, columns: dict[str, Any]) -> Any:
    """`column = value` for every column named, all of them (true when none is)."""
    return sa.and_(sa.true(), *(table.c[name] == value for name, value in columns.items()))



class StockStore:
    """Stock rows, reservations, lots and the ledger of this site, with the locks every
    movement takes (see the locking order above)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _insert_ignoring_duplicates(self, table: sa.Table) -> Any:
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        if dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        raise RuntimeError(f"unsupported database {dialect}")

    # -- locks ---------------------------------------------------------------------------------

    def remember_repair_order(self, repair_order_id: str, vin: str,
                              now: datetime) -> None:
        """Record a repair order on first sight (lock it with lock_repair_orders)."""
        self.session.execute(self._insert_ignoring_duplicates(models.repair_orders).values(
            id=repair_order_id, vin=vin, status=OPEN, created_at=now, updated_at=now))

    def lock_repair_orders(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ro = models.repair_orders
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = self.session.execute(sa.select(ro).where(ro.c.id.in_(wanted)).order_by(ro.c.id)
                                    .with_for_update()).mappings()
        return {r["id"]: dict(r) for r in rows}

    def set_repair_order_status(self, repair_order_id: str, status: str,
                                now: datetime) -> None:
        ro = models.repair_orders
        self.session.execute(ro.update().where(ro.c.id == repair_order_id)
                             .values(status=status, updated_at=now))

    def lock_parts(self, part_numbers: Iterable[str]) -> dict[str, LockedPart]:
        """Catalogue parts with their stock rows locked (SELECT … FOR UPDATE), in part-number
        order; unknown part numbers are left out."""
        wanted = sorted(set(part_numbers))
        if not wanted:
            return {}
        p, s = models.parts, models.stock_levels
        rows = self.session.execute(
            sa.select(s, p.c.name, p.c.unit, p.c.unit_price, p.c.tracking)
            .join(p, p.c.part_number == s.c.part_number)
            .where(s.c.part_number.in_(wanted)).order_by(s.c.part_number)
            .with_for_update(of=s)).mappings().all()
        shortfalls = self.shortfall_by_part(wanted)
        return {r["part_number"]: LockedPart(
            part=Part(r["part_number"], r["name"], r["unit"], r["unit_price"], r["tracking"]),
            stock=Stock(r["part_number"], r["on_hand"], r["reserved"], r["reorder_point"],
                        r["reorder_quantity"]),
            bin_location=r["bin_location"], shortfall=shortfalls.get(r["part_number"], ZERO))
            for r in rows}

    def add_document(self, kind: str, **values: Any) -> None:
        """The document a movement leaves: requisition, return, receipt, transfer or
        stocktake adjustment (`DOCUMENTS`)."""
        self.session.execute(DOCUMENTS[kind].insert().values(**values))

    def save_stock(self, stock: Stock, now: datetime) -> None:
        s = models.stock_levels
        self.session.execute(s.update().where(s.c.part_number == stock.part_number)
                             .values(on_hand=stock.on_hand, reserved=stock.reserved,
                                     updated_at=now))

    # -- reservations --------------------------------------------------------------------------

    def reservations_of(self, repair_order_id: str) -> dict[str, Reservation]:
        r = models.reservations
        rows = self.session.execute(sa.select(r).where(r.c.repair_order_id == repair_order_id)
                                    ).mappings()
        return {row["quote_line_id"]: _reservation(row) for row in rows}

    def reservation_rows(self, *, ids: Sequence[str] | None = None, short: bool = False,
                         limit: int = 500, **equal: str) -> list[dict[str, Any]]:
        """Reservations as the API shows them, oldest first: those with these ids, those
        whose columns equal `equal` (repair_order_id, part_number, status), or with
        short=True only lines still waiting for parts."""
        r, ro = models.reservations, models.repair_orders
        where = _equal(r, equal)
        if ids is not None:
            where = sa.and_(where, r.c.id.in_(ids))
        if short:
            where = sa.and_(where, WAITING)
        rows = self.session.execute(sa.select(r, ro.c.vin).join(ro, ro.c.id == r.c.repair_order_id)
                                    .where(where).order_by(r.c.created_at, r.c.id).limit(limit)
                                    ).mappings()
        out = []
        for row in rows:
            line = _reservation(row)
            out.append({**dict(row), "shortfall": line.shortfall})
        return out

    def shortfall_by_part(self, part_numbers: Sequence[str]) -> dict[str, Decimal]:
        r = models.reservations
        rows = self.session.execute(
            sa.select(r.c.part_number, sa.func.sum(_OUTSTANDING))
            .where(r.c.part_number.in_(part_numbers), r.c.status == domain.ACTIVE, _OUTSTANDING > 0)
            .group_by(r.c.part_number)).all()
        return {pn: Decimal(total) for pn, total in rows}

    def repair_orders_waiting_for(self, part_numbers: Sequence[str]) -> list[str]:
        """Repair orders with a shortfall on any of these parts (read without locks)."""
        r = models.reservations
        return list(self.session.scalars(
            sa.select(r.c.repair_order_id).distinct()
            .where(r.c.part_number.in_(part_numbers), r.c.status == domain.ACTIVE,
                   _OUTSTANDING > 0)))

    def repair_orders_holding(self, part_number: str) -> list[str]:
        r = models.reservations
        return list(self.session.scalars(
            sa.select(r.c.repair_order_id).distinct()
            .where(r.c.part_number == part_number, r.c.quantity_reserved > 0)))

    def waiting_lines(self, part_number: str, repair_order_ids: Sequence[str]
                      ) -> list[Reservation]:
        """Lines short of this part, first approved first."""
        r = models.reservations
        rows = self.session.execute(
            sa.select(r).where(r.c.part_number == part_number, r.c.status == domain.ACTIVE,
                                    _OUTSTANDING > 0, r.c.repair_order_id.in_(repair_order_ids))
            .order_by(r.c.created_at, r.c.id)).mappings()
        return [_reservation(row) for row in rows]

    def holding_lines_newest_first(self, part_number: str,
                                   repair_order_ids: Sequence[str]) -> list[Reservation]:
        r = models.reservations
        rows = self.session.execute(
            sa.select(r).where(r.c.part_number == part_number, r.c.quantity_reserved > 0,
                                    r.c.repair_order_id.in_(repair_order_ids))
            .order_by(r.c.created_at.desc(), r.c.id.desc())).mappings()
        return [_reservation(row) for row in rows]

    def save_reservation(self, line: Reservation, now: datetime) -> None:
        r = models.reservations
        values = {"part_number": line.part_number, "quantity_approved": line.approved,
                  "quantity_reserved": line.reserved, "quantity_issued": line.issued,
                  "quantity_returned": line.returned, "status": line.status,
                  "decided_sequence": line.decided_sequence, "from_stock": line.from_stock,
                  "unit_price": line.unit_price, "updated_at": now}
        changed = self.session.execute(r.update().where(r.c.id == line.id).values(**values))
        if not changed.rowcount:
            self.session.execute(r.insert().values(id=line.id, repair_order_id=line.repair_order_id,
                                              quote_line_id=line.quote_line_id, created_at=now,
                                              **values))

    # -- lots ----------------------------------------------------------------------------------

    def lots_on_hand(self, part_number: str) -> list[Lot]:
        lots = models.stock_lots
        rows = self.session.execute(sa.select(lots).where(lots.c.part_number == part_number,
                                                     lots.c.quantity_remaining > 0)).mappings()
        return [_lot(row) for row in rows]

    def serials_on_hand(self, part_number: str, serials: Sequence[str]) -> list[str]:
        lots = models.stock_lots
        return list(self.session.scalars(sa.select(lots.c.serial_number).where(
            lots.c.part_number == part_number, lots.c.serial_number.in_(serials),
            lots.c.quantity_remaining > 0)))

    def add_lot(self, part_number: str, lot: domain.IncomingLot, receipt_id: str,
                now: datetime) -> Lot:
        lots = models.stock_lots
        lot_id = self.session.execute(lots.insert().values(
            part_number=part_number, batch_number=lot.batch_number,
            serial_number=lot.serial_number, quantity_received=lot.quantity,
            quantity_remaining=lot.quantity, receipt_id=receipt_id, received_at=now)
            .returning(lots.c.id)).scalar_one()
        return Lot(lot_id, lot.batch_number, lot.serial_number, lot.quantity, now)

    def change_lot(self, lot_id: int, change: Decimal) -> None:
        lots = models.stock_lots
        self.session.execute(lots.update().where(lots.c.id == lot_id)
                             .values(quantity_remaining=lots.c.quantity_remaining + change))

    def issued_to_line(self, repair_order_id: str, quote_line_id: str
                       ) -> list[tuple[Lot, Decimal]]:
        """Lots that went to this line and have not come back, last issued first."""
        m, lots = models.stock_movements, models.stock_lots
        net = sa.func.sum(-m.c.on_hand_change)
        rows = self.session.execute(
            sa.select(lots, net.label("net"), sa.func.max(m.c.id).label("last"))
            .join(lots, lots.c.id == m.c.lot_id)
            .where(m.c.repair_order_id == repair_order_id, m.c.quote_line_id == quote_line_id,
                        m.c.kind.in_([domain.ISSUE, domain.RETURN]))
            .group_by(*lots.c).having(net > 0).order_by(sa.desc("last"))).mappings()
        return [(_lot(row), Decimal(row["net"])) for row in rows]

    # -- the ledger ----------------------------------------------------------------------------

    def record_movement(self, values: dict[str, Any]) -> None:
        self.session.execute(_MOVE, values)

    def movements(self, *, after_id: int = 0, limit: int = 100, **equal: str
                  ) -> list[dict[str, Any]]:
        """Ledger rows in order, after `after_id`, whose columns equal `equal` (part_number,
        repair_order_id, kind, serial_number)."""
        m = models.stock_movements
        rows = self.session.execute(sa.select(m).where(_equal(m, equal), m.c.id > after_id)
                                         .order_by(m.c.id).limit(limit)).mappings()
        return [dict(r) for r in rows]

    # -- reports -------------------------------------------------------------------------------

    def reorder_candidates(self) -> list[dict[str, Any]]:
        """Stock rows that may be low: available at or below the reorder point, or waited for."""
        p, s, r = models.parts, models.stock_levels, models.reservations
        waited_for = (sa.select(r.c.part_number).where(r.c.status == domain.ACTIVE,
                                                       _OUTSTANDING > 0))
        rows = self.session.execute(
            sa.select(s, p.c.name, p.c.unit).join(p, p.c.part_number == s.c.part_number)
            .where(sa.or_(s.c.on_hand - s.c.reserved <= s.c.reorder_point,
                               s.c.part_number.in_(waited_for)))
            .order_by(s.c.part_number)).mappings().all()
        shortfalls = self.shortfall_by_part([r["part_number"] for r in rows])
        return [{**dict(r), "shortfall": shortfalls.get(r["part_number"], ZERO)} for r in rows]

    def stocktakes(self, part_number: str | None, limit: int) -> list[dict[str, Any]]:
        a = models.stock_adjustments
        query = sa.select(a).order_by(a.c.adjusted_at.desc(), a.c.id).limit(limit)
        if part_number:
            query = query.where(a.c.part_number == part_number)
        return [{**dict(r), "adjustment_id": r["id"]}
                for r in self.session.execute(query).mappings()]

    def traced_issues(self, **equal: str) -> list[dict[str, Any]]:
        """Net quantities that went into vehicles, per repair order line and batch or serial,
        of the movements whose columns equal `equal` (batch_number, part_number, vin)."""
        m = models.stock_movements
        where = _equal(m, equal)
        net = sa.func.sum(-m.c.on_hand_change)
        rows = self.session.execute(
            sa.select(m.c.repair_order_id, m.c.quote_line_id, m.c.vin, m.c.part_number,
                           m.c.batch_number, m.c.serial_number, net.label("quantity"),
                           sa.func.min(m.c.moved_at).label("first_issued_at"))
            .where(where, m.c.kind.in_(_ISSUE_KINDS))
            .group_by(m.c.repair_order_id, m.c.quote_line_id, m.c.vin, m.c.part_number,
                           m.c.batch_number, m.c.serial_number)
            .order_by(sa.func.min(m.c.moved_at), m.c.repair_order_id)).mappings()
        return [dict(r) for r in rows]

    def lots(self, **equal: str) -> list[dict[str, Any]]:
        """Lots whose columns equal `equal` (batch_number, part_number, serial_number),
        oldest first."""
        lots = models.stock_lots
        return [dict(r) for r in self.session.execute(
            sa.select(lots).where(_equal(lots, equal))
            .order_by(lots.c.received_at, lots.c.id)).mappings()]


# -- the unit of work --------------------------------------------------------------------------


class PartsUnitOfWork(UnitOfWork):
    """One parts transaction: the catalogue and the stock, and the events written with them."""

    def __init__(self, session: Session, events: Emits) -> None:
        super().__init__(session, events)
        self.catalogue = Catalogue(session)
        self.stock = StockStore(session)
