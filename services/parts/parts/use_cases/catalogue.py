"""The catalogue: parts, their prices and the models they fit, and VIN prefixes → models.

Use cases in the caller's unit of work, reading and writing through `uow.catalogue`; nothing
here commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chassis.errors import Conflict, NotFound
from parts import domain

if TYPE_CHECKING:  # the store's types, for annotations only: no SQL is reached from here
    from parts.store import PartsUnitOfWork

_STOCK_POLICY = ("bin_location", "reorder_point", "reorder_quantity")


def price_of(uow: PartsUnitOfWork, part_number: str) -> dict[str, str]:
    """Price and availability of one part, for a quote line being built (workorder's RPC)."""
    row = uow.catalogue.part_row(part_number) if isinstance(part_number, str) else None
    if row is None:
        raise NotFound(f"part {part_number} not found")
    return {"part_number": row["part_number"], "name": row["name"],
            "unit_price": domain.money_text(row["unit_price"]), "unit": row["unit"],
            "available": domain.quantity_text(row["available"])}


def part(uow: PartsUnitOfWork, part_number: str) -> dict[str, Any]:
    """One part with its price, stock and compatible models."""
    row = uow.catalogue.part_row(part_number)
    if row is None:
        raise NotFound(f"part {part_number} not found")
    return row


def create_part(uow: PartsUnitOfWork, body: Mapping[str, Any], *,
                now: datetime) -> dict[str, Any]:
    """Add a part, with no stock yet; a part number already there is a conflict."""
    pn = body["part_number"]
    if uow.catalogue.part_row(pn) is not None:
        raise Conflict(f"part {pn} is already in the catalogue", reason="EXISTS")
    uow.catalogue.insert_part(
        {"part_number": pn, "name": body["name"], "unit": body["unit"],
         "unit_price": body["unit_price"], "tracking": body["tracking"]},
        {"bin_location": body.get("bin_location"), "reorder_point": body["reorder_point"],
         "reorder_quantity": body["reorder_quantity"]},
        body["compatible_models"], now)
    return part(uow, pn)


def update_part(uow: PartsUnitOfWork, part_number: str, body: Mapping[str, Any], *,
                now: datetime) -> dict[str, Any]:
    """Change a part's name, price, models, bin or reorder policy (its stock row locked, so
    a movement under way sees the part before or after, never half changed)."""
    if uow.stock.lock_parts([part_number]) == {}:
        raise NotFound(f"part {part_number} not found")
    uow.catalogue.update_part(
        part_number, {k: body[k] for k in ("name", "unit_price") if k in body},
        {k: body[k] for k in _STOCK_POLICY if k in body}, now)
    if "compatible_models" in body:
        uow.catalogue.set_models(part_number, body["compatible_models"])
    return part(uow, part_number)


def find_parts(uow: PartsUnitOfWork, *, model: str | None = None, vin: str | None = None,
               text: str | None = None, limit: int = 100) -> dict[str, Any]:
    """Parts by model code, by VIN (the model of its longest known prefix) or by text."""
    if vin is not None:
        model = domain.model_for_vin(
            vin, uow.catalogue.vin_model_map(domain.vin_prefixes(vin)))
        if model is None:
            return {"model_code": None, "items": []}
    return {"model_code": model,
            "items": uow.catalogue.find(model=model, text=text, limit=limit)}


def put_vin_model(uow: PartsUnitOfWork, prefix: str, model_code: str,
                  model_name: str | None, *, actor: str,
                  now: datetime) -> tuple[dict[str, Any], bool]:
    """Map a VIN prefix to a model; the mapping, and whether the prefix was new."""
    created = uow.catalogue.put_vin_model(prefix, model_code, model_name, actor, now)
    return uow.catalogue.vin_model(prefix), created


def delete_vin_model(uow: PartsUnitOfWork, prefix: str) -> None:
    if not uow.catalogue.delete_vin_model(prefix):
        raise NotFound(f"VIN prefix {prefix} not found")


def vin_models(uow: PartsUnitOfWork) -> list[dict[str, Any]]:
    return uow.catalogue.vin_models()
