"""marshmallow schemas of workorder's HTTP payloads.

Requests: unknown fields are refused, each error names its field, money and hours are decimal
strings (never JSON numbers). Responses: the same conventions on the way out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from contracts.payloads import MAX_MILEAGE_KM
from contracts.vin import vin_problem
from workorder.domain.inspection import ItemStatus
from workorder.domain.pricing import LineKind, PaymentMethod, PayType
from workorder.domain.quote import ApprovalChannel, Decision
from workorder.domain.stages import Stage

ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
                     error="1-64 characters A-Z a-z 0-9 . _ : - starting with a letter or digit")
CODE = validate.Regexp(r"^[A-Z0-9][A-Z0-9_.-]{0,31}$",
                       error="1-32 characters A-Z 0-9 _ . - starting with A-Z or 0-9")
PART_NUMBER = validate.Regexp(r"^[A-Z0-9][A-Z0-9.-]{1,39}$",
                              error="2-40 characters A-Z 0-9 . - (no spaces)")
PHONE = validate.Regexp(r"^\+?\d{6,15}$", error="must be 6-15 digits, optionally after +")
STAGE_NAMES = tuple(stage.value for stage in Stage)
SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error="64 lowercase hex digits")


def _vin(value: str) -> None:
    problem = vin_problem(value)
    if problem:
        raise ValidationError(problem)


class DecimalString(fields.String):
    """A decimal written as a JSON string ("368.00"), with at most `places` decimals."""

    def __init__(self, *, places: int, minimum: Decimal | None = None,
                 maximum: Decimal | None = None, positive: bool = False, **kwargs: Any) -> None:
        pattern = rf"^[0-9]{{1,12}}(\.[0-9]{{1,{places}}})?$"
        kwargs["metadata"] = {"pattern": pattern, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)
        self.places, self.minimum, self.maximum, self.positive = places, minimum, maximum, positive
        self._pattern = re.compile(pattern)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Decimal:
        if not isinstance(value, str):
            raise ValidationError(f'write it as a string with up to {self.places} decimals, '
                                  'e.g. "1.5"')
        if not self._pattern.fullmatch(value):
            raise ValidationError(f"not a non-negative decimal with up to {self.places} decimals")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValidationError("not a decimal number") from None
        if self.positive and number <= 0:
            raise ValidationError("must be more than 0")
        if self.minimum is not None and number < self.minimum:
            raise ValidationError(f"must be at least {self.minimum}")
        if self.maximum is not None and number > self.maximum:
            raise ValidationError(f"must be at most {self.maximum}")
        return number

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format(Decimal(value), "f")


def money(**kwargs: Any) -> DecimalString:
    return DecimalString(places=2, maximum=Decimal("999999999.99"), **kwargs)


def hours(**kwargs: Any) -> DecimalString:
    return DecimalString(places=2, maximum=Decimal("999.99"), **kwargs)


def quantity(**kwargs: Any) -> DecimalString:
    return DecimalString(places=3, maximum=Decimal("9999999"), positive=True, **kwargs)


def text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def choice(values: Any, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf([v.value for v in values]), **kwargs)


# -- requests --------------------------------------------------------------------------------


class ConcernSchema(Schema):
    description = text(500, required=True)
    code = fields.String(validate=CODE)


class ReceptionSchema(Schema):
    """Reception (接车): from an expected appointment, or a walk-in."""

    appointment_id = fields.String(validate=ID)
    customer_id = fields.String(validate=ID)
    customer_phone = fields.String(validate=PHONE)
    vin = fields.String(validate=_vin)
    plate = fields.String(validate=validate.Length(min=2, max=16))
    model = text(64)
    mileage_km = fields.Integer(strict=True, required=True,
                                validate=validate.Range(min=0, max=MAX_MILEAGE_KM))
    odometer_changed = fields.Boolean(load_default=False)
    fuel_level = fields.Integer(strict=True, required=True, validate=validate.Range(0, 100),
                                metadata={"description": "Fuel or battery level, percent"})
    concerns = fields.List(fields.Nested(ConcernSchema), load_default=list,
                           validate=validate.Length(max=20))
    belongings = fields.List(text(100), load_default=list, validate=validate.Length(max=30),
                             metadata={"description": "Valuables left in the car (车内物品)"})
    promised_at = fields.AwareDateTime(required=True)
    customer_waiting = fields.Boolean(load_default=False)


class RepairOrderQuerySchema(Schema):
    stage = fields.String(validate=validate.OneOf(list(STAGE_NAMES)))
    vin = fields.String(validate=validate.Length(min=1, max=17))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class VehicleCampaignsQuerySchema(Schema):
    model = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "The car's model, for campaigns by model; default: the model reception "
                       "last recorded for this VIN"})


class CancelSchema(Schema):
    reason = text(200, required=True)


class StartInspectionSchema(Schema):
    template_code = fields.String(validate=CODE)


class InspectionResultSchema(Schema):
    status = choice(ItemStatus, required=True)
    notes = text(500)
    photos = fields.List(fields.String(validate=SHA256), load_default=list,
                         validate=validate.Length(max=20))
    name = text(64, metadata={"description": "Needed only to add an item not on the checklist"})


class QuoteLineRequestSchema(Schema):
    kind = choice(LineKind, required=True)
    description = text(200)
    operation_code = fields.String(validate=CODE)
    flat_rate_hours = hours(positive=True)
    labour_rate = money(positive=True, metadata={"description": "Defaults to the site's rate"})
    skill = fields.String(validate=CODE)
    part_number = fields.String(validate=PART_NUMBER)
    quantity = quantity()
    pay_type = choice(PayType, required=True)

    @validates_schema
    def _fields_of_kind(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        needs = {"LABOUR": ("operation_code", "flat_rate_hours", "description"),
                 "PART": ("part_number", "quantity")}
        forbids = {"LABOUR": ("part_number", "quantity"),
                   "PART": ("operation_code", "flat_rate_hours", "labour_rate", "skill")}
        kind = data.get("kind")
        if kind not in needs:
            return
        errors: dict[str, list[str]] = {}
        for name in needs[kind]:
            if name not in data:
                errors[name] = [f"Required on a {kind} line."]
        for name in forbids[kind]:
            if name in data:
                errors[name] = [f"Not allowed on a {kind} line."]
        if errors:
            raise ValidationError(errors)


class QuoteLinesSchema(Schema):
    lines = fields.List(fields.Nested(QuoteLineRequestSchema), required=True,
                        validate=validate.Length(min=1, max=50))


class LineDecisionSchema(Schema):
    line_id = fields.String(required=True, validate=validate.Length(min=1, max=16))
    decision = choice(Decision, required=True)


class SignatureSchema(Schema):
    name = text(100, required=True, metadata={"description": "The signer's name as written"})
    image = fields.String(validate=validate.Length(min=1, max=1_500_000),
                          metadata={"description": "Signature image, base64 (PNG or JPEG)"})
    image_content_type = fields.String(validate=validate.OneOf(["image/png", "image/jpeg"]))


class ApprovalSchema(Schema):
    decisions = fields.List(fields.Nested(LineDecisionSchema), required=True,
                            validate=validate.Length(min=1, max=200))
    signature = fields.Nested(SignatureSchema, required=True)
    approved_via = choice(ApprovalChannel)


class TechnicianSchema(Schema):
    id = fields.String(required=True, validate=ID)
    name = text(100, required=True)
    skills = fields.List(fields.String(validate=CODE), load_default=list,
                         validate=validate.Length(max=30))


class AssignSchema(Schema):
    technician_id = fields.String(validate=ID, metadata={
        "description": "Override the suggestion (least-loaded qualified technician)"})


class ClockOffSchema(Schema):
    completed = fields.Boolean(load_default=False,
                               metadata={"description": "The job is finished"})


class QualityCheckSchema(Schema):
    passed = fields.Boolean(required=True)
    reason = text(500)
    line_ids = fields.List(fields.String(validate=validate.Length(min=1, max=16)),
                           validate=validate.Length(max=200))


class SundrySchema(Schema):
    description = text(100, required=True)
    amount = money(required=True)
    pay_type = choice(PayType, load_default=PayType.CUSTOMER_PAY.value)


class InvoiceRequestSchema(Schema):
    sundries = fields.List(fields.Nested(SundrySchema), load_default=list,
                           validate=validate.Length(max=20))
    discount = money(load_default=Decimal("0.00"),
                     metadata={"description": "Coupons and discounts, taken off customer pay"})
    coupon_code = fields.String(validate=CODE)


class PaymentSchema(Schema):
    method = choice(PaymentMethod, required=True)
    amount = money(required=True)
    reference = text(64, metadata={"description": "Card slip, WeChat/Alipay transaction id"})


class HandOverSchema(Schema):
    mileage_km = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_MILEAGE_KM),
                                metadata={"description": "Odometer at hand-over"})
    delivery_mode = fields.String(load_default="COUNTER",
                                  validate=validate.OneOf(["COUNTER", "HOME_DELIVERY"]))


# -- responses -------------------------------------------------------------------------------


class StepSchema(Schema):
    action = fields.String()
    to = fields.String()


class OpenCampaignSchema(Schema):
    code = fields.String()
    kind = fields.String(allow_none=True, metadata={
        "description": "RECALL or SERVICE_CAMPAIGN; null when headquarters did not say"})
    title = fields.String()
    starts_on = fields.String()
    operation_code = fields.String(allow_none=True)


class VehicleCampaignsSchema(Schema):
    vin = fields.String()
    model = fields.String(allow_none=True)
    open_campaigns = fields.List(fields.Nested(OpenCampaignSchema))


class RepairOrderSchema(Schema):
    id = fields.String()
    dealer_code = fields.String()
    stage = fields.String()
    appointment_id = fields.String(allow_none=True)
    customer_id = fields.String()
    vin = fields.String()
    plate = fields.String()
    model = fields.String(allow_none=True)
    mileage_km = fields.Integer()
    odometer_changed = fields.Boolean()
    fuel_level = fields.Integer()
    concerns = fields.List(fields.Dict())
    belongings = fields.List(fields.String())
    customer_waiting = fields.Boolean()
    advisor_id = fields.String()
    quote_round = fields.Integer()
    rework_count = fields.Integer()
    opened_at = fields.DateTime()
    promised_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    next_steps = fields.List(fields.Nested(StepSchema))
    history = fields.List(fields.Dict(), metadata={
        "description": "Each stage entered, by which action and when (cycle time)"})
    open_campaigns = fields.List(fields.Nested(OpenCampaignSchema), metadata={
        "description": "Recall and service campaigns covering the car (reception and the "
                       "single repair order only)"})


class RepairOrderListSchema(Schema):
    items = fields.List(fields.Nested(RepairOrderSchema))


class ChecklistTemplateSchema(Schema):
    code = fields.String()
    name = fields.String()
    is_default = fields.Boolean()
    items = fields.List(fields.Dict())


class ChecklistTemplateListSchema(Schema):
    items = fields.List(fields.Nested(ChecklistTemplateSchema))


class PhotoSchema(Schema):
    sha256 = fields.String()
    content_type = fields.String()
    size_bytes = fields.Integer()
    url = fields.String()


class InspectionItemSchema(Schema):
    code = fields.String()
    name = fields.String()
    position = fields.Integer()
    status = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    photos = fields.List(fields.Nested(PhotoSchema))


class InspectionSchema(Schema):
    id = fields.String()
    repair_order_id = fields.String()
    template_code = fields.String()
    started_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    items = fields.List(fields.Nested(InspectionItemSchema))
    report_link = fields.Dict(allow_none=True)


class ReportLinkSchema(Schema):
    url = fields.String()
    expires_at = fields.DateTime()


class InspectionReportSchema(Schema):
    repair_order_id = fields.String()
    dealer_code = fields.String()
    plate = fields.String()
    model = fields.String(allow_none=True)
    inspected_at = fields.DateTime()
    items = fields.List(fields.Nested(InspectionItemSchema))
    expires_at = fields.DateTime()


class QuoteLineSchema(Schema):
    line_id = fields.String()
    round = fields.Integer()
    kind = fields.String()
    description = fields.String()
    operation_code = fields.String(allow_none=True)
    flat_rate_hours = DecimalString(places=2, allow_none=True)
    skill = fields.String(allow_none=True)
    part_number = fields.String(allow_none=True)
    quantity = DecimalString(places=3, allow_none=True)
    unit = fields.String(allow_none=True)
    available_at_quote = DecimalString(places=3, allow_none=True)
    issued_quantity = DecimalString(places=3)
    unit_price = DecimalString(places=2)
    amount = DecimalString(places=2)
    pay_type = fields.String()
    status = fields.String()


class QuoteRoundSchema(Schema):
    round = fields.Integer()
    quote_id = fields.String()
    sent_at = fields.DateTime(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    approved_via = fields.String(allow_none=True)
    signer_name = fields.String(allow_none=True)
    total = DecimalString(places=2)
    approved_total = DecimalString(places=2, allow_none=True)
    declined_total = DecimalString(places=2, allow_none=True)
    lines = fields.List(fields.Nested(QuoteLineSchema))


class QuoteSchema(Schema):
    repair_order_id = fields.String()
    stage = fields.String()
    current_round = fields.Integer()
    currency = fields.String()
    rounds = fields.List(fields.Nested(QuoteRoundSchema))


class QuoteLinkSchema(QuoteSchema):
    """The quote as the owner's signed link shows it: the one round it decides."""

    quote_id = fields.String()
    expires_at = fields.DateTime(metadata={
        "description": "Until when the link holds; it is refused sooner once decided"})
    plate = fields.String(metadata={"description": "The car's licence plate (shown, not the "
                                                   "approval's answer)"})
    model = fields.String(allow_none=True)
    report_link = fields.Nested(ReportLinkSchema, allow_none=True, metadata={
        "description": "The inspection report behind the quote (its own signed link, expiring "
                       "with this one: GET /inspection-reports/<token>, photos by "
                       "/photos/<hash>?token=); null before an inspection was submitted"})


