"""The books: reservations, the stock ledger, stocktakes, reorder suggestions, traceability.

Read-only use cases over `uow.stock`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chassis.errors import NotFound
from parts import domain

if TYPE_CHECKING:  # the store's types, for annotations only: no SQL is reached from here
    from parts.store import PartsUnitOfWork


def reservations(uow: PartsUnitOfWork, *, short: bool = False, limit: int = 500,
                 **equal: str) -> list[dict[str, Any]]:
    """What is set aside for repair orders (`equal`: repair_order_id, part_number, status);
    short=True: only lines still waiting for parts."""
    return uow.stock.reservation_rows(short=short, limit=limit, **equal)


def stocktakes(uow: PartsUnitOfWork, *, part_number: str | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
    return uow.stock.stocktakes(part_number, limit)


def reorder_suggestions(uow: PartsUnitOfWork) -> list[dict[str, Any]]:
    """Parts at or below their reorder point (or waited for), with the quantity to order."""
    items = []
    for row in uow.stock.reorder_candidates():
        stock = domain.Stock(row["part_number"], row["on_hand"], row["reserved"],
                             row["reorder_point"], row["reorder_quantity"])
        suggestion = domain.reorder_suggestion(stock, row["shortfall"], row["unit"])
        if suggestion is not None:
            items.append({**row, "available": stock.available,
                          "suggested_quantity": suggestion.suggested_quantity})
    return items


def movements(uow: PartsUnitOfWork, *, after_id: int = 0, limit: int = 100,
              **equal: str) -> dict[str, Any]:
    """A page of the stock ledger (`equal`: part_number, repair_order_id, kind), and the id
    to read on from when the page is full."""
    rows = uow.stock.movements(after_id=after_id, limit=limit, **equal)
    return {"items": rows, "next_after_id": rows[-1]["id"] if len(rows) == limit else None}


def trace_batch(uow: PartsUnitOfWork, batch_number: str,
                part_number: str | None = None) -> dict[str, Any]:
    """Which vehicles and repair orders got a batch (of one part, when named)."""
    of_part = {"part_number": part_number} if part_number is not None else {}
    found = uow.stock.lots(batch_number=batch_number, **of_part)
    if not found:
        raise NotFound(f"batch {batch_number} not found")
    return {"batch_number": batch_number, "lots": found,
            "vehicles": uow.stock.traced_issues(batch_number=batch_number, **of_part)}


def trace_serial(uow: PartsUnitOfWork, serial_number: str) -> dict[str, Any]:
    """The life of one serial-numbered part: its lot and every movement of it."""
    found = uow.stock.lots(serial_number=serial_number)
    if not found:
        raise NotFound(f"serial number {serial_number} not found")
    return {"serial_number": serial_number, "lots": found,
            "movements": uow.stock.movements(serial_number=serial_number, limit=1000)}


def trace_vehicle(uow: PartsUnitOfWork, vin: str) -> dict[str, Any]:
    """Which parts, batches and serial numbers went into a vehicle (and stayed)."""
    parts = uow.stock.traced_issues(vin=vin)
    return {"vin": vin, "parts": [p for p in parts if p["quantity"] > 0]}
