"""marshmallow schemas of parts' HTTP payloads.

Quantities and money travel as decimal strings ("4.5", "98.00"), as in the event contract;
JSON numbers with a fraction are refused (a float is not an amount). Unknown fields are
errors.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from contracts import fields as cf
from contracts.payloads import UNITS
from parts import domain


class DecimalText(fields.String):
    """A decimal string in, a `Decimal` out; written back in the contract's notation."""

    default_error_messages = {"invalid": "Not a valid decimal string."}

    def __init__(self, pattern: str, error: str, *, money: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.regex = re.compile(pattern)
        self.error = error
        self.money = money

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not self.regex.fullmatch(value):
            raise ValidationError(self.error)
        return Decimal(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        value = Decimal(value)
        return domain.money_text(value) if self.money else domain.quantity_text(value)


def qty(*, positive: bool = True, **kwargs: Any) -> DecimalText:
    if positive:
        return DecimalText(cf.POSITIVE_QUANTITY,
                           'Not a valid quantity: a positive decimal string with up to 3 '
                           'decimals, e.g. "1" or "4.5".', **kwargs)
    return DecimalText(cf.QUANTITY, 'Not a valid quantity: a non-negative decimal string, '
                                    'e.g. "0" or "4.5".', **kwargs)


MONEY_IN = r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$"


def amount(**kwargs: Any) -> DecimalText:
    return DecimalText(MONEY_IN, 'Not a valid amount: a decimal string with up to 2 decimals, '
                                 'e.g. "368.00".', money=True, **kwargs)


def part_number(**kwargs: Any) -> fields.String:
    return fields.String(validate=cf.Pattern(
        cf.PART_NUMBER, error="Not a valid part number: 2-40 characters A-Z 0-9 . - "
                              "(no spaces)."), **kwargs)


def ident(**kwargs: Any) -> fields.String:
    return fields.String(validate=cf.Pattern(
        cf.ID, error="Not a valid id: 1-64 characters A-Z a-z 0-9 . _ : -."), **kwargs)


def model_code(**kwargs: Any) -> fields.String:
    return fields.String(validate=cf.Pattern(
        cf.CODE, error="Not a valid model code: 1-32 characters A-Z 0-9 _ . -."), **kwargs)


def text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def serial_numbers(**kwargs: Any) -> fields.List:
    return fields.List(text(64), validate=validate.Length(min=1, max=100), **kwargs)


class NonBlank(validate.Validator):
    def __call__(self, value: str) -> str:
        if not value.strip():
            raise ValidationError("Must not be blank.")
        return value


VIN = cf.Pattern(cf.VIN, error="Not a valid VIN: 17 characters A-Z (no I, O, Q) and 0-9.")
VIN_PREFIX = cf.Pattern(rf"^[A-HJ-NPR-Z0-9]{{{domain.VIN_PREFIX_MIN},{domain.VIN_PREFIX_MAX}}}$",
                        error=f"Not a valid VIN prefix: {domain.VIN_PREFIX_MIN}-"
                              f"{domain.VIN_PREFIX_MAX} VIN characters (WMI + VDS).")
DEALER_CODE = cf.Pattern(cf.DEALER_CODE, error="Not a valid dealer code: 2-12 characters "
                                               "A-Z 0-9.")


# -- requests ---------------------------------------------------------------------------------


class PartCreateSchema(Schema):
    part_number = part_number(required=True)
    name = text(64, required=True)
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))
    unit_price = amount(required=True)
    tracking = fields.String(load_default=domain.BATCH, validate=validate.OneOf(domain.TRACKING))
    compatible_models = fields.List(model_code(), load_default=list,
                                    validate=validate.Length(max=200))
    bin_location = text(32)
    reorder_point = qty(positive=False, load_default=Decimal(0))
    reorder_quantity = qty(positive=False, load_default=Decimal(0))


class PartUpdateSchema(Schema):
    """Unit and tracking are fixed once stock exists: not changeable here."""

    name = text(64)
    unit_price = amount()
    compatible_models = fields.List(model_code(), validate=validate.Length(max=200))
    bin_location = text(32, allow_none=True)
    reorder_point = qty(positive=False)
    reorder_quantity = qty(positive=False)

    @validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Give at least one field to change.", "_schema")


class PartQuerySchema(Schema):
    model = model_code()
    vin = fields.String(validate=VIN)
    q = text(64)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class VinModelRequestSchema(Schema):
    model_code = model_code(required=True)
    model_name = text(64)


class ReceiptLineSchema(Schema):
    part_number = part_number(required=True)
    quantity = qty()
    batch_number = text(64)
    serial_numbers = serial_numbers()


