"""One constant per published event type.

Adding an optional field to a data schema is a compatible change within a major version.
Anything else (removing or renaming a field, narrowing a value set, making a field
required) needs a new constant with ``version=2``; the v1 constant stays until every
consumer has moved.
"""

from __future__ import annotations

from . import payloads as p
from .contract import EventContract

# -- booking (dealer site) ------------------------------------------------------------------

AppointmentBooked = EventContract(
    "AppointmentBooked",
    1,
    "booking",
    p.AppointmentBookedData,
    "A customer booked a service appointment at a dealer.",
    subject_field="appointment_id",
)
AppointmentRescheduled = EventContract(
    "AppointmentRescheduled",
    1,
    "booking",
    p.AppointmentRescheduledData,
    "An appointment moved to another time slot.",
    subject_field="appointment_id",
)
AppointmentCancelled = EventContract(
    "AppointmentCancelled",
    1,
    "booking",
    p.AppointmentCancelledData,
    "An appointment was cancelled before the customer arrived.",
    subject_field="appointment_id",
)
AppointmentNoShow = EventContract(
    "AppointmentNoShow",
    1,
    "booking",
    p.AppointmentNoShowData,
    "The customer did not come to a booked appointment.",
    subject_field="appointment_id",
)
AppointmentCheckedIn = EventContract(
    "AppointmentCheckedIn",
    1,
    "booking",
    p.AppointmentCheckedInData,
    "The customer arrived at the dealer for a booked appointment.",
    subject_field="appointment_id",
)
AppointmentConfirmed = EventContract(
    "AppointmentConfirmed",
    1,
    "booking",
    p.AppointmentConfirmedData,
    "The customer or the dealer confirmed a booked appointment.",
    subject_field="appointment_id",
)

# -- workorder (dealer site) ----------------------------------------------------------------

RepairOrderOpened = EventContract(
    "RepairOrderOpened",
    1,
    "workorder",
    p.RepairOrderOpenedData,
    "Reception done: the vehicle is received and its repair order opened.",
    subject_field="repair_order_id",
)
InspectionUploaded = EventContract(
    "InspectionUploaded",
    1,
    "workorder",
    p.InspectionUploadedData,
    "Multi-point inspection results with photo references are available to the customer.",
    subject_field="repair_order_id",
)
QuoteApproved = EventContract(
    "QuoteApproved",
    1,
    "workorder",
    p.QuoteApprovedData,
    "The customer approved or declined each line of a quote and signed.",
    subject_field="repair_order_id",
)
QuoteIssued = EventContract(
    "QuoteIssued",
    1,
    "workorder",
    p.QuoteIssuedData,
    "A quote (or a round of additional work) was sent to the customer to approve line by line.",
    subject_field="repair_order_id",
)
QualityCheckCompleted = EventContract(
    "QualityCheckCompleted",
    1,
    "workorder",
    p.QualityCheckCompletedData,
    "A self-check or inspector check finished, passed or failed (rework).",
    subject_field="repair_order_id",
)
VehicleDelivered = EventContract(
    "VehicleDelivered",
    1,
    "workorder",
    p.VehicleDeliveredData,
    "The repair order was settled and the vehicle handed back to the customer.",
    subject_field="repair_order_id",
)

# -- parts (dealer site) --------------------------------------------------------------------

PartReserved = EventContract(
    "PartReserved",
    1,
    "parts",
    p.PartReservedData,
    "Stock was reserved for an approved quote line.",
    subject_field="repair_order_id",
)
PartIssued = EventContract(
    "PartIssued",
    1,
    "parts",
    p.PartIssuedData,
    "Parts were issued from the store to a repair order, with batch or serial numbers.",
    subject_field="repair_order_id",
)
StockLow = EventContract(
    "StockLow",
    1,
    "parts",
    p.StockLowData,
    "Available stock of a part fell to or below its reorder point.",
    subject_field="part_number",
)
PartReleased = EventContract(
    "PartReleased",
    1,
    "parts",
    p.PartReleasedData,
    "Stock reserved for a quote line was given back (line declined, repair order closed, ...).",
    subject_field="repair_order_id",
)
PartReturned = EventContract(
    "PartReturned",
    1,
    "parts",
    p.PartReturnedData,
    "Parts issued to a repair order came back to the store, with the reason.",
    subject_field="repair_order_id",
)
StockTransferred = EventContract(
    "StockTransferred",
    1,
    "parts",
    p.StockTransferredData,
    "Parts left this dealer site for another one; the receiving site books them in.",
    subject_field="transfer_id",
)

# -- crm (headquarters) ---------------------------------------------------------------------

ReminderDue = EventContract(
    "ReminderDue",
    1,
    "crm",
    p.ReminderDueData,
    "A customer is due for maintenance, insurance, annual inspection, declined work or a recall.",
    subject_field="reminder_id",
)
SurveyAnswered = EventContract(
    "SurveyAnswered",
    1,
    "crm",
    p.SurveyAnsweredData,
    "A customer answered the follow-up survey after delivery.",
    subject_field="survey_id",
)
SurveyRequested = EventContract(
    "SurveyRequested",
    1,
    "crm",
    p.SurveyRequestedData,
    "A follow-up survey is due after delivery: notify sends the customer the link.",
    subject_field="survey_id",
)
ConsentChanged = EventContract(
    "ConsentChanged",
    1,
    "crm",
    p.ConsentChangedData,
    "What a customer allows changed (per purpose and channel); crm owns consent.",
    subject_field="customer_id",
)
RecallCampaignPublished = EventContract(
    "RecallCampaignPublished",
    1,
    "crm",
    p.RecallCampaignPublishedData,
    "A recall or service campaign, by VIN list and/or model and model years, for the dealer "
    "sites' reception; a long VIN list is split across several events (part of parts).",
    subject_field="campaign_code",
)

# -- notify (headquarters) ------------------------------------------------------------------

ConsentExpressed = EventContract(
    "ConsentExpressed",
    1,
    "notify",
    p.ConsentExpressedData,
    "The owner said at notify (退订 reply, unsubscribe link, preferences) what they allow; "
    "crm records it.",
    subject_field="customer_id",
)

# -- partners (headquarters) ----------------------------------------------------------------

PartnerEndpointDisabled = EventContract(
    "PartnerEndpointDisabled",
    1,
    "partners",
    p.PartnerEndpointDisabledData,
    "partners stopped calling a partner's webhook endpoint (it answered 410 Gone, or kept "
    "failing); the partner re-registers or asks headquarters to enable it.",
    subject_field="endpoint_id",
)

# -- recall completion (headquarters) --------------------------------------------------------

RecallCompleted = EventContract(
    "RecallCompleted",
    1,
    "crm",
    p.RecallCompletedData,
    "A recall or service campaign is done on a car: its labour operation was on a repair "
    "order delivered at a dealer. Every site's reception stops showing it open.",
    subject_field="vin",
)

ALL: tuple[EventContract, ...] = (
    AppointmentBooked,
    AppointmentRescheduled,
    AppointmentCancelled,
    AppointmentNoShow,
    AppointmentCheckedIn,
    AppointmentConfirmed,
    RepairOrderOpened,
    InspectionUploaded,
    QuoteIssued,
    QuoteApproved,
    QualityCheckCompleted,
    VehicleDelivered,
    PartReserved,
    PartIssued,
    StockLow,
    PartReleased,
    PartReturned,
    StockTransferred,
    ReminderDue,
    SurveyAnswered,
    SurveyRequested,
    ConsentChanged,
    RecallCampaignPublished,
    ConsentExpressed,
    PartnerEndpointDisabled,
    # recall completion
    RecallCompleted,
)
