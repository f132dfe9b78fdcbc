"""marshmallow schemas of booking's HTTP payloads: what the API takes and what it answers.

Unknown fields are refused (marshmallow's default, RAISE); every error names its field.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from booking.dealer_calendar import MAX_RANGE_DAYS, WEEKDAYS, Calendar, DayLoad
from booking.domain import Appointment, Status, ToReview
from contracts.fields import ID, Day, Pattern, StrictBoolean, StrictInteger
from contracts.payloads import CANCEL_REASONS, CHANNELS, SERVICE_TYPES
from contracts.plate import normal_plate
from contracts.vin import vin_problem

if TYPE_CHECKING:
    from booking.store import StoredCalendar

PHONE = validate.Regexp(r"^\+?\d{6,15}$", error="must be 6-15 digits, optionally after +")
IDENT = Pattern(ID, error="must be 1-64 characters A-Z a-z 0-9 . _ : - "
                          "starting with a letter or digit")
CLOCK = Pattern(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="must be a time HH:MM, e.g. 08:30")
CLOSING = Pattern(r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
                  error="must be a time HH:MM, e.g. 18:00 (24:00 for midnight)")


def _valid_vin(value: str) -> None:
    problem = vin_problem(value)
    if problem:
        raise ValidationError(problem)


def _ident(**kwargs: Any) -> fields.String:
    return fields.String(validate=IDENT, **kwargs)


# -- booking -------------------------------------------------------------------------------


class CustomerSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(required=True, validate=PHONE)
    customer_id = _ident(metadata={
        "description": "The customer's id (from crm); staff only. An owner is the customer "
                       "their token names."})


class VehicleSchema(Schema):
    plate = fields.String(validate=validate.Length(min=2, max=16),
                          metadata={"description": "Licence plate (车牌号), e.g. 京A12345"})
    vin = fields.String(validate=_valid_vin, metadata={
        "description": "17 characters without I, O, Q; position 9 is the check digit (车架号)"})
    model = fields.String(validate=validate.Length(min=1, max=60))

    @pre_load
    def _tidy(self, data: Any, **_: Any) -> Any:
        # People type plates and VINs in lower case and with spaces; neither means anything.
        # A plate takes the platform's one normal form (what crm searches by) before its
        # length is checked.
        if isinstance(data, dict) and isinstance(data.get("plate"), str):
            data = {**data, "plate": normal_plate(data["plate"])}
        if isinstance(data, dict) and isinstance(data.get("vin"), str):
            data = {**data, "vin": "".join(data["vin"].split()).upper()}
        return data


class BookingRequestSchema(Schema):
    customer = fields.Nested(CustomerSchema, required=True)
    vehicle = fields.Nested(VehicleSchema, required=True,
                            metadata={"description": "The plate, the VIN or both"})
    service_type = fields.String(required=True, validate=validate.OneOf(SERVICE_TYPES),
                                 metadata={"description": "One the dealer's calendar offers"})
    slot_start = fields.AwareDateTime(required=True, metadata={
        "description": "Start of a free slot (see GET /availability), with its UTC offset"})
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    pickup_address = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "Pickup and delivery (取送车): where to collect the car"})
    loaner_requested = StrictBoolean(load_default=False,
                                     metadata={"description": "Loaner car (代步车) wanted"})
    customer_waiting = StrictBoolean(load_default=False,
                                     metadata={"description": "Waits in the lounge (店内等候)"})
    advisor_id = _ident(metadata={"description": "Service advisor asked for, if any"})
    reminder_id = _ident(metadata={"description": "The reminder that led to this booking"})
    lead_id = _ident(metadata={"description": "The online lead that led to this booking"})


class RescheduleRequestSchema(Schema):
    slot_start = fields.AwareDateTime(required=True)
    service_type = fields.String(validate=validate.OneOf(SERVICE_TYPES), metadata={
        "description": "Change the service too (its duration decides the slots taken)"})
    reason = fields.String(validate=validate.Length(min=1, max=200))
    channel = fields.String(validate=validate.OneOf(CHANNELS),
                            metadata={"description": "Where the change was asked for"})


class CancelRequestSchema(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(CANCEL_REASONS))
    note = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "Free text, without personal data"})


class ConfirmRequestSchema(Schema):
    """No fields: the body may be empty or {}."""


class CheckInRequestSchema(Schema):
    advisor_id = _ident(metadata={
        "description": "The advisor receiving the car; the caller when absent"})


class NoShowRequestSchema(Schema):
    """No fields: the body may be empty or {}."""


class NoShowSweepRequestSchema(Schema):
    """No fields: the body may be empty or {}."""


# -- answers about appointments -----------------------------------------------------------


class CustomerViewSchema(Schema):
    customer_id = fields.String()
    name = fields.String()
    phone = fields.String()


class VehicleViewSchema(Schema):
    plate = fields.String(allow_none=True)
    vin = fields.String(allow_none=True)
    model = fields.String(allow_none=True)


class AppointmentSchema(Schema):
    id = fields.String()
    dealer_code = fields.String()
    status = fields.String(validate=validate.OneOf([s.value for s in Status]))
    customer = fields.Nested(CustomerViewSchema)
    vehicle = fields.Nested(VehicleViewSchema)
    service_type = fields.String()
    slot_start = fields.DateTime(metadata={"description": "In the dealer's time zone"})
    slot_end = fields.DateTime()
    channel = fields.String()
    pickup_address = fields.String(allow_none=True)
    loaner_requested = fields.Boolean()
    customer_waiting = fields.Boolean()
    advisor_id = fields.String(allow_none=True)
    reminder_id = fields.String(allow_none=True)
    lead_id = fields.String(allow_none=True)
    booked_at = fields.DateTime()
    confirmed_at = fields.DateTime(allow_none=True)
    checked_in_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancelled_by = fields.String(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    cancel_note = fields.String(allow_none=True)
    no_show_at = fields.DateTime(allow_none=True)
    reschedule_count = fields.Integer()
    allowed_actions = fields.List(fields.String(), metadata={
        "description": "What may happen next: confirm, reschedule, cancel, check-in, no-show"})


class AppointmentListSchema(Schema):
    items = fields.List(fields.Nested(AppointmentSchema))
    count = fields.Integer()


class AppointmentListQuerySchema(Schema):
    from_ = fields.Date(data_key="from", metadata={"description": "First date (dealer-local)"})
    to = fields.Date(metadata={"description": "Last date, included"})
    status = fields.String(validate=validate.OneOf([s.value for s in Status]))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class NoShowSweepSchema(Schema):
    marked = fields.List(fields.String(), metadata={"description": "Appointments now NO_SHOW"})
    count = fields.Integer()


def appointment_view(appointment: Appointment, calendar: Calendar) -> dict[str, Any]:
    """An appointment as the API shows it: times on the dealer's clock."""
    row = appointment.as_row()
    for name, value in row.items():
        if isinstance(value, datetime):
            row[name] = calendar.local(value)
    row["status"] = str(appointment.status)
    row["customer"] = {"customer_id": appointment.customer_id, "name": appointment.customer_name,
                       "phone": appointment.customer_phone}
    row["vehicle"] = {"plate": appointment.plate, "vin": appointment.vin,
                      "model": appointment.model}
    row["allowed_actions"] = list(appointment.allowed_actions)
    return _APPOINTMENT.dump(row)


