"""Parts' entrypoints: validate → apply the rules (stockroom, domain) → store and emit in one
transaction → commit."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from nameko.rpc import rpc
from werkzeug.wrappers import Request, Response

from chassis.auth import Role
from chassis.consumer import handle_event
from chassis.db import Database
from chassis.errors import Conflict, InvalidInput, NotFound
from chassis.http import http, identity_of, json_response, load_json
from chassis.outbox import Outbox
from chassis.rpc import passes_through
from chassis.service import PlatformService
from contracts import events
from parts import domain, models, store
from parts import schemas as s
from parts.stockroom import Stockroom

log = logging.getLogger(__name__)

# A caller of price_of gets NotFound (404) for an unknown part, not a bare RemoteError.
passes_through(NotFound)

CLERK, TECHNICIAN = Role.PARTS_CLERK, Role.TECHNICIAN
ADVISOR, MANAGER = Role.ADVISOR, Role.DEALER_MANAGER
LOOKUP = {CLERK, TECHNICIAN, ADVISOR, MANAGER}   # find parts and prices
STOREKEEPING = {CLERK}                           # catalogue, stock, receipts, transfers, counts
REQUISITION = {CLERK, TECHNICIAN}                # issue parts to a repair order
BOOKS = {CLERK, MANAGER}                         # ledger, audits, traceability, suggestions
SYSTEM_ACTOR = "workorder-events"

DEADLOCK_RETRIES = 3


def now() -> datetime:
    return datetime.now(UTC)


def _query(request: Request, schema: s.Schema) -> dict[str, Any]:
    return schema.load(request.args.to_dict())


def _check_path(name: str, value: str, validator: Callable[[str], Any]) -> None:
    """A path segment is input too: refuse it with 422 naming it."""
    try:
        validator(value)
    except ValidationError as exc:
        raise InvalidInput(name, str(exc.messages[0])) from None


def writes(method: Callable[..., Response]) -> Callable[..., Response]:
    """Run a writing endpoint as one transaction.

    A deadlock between two movements (PostgreSQL picks a victim) is retried; a CHECK or
    unique constraint the rules should have prevented becomes a 409, never a 500.
    """

    @functools.wraps(method)
    def run(self: PartsService, request: Request, *args: Any, **kwargs: Any) -> Response:
        for attempt in range(1, DEADLOCK_RETRIES + 1):
            try:
                return method(self, request, *args, **kwargs)
            except sa.exc.IntegrityError as exc:
                self.db.rollback()
                raise _conflict(exc) from None
            except sa.exc.OperationalError as exc:
                self.db.rollback()
                if getattr(exc.orig, "pgcode", None) not in ("40P01", "40001") or \
                        attempt == DEADLOCK_RETRIES:
                    raise
                log.info("%s: retrying after %s", method.__name__, exc.orig)
        raise AssertionError("unreachable")

    return run


def _conflict(exc: sa.exc.IntegrityError) -> Conflict:
    diag = getattr(exc.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or "unknown"
    return Conflict("the change conflicts with the stock on record and was not made",
                    reason="CONSTRAINT", constraint=constraint)


class PartsService(PlatformService):
    name = "parts"

    db = Database(models.metadata)
    outbox = Outbox()

    def _stockroom(self, actor: str) -> Stockroom:
        return Stockroom(self.db, self.outbox, actor=actor, now=now())

    def _actor(self, request: Request) -> str:
        return identity_of(request).subject

    # -- RPC for workorder (same site) -----------------------------------------------------

    @rpc(expected_exceptions=(NotFound,))
    def price_of(self, part_number: str) -> dict[str, str]:
        """Price and availability of one part, for a quote line being built."""
        row = store.part_row(self.db, part_number) if isinstance(part_number, str) else None
        if row is None:
            raise NotFound(f"part {part_number} not found")
        return {"part_number": row["part_number"], "name": row["name"],
                "unit_price": domain.money_text(row["unit_price"]), "unit": row["unit"],
                "available": domain.quantity_text(row["available"])}

    # -- workorder's events ------------------------------------------------------------------

    @handle_event("workorder", events.QuoteApproved)
    def on_quote_approved(self, event: dict) -> None:
        self._stockroom(SYSTEM_ACTOR).quote_decided(event)

    @handle_event("workorder", events.VehicleDelivered)
    def on_vehicle_delivered(self, event: dict) -> None:
        # What was set aside and never fitted goes back on the shelf; a late quote event for
        # this repair order will find it closed.
        data = event["data"]
        self._stockroom(SYSTEM_ACTOR).repair_order_ended(
            data["repair_order_id"], status=store.CLOSED, reason=domain.REPAIR_ORDER_CLOSED,
            vin=data["vin"])

    # -- catalogue ------------------------------------------------------------------------

    @http("POST", "/parts", roles=STOREKEEPING, request=s.PartCreateSchema,
          response=s.PartSchema, status=201, summary="Add a part to the catalogue")
    @writes
    def create_part(self, request: Request) -> Response:
        body = load_json(request, s.PartCreateSchema())
        pn = body["part_number"]
        if store.part_row(self.db, pn) is not None:
            raise Conflict(f"part {pn} is already in the catalogue", reason="EXISTS")
        store.insert_part(
            self.db,
            {"part_number": pn, "name": body["name"], "unit": body["unit"],
             "unit_price": body["unit_price"], "tracking": body["tracking"]},
            {"bin_location": body.get("bin_location"), "reorder_point": body["reorder_point"],
             "reorder_quantity": body["reorder_quantity"]},
            body["compatible_models"], now())
        self.db.commit()
        return json_response(s.PartSchema().dump(store.part_row(self.db, pn)), status=201,
                             headers={"Location": f"/parts/{pn}"})

    @http("PATCH", "/parts/<string:part_number>", roles=STOREKEEPING,
          request=s.PartUpdateSchema, response=s.PartSchema,
          summary="Change a part's name, price, models, bin or reorder policy")
    @writes
    def update_part(self, request: Request, part_number: str) -> Response:
        body = load_json(request, s.PartUpdateSchema())
        if store.lock_parts(self.db, [part_number]) == {}:
            raise NotFound(f"part {part_number} not found")
        store.update_part(
            self.db, part_number,
            {k: body[k] for k in ("name", "unit_price") if k in body},
            {k: body[k] for k in ("bin_location", "reorder_point", "reorder_quantity")
             if k in body}, now())
        if "compatible_models" in body:
            store.set_models(self.db, part_number, body["compatible_models"])
        self.db.commit()
        return json_response(s.PartSchema().dump(store.part_row(self.db, part_number)))

    @http("GET", "/parts/<string:part_number>", roles=LOOKUP, response=s.PartSchema,
          summary="One part with its price and stock")
    def get_part(self, request: Request, part_number: str) -> Response:
        row = store.part_row(self.db, part_number)
        if row is None:
            raise NotFound(f"part {part_number} not found")
        return json_response(s.PartSchema().dump(row))

    @http("GET", "/parts", roles=LOOKUP, response=s.PartListSchema,
          summary="Find parts by model code, by VIN (longest known prefix) or by text")
    def find_parts(self, request: Request) -> Response:
        query = _query(request, s.PartQuerySchema())
        p = models.parts
        where: Any = sa.true()
        model = query.get("model")
        if "vin" in query:
            prefixes = domain.vin_prefixes(query["vin"])
            model = domain.model_for_vin(query["vin"], store.vin_model_map(self.db, prefixes))
            if model is None:
                return json_response({"model_code": None, "items": []})
        if model is not None:
            fits = sa.select(models.part_models.c.part_number).where(
                models.part_models.c.model_code == model)
            where = sa.and_(where, p.c.part_number.in_(fits))
        if "q" in query:
            like = f"%{query['q']}%"
            where = sa.and_(where, sa.or_(p.c.part_number.ilike(like), p.c.name.ilike(like)))
        rows = store.part_rows(self.db, where, limit=query["limit"])
        return json_response(s.PartListSchema().dump({"model_code": model, "items": rows}))

    @http("PUT", "/vin-models/<string:vin_prefix>", roles=STOREKEEPING,
          request=s.VinModelRequestSchema, response=s.VinModelSchema,
          summary="Map a VIN prefix (WMI + VDS) to a model")
    @writes
    def put_vin_model(self, request: Request, vin_prefix: str) -> Response:
        body = load_json(request, s.VinModelRequestSchema())
        _check_path("vin_prefix", vin_prefix, s.VIN_PREFIX)
        created = store.put_vin_model(self.db, vin_prefix, body["model_code"],
                                      body.get("model_name"), self._actor(request), now())
        self.db.commit()
        row = self.db.execute(sa.select(models.vin_models).where(
            models.vin_models.c.vin_prefix == vin_prefix)).mappings().one()
        return json_response(s.VinModelSchema().dump(row), status=201 if created else 200)

    @http("DELETE", "/vin-models/<string:vin_prefix>", roles=STOREKEEPING, status=204,
          summary="Forget a VIN prefix")
    @writes
    def delete_vin_model(self, request: Request, vin_prefix: str) -> Response:
        v = models.vin_models
        gone = self.db.execute(v.delete().where(v.c.vin_prefix == vin_prefix)).rowcount
        if not gone:
            raise NotFound(f"VIN prefix {vin_prefix} not found")
        self.db.commit()
        return Response(status=204)

    @http("GET", "/vin-models", roles=LOOKUP, response=s.VinModelListSchema,
          summary="VIN prefixes and their models")
    def list_vin_models(self, request: Request) -> Response:
        v = models.vin_models
        rows = self.db.execute(sa.select(v).order_by(v.c.vin_prefix)).mappings().all()
        return json_response(s.VinModelListSchema().dump({"items": rows}))

    # -- stock movements --------------------------------------------------------------------

    @http("POST", "/receipts", roles=STOREKEEPING, request=s.ReceiptRequestSchema,
          response=s.ReceiptSchema, status=201,
          summary="Goods receipt: batches or serial numbers (also a transfer from a site)")
    @writes
    def receive(self, request: Request) -> Response:
        body = load_json(request, s.ReceiptRequestSchema())
        result = self._stockroom(self._actor(request)).receive(body)
        self.db.commit()
        return json_response(s.ReceiptSchema().dump(result), status=201)

    @http("POST", "/requisitions", roles=REQUISITION, request=s.RequisitionRequestSchema,
          response=s.RequisitionSchema, status=201,
          summary="Issue reserved parts to an approved repair-order line")
    @writes
    def issue(self, request: Request) -> Response:
        body = load_json(request, s.RequisitionRequestSchema())
        result = self._stockroom(self._actor(request)).issue(body)
        self.db.commit()
        return json_response(s.RequisitionSchema().dump(result), status=201)

    @http("POST", "/returns", roles=STOREKEEPING, request=s.ReturnRequestSchema,
          response=s.ReturnSchema, status=201,
          summary="Parts come back from a repair order to stock, with the reason")
    @writes
    def return_parts(self, request: Request) -> Response:
        body = load_json(request, s.ReturnRequestSchema())
        result = self._stockroom(self._actor(request)).return_parts(body)
        self.db.commit()
        return json_response(s.ReturnSchema().dump(result), status=201)

    @http("POST", "/transfers", roles=STOREKEEPING, request=s.TransferRequestSchema,
          response=s.TransferSchema, status=201, summary="Send parts to another dealer site")
    @writes
    def transfer(self, request: Request) -> Response:
        body = load_json(request, s.TransferRequestSchema())
        result = self._stockroom(self._actor(request)).transfer(body,
                                                                self.settings.dealer_code)
        self.db.commit()
        return json_response(s.TransferSchema().dump(result), status=201)

    @http("POST", "/stocktakes", roles=STOREKEEPING, request=s.StocktakeRequestSchema,
          response=s.StocktakeSchema, status=201,
          summary="Record a count; on hand becomes the count, with the reason audited")
    @writes
    def stocktake(self, request: Request) -> Response:
        body = load_json(request, s.StocktakeRequestSchema())
        result = self._stockroom(self._actor(request)).count(body)
        self.db.commit()
        return json_response(s.StocktakeSchema().dump(result), status=201)

    @http("GET", "/stocktakes", roles=BOOKS, response=s.StocktakeListSchema,
          summary="Stocktake adjustments, latest first (audit)")
    def list_stocktakes(self, request: Request) -> Response:
        query = _query(request, s.MovementQuerySchema(only=("part_number", "limit")))
        rows = store.stocktakes(self.db, query.get("part_number"), query["limit"])
        return json_response(s.StocktakeListSchema().dump({"items": rows}))

    # -- reservations -------------------------------------------------------------------------

    @http("GET", "/reservations", roles=LOOKUP, response=s.ReservationListSchema,
          summary="What is set aside for repair orders, and what they still wait for")
    def list_reservations(self, request: Request) -> Response:
        query = _query(request, s.ReservationQuerySchema())
        r = models.reservations
        where: Any = sa.true()
        for name in ("repair_order_id", "part_number", "status"):
            if name in query:
                where = sa.and_(where, r.c[name] == query[name])
        if query.get("short"):
            where = sa.and_(where, store.WAITING)
        rows = store.reservation_rows(self.db, where, limit=query["limit"])
        return json_response(s.ReservationListSchema().dump({"items": rows}))

    @http("POST", "/repair-orders/<string:repair_order_id>/release", roles=STOREKEEPING,
          request=s.ReleaseRequestSchema, response=s.ReleaseSchema,
          summary="Give back what a repair order (or one of its lines) holds")
    @writes
    def release(self, request: Request, repair_order_id: str) -> Response:
        body = load_json(request, s.ReleaseRequestSchema())
        released = self._stockroom(self._actor(request)).release(
            repair_order_id, body.get("quote_line_id"), body["reason"])
        self.db.commit()
        ids = [line.id for line in released]
        rows = store.reservation_rows(self.db, models.reservations.c.id.in_(ids)) if ids else []
        return json_response(s.ReleaseSchema().dump({"repair_order_id": repair_order_id,
                                                     "released": rows}))

    # -- books: suggestions, ledger, traceability ------------------------------------------

    @http("GET", "/reorder-suggestions", roles=BOOKS, response=s.ReorderSuggestionListSchema,
          summary="Parts at or below their reorder point, with the quantity to order")
    def reorder_suggestions(self, request: Request) -> Response:
        items = []
        for row in store.reorder_candidates(self.db):
            stock = domain.Stock(row["part_number"], row["on_hand"], row["reserved"],
                                 row["reorder_point"], row["reorder_quantity"])
            suggestion = domain.reorder_suggestion(stock, row["shortfall"], row["unit"])
            if suggestion is not None:
                items.append({**row, "available": stock.available,
                              "suggested_quantity": suggestion.suggested_quantity})
        return json_response(s.ReorderSuggestionListSchema().dump({"items": items}))

    @http("GET", "/movements", roles=BOOKS, response=s.MovementListSchema,
          summary="The stock ledger: every movement with who, when and why")
    def list_movements(self, request: Request) -> Response:
        query = _query(request, s.MovementQuerySchema())
        m = models.stock_movements
        where: Any = sa.true()
        for name in ("part_number", "repair_order_id", "kind"):
            if name in query:
                where = sa.and_(where, m.c[name] == query[name])
        rows = store.movements(self.db, where, after_id=query["after_id"],
                               limit=query["limit"])
        following = rows[-1]["id"] if len(rows) == query["limit"] else None
        return json_response(s.MovementListSchema().dump({"items": rows,
                                                          "next_after_id": following}))

    @http("GET", "/trace/batches/<string:batch_number>", roles=BOOKS,
          response=s.BatchTraceSchema, summary="Which vehicles and repair orders got a batch")
    def trace_batch(self, request: Request, batch_number: str) -> Response:
        query = _query(request, s.TraceBatchQuerySchema())
        m, lots = models.stock_movements, models.stock_lots
        lot_where = lots.c.batch_number == batch_number
        issue_where = m.c.batch_number == batch_number
        if "part_number" in query:
            lot_where = sa.and_(lot_where, lots.c.part_number == query["part_number"])
            issue_where = sa.and_(issue_where, m.c.part_number == query["part_number"])
        found = store.lots_where(self.db, lot_where)
        if not found:
            raise NotFound(f"batch {batch_number} not found")
        return json_response(s.BatchTraceSchema().dump({
            "batch_number": batch_number, "lots": found,
            "vehicles": store.traced_issues(self.db, issue_where)}))

    @http("GET", "/trace/serials/<string:serial_number>", roles=BOOKS,
          response=s.SerialTraceSchema, summary="The life of one serial-numbered part")
    def trace_serial(self, request: Request, serial_number: str) -> Response:
        m, lots = models.stock_movements, models.stock_lots
        found = store.lots_where(self.db, lots.c.serial_number == serial_number)
        if not found:
            raise NotFound(f"serial number {serial_number} not found")
        history = store.movements(self.db, m.c.serial_number == serial_number, limit=1000)
        return json_response(s.SerialTraceSchema().dump({
            "serial_number": serial_number, "lots": found, "movements": history}))

    @http("GET", "/trace/vehicles/<string:vin>", roles=BOOKS, response=s.VehicleTraceSchema,
          summary="Which parts, batches and serial numbers went into a vehicle")
    def trace_vehicle(self, request: Request, vin: str) -> Response:
        _check_path("vin", vin, s.VIN)
        parts = store.traced_issues(self.db, models.stock_movements.c.vin == vin)
        return json_response(s.VehicleTraceSchema().dump({
            "vin": vin, "parts": [p for p in parts if p["quantity"] > 0]}))