class ReceiptRequestSchema(Schema):
    reference = text(64)
    transfer_id = ident()
    from_dealer_code = fields.String(validate=DEALER_CODE)
    lines = fields.List(fields.Nested(ReceiptLineSchema), required=True,
                        validate=validate.Length(min=1, max=200))


class RequisitionRequestSchema(Schema):
    repair_order_id = ident(required=True)
    quote_line_id = ident(required=True)
    quantity = qty(required=True)
    part_number = part_number()
    serial_numbers = serial_numbers()


class ReturnRequestSchema(Schema):
    repair_order_id = ident(required=True)
    quote_line_id = ident(required=True)
    quantity = qty(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(domain.RETURN_REASONS))
    note = text(200)
    batch_number = text(64)
    serial_numbers = serial_numbers()


class TransferRequestSchema(Schema):
    part_number = part_number(required=True)
    quantity = qty(required=True)
    to_dealer_code = fields.String(required=True, validate=DEALER_CODE)
    note = text(200)
    batch_number = text(64)
    serial_numbers = serial_numbers()


class StocktakeRequestSchema(Schema):
    part_number = part_number(required=True)
    counted = qty(positive=False, required=True)
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=200),
                                                    NonBlank()])
    batch_number = text(64)
    serial_numbers = serial_numbers(metadata={
        "description": "Serial-numbered parts: the serial numbers found (count above the "
                       "books) or missing (count below)."})


class ReleaseRequestSchema(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(
        (domain.CLERK_RELEASE, domain.REPAIR_ORDER_CANCELLED)))
    quote_line_id = ident()


class ReservationQuerySchema(Schema):
    repair_order_id = ident()
    part_number = part_number()
    status = fields.String(validate=validate.OneOf((domain.ACTIVE, domain.DECLINED,
                                                    domain.RELEASED)))
    short = fields.Boolean(metadata={"description": "Only lines waiting for parts."})
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000))


class MovementQuerySchema(Schema):
    part_number = part_number()
    repair_order_id = ident()
    kind = fields.String(validate=validate.OneOf(domain.MOVEMENT_KINDS))
    after_id = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class TraceBatchQuerySchema(Schema):
    part_number = part_number()


# -- answers --------------------------------------------------------------------------------


class StockSchema(Schema):
    part_number = fields.String()
    on_hand = qty(positive=False)
    reserved = qty(positive=False)
    available = qty(positive=False)
    shortfall = qty(positive=False)


class PartSchema(Schema):
    part_number = fields.String()
    name = fields.String()
    unit = fields.String()
    unit_price = amount()
    currency = fields.Constant("CNY")
    tracking = fields.String()
    compatible_models = fields.List(fields.String())
    on_hand = qty(positive=False)
    reserved = qty(positive=False)
    available = qty(positive=False)
    bin_location = fields.String(allow_none=True)
    reorder_point = qty(positive=False)
    reorder_quantity = qty(positive=False)


class PartListSchema(Schema):
    model_code = fields.String(allow_none=True,
                               metadata={"description": "The model the VIN or model maps to."})
    items = fields.List(fields.Nested(PartSchema))


class VinModelSchema(Schema):
    vin_prefix = fields.String()
    model_code = fields.String()
    model_name = fields.String(allow_none=True)
    updated_by = fields.String()
    updated_at = fields.DateTime()


class VinModelListSchema(Schema):
    items = fields.List(fields.Nested(VinModelSchema))


class ReceivedLineSchema(Schema):
    part_number = fields.String()
    quantity = qty()
    batch_number = fields.String(allow_none=True)
    serial_numbers = fields.List(fields.String(), allow_none=True)


class ReceiptSchema(Schema):
    receipt_id = fields.String()
    reference = fields.String(allow_none=True)
    transfer_id = fields.String(allow_none=True)
    from_dealer_code = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(ReceivedLineSchema))
    received_by = fields.String()
    received_at = fields.DateTime()
    stock = fields.List(fields.Nested(StockSchema))


class LotSchema(Schema):
    quantity = qty()
    batch_number = fields.String()
    serial_numbers = fields.List(fields.String())


class IssueSchema(LotSchema):
    issue_id = fields.String()


class RequisitionSchema(Schema):
    requisition_id = fields.String()
    repair_order_id = fields.String()
    quote_line_id = fields.String()
    part_number = fields.String()
    quantity = qty()
    unit = fields.String()
    vin = fields.String()
    unit_price = amount()
    from_stock = fields.Boolean()
    issues = fields.List(fields.Nested(IssueSchema))
    reserved_left = qty(positive=False)
    issued_by = fields.String()
    issued_at = fields.DateTime()


