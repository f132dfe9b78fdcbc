"""Parts' unit of work without a database: the catalogue and the stock kept in memory.

The stores answer like `parts.store.Catalogue` and `parts.store.StockStore` for what the
movement use cases ask (the same domain objects), with no locking: a unit test runs one use
case at a time. Documents and ledger rows are kept in lists to look at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from chassis.unit_of_work import FakeUnitOfWork
from parts import domain
from parts.domain import OPEN, ZERO, IncomingLot, LockedPart, Lot, Part, Reservation, Stock


@dataclass
class _Shelf:
    part: Part
    stock: Stock
    bin_location: str | None = None


class InMemoryCatalogue:
    def __init__(self) -> None:
        self.shelves: dict[str, _Shelf] = {}

    def add(self, part_number: str, *, name: str = "机油滤清器", unit: str = "EA",
            unit_price: str = "68.00", tracking: str = domain.BATCH,
            reorder_point: int = 0, reorder_quantity: int = 0) -> None:
        self.shelves[part_number] = _Shelf(
            Part(part_number, name, unit, Decimal(unit_price), tracking),
            Stock(part_number, ZERO, ZERO, Decimal(reorder_point), Decimal(reorder_quantity)))

    def part_row(self, part_number: str) -> dict[str, Any] | None:
        shelf = self.shelves.get(part_number)
        if shelf is None:
            return None
        return {"part_number": part_number, "name": shelf.part.name, "unit": shelf.part.unit,
                "unit_price": shelf.part.unit_price, "available": shelf.stock.available}


class InMemoryStock:
    def __init__(self, catalogue: InMemoryCatalogue) -> None:
        self.shelves = catalogue.shelves  # one stock row per catalogue part, as in the tables
        self.repair_orders: dict[str, dict[str, Any]] = {}
        self.lines: dict[str, Reservation] = {}  # by id, in the order first saved
        self.lots_by_id: dict[int, tuple[str, Lot]] = {}
        self.ledger: list[dict[str, Any]] = []
        self.documents: list[tuple[str, dict[str, Any]]] = []

    # -- repair orders and locks --------------------------------------------------------------

    def remember_repair_order(self, repair_order_id: str, vin: str, now: datetime) -> None:
        self.repair_orders.setdefault(repair_order_id,
                                      {"id": repair_order_id, "vin": vin, "status": OPEN})

    def lock_repair_orders(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {i: dict(self.repair_orders[i]) for i in sorted(set(ids))
                if i in self.repair_orders}

    def set_repair_order_status(self, repair_order_id: str, status: str,
                                now: datetime) -> None:
        self.repair_orders[repair_order_id]["status"] = status

    def lock_parts(self, part_numbers: Iterable[str]) -> dict[str, LockedPart]:
        shortfalls = self.shortfall_by_part(list(part_numbers))
        return {pn: LockedPart(self.shelves[pn].part, self.shelves[pn].stock,
                               self.shelves[pn].bin_location, shortfalls.get(pn, ZERO))
                for pn in sorted(set(part_numbers)) if pn in self.shelves}

    def save_stock(self, stock: Stock, now: datetime) -> None:
        self.shelves[stock.part_number].stock = stock

    def add_document(self, kind: str, **values: Any) -> None:
        self.documents.append((kind, values))

    # -- reservations -------------------------------------------------------------------------

    def reservations_of(self, repair_order_id: str) -> dict[str, Reservation]:
        return {r.quote_line_id: r for r in self.lines.values()
                if r.repair_order_id == repair_order_id}

    def reservation_rows(self, *, ids: Sequence[str] | None = None, **_: Any
                         ) -> list[dict[str, Any]]:
        return [{"id": r.id, "shortfall": r.shortfall} for r in self.lines.values()
                if ids is None or r.id in ids]

    def shortfall_by_part(self, part_numbers: Sequence[str]) -> dict[str, Decimal]:
        found: dict[str, Decimal] = {}
        for line in self.lines.values():
            if line.part_number in part_numbers and line.shortfall > 0:
                found[line.part_number] = found.get(line.part_number, ZERO) + line.shortfall
        return found

    def repair_orders_waiting_for(self, part_numbers: Sequence[str]) -> list[str]:
        return sorted({r.repair_order_id for r in self.lines.values()
                       if r.part_number in part_numbers and r.shortfall > 0})

    def repair_orders_holding(self, part_number: str) -> list[str]:
        return sorted({r.repair_order_id for r in self.lines.values()
                       if r.part_number == part_number and r.reserved > 0})

    def waiting_lines(self, part_number: str, repair_order_ids: Sequence[str]
                      ) -> list[Reservation]:
        return [r for r in self.lines.values() if r.part_number == part_number
                and r.shortfall > 0 and r.repair_order_id in repair_order_ids]

    def holding_lines_newest_first(self, part_number: str, repair_order_ids: Sequence[str]
                                   ) -> list[Reservation]:
        return [r for r in reversed(self.lines.values()) if r.part_number == part_number
                and r.reserved > 0 and r.repair_order_id in repair_order_ids]

    def save_reservation(self, line: Reservation, now: datetime) -> None:
        self.lines[line.id] = line

    # -- lots and the ledger ----------------------------------------------------------------

    def lots_on_hand(self, part_number: str) -> list[Lot]:
        return [lot for pn, lot in self.lots_by_id.values()
                if pn == part_number and lot.remaining > 0]

    def serials_on_hand(self, part_number: str, serials: Sequence[str]) -> list[str]:
        return [lot.serial_number for lot in self.lots_on_hand(part_number)
                if lot.serial_number in serials]

    def add_lot(self, part_number: str, lot: IncomingLot, receipt_id: str,
                now: datetime) -> Lot:
        added = Lot(len(self.lots_by_id) + 1, lot.batch_number, lot.serial_number,
                    lot.quantity, now)
        self.lots_by_id[added.id] = (part_number, added)
        return added

    def change_lot(self, lot_id: int, change: Decimal) -> None:
        pn, lot = self.lots_by_id[lot_id]
        self.lots_by_id[lot_id] = (pn, replace(lot, remaining=lot.remaining + change))

    def issued_to_line(self, repair_order_id: str, quote_line_id: str
                       ) -> list[tuple[Lot, Decimal]]:
        net: dict[int, Decimal] = {}
        for row in self.ledger:
            if (row["repair_order_id"], row["quote_line_id"]) == (repair_order_id,
                                                                  quote_line_id) \
                    and row["kind"] in (domain.ISSUE, domain.RETURN) and row["lot_id"]:
                net[row["lot_id"]] = net.get(row["lot_id"], ZERO) - row["on_hand_change"]
        return [(self.lots_by_id[i][1], q) for i, q in reversed(net.items()) if q > 0]

    def record_movement(self, values: dict[str, Any]) -> None:
        self.ledger.append(values)


class FakePartsUnitOfWork(FakeUnitOfWork):
    """What `parts.use_cases` get from the framework, in memory; `emitted` holds the events
    (validated against their contracts)."""

    def __init__(self, dealer_code: str = "D001", **kwargs: Any) -> None:
        super().__init__(dealer_code=dealer_code, **kwargs)
        self.catalogue = InMemoryCatalogue()
        self.stock = InMemoryStock(self.catalogue)

    def on_hand(self, part_number: str) -> Stock:
        return self.stock.shelves[part_number].stock