class TechnicianViewSchema(Schema):
    id = fields.String()
    name = fields.String()
    skills = fields.List(fields.String())
    active = fields.Boolean()
    load_hours = DecimalString(places=2)


class TechnicianListSchema(Schema):
    items = fields.List(fields.Nested(TechnicianViewSchema))


class JobSchema(Schema):
    line_id = fields.String()
    description = fields.String()
    operation_code = fields.String()
    skill = fields.String()
    status = fields.String()
    technician_id = fields.String(allow_none=True)
    assignment_overridden = fields.Boolean()
    rework_count = fields.Integer()
    flat_rate_hours = DecimalString(places=2)
    clocked_hours = DecimalString(places=2)
    suggested_technician_id = fields.String(allow_none=True)


class JobListSchema(Schema):
    repair_order_id = fields.String()
    items = fields.List(fields.Nested(JobSchema))


class QualityCheckViewSchema(Schema):
    check_id = fields.String()
    stage = fields.String()
    passed = fields.Boolean()
    reason = fields.String(allow_none=True)
    rework_count = fields.Integer()
    line_ids = fields.List(fields.String())
    checked_by = fields.String()
    checked_at = fields.DateTime()
    repair_order_stage = fields.String()


class PaymentViewSchema(Schema):
    method = fields.String()
    amount = DecimalString(places=2)
    reference = fields.String(allow_none=True)
    received_at = fields.DateTime()


