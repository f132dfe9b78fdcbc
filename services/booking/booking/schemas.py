"""marshmallow schemas of booking's HTTP payloads."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from booking.domain import SERVICE_TYPES
from contracts.payloads import CHANNELS

PHONE = validate.Regexp(r"^\+?\d{6,15}$", error="must be 6-15 digits, optionally after +")
VIN = validate.Regexp(r"^[A-HJ-NPR-Z0-9]{17}$",
                      error="must be 17 characters, digits and capitals except I, O, Q")


class CustomerSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(required=True, validate=PHONE)


class VehicleSchema(Schema):
    plate = fields.String(validate=validate.Length(min=2, max=16))
    vin = fields.String(validate=VIN)
    model = fields.String(validate=validate.Length(max=60))


class BookingRequestSchema(Schema):
    customer = fields.Nested(CustomerSchema, required=True)
    vehicle = fields.Nested(VehicleSchema, required=True)
    service_type = fields.String(required=True, validate=validate.OneOf(sorted(SERVICE_TYPES)))
    slot_start = fields.AwareDateTime(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    pickup_address = fields.String(validate=validate.Length(max=200))
    loaner_requested = fields.Boolean(load_default=False)


class AppointmentSchema(Schema):
    id = fields.String()
    dealer_code = fields.String()
    status = fields.String()
    service_type = fields.String()
    slot_start = fields.DateTime()
    slot_end = fields.DateTime()
    channel = fields.String()
    plate = fields.String(allow_none=True)
    vin = fields.String(allow_none=True)
    booked_at = fields.DateTime()