class ReturnSchema(Schema):
    return_id = fields.String()
    repair_order_id = fields.String()
    quote_line_id = fields.String()
    part_number = fields.String()
    quantity = qty()
    unit = fields.String()
    reason = fields.String()
    lots = fields.List(fields.Nested(LotSchema))
    returned_by = fields.String()
    returned_at = fields.DateTime()


class TransferSchema(Schema):
    transfer_id = fields.String()
    part_number = fields.String()
    quantity = qty()
    unit = fields.String()
    to_dealer_code = fields.String()
    lots = fields.List(fields.Nested(LotSchema))
    note = fields.String(allow_none=True)
    transferred_by = fields.String()
    transferred_at = fields.DateTime()
    stock = fields.Nested(StockSchema)


class StocktakeAuditSchema(Schema):
    adjustment_id = fields.String()
    part_number = fields.String()
    previous_on_hand = qty(positive=False)
    counted = qty(positive=False)
    difference = fields.Function(lambda a: domain.quantity_text(a["difference"]),
                                 metadata={"description": 'Signed: "-2" lost, "3" found.'})
    reason = fields.String()
    adjusted_by = fields.String()
    adjusted_at = fields.DateTime()


class StocktakeSchema(StocktakeAuditSchema):
    stock = fields.Nested(StockSchema)


class StocktakeListSchema(Schema):
    items = fields.List(fields.Nested(StocktakeAuditSchema))


class ReservationSchema(Schema):
    reservation_id = fields.String(attribute="id")
    repair_order_id = fields.String()
    quote_line_id = fields.String()
    vin = fields.String()
    part_number = fields.String()
    status = fields.String()
    approved = qty(positive=False, attribute="quantity_approved")
    reserved = qty(positive=False, attribute="quantity_reserved")
    issued = qty(positive=False, attribute="quantity_issued")
    returned = qty(positive=False, attribute="quantity_returned")
    shortfall = qty(positive=False)
    from_stock = fields.Boolean()
    updated_at = fields.DateTime()


class ReservationListSchema(Schema):
    items = fields.List(fields.Nested(ReservationSchema))


class ReleaseSchema(Schema):
    repair_order_id = fields.String()
    released = fields.List(fields.Nested(ReservationSchema))


class MovementSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    part_number = fields.String()
    batch_number = fields.String(allow_none=True)
    serial_number = fields.String(allow_none=True)
    on_hand_change = fields.Function(lambda m: domain.quantity_text(m["on_hand_change"]))
    reserved_change = fields.Function(lambda m: domain.quantity_text(m["reserved_change"]))
    on_hand_after = qty(positive=False)
    reserved_after = qty(positive=False)
    repair_order_id = fields.String(allow_none=True)
    quote_line_id = fields.String(allow_none=True)
    vin = fields.String(allow_none=True)
    reference = fields.String()
    reason = fields.String(allow_none=True)
    actor = fields.String()
    moved_at = fields.DateTime()


class MovementListSchema(Schema):
    items = fields.List(fields.Nested(MovementSchema))
    next_after_id = fields.Integer(allow_none=True)


class ReorderSuggestionSchema(Schema):
    part_number = fields.String()
    name = fields.String()
    unit = fields.String()
    on_hand = qty(positive=False)
    available = qty(positive=False)
    shortfall = qty(positive=False)
    reorder_point = qty(positive=False)
    reorder_quantity = qty(positive=False)
    suggested_quantity = qty()
    bin_location = fields.String(allow_none=True)


class ReorderSuggestionListSchema(Schema):
    items = fields.List(fields.Nested(ReorderSuggestionSchema))


class TracedIssueSchema(Schema):
    repair_order_id = fields.String()
    quote_line_id = fields.String()
    vin = fields.String()
    part_number = fields.String()
    batch_number = fields.String(allow_none=True)
    serial_number = fields.String(allow_none=True)
    quantity = qty(positive=False, metadata={"description": "Issued minus returned."})
    first_issued_at = fields.DateTime()


class TracedLotSchema(Schema):
    part_number = fields.String()
    batch_number = fields.String(allow_none=True)
    serial_number = fields.String(allow_none=True)
    receipt_id = fields.String()
    quantity_received = qty()
    quantity_remaining = qty(positive=False)
    received_at = fields.DateTime()


class BatchTraceSchema(Schema):
    batch_number = fields.String()
    lots = fields.List(fields.Nested(TracedLotSchema))
    vehicles = fields.List(fields.Nested(TracedIssueSchema))


class SerialTraceSchema(Schema):
    serial_number = fields.String()
    lots = fields.List(fields.Nested(TracedLotSchema))
    movements = fields.List(fields.Nested(MovementSchema))


class VehicleTraceSchema(Schema):
    vin = fields.String()
    parts = fields.List(fields.Nested(TracedIssueSchema))