# -- the calendar ---------------------------------------------------------------------------


class OpeningHoursSchema(Schema):
    weekday = fields.String(required=True, validate=validate.OneOf(WEEKDAYS))
    opens = fields.String(required=True, validate=CLOCK)
    closes = fields.String(required=True, validate=CLOSING)


class ServiceTypeSchema(Schema):
    code = fields.String(required=True, validate=validate.OneOf(SERVICE_TYPES))
    duration_minutes = StrictInteger(required=True, validate=validate.Range(min=5, max=720))


class CalendarSchema(Schema):
    time_zone = fields.String(required=True, validate=validate.Length(min=1, max=64),
                              metadata={"description": "IANA name, e.g. Asia/Shanghai"})
    slot_minutes = StrictInteger(required=True, validate=validate.Range(min=5, max=240))
    bays = StrictInteger(required=True, validate=validate.Range(min=1, max=200),
                         metadata={"description": "Workshop bays (工位)"})
    advisors = StrictInteger(required=True, validate=validate.Range(min=1, max=100),
                             metadata={"description": "Service advisors receiving cars"})
    opening_hours = fields.List(fields.Nested(OpeningHoursSchema), required=True,
                                validate=validate.Length(max=7), metadata={
                                    "description": "Weekdays not listed are closed"})
    closed_dates = fields.List(Day(), load_default=list, validate=validate.Length(max=400),
                               metadata={"description": "Holidays (休息日), YYYY-MM-DD"})
    service_types = fields.List(fields.Nested(ServiceTypeSchema), required=True,
                                validate=validate.Length(min=1, max=len(SERVICE_TYPES)))
    no_show_grace_minutes = StrictInteger(load_default=30, validate=validate.Range(min=0,
                                                                                   max=240))
    booking_horizon_days = StrictInteger(load_default=90, validate=validate.Range(min=1,
                                                                                  max=365))


