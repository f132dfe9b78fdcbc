"""marshmallow schemas of crm's HTTP payloads. Unknown fields are refused (RAISE); every
error names its field."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from contracts.fields import CODE as CONTRACT_CODE
from contracts.fields import ID, Pattern, StrictBoolean, StrictInteger
from contracts.payloads import CAMPAIGN_KINDS, REMINDER_REASONS, SURVEY_CHANNELS
from contracts.vin import vin_problem
from contracts.vocabulary import CONSENT_DATA_CHANNEL, PARTNER_PURPOSE, is_partner_purpose
from crm.domain.leads import LEAD_CHANNELS, OUTCOMES
from crm.domain.leads import STATUSES as LEAD_STATUSES
from crm.domain.reminders import CHANNELS, PURPOSES
from crm.domain.surveys import COMMENT_MAX_CHARS, SCORE_MAX, SCORE_MIN

PHONE = validate.Regexp(r"^\+?[\d \-]{6,20}$", error="must be 6-15 digits, optionally after +")
IDENT = Pattern(ID, error="must be 1-64 characters A-Z a-z 0-9 . _ : - "
                          "starting with a letter or digit")
DEALER = Pattern(r"^[A-Z0-9]{2,12}$", error="must be 2-12 characters A-Z 0-9")
# The contract's code pattern: a campaign code travels in ReminderDue.
CODE = Pattern(CONTRACT_CODE, error="must be 1-32 characters A-Z 0-9 _ . - "
                                    "starting with A-Z or 0-9")


def _valid_vin(value: str) -> None:
    problem = vin_problem(value)
    if problem:
        raise ValidationError(problem)


class CustomerSearchQuerySchema(Schema):
    phone = fields.String(validate=PHONE)
    name = fields.String(validate=validate.Length(min=1, max=100))
    plate = fields.String(validate=validate.Length(min=2, max=16))
    vin = fields.String(validate=_valid_vin)

    @validates_schema
    def _one_key(self, data: dict, **_: object) -> None:
        if not data:
            raise ValidationError("give at least one of phone, name, plate, vin", "_schema")


class VehicleDatesSchema(Schema):
    insurance_expires_on = fields.Date(allow_none=True)
    inspection_due_on = fields.Date(allow_none=True)

    @validates_schema
    def _something(self, data: dict, **_: object) -> None:
        if not data:
            raise ValidationError("give insurance_expires_on and/or inspection_due_on",
                                  "_schema")


def _consent_purpose(value: str) -> None:
    if value not in PURPOSES and not is_partner_purpose(value):
        raise ValidationError(f"must be one of {', '.join(PURPOSES)}, or partner:<partner id> "
                              f"(the id matching {PARTNER_PURPOSE.removeprefix('^partner:')})")


class ConsentSchema(Schema):
    """One purpose on one channel. SERVICE and MARKETING are messages, on SMS, WECHAT, PHONE,
    APP or EMAIL; `partner:<partner id>` is sharing the owner's personal data with that
    partner, on the one channel DATA (see contracts.vocabulary.CONSENT_DATA_CHANNEL)."""

    purpose = fields.String(required=True, validate=_consent_purpose)
    channel = fields.String(required=True,
                            validate=validate.OneOf((*CHANNELS, CONSENT_DATA_CHANNEL)))
    granted = StrictBoolean(required=True)

    @validates_schema
    def _channel_of_purpose(self, data: dict, **_: object) -> None:
        partner = is_partner_purpose(data["purpose"])
        if partner and data["channel"] != CONSENT_DATA_CHANNEL:
            raise ValidationError(f"a partner purpose is on the channel {CONSENT_DATA_CHANNEL} "
                                  "(personal data), never a message channel", "channel")
        if not partner and data["channel"] == CONSENT_DATA_CHANNEL:
            raise ValidationError(f"{CONSENT_DATA_CHANNEL} is the channel of a partner:<partner "
                                  "id> purpose only", "channel")


class ConsentsRequestSchema(Schema):
    consents = fields.List(fields.Nested(ConsentSchema), required=True,
                           validate=validate.Length(min=1, max=20))


class ProfileRequestSchema(Schema):
    id_number = fields.String(required=True, validate=Pattern(
        r"^[0-9]{17}[0-9Xx]$", error="must be an 18-character resident ID number"))


class CampaignRequestSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    starts_on = fields.Date(required=True)
    vins = fields.List(fields.String(validate=_valid_vin), validate=validate.Length(max=100_000),
                       load_default=list)
    model = fields.String(validate=validate.Length(min=1, max=64))
    year_from = StrictInteger(validate=validate.Range(1980, 2100))
    year_to = StrictInteger(validate=validate.Range(1980, 2100))
    kind = fields.String(validate=validate.OneOf(CAMPAIGN_KINDS))
    operation_code = fields.String(validate=CODE, metadata={
        "description": "Labour operation code (工时代码) of the campaign's work: a repair order "
                       "delivered with it completes the campaign for the car"})

    @validates_schema
    def _scope(self, data: dict, **_: object) -> None:
        if not data.get("vins") and not data.get("model"):
            raise ValidationError("name the vehicles: a VIN list and/or a model", "vins")
        if ("year_from" in data or "year_to" in data) and not data.get("model"):
            raise ValidationError("a year range needs a model", "model")
        if data.get("year_from", 0) > data.get("year_to", 9999):
            raise ValidationError("must not be after year_to", "year_from")


class ScheduleSchema(Schema):
    first_km = StrictInteger(required=True, validate=validate.Range(500, 100_000))
    first_months = StrictInteger(required=True, validate=validate.Range(1, 60))
    interval_km = StrictInteger(required=True, validate=validate.Range(500, 100_000))
    interval_months = StrictInteger(required=True, validate=validate.Range(1, 60))


class ScheduleViewSchema(ScheduleSchema):
    model = fields.String()


class RunRequestSchema(Schema):
    date = fields.Date(required=True)


class SurveyRunRequestSchema(Schema):
    at = fields.AwareDateTime(load_default=None)


class DueListQuerySchema(Schema):
    dealer = fields.String(required=True, validate=DEALER)
    date = fields.Date(required=True)
    reason = fields.String(validate=validate.OneOf(REMINDER_REASONS))


class SurveyAnswerSchema(Schema):
    score = StrictInteger(required=True, validate=validate.Range(SCORE_MIN, SCORE_MAX))
    comment = fields.String(validate=validate.Length(min=1, max=COMMENT_MAX_CHARS))
    channel = fields.String(validate=validate.OneOf(SURVEY_CHANNELS), load_default="WEB")


class ComplaintListQuerySchema(Schema):
    dealer = fields.String(validate=DEALER)
    status = fields.String(validate=validate.OneOf(("OPEN", "CLOSED")))


class ComplaintCloseSchema(Schema):
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=1000))


# -- answers (for the API document) --------------------------------------------------------


class VehicleViewSchema(Schema):
    vin = fields.String()
    plate = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    last_mileage_km = fields.Integer(allow_none=True)
    last_visit_on = fields.Date(allow_none=True)
    insurance_expires_on = fields.Date(allow_none=True)
    inspection_due_on = fields.Date(allow_none=True)


class CustomerSummarySchema(Schema):
    customer_id = fields.String()
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={
        "description": "In full for invitation agents (they call); masked for other roles."})
    vehicles = fields.List(fields.Nested(VehicleViewSchema))


class CustomerListSchema(Schema):
    customers = fields.List(fields.Nested(CustomerSummarySchema))


class Customer360Schema(CustomerSummarySchema):
    visits = fields.List(fields.Dict())
    declined_work = fields.List(fields.Dict())
    appointments = fields.List(fields.Dict())
    reminders = fields.List(fields.Dict())
    surveys = fields.List(fields.Dict())
    complaints = fields.List(fields.Dict())
    consents = fields.List(fields.Dict())


class RunResultSchema(Schema):
    date = fields.Date()
    raised = fields.Integer()
    suppressed = fields.Dict(keys=fields.String(), values=fields.Integer())


class DueListSchema(Schema):
    dealer = fields.String()
    date = fields.Date()
    reminders = fields.List(fields.Dict())


class CampaignSchema(Schema):
    code = fields.String()
    title = fields.String()
    starts_on = fields.Date()
    vins = fields.Integer(metadata={"description": "How many VINs the list names."})
    model = fields.String(allow_none=True)
    year_from = fields.Integer(allow_none=True)
    year_to = fields.Integer(allow_none=True)
    kind = fields.String(allow_none=True)
    operation_code = fields.String(allow_none=True)


class SurveyRunResultSchema(Schema):
    requested = fields.Integer()


class SurveyAnsweredSchema(Schema):
    survey_id = fields.String()
    score = fields.Integer()
    complaint_id = fields.String(allow_none=True)


class SurveyLinkSchema(Schema):
    survey_id = fields.String()
    dealer_code = fields.String()
    repair_order_id = fields.String()
    delivered_at = fields.DateTime()
    answered_at = fields.DateTime(allow_none=True)
    questions = fields.Dict(keys=fields.String(), values=fields.Dict())


class ComplaintSchema(Schema):
    complaint_id = fields.String()
    survey_id = fields.String()
    customer_id = fields.String(allow_none=True)
    dealer_code = fields.String()
    repair_order_id = fields.String()
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    owner = fields.String()
    due_on = fields.Date()
    status = fields.String()
    resolution = fields.String(allow_none=True)


class ComplaintListSchema(Schema):
    complaints = fields.List(fields.Nested(ComplaintSchema))


class ConsentsViewSchema(Schema):
    customer_id = fields.String()
    consents = fields.List(fields.Dict())



# -- leads ---------------------------------------------------------------------------------


class LeadRequestSchema(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(LEAD_CHANNELS))
    dealer_code = fields.String(required=True, validate=DEALER)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(required=True, validate=PHONE)
    interest = fields.String(validate=validate.Length(min=1, max=200))
    received_at = fields.AwareDateTime(load_default=None)


class LeadListQuerySchema(Schema):
    dealer = fields.String(validate=DEALER)
    status = fields.String(validate=validate.OneOf(LEAD_STATUSES))
    overdue = fields.Boolean(load_default=False, truthy={"true"}, falsy={"false"})


class LeadAssignSchema(Schema):
    agent = fields.String(required=True, validate=IDENT)


class LeadContactSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    note = fields.String(validate=validate.Length(min=1, max=500))


class LeadFunnelQuerySchema(Schema):
    dealer = fields.String(validate=DEALER)
    start = fields.Date(data_key="from", required=True)
    end = fields.Date(data_key="to", required=True)

    @validates_schema
    def _range(self, data: dict, **_: object) -> None:
        if data["start"] > data["end"]:
            raise ValidationError("must not be after 'to'", "from")


class LeadSchema(Schema):
    lead_id = fields.String()
    channel = fields.String()
    dealer_code = fields.String()
    name = fields.String()
    phone = fields.String()
    customer_id = fields.String(allow_none=True)
    interest = fields.String(allow_none=True)
    assigned_to = fields.String(allow_none=True)
    status = fields.String()
    received_at = fields.String()
    first_contact_due_at = fields.String()
    first_contacted_at = fields.String(allow_none=True)
    sla_met = fields.Boolean(allow_none=True)
    appointment_id = fields.String(allow_none=True)


class LeadListSchema(Schema):
    leads = fields.List(fields.Nested(LeadSchema))


class LeadFunnelSchema(Schema):
    leads = fields.Integer()
    sla_met = fields.Integer()
    sla_missed = fields.Integer()
    sla_met_rate = fields.String(allow_none=True)
    booked = fields.Integer()
    arrived = fields.Integer()
    booking_rate = fields.String(allow_none=True)
    arrival_rate = fields.String(allow_none=True)
