"""Schemas of the ``data`` member of each event, and the shared value sets.

Conventions: money, quantities and hours are decimal strings (never floats); money is in
``currency`` (CNY) and includes VAT (含税价); times are RFC 3339 with an offset; ids are
opaque strings of up to 64 characters. Personal data appears only where a consumer needs
it: customer name and phone only in ``AppointmentBooked`` (crm, notify). Other events
carry the pseudonymous ``customer_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import fields as f
from .fields import AnyNonEmpty, AtLeastOne, Check, ContractSchema, Requires, When
from .vocabulary import (  # noqa: F401  (the value sets, re-exported for the schemas' users)
    APPOINTMENT_STATUSES,
    APPROVAL_CHANNELS,
    CAMPAIGN_KINDS,
    CAMPAIGN_VINS_PER_EVENT,
    CANCEL_REASONS,
    CHANNELS,
    CONSENT_CHANNELS,
    CONSENT_DATA_CHANNEL,
    CONSENT_PURPOSES,
    CONSENT_VIA,
    CURRENCIES,
    DELIVERY_MODES,
    ENDPOINT_DISABLED_REASONS,
    ENDPOINT_URL,
    INSPECTION_STATUSES,
    LINE_KINDS,
    MAX_MILEAGE_KM,
    PARTIES,
    PARTNER_ID,
    PARTNER_PURPOSE,
    PAY_TYPES,
    PHOTO_TYPES,
    QC_STAGES,
    REMINDER_PURPOSE,
    REMINDER_REASONS,
    SERVICE_TYPES,
    SURVEY_CHANNELS,
    UNITS,
    is_partner_purpose,
)


def consent_supersedes(stored: tuple[bool, datetime] | None, granted: bool, at: datetime) -> bool:
    """Whether a consent change made at `at` replaces the stored (granted, changed at) of the
    same customer, purpose and channel.

    Changes arrive late, twice and out of order, from crm's call centre and from the owner at
    notify: the later change wins; at the same instant a withdrawal wins, so a redelivered
    grant never undoes a 退订.
    """
    if stored is None:
        return True
    stored_granted, stored_at = stored
    if at != stored_at:
        return at > stored_at
    return stored_granted and not granted


# -- helpers for cross-field checks (marshmallow only) -----------------------------------------


def _before(earlier: str, later: str) -> Check:
    def ok(data: Mapping[str, Any]) -> bool:
        if earlier not in data or later not in data:
            return True
        return datetime.fromisoformat(data[earlier]) < datetime.fromisoformat(data[later])

    return Check(later, f"Must be later than {earlier}.", ok)


def _amount_sum(data: Mapping[str, Any], names: tuple[str, ...]) -> Decimal:
    return sum((Decimal(data[name]) for name in names), Decimal(0))


# -- shared parts ---------------------------------------------------------------------------


class Customer(ContractSchema):
    customer_id = f.ident(description="Customer id in crm (客户编号).")
    name = f.text(100, description="Customer name (客户姓名).")
    phone = f.phone(description="Mobile number for confirmations (手机号).")


class Vehicle(ContractSchema):
    rules = (AtLeastOne("plate", "vin"),)

    plate = f.plate(required=False)
    vin = f.vin(required=False)
    model = f.text(64, required=False, description="Model name (车型), e.g. 帕萨特 330TSI.")


# -- booking --------------------------------------------------------------------------------


class AppointmentBookedData(ContractSchema):
    rules = (_before("slot_start", "slot_end"),)

    appointment_id = f.ident(description="Appointment id (预约单号).")
    dealer_code = f.dealer_code(
        description="Dealer the appointment is at; equals the envelope's dealercode."
    )
    status = f.choice(
        APPOINTMENT_STATUSES, description="CONFIRMED when the dealer confirmed it while booking."
    )
    customer = f.nested(Customer)
    vehicle = f.nested(Vehicle)
    service_type = f.choice(SERVICE_TYPES)
    slot_start = f.timestamp()
    slot_end = f.timestamp()
    channel = f.choice(CHANNELS, description="Where the booking was made.")
    pickup_address = f.text(
        200, required=False, description="Present when pickup and delivery (取送车) is booked."
    )
    loaner_requested = f.boolean(description="Loaner car (代步车) requested.")
    customer_waiting = f.boolean(required=False, description="Customer waits in the lounge.")
    advisor_id = f.ident(required=False, description="Service advisor (服务顾问) assigned, if any.")
    reminder_id = f.ident(
        required=False, description="The reminder that led to this booking (conversion KPI)."
    )
    lead_id = f.ident(
        required=False, description="The online lead that led to this booking (conversion KPI)."
    )
    booked_at = f.timestamp()


class AppointmentRescheduledData(ContractSchema):
    rules = (_before("previous_slot_start", "previous_slot_end"), _before("slot_start", "slot_end"))

    appointment_id = f.ident()
    customer_id = f.ident()
    status = f.choice(APPOINTMENT_STATUSES)
    previous_slot_start = f.timestamp()
    previous_slot_end = f.timestamp()
    slot_start = f.timestamp()
    slot_end = f.timestamp()
    advisor_id = f.ident(required=False)
    initiated_by = f.choice(PARTIES)
    channel = f.choice(CHANNELS, required=False)
    reason = f.text(200, required=False)
    rescheduled_at = f.timestamp()


class AppointmentCancelledData(ContractSchema):
    appointment_id = f.ident()
    customer_id = f.ident()
    reason = f.choice(CANCEL_REASONS)
    note = f.text(200, required=False, description="Free text; must not contain personal data.")
    cancelled_by = f.choice((*PARTIES, "SYSTEM"))
    slot_start = f.timestamp(description="Start of the slot that was cancelled.")
    cancelled_at = f.timestamp()


class AppointmentNoShowData(ContractSchema):
    appointment_id = f.ident()
    customer_id = f.ident()
    slot_start = f.timestamp()
    slot_end = f.timestamp()
    recorded_at = f.timestamp(description="When the appointment was marked NO_SHOW.")


class AppointmentCheckedInData(ContractSchema):
    appointment_id = f.ident()
    customer_id = f.ident()
    slot_start = f.timestamp()
    checked_in_at = f.timestamp(description="Arrival at the dealer (到店).")
    advisor_id = f.ident(required=False)


class AppointmentConfirmedData(ContractSchema):
    rules = (_before("slot_start", "slot_end"),)

    appointment_id = f.ident()
    customer_id = f.ident()
    slot_start = f.timestamp()
    slot_end = f.timestamp()
    confirmed_by = f.choice(
        PARTIES,
        description="CUSTOMER confirmed it themself; DEALER after calling the customer (预约确认).",
    )
    advisor_id = f.ident(required=False)
    confirmed_at = f.timestamp()


# -- workorder ------------------------------------------------------------------------------


class Concern(ContractSchema):
    description = f.text(500, description="The customer's concern in their words (客户描述).")
    code = f.code(required=False, description="Symptom code, when the advisor classified it.")


class RepairOrderOpenedData(ContractSchema):
    repair_order_id = f.ident(description="Repair order id (工单号).")
    appointment_id = f.ident(required=False, description="Absent for walk-ins without appointment.")
    customer_id = f.ident()
    vin = f.vin()
    plate = f.plate()
    model = f.text(64, required=False)
    mileage_km = f.integer(0, MAX_MILEAGE_KM, description="Odometer at reception (进厂里程).")
    fuel_level = f.integer(0, 100, description="Fuel or battery level at reception, percent.")
    concerns = f.list_of(f.nested(Concern), max_items=20)
    advisor_id = f.ident()
    opened_at = f.timestamp()
    promised_at = f.timestamp(required=False, description="Promised delivery time (预计交车时间).")
    customer_waiting = f.boolean(required=False)


class Photo(ContractSchema):
    sha256 = f.sha256(
        description="Content hash; the photo itself is fetched from the workorder service."
    )
    content_type = f.choice(PHOTO_TYPES)
    size_bytes = f.integer(1, 100_000_000)


class InspectionItem(ContractSchema):
    code = f.code(description="Checklist item code, e.g. BRAKE_PAD_FRONT.")
    name = f.text(64, description="Checklist item name (检查项), e.g. 前刹车片.")
    status = f.choice(INSPECTION_STATUSES, description="GREEN fine, YELLOW soon, RED urgent.")
    notes = f.text(500, required=False)
    photos = f.list_of(f.nested(Photo), max_items=20)


class InspectionUploadedData(ContractSchema):
    repair_order_id = f.ident()
    inspection_id = f.ident(
        description="Id of this upload; a later upload for the same RO has a new id."
    )
    vin = f.vin()
    items = f.list_of(f.nested(InspectionItem), min_items=1, max_items=200)
    inspected_by = f.ident(description="Technician id.")
    inspected_at = f.timestamp()
    report_url = f.owner_link_url(
        required=False,
        description="Customer-facing report page. Never carries an access token. https; "
        "plain http only on loopback (127.0.0.1, localhost: a demo or test machine).",
    )


class QuoteLine(ContractSchema):
    rules = (
        When(
            "kind",
            "LABOUR",
            require=("operation_code", "flat_rate_hours"),
            forbid=("part_number", "quantity"),
        ),
        When(
            "kind",
            "PART",
            require=("part_number", "quantity"),
            forbid=("operation_code", "flat_rate_hours"),
        ),
    )

    line_id = f.ident()
    kind = f.choice(LINE_KINDS)
    description = f.text(200)
    operation_code = f.code(
        required=False, description="Labour operation code (工时代码); LABOUR lines only."
    )
    flat_rate_hours = f.hours(
        required=False, description="Flat-rate hours (标准工时); LABOUR lines only."
    )
    part_number = f.part_number(required=False, description="PART lines only.")
    quantity = f.quantity(required=False, description="PART lines only.")
    unit_price = f.money(description="Labour rate per hour, or price per part unit.")
    amount = f.money(description="Line amount after line discounts, VAT included.")
    pay_type = f.choice(PAY_TYPES)


class QuoteApprovedData(ContractSchema):
    rules = (
        AnyNonEmpty("approved_lines", "declined_lines"),
        Check(
            "approved_total",
            "Must equal the sum of approved_lines amounts.",
            lambda d: (
                Decimal(d["approved_total"])
                == sum((Decimal(x["amount"]) for x in d["approved_lines"]), Decimal(0))
            ),
        ),
        Check(
            "declined_total",
            "Must equal the sum of declined_lines amounts.",
            lambda d: (
                Decimal(d["declined_total"])
                == sum((Decimal(x["amount"]) for x in d["declined_lines"]), Decimal(0))
            ),
        ),
    )

    repair_order_id = f.ident()
    quote_id = f.ident()
    round = f.integer(
        1, description="1 = first quote, 2 and up = additional work (增修) found during the repair."
    )
    customer_id = f.ident()
    vin = f.vin()
    approved_lines = f.list_of(f.nested(QuoteLine), max_items=200)
    declined_lines = f.list_of(
        f.nested(QuoteLine),
        max_items=200,
        description="Kept for declined-work follow-up (crm reminders).",
    )
    approved_total = f.money()
    declined_total = f.money()
    currency = f.choice(CURRENCIES)
    approved_via = f.choice(APPROVAL_CHANNELS, required=False)
    signed_by = f.ident(
        description="Customer id of the signer, or the advisor's id for a phone approval."
    )
    signed_at = f.timestamp()


class QuoteIssuedData(ContractSchema):
    rules = (
        Check(
            "total",
            "Must equal the sum of lines amounts.",
            lambda d: (
                Decimal(d["total"]) == sum((Decimal(x["amount"]) for x in d["lines"]), Decimal(0))
            ),
        ),
    )

    repair_order_id = f.ident()
    quote_id = f.ident()
    round = f.integer(
        1, description="1 = first quote, 2 and up = additional work (增修) found during the repair."
    )
    customer_id = f.ident()
    vin = f.vin()
    lines = f.list_of(
        f.nested(QuoteLine), min_items=1, max_items=200, description="The lines to decide."
    )
    total = f.money(description="Sum of the lines' amounts, VAT included.")
    currency = f.choice(CURRENCIES)
    issued_by = f.ident(description="Service advisor who sent the quote.")
    issued_at = f.timestamp()
    quote_url = f.owner_link_url(
        required=False,
        description="The owner's page for deciding this round, with the site's signed, "
        "expiring grant in it (GET/POST /quote-links/<grant> at the site's workorder): it "
        "decides this round only, and is refused once the round is decided or superseded. "
        "A credential for the owner's message: notify sends it; nobody stores, logs or "
        "forwards it. Absent when the site has no owner portal. https; plain http only on "
        "loopback (127.0.0.1, localhost: a demo or test machine).",
    )


class QualityCheckCompletedData(ContractSchema):
    rules = (When("passed", False, require=("reason",)),)

    repair_order_id = f.ident()
    check_id = f.ident()
    stage = f.choice(
        QC_STAGES,
        description="SELF = technician self-check (自检), INSPECTOR = QC inspector (终检).",
    )
    passed = f.boolean()
    reason = f.text(
        500, required=False, description="Why the check failed; required when passed is false."
    )
    rework_count = f.integer(
        0, 99, description="Times this RO was sent back to rework before this check."
    )
    line_ids = f.list_of(
        f.ident(), max_items=200, required=False, description="Quote lines covered by the check."
    )
    checked_by = f.ident()
    checked_at = f.timestamp()


class PayTypeTotals(ContractSchema):
    CUSTOMER_PAY = f.money()
    WARRANTY = f.money()
    INTERNAL = f.money()


_INVOICE_TERMS = ("labour_total", "parts_total", "sundries_total")


class VehicleDeliveredData(ContractSchema):
    rules = (
        Check(
            "grand_total",
            "Must equal labour_total + parts_total + sundries_total - discount_total.",
            lambda d: (
                Decimal(d["grand_total"])
                == _amount_sum(d, _INVOICE_TERMS) - Decimal(d["discount_total"])
            ),
        ),
        Check(
            "totals_by_pay_type",
            "Must add up to grand_total.",
            lambda d: _amount_sum(d["totals_by_pay_type"], PAY_TYPES) == Decimal(d["grand_total"]),
        ),
        Check(
            "tax_total",
            "Must not exceed grand_total (amounts include VAT).",
            lambda d: Decimal(d["tax_total"]) <= Decimal(d["grand_total"]),
        ),
        _before("opened_at", "delivered_at"),
    )

    repair_order_id = f.ident()
    appointment_id = f.ident(required=False)
    customer_id = f.ident()
    vin = f.vin()
    mileage_km = f.integer(0, MAX_MILEAGE_KM)
    invoice_number = f.text(64, required=False)
    labour_total = f.money()
    parts_total = f.money()
    sundries_total = f.money(description="Other charges (其他费用), e.g. waste disposal.")
    discount_total = f.money(
        description="Coupons and discounts, a positive amount that is subtracted."
    )
    tax_total = f.money(description="VAT included in grand_total.")
    grand_total = f.money(
        description="labour_total + parts_total + sundries_total - discount_total."
    )
    totals_by_pay_type = f.nested(PayTypeTotals, description="grand_total split by who pays.")
    currency = f.choice(CURRENCIES)
    labour_hours_sold = f.hours(description="Flat-rate hours invoiced (all pay types).")
    clocked_hours = f.hours(description="Hours technicians clocked on this RO.")
    opened_at = f.timestamp(description="When the RO opened (for cycle time).")
    promised_at = f.timestamp()
    delivered_at = f.timestamp()
    delivery_mode = f.choice(DELIVERY_MODES, required=False)
    labour_operation_codes = f.list_of(
        f.code(),
        max_items=200,
        required=False,
        description="Labour operation codes (工时代码) of the work done on this RO: its "
        "approved labour lines whose jobs were finished, each code once. Headquarters closes "
        "a recall campaign for the car when its operation is among them.",
    )


# -- parts ----------------------------------------------------------------------------------


def _serials_match_quantity(d: Mapping[str, Any]) -> bool:
    serials = d.get("serial_numbers")
    return serials is None or Decimal(len(serials)) == Decimal(d["quantity"])


class PartIssuedData(ContractSchema):
    rules = (
        AtLeastOne("batch_number", "serial_numbers"),
        Requires("unit_price", "currency"),
        Check(
            "serial_numbers",
            "Must list one serial number per unit issued.",
            _serials_match_quantity,
        ),
    )

    issue_id = f.ident()
    repair_order_id = f.ident()
    quote_line_id = f.ident(description="The approved quote line the part is issued against.")
    vin = f.vin(description="Vehicle the part goes into (零件溯源).")
    part_number = f.part_number()
    part_name = f.text(64, required=False)
    quantity = f.quantity()
    unit = f.choice(UNITS)
    batch_number = f.text(64, required=False, description="Batch or lot number (批次号).")
    serial_numbers = f.list_of(f.text(64), min_items=1, max_items=100, required=False)
    unit_price = f.money(required=False)
    currency = f.choice(CURRENCIES, required=False)
    from_stock = f.boolean(description="False when the part had to be bought in (fill-rate KPI).")
    issued_by = f.ident(description="Parts clerk id.")
    issued_at = f.timestamp()


class PartReservedData(ContractSchema):
    rules = (_before("reserved_at", "expires_at"),)

    reservation_id = f.ident()
    repair_order_id = f.ident()
    quote_line_id = f.ident()
    part_number = f.part_number()
    quantity = f.quantity()
    unit = f.choice(UNITS)
    reserved_at = f.timestamp()
    expires_at = f.timestamp(required=False)


class StockLowData(ContractSchema):
    part_number = f.part_number()
    part_name = f.text(64, required=False)
    unit = f.choice(UNITS)
    available = f.quantity(positive=False, description="On hand minus reserved.")
    reorder_point = f.quantity(positive=False)
    on_order = f.quantity(positive=False, required=False)
    suggested_order_quantity = f.quantity()
    detected_at = f.timestamp()


RELEASE_REASONS = (
    "LINE_DECLINED",
    "QUANTITY_REDUCED",
    "REPAIR_ORDER_CANCELLED",
    "REPAIR_ORDER_CLOSED",
    "STOCKTAKE_SHORTAGE",
    "CLERK_RELEASE",
    "LINE_CHANGED",
)
RETURN_REASONS = ("NOT_USED", "WRONG_PART", "OVER_ISSUED", "OTHER")


def _lots_add_up(d: Mapping[str, Any]) -> bool:
    return sum((Decimal(lot["quantity"]) for lot in d["lots"]), Decimal(0)) == Decimal(
        d["quantity"]
    )


class PartReleasedData(ContractSchema):
    reservation_id = f.ident()
    repair_order_id = f.ident()
    quote_line_id = f.ident()
    part_number = f.part_number()
    quantity = f.quantity(description="Quantity no longer set aside for the line.")
    unit = f.choice(UNITS)
    reason = f.choice(
        RELEASE_REASONS,
        description="LINE_DECLINED: a later quote round declined the line; "
        "STOCKTAKE_SHORTAGE: a stocktake found fewer units than were reserved.",
    )
    released_by = f.ident(required=False, description="Staff id, when a person released it.")
    released_at = f.timestamp()


class PartReturnedData(ContractSchema):
    rules = (
        AtLeastOne("batch_number", "serial_numbers"),
        Check(
            "serial_numbers",
            "Must list one serial number per unit returned.",
            _serials_match_quantity,
        ),
    )

    return_id = f.ident()
    repair_order_id = f.ident()
    quote_line_id = f.ident(description="The quote line the part had been issued against.")
    vin = f.vin(description="Vehicle the part came back from.")
    part_number = f.part_number()
    part_name = f.text(64, required=False)
    quantity = f.quantity()
    unit = f.choice(UNITS)
    batch_number = f.text(64, required=False, description="Batch or lot number (批次号).")
    serial_numbers = f.list_of(f.text(64), min_items=1, max_items=100, required=False)
    reason = f.choice(RETURN_REASONS)
    note = f.text(200, required=False, description="Free text; must not contain personal data.")
    returned_by = f.ident(description="Parts clerk id.")
    returned_at = f.timestamp()


class TransferredLot(ContractSchema):
    rules = (
        AtLeastOne("batch_number", "serial_numbers"),
        Check(
            "serial_numbers",
            "Must list one serial number per unit transferred.",
            _serials_match_quantity,
        ),
    )

    batch_number = f.text(64, required=False)
    serial_numbers = f.list_of(f.text(64), min_items=1, max_items=100, required=False)
    quantity = f.quantity()


class StockTransferredData(ContractSchema):
    rules = (Check("lots", "Quantities must add up to quantity.", _lots_add_up),)

    transfer_id = f.ident(description="Transfer id; the receiving site quotes it on its receipt.")
    part_number = f.part_number()
    part_name = f.text(64, required=False)
    quantity = f.quantity()
    unit = f.choice(UNITS)
    to_dealer_code = f.dealer_code(description="Dealer site receiving the parts (调入经销商).")
    lots = f.list_of(f.nested(TransferredLot), min_items=1, max_items=100)
    note = f.text(200, required=False)
    transferred_by = f.ident(description="Parts clerk id.")
    transferred_at = f.timestamp()


# -- crm (headquarters) -----------------------------------------------------------------------


class ReminderDueData(ContractSchema):
    rules = (
        When("reason", "RECALL", require=("campaign_code",)),
        When("reason", "DECLINED_WORK", require=("source_repair_order_id",)),
    )

    reminder_id = f.ident()
    reason = f.choice(REMINDER_REASONS)
    customer_id = f.ident()
    vin = f.vin()
    dealer_code = f.dealer_code(
        description="Dealer expected to serve the customer; equals the envelope's dealercode."
    )
    due_on = f.day()
    due_mileage_km = f.integer(0, MAX_MILEAGE_KM, required=False)
    campaign_code = f.code(
        required=False, description="Recall or campaign code; required for RECALL."
    )
    source_repair_order_id = f.ident(
        required=False, description="RO with the declined work; for DECLINED_WORK."
    )
    raised_at = f.timestamp()


def _years_in_order(d: Mapping[str, Any]) -> bool:
    return d.get("year_from", 0) <= d.get("year_to", 9999)


class RecallCampaignPublishedData(ContractSchema):
    rules = (
        AtLeastOne("vins", "model"),
        Requires("year_from", "model"),
        Requires("year_to", "model"),
        Check("year_from", "Must not be after year_to.", _years_in_order),
        Check("part", "Must not be greater than parts.", lambda d: d["part"] <= d["parts"]),
    )

    campaign_code = f.code(description="Recall or campaign code; the event's subject.")
    kind = f.choice(
        CAMPAIGN_KINDS,
        required=False,
        description="RECALL (召回, a safety defect) or SERVICE_CAMPAIGN; absent when "
        "headquarters did not say which.",
    )
    title = f.text(200)
    starts_on = f.day(description="First day dealers may carry out the campaign.")
    operation_code = f.code(
        required=False, description="Labour operation code (工时代码) of the campaign's work."
    )
    part = f.integer(1, description="Which of the campaign's events this is: 1 to parts.")
    parts = f.integer(
        1,
        description="How many events publish this campaign; each repeats every field but "
        "vins, which is split across them.",
    )
    vins = f.list_of(
        f.vin(),
        min_items=1,
        max_items=CAMPAIGN_VINS_PER_EVENT,
        required=False,
        description="This part's share of the campaign's VIN list.",
    )
    model = f.text(64, required=False, description="Vehicle model the campaign covers.")
    year_from = f.integer(
        1980, 2100, required=False, description="First model year covered (VIN position 10)."
    )
    year_to = f.integer(1980, 2100, required=False, description="Last model year covered.")
    published_at = f.timestamp()


class SurveyRequestedData(ContractSchema):
    survey_id = f.ident()
    repair_order_id = f.ident()
    customer_id = f.ident()
    dealer_code = f.dealer_code(
        description="Dealer that delivered the vehicle; equals the envelope's dealercode."
    )
    vin = f.vin(required=False)
    delivered_at = f.timestamp()
    link_token = f.text(
        200,
        description="Signed token answering this survey (POST /surveys/<token> at crm); "
        "notify puts it in the link it sends.",
    )
    requested_at = f.timestamp()


class SurveyAnsweredData(ContractSchema):
    survey_id = f.ident()
    repair_order_id = f.ident()
    customer_id = f.ident()
    score = f.integer(0, 10, description="0-10, NPS scale.")
    comment = f.text(1000, required=False, description="Customer's comment (回访意见).")
    channel = f.choice(SURVEY_CHANNELS, required=False)
    answered_at = f.timestamp()


def _data_channel_iff_partner(d: Mapping[str, Any]) -> bool:
    """A partner purpose is on DATA alone; a message purpose never on DATA."""
    channels = d.get("channels") or []
    if is_partner_purpose(d.get("purpose")):
        return set(channels) == {CONSENT_DATA_CHANNEL}
    return CONSENT_DATA_CHANNEL not in channels


class ConsentChangedData(ContractSchema):
    rules = (
        Check(
            "channels",
            "Must be [DATA] for a partner:<partner id> purpose, and not hold DATA otherwise.",
            _data_channel_iff_partner,
        ),
    )

    customer_id = f.ident(description="Customer id in crm.")
    aliases = f.list_of(
        f.ident(),
        max_items=50,
        required=False,
        description="The dealer sites' ids of the same customer (notify knows them by these).",
    )
    purpose = f.choice_or_matching(
        CONSENT_PURPOSES,
        PARTNER_PURPOSE,
        "Not a consent purpose: SERVICE, MARKETING or partner:<partner id>.",
        description="SERVICE or MARKETING: messages to the customer on `channels`. "
        "partner:<partner id>: sharing the customer's personal data with that partner "
        "(a franchise shop at the partners service); its one channel is DATA.",
    )
    channels = f.list_of(
        f.choice((*CONSENT_CHANNELS, CONSENT_DATA_CHANNEL)),
        min_items=1,
        max_items=5,
        description="Channels changed; DATA (personal data, not a way of reaching the "
        "customer) for a partner purpose and for nothing else.",
    )
    granted = f.boolean(description="True: allowed from now on; false: withdrawn.")
    via = f.choice(CONSENT_VIA, description="Where the customer made the change.")
    changed_at = f.timestamp(
        description="When the customer made the change; a change never overwrites a later one."
    )


# -- notify (headquarters) ----------------------------------------------------------------------


class ConsentExpressedData(ContractSchema):
    customer_id = f.ident(description="The customer id notify knows the owner by.")
    purpose = f.choice(CONSENT_PURPOSES)
    channels = f.list_of(f.choice(CONSENT_CHANNELS), min_items=1, max_items=5)
    granted = f.boolean(description="False for 退订 (SMS reply or link).")
    via = f.choice(CONSENT_VIA)
    expressed_at = f.timestamp(description="When the owner said it.")


# -- partners (headquarters) ----------------------------------------------------------------------


class PartnerEndpointDisabledData(ContractSchema):
    partner_id = f.matching(
        PARTNER_ID,
        "Not a valid partner id: 1-64 characters A-Z a-z 0-9 . _ - starting with a letter or "
        "digit.",
        description="The partner (franchise shop) at the partners service.",
    )
    endpoint_id = f.uuid(description="The partner's webhook endpoint that was disabled.")
    url = f.matching(
        ENDPOINT_URL,
        "Not a valid endpoint URL.",
        max_length=2000,
        extra={"format": "uri"},
        description="The endpoint's address (https; http only in development and tests).",
    )
    reason = f.choice(
        ENDPOINT_DISABLED_REASONS,
        description="GONE: it answered 410 Gone; FAILING: every delivery attempt failed for "
        "too long.",
    )
    disabled_at = f.timestamp(
        description="When partners disabled it; nothing is sent to it from then on until "
        "headquarters enables it again (events still reach the partner's feed)."
    )


# -- recall completion ---------------------------------------------------------------------


class RecallCompletedData(ContractSchema):
    campaign_code = f.code(description="The recall or service campaign done on the car.")
    vin = f.vin(description="The car; the event's subject.")
    dealer_code = f.dealer_code(
        description="Dealer that did the campaign's work and delivered the car."
    )
    repair_order_id = f.ident(description="The delivered RO the work was done on.")
    operation_code = f.code(description="The campaign's labour operation code (工时代码).")
    delivered_at = f.timestamp(description="When that RO was delivered.")
    completed_at = f.timestamp(description="When headquarters recorded the completion.")