class ReviewSchema(Schema):
    appointment_id = fields.String()
    slot_start = fields.DateTime()
    reason = fields.String(metadata={"description": "CLOSED, OUTSIDE_SLOTS or OVER_CAPACITY"})


class CalendarViewSchema(CalendarSchema):
    capacity_per_slot = fields.Integer(dump_only=True,
                                       metadata={"description": "min(bays, advisors)"})
    configured = fields.Boolean(dump_only=True, metadata={
        "description": "False while the site runs on the default calendar"})
    updated_at = fields.DateTime(dump_only=True, allow_none=True)
    updated_by = fields.String(dump_only=True, allow_none=True)
    appointments_to_review = fields.List(fields.Nested(ReviewSchema), dump_only=True, metadata={
        "description": "After a change: open appointments the new calendar no longer fits"})


def calendar_view(stored: StoredCalendar, review: list[ToReview] | None = None
                  ) -> dict[str, Any]:
    calendar = stored.calendar
    view: dict[str, Any] = {
        **calendar.to_document(), "capacity_per_slot": calendar.capacity,
        "configured": stored.configured,
        "updated_at": calendar.local(stored.updated_at) if stored.updated_at else None,
        "updated_by": stored.updated_by}
    if review is not None:
        view["appointments_to_review"] = [
            {"appointment_id": r.appointment_id, "slot_start": calendar.local(r.slot_start),
             "reason": r.reason} for r in review]
    return _CALENDAR_VIEW.dump(view)


# -- availability ---------------------------------------------------------------------------


class AvailabilityQuerySchema(Schema):
    service_type = fields.String(required=True, validate=validate.OneOf(SERVICE_TYPES))
    from_ = fields.Date(required=True, data_key="from",
                        metadata={"description": "First date (dealer-local)"})
    to = fields.Date(required=True, metadata={
        "description": f"Last date, included; at most {MAX_RANGE_DAYS} days after from"})


class SlotLoadSchema(Schema):
    start = fields.DateTime()
    end = fields.DateTime()
    capacity = fields.Integer()
    booked = fields.Integer()
    free = fields.Integer()
    bookable = fields.Boolean(metadata={
        "description": "The service type can start here: every slot it spans has room"})


class DayLoadSchema(Schema):
    date = fields.Date()
    open = fields.Boolean()
    opens = fields.String(allow_none=True)
    closes = fields.String(allow_none=True)
    slots = fields.List(fields.Nested(SlotLoadSchema))


class AvailabilitySchema(Schema):
    service_type = fields.String()
    duration_minutes = fields.Integer()
    slot_minutes = fields.Integer()
    time_zone = fields.String()
    days = fields.List(fields.Nested(DayLoadSchema))


def availability_view(days: list[DayLoad], calendar: Calendar,
                      service_type: str) -> dict[str, Any]:
    return _AVAILABILITY.dump({
        "service_type": service_type,
        "duration_minutes": calendar.service_types[service_type],
        "slot_minutes": calendar.slot_minutes,
        "time_zone": calendar.time_zone,
        "days": [{"date": day.day, "open": day.open, "opens": day.opens, "closes": day.closes,
                  "slots": [{"start": calendar.local(load.slot.start),
                             "end": calendar.local(load.slot.end), "capacity": load.capacity,
                             "booked": load.booked, "free": load.free,
                             "bookable": load.bookable} for load in day.slots]}
                 for day in days],
    })


# -- one instance of each ---------------------------------------------------------------------
# marshmallow 4 schemas keep no per-call state, and building one (it copies its declared
# fields) cost more than the load or dump itself: the entrypoints share these.

_APPOINTMENT = AppointmentSchema()
_CALENDAR_VIEW = CalendarViewSchema()
_AVAILABILITY = AvailabilitySchema()
CALENDAR = CalendarSchema()
AVAILABILITY_QUERY = AvailabilityQuerySchema()
BOOKING_REQUEST = BookingRequestSchema()
APPOINTMENT_LIST_QUERY = AppointmentListQuerySchema()
CONFIRM_REQUEST = ConfirmRequestSchema()
RESCHEDULE_REQUEST = RescheduleRequestSchema()
CANCEL_REQUEST = CancelRequestSchema()
CHECK_IN_REQUEST = CheckInRequestSchema()
NO_SHOW_REQUEST = NoShowRequestSchema()
NO_SHOW_SWEEP_REQUEST = NoShowSweepRequestSchema()
NO_SHOW_SWEEP = NoShowSweepSchema()