class InvoiceSchema(Schema):
    repair_order_id = fields.String()
    invoice_number = fields.String()
    currency = fields.String()
    labour_total = DecimalString(places=2)
    parts_total = DecimalString(places=2)
    sundries_total = DecimalString(places=2)
    discount_total = DecimalString(places=2)
    coupon_code = fields.String(allow_none=True)
    tax_total = DecimalString(places=2)
    grand_total = DecimalString(places=2)
    totals_by_pay_type = fields.Dict(keys=fields.String(), values=fields.String())
    labour_hours_sold = DecimalString(places=2)
    sundries = fields.List(fields.Dict())
    lines = fields.List(fields.Nested(QuoteLineSchema))
    payments = fields.List(fields.Nested(PaymentViewSchema))
    paid = DecimalString(places=2)
    balance = DecimalString(places=2)
    signed = fields.Boolean()
    signed_by_name = fields.String(allow_none=True)
    signed_at = fields.DateTime(allow_none=True)
    issued_at = fields.DateTime()


class ExpectedArrivalSchema(Schema):
    appointment_id = fields.String()
    plate = fields.String(allow_none=True)
    vin = fields.String(allow_none=True)
    service_type = fields.String()
    expected_at = fields.DateTime()
    loaner_requested = fields.Boolean()
    pickup_requested = fields.Boolean()


