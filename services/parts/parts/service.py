"""Parts' entrypoints: parse and authorise → one use case (`parts.use_cases`) → render.

The framework commits each call's unit of work before the answer leaves (HTTP and RPC) or
with the event's inbox row (workorder's events)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from werkzeug.wrappers import Request, Response

from chassis.consumer import handle_event
from chassis.db import Database
from chassis.errors import Conflict, InvalidInput, NotFound
from chassis.http import http, identity_of, json_response, load_json
from chassis.identity import Role
from chassis.outbox import Outbox
from chassis.rpc import passes_through, rpc
from chassis.service import SITE, PlatformService
from chassis.unit_of_work import UnitOfWorkProvider
from contracts import events
from parts import domain, models, use_cases
from parts import schemas as s
from parts.store import PartsUnitOfWork

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


def _actor(request: Request) -> str:
    return identity_of(request).subject


def _query(request: Request, schema: s.Schema) -> dict[str, Any]:
    return schema.load(request.args.to_dict())


def _check_path(name: str, value: str, validator: Callable[[str], Any]) -> None:
    """A path segment is input too: refuse it with 422 naming it."""
    try:
        validator(value)
    except ValidationError as exc:
        raise InvalidInput(name, str(exc.messages[0])) from None


def writes(method: Callable[..., Response]) -> Callable[..., Response]:
    """Run a writing endpoint's use case again after a deadlock between two movements
    (PostgreSQL picks a victim; the transaction is rolled back first, its events with it),
    and answer a CHECK or unique constraint the rules should have prevented with a 409,
    never a 500. The framework commits what the last attempt did."""

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
    stack = SITE

    db = Database(models.metadata)
    outbox = Outbox()
    uow = UnitOfWorkProvider(PartsUnitOfWork)

    # -- RPC for workorder (same site) -----------------------------------------------------

    @rpc(expected_exceptions=(NotFound,))
    def price_of(self, part_number: str) -> dict[str, str]:
        """Price and availability of one part, for a quote line being built."""
        return use_cases.price_of(self.uow, part_number)

    # -- workorder's events ------------------------------------------------------------------

    @handle_event("workorder", events.QuoteApproved)
    def on_quote_approved(self, event: dict) -> None:
        use_cases.quote_decided(self.uow, event, actor=SYSTEM_ACTOR, now=now())

    @handle_event("workorder", events.VehicleDelivered)
    def on_vehicle_delivered(self, event: dict) -> None:
        # What was set aside and never fitted goes back on the shelf; a late quote event for
        # this repair order will find it closed.
        data = event["data"]
        use_cases.repair_order_ended(self.uow, data["repair_order_id"], status=domain.CLOSED,
                                     reason=domain.REPAIR_ORDER_CLOSED, vin=data["vin"],
                                     actor=SYSTEM_ACTOR, now=now())

    # -- catalogue ------------------------------------------------------------------------

    @http("POST", "/parts", roles=STOREKEEPING, request=s.PartCreateSchema,
          response=s.PartSchema, status=201, summary="Add a part to the catalogue")
    @writes
    def create_part(self, request: Request) -> Response:
        body = load_json(request, s.PartCreateSchema())
        row = use_cases.create_part(self.uow, body, now=now())
        return json_response(s.PartSchema().dump(row), status=201,
                             headers={"Location": f"/parts/{row['part_number']}"})

    @http("PATCH", "/parts/<string:part_number>", roles=STOREKEEPING,
          request=s.PartUpdateSchema, response=s.PartSchema,
          summary="Change a part's name, price, models, bin or reorder policy")
    @writes
    def update_part(self, request: Request, part_number: str) -> Response:
        body = load_json(request, s.PartUpdateSchema())
        row = use_cases.update_part(self.uow, part_number, body, now=now())
        return json_response(s.PartSchema().dump(row))

    @http("GET", "/parts/<string:part_number>", roles=LOOKUP, response=s.PartSchema,
          summary="One part with its price and stock")
    def get_part(self, request: Request, part_number: str) -> Response:
        return json_response(s.PartSchema().dump(use_cases.part(self.uow, part_number)))

    @http("GET", "/parts", roles=LOOKUP, response=s.PartListSchema,
          summary="Find parts by model code, by VIN (longest known prefix) or by text")
    def find_parts(self, request: Request) -> Response:
        query = _query(request, s.PartQuerySchema())
        found = use_cases.find_parts(self.uow, model=query.get("model"), vin=query.get("vin"),
                                     text=query.get("q"), limit=query["limit"])
        return json_response(s.PartListSchema().dump(found))

    @http("PUT", "/vin-models/<string:vin_prefix>", roles=STOREKEEPING,
          request=s.VinModelRequestSchema, response=s.VinModelSchema,
          summary="Map a VIN prefix (WMI + VDS) to a model")
    @writes
    def put_vin_model(self, request: Request, vin_prefix: str) -> Response:
        body = load_json(request, s.VinModelRequestSchema())
        _check_path("vin_prefix", vin_prefix, s.VIN_PREFIX)
        row, created = use_cases.put_vin_model(self.uow, vin_prefix, body["model_code"],
                                               body.get("model_name"), actor=_actor(request),
                                               now=now())
        return json_response(s.VinModelSchema().dump(row), status=201 if created else 200)

    @http("DELETE", "/vin-models/<string:vin_prefix>", roles=STOREKEEPING, status=204,
          summary="Forget a VIN prefix")
    @writes
    def delete_vin_model(self, request: Request, vin_prefix: str) -> Response:
        use_cases.delete_vin_model(self.uow, vin_prefix)
        return Response(status=204)

    @http("GET", "/vin-models", roles=LOOKUP, response=s.VinModelListSchema,
          summary="VIN prefixes and their models")
    def list_vin_models(self, request: Request) -> Response:
        return json_response(s.VinModelListSchema().dump(
            {"items": use_cases.vin_models(self.uow)}))

    # -- stock movements --------------------------------------------------------------------

    @http("POST", "/receipts", roles=STOREKEEPING, request=s.ReceiptRequestSchema,
          response=s.ReceiptSchema, status=201,
          summary="Goods receipt: batches or serial numbers (also a transfer from a site)")
    @writes
    def receive(self, request: Request) -> Response:
        body = load_json(request, s.ReceiptRequestSchema())
        result = use_cases.receive(self.uow, body, actor=_actor(request), now=now())
        return json_response(s.ReceiptSchema().dump(result), status=201)

    @http("POST", "/requisitions", roles=REQUISITION, request=s.RequisitionRequestSchema,
          response=s.RequisitionSchema, status=201,
          summary="Issue reserved parts to an approved repair-order line")
    @writes
    def issue(self, request: Request) -> Response:
        body = load_json(request, s.RequisitionRequestSchema())
        result = use_cases.issue(self.uow, body, actor=_actor(request), now=now())
        return json_response(s.RequisitionSchema().dump(result), status=201)

    @http("POST", "/returns", roles=STOREKEEPING, request=s.ReturnRequestSchema,
          response=s.ReturnSchema, status=201,
          summary="Parts come back from a repair order to stock, with the reason")
    @writes
    def return_parts(self, request: Request) -> Response:
        body = load_json(request, s.ReturnRequestSchema())
        result = use_cases.return_parts(self.uow, body, actor=identity_of(request), now=now())
        return json_response(s.ReturnSchema().dump(result), status=201)

    @http("POST", "/transfers", roles=STOREKEEPING, request=s.TransferRequestSchema,
          response=s.TransferSchema, status=201, summary="Send parts to another dealer site")
    @writes
    def transfer(self, request: Request) -> Response:
        body = load_json(request, s.TransferRequestSchema())
        result = use_cases.transfer(self.uow, body, dealer_code=self.settings.dealer_code,
                                    actor=_actor(request), now=now())
        return json_response(s.TransferSchema().dump(result), status=201)

    @http("POST", "/stocktakes", roles=STOREKEEPING, request=s.StocktakeRequestSchema,
          response=s.StocktakeSchema, status=201,
          summary="Record a count; on hand becomes the count, with the reason audited")
    @writes
    def stocktake(self, request: Request) -> Response:
        body = load_json(request, s.StocktakeRequestSchema())
        result = use_cases.count(self.uow, body, actor=identity_of(request), now=now())
        return json_response(s.StocktakeSchema().dump(result), status=201)

    @http("GET", "/stocktakes", roles=BOOKS, response=s.StocktakeListSchema,
          summary="Stocktake adjustments, latest first (audit)")
    def list_stocktakes(self, request: Request) -> Response:
        query = _query(request, s.MovementQuerySchema(only=("part_number", "limit")))
        rows = use_cases.stocktakes(self.uow, part_number=query.get("part_number"),
                                    limit=query["limit"])
        return json_response(s.StocktakeListSchema().dump({"items": rows}))

    # -- reservations -------------------------------------------------------------------------

    @http("GET", "/reservations", roles=LOOKUP, response=s.ReservationListSchema,
          summary="What is set aside for repair orders, and what they still wait for")
    def list_reservations(self, request: Request) -> Response:
        query = _query(request, s.ReservationQuerySchema())
        rows = use_cases.reservations(self.uow, short=query.pop("short", False), **query)
        return json_response(s.ReservationListSchema().dump({"items": rows}))

    @http("POST", "/repair-orders/<string:repair_order_id>/release", roles=STOREKEEPING,
          request=s.ReleaseRequestSchema, response=s.ReleaseSchema,
          summary="Give back what a repair order (or one of its lines) holds")
    @writes
    def release(self, request: Request, repair_order_id: str) -> Response:
        body = load_json(request, s.ReleaseRequestSchema())
        released = use_cases.release(self.uow, repair_order_id, body.get("quote_line_id"),
                                     body["reason"], actor=identity_of(request), now=now())
        return json_response(s.ReleaseSchema().dump(released))

    # -- books: suggestions, ledger, traceability ------------------------------------------

    @http("GET", "/reorder-suggestions", roles=BOOKS, response=s.ReorderSuggestionListSchema,
          summary="Parts at or below their reorder point, with the quantity to order")
    def reorder_suggestions(self, request: Request) -> Response:
        items = use_cases.reorder_suggestions(self.uow)
        return json_response(s.ReorderSuggestionListSchema().dump({"items": items}))

    @http("GET", "/movements", roles=BOOKS, response=s.MovementListSchema,
          summary="The stock ledger: every movement with who, when and why")
    def list_movements(self, request: Request) -> Response:
        query = _query(request, s.MovementQuerySchema())
        page = use_cases.movements(self.uow, **query)
        return json_response(s.MovementListSchema().dump(page))

    @http("GET", "/trace/batches/<string:batch_number>", roles=BOOKS,
          response=s.BatchTraceSchema, summary="Which vehicles and repair orders got a batch")
    def trace_batch(self, request: Request, batch_number: str) -> Response:
        query = _query(request, s.TraceBatchQuerySchema())
        trace = use_cases.trace_batch(self.uow, batch_number, query.get("part_number"))
        return json_response(s.BatchTraceSchema().dump(trace))

    @http("GET", "/trace/serials/<string:serial_number>", roles=BOOKS,
          response=s.SerialTraceSchema, summary="The life of one serial-numbered part")
    def trace_serial(self, request: Request, serial_number: str) -> Response:
        trace = use_cases.trace_serial(self.uow, serial_number)
        return json_response(s.SerialTraceSchema().dump(trace))

    @http("GET", "/trace/vehicles/<string:vin>", roles=BOOKS, response=s.VehicleTraceSchema,
          summary="Which parts, batches and serial numbers went into a vehicle")
    def trace_vehicle(self, request: Request, vin: str) -> Response:
        _check_path("vin", vin, s.VIN)
        return json_response(s.VehicleTraceSchema().dump(use_cases.trace_vehicle(self.uow, vin)))