class BoardCardSchema(Schema):
    id = fields.String()
    stage = fields.String(metadata={"enum": list(STAGE_NAMES)})
    waiting_for = fields.String(allow_none=True, metadata={
        "description": "Who must act next: INSPECTION, QUOTE, APPROVAL, DISPATCH, PARTS, WORK, "
                       "SELF_CHECK, QC, INVOICE, PAYMENT, SIGNATURE, HAND_OVER; null once "
                       "handed over"})
    plate = fields.String()
    model = fields.String(allow_none=True)
    advisor_id = fields.String()
    customer_waiting = fields.Boolean()
    opened_at = fields.DateTime()
    promised_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    jobs = fields.Integer(metadata={"description": "Approved labour lines (jobs)"})
    jobs_done = fields.Integer()
    technician_ids = fields.List(fields.String())


class ClockedOnSchema(Schema):
    repair_order_id = fields.String()
    line_id = fields.String()


class TechnicianLoadSchema(Schema):
    id = fields.String()
    name = fields.String()
    load_hours = DecimalString(places=2)
    jobs_assigned = fields.Integer(metadata={"description": "Jobs assigned and not done"})
    clocked_on = fields.Nested(ClockedOnSchema, allow_none=True)


class WorkshopBoardSchema(Schema):
    as_of = fields.DateTime()
    day_started_at = fields.DateTime(metadata={
        "description": "The site's midnight: repair orders handed over since are shown"})
    repair_orders = fields.List(fields.Nested(BoardCardSchema))
    technicians = fields.List(fields.Nested(TechnicianLoadSchema))


class PartIssueSchema(Schema):
    issue_id = fields.String()
    line_id = fields.String()
    part_number = fields.String()
    quantity = fields.Method("_quantity")
    unit = fields.String()
    batch_number = fields.String(allow_none=True)
    serial_numbers = fields.List(fields.String(), allow_none=True)
    from_stock = fields.Boolean()
    issued_by = fields.String()
    issued_at = fields.DateTime()
    against_approved_line = fields.Boolean()

    def _quantity(self, row: Mapping[str, Any]) -> str:
        quantity = Decimal(row["quantity"]).normalize()
        return format(quantity.quantize(Decimal(1)) if quantity == quantity.to_integral()
                      else quantity, "f")


class PartIssueListSchema(Schema):
    repair_order_id = fields.String()
    items = fields.List(fields.Nested(PartIssueSchema))


# -- rendering what the use cases answer with --------------------------------------------------

_REPAIR_ORDER = RepairOrderSchema()


def repair_order_view(view: Any) -> dict[str, Any]:
    """A `workorder.use_cases.RepairOrderView` as the API shows it; history and campaigns
    only where the use case read them (the single repair order, reception)."""
    out: dict[str, Any] = _REPAIR_ORDER.dump({**view.repair_order,
                                              "next_steps": view.next_steps})
    if view.history is not None:
        out["history"] = view.history
    if view.open_campaigns is not None:
        out["open_campaigns"] = view.open_campaigns
    return out


# -- paying online ----------------------------------------------------------------------------


class OnlinePaymentRequestSchema(Schema):
    return_url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False,
                            validate=validate.Length(max=512), metadata={
                                "description": "Where the provider sends the phone's browser "
                                               "back after paying (a page of the owner portal "
                                               "at a site that has one)"})


class OnlinePaymentSchema(Schema):
    payment_id = fields.String()
    repair_order_id = fields.String()
    provider = fields.String(metadata={"description": "wechatpay"})
    out_trade_no = fields.String(metadata={"description": "The order number the provider has"})
    amount = DecimalString(places=2)
    currency = fields.String()
    status = fields.String(validate=validate.OneOf(["pending", "paid", "failed"]))
    payment_url = fields.String(allow_none=True, metadata={
        "description": "The provider's page for the phone's browser (when starting only; it "
                       "opens for about five minutes)"})
    transaction_id = fields.String(allow_none=True)
    paid_at = fields.String(allow_none=True, metadata={"description": "As the provider says"})
    failure_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class PaymentNotificationAnswerSchema(Schema):
    code = fields.String(metadata={"description": "SUCCESS, as WeChat Pay expects"})
