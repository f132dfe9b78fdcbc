"""How each event changes BI's facts, and which dealer-days it touches: the one set of rules
behind the live projection and the rebuild.

The rules read and write fact rows through a small store (`Facts`): BI's tables for the live
projection (`bi.store.DatabaseFacts`), dicts for the rebuild (`bi.store.MemoryFacts`), which
replays the whole log in memory and writes the facts and rollups in bulk. One set of rules,
so a rebuild equals the live result. Tables are named by their names (the constants below);
plain Python, no SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from bi.domain import (
    COMEBACK_WINDOW_DAYS,
    LineDecision,
    Visit,
    appointment_status,
    comebacks,
    concern_keys,
    earliest,
    latest,
    local_day,
    parse_time,
    recaptured,
    work_key,
)

DealerDay = tuple[str, date]

# The fact tables, by name.
APPOINTMENTS = "appointment_facts"
REPAIR_ORDERS = "repair_order_facts"
QUOTE_LINES = "quote_line_facts"
PART_ISSUES = "part_issue_facts"
QUALITY_CHECKS = "quality_check_facts"
SURVEYS = "survey_facts"
REMINDERS = "reminder_facts"
RECALL_CAMPAIGNS = "recall_campaign_facts"
RECALL_CARS = "recall_car_facts"

# The status an appointment event sets, by event name (a booking says its own status).
APPOINTMENT_STATUS = {
    "AppointmentConfirmed": "CONFIRMED",
    "AppointmentCancelled": "CANCELLED",
    "AppointmentNoShow": "NO_SHOW",
    "AppointmentCheckedIn": "CHECKED_IN",
}
# Every event the rules apply, by name.
EVENT_NAMES = ("AppointmentBooked", "AppointmentRescheduled", "AppointmentConfirmed",
               "AppointmentCancelled", "AppointmentNoShow", "AppointmentCheckedIn",
               "RepairOrderOpened", "InspectionUploaded", "QuoteApproved",
               "QualityCheckCompleted", "VehicleDelivered", "PartIssued", "SurveyAnswered",
               "ReminderDue", "RecallCampaignPublished", "RecallCompleted")


def utc(value: datetime | None) -> datetime | None:
    """Stored moments are UTC; SQLite hands them back without a zone."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def moment(text: str | None) -> datetime | None:
    return utc(parse_time(text)) if text else None


# Personal data no KPI needs: names, phones, plates, addresses, customers' own words.
_PERSONAL = frozenset({"name", "phone", "plate", "pickup_address", "comment"})


def without_personal_data(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope as BI logs it, without the personal data it never uses (PIPL: collect
    what is needed). The VIN stays: comebacks and recaptured work are per vehicle."""
    def strip(part: dict[str, Any]) -> dict[str, Any]:
        return {k: strip(v) if isinstance(v, dict) else v for k, v in part.items()
                if k not in _PERSONAL}

    return {**envelope, "data": strip(envelope["data"])}


class Facts(Protocol):
    """Where the rules read and write fact rows: the database (live) or memory (a rebuild,
    which starts from empty tables). Rows are plain dicts of every column; the rules copy a
    row before changing it and write changes through `save` and `mark` only."""

    def row(self, table: str, **key: Any) -> dict[str, Any] | None:
        """The row with this primary key, locked for the transaction."""

    def rows_where(self, table: str, column: str, value: Any) -> list[dict[str, Any]]:
        """Every row whose `column` equals `value`."""

    def save(self, table: str, before: dict[str, Any] | None, after: dict[str, Any],
             **key: Any) -> None:
        """Insert `after` (when `before` is None) or write the columns that changed."""

    def mark(self, table: str, key: dict[str, Any], **values: Any) -> None:
        """Set flags of an existing row (never a column rows are looked up by)."""


class FactRules:
    """How each event changes BI's facts, and which dealer-days it touches."""

    def __init__(self, facts: Facts, types: Mapping[str, str],
                 comeback_days: int = COMEBACK_WINDOW_DAYS) -> None:
        """`types` maps each event's name (`AppointmentBooked`) to its type on the wire (the
        contracts' `aftersales.AppointmentBooked.v1`), which the caller reads from contracts:
        the rules stay free of the contracts' schemas."""
        self.facts = facts
        self.comeback_days = comeback_days
        self.touched: set[DealerDay] = set()
        self._booked, self._checked_in = types["AppointmentBooked"], types["AppointmentCheckedIn"]
        self._statuses = {types[name]: status for name, status in APPOINTMENT_STATUS.items()}
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            types["AppointmentBooked"]: self._appointment,
            types["AppointmentRescheduled"]: self._appointment,
            types["AppointmentConfirmed"]: self._appointment,
            types["AppointmentCancelled"]: self._appointment,
            types["AppointmentNoShow"]: self._appointment,
            types["AppointmentCheckedIn"]: self._appointment,
            types["RepairOrderOpened"]: self._repair_order_opened,
            types["InspectionUploaded"]: self._inspection_uploaded,
            types["QuoteApproved"]: self._quote_approved,
            types["QualityCheckCompleted"]: self._quality_check,
            types["VehicleDelivered"]: self._vehicle_delivered,
            types["PartIssued"]: self._part_issued,
            types["SurveyAnswered"]: self._survey_answered,
            types["ReminderDue"]: self._reminder_due,
            types["RecallCampaignPublished"]: self._recall_campaign,
            types["RecallCompleted"]: self._recall_completed,
        }

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def apply(self, envelope: dict[str, Any]) -> None:
        handler = self._handlers.get(envelope["type"])
        if handler is not None:
            handler(envelope)

    # -- helpers ---------------------------------------------------------------------------

    def _touch(self, dealer_code: str | None, day: date | None) -> None:
        if dealer_code and day:
            self.touched.add((dealer_code, day))

    def _insert_once(self, table: str, key: dict[str, Any], values: dict[str, Any]) -> None:
        if self.facts.row(table, **key) is None:
            self.facts.save(table, None, values, **key)
        self._touch(values["dealer_code"], values["day"])

    # -- appointments ------------------------------------------------------------------------

    def _appointment(self, e: dict[str, Any]) -> None:
        data, seq, dealer = e["data"], e["sequence"], e["dealercode"]
        appointment_id = data["appointment_id"]
        before = self.facts.row(APPOINTMENTS, appointment_id=appointment_id)
        after = dict(before or {"dealer_code": dealer, "slot_sequence": 0, "status_sequence": 0,
                                "status": "SCHEDULED"})
        after.pop("appointment_id", None)
        if seq >= after["slot_sequence"]:
            after.update(slot_start=moment(data["slot_start"]), slot_sequence=seq,
                         day=local_day(data["slot_start"]))
        status = self._statuses.get(e["type"], data.get("status"))
        if status:
            after["status"], after["status_sequence"] = appointment_status(
                (after["status"], after["status_sequence"]), status, seq)
        if e["type"] == self._booked:
            after.update(channel=data["channel"], service_type=data["service_type"],
                         reminder_id=data.get("reminder_id"), lead_id=data.get("lead_id"),
                         booked_at=moment(data["booked_at"]))
            # Booking → reception is measured on the repair order's delivery day.
            for ro in self.facts.rows_where(REPAIR_ORDERS, "appointment_id",
                                            appointment_id):
                self._touch(ro["dealer_code"], ro["delivered_day"])
        if e["type"] == self._checked_in:
            after["checked_in_at"] = moment(data["checked_in_at"])
        self.facts.save(APPOINTMENTS, before, after, appointment_id=appointment_id)
        self._touch(after["dealer_code"], after["day"])
        if before:
            self._touch(before["dealer_code"], before["day"])
        if after.get("reminder_id"):
            for reminder in self.facts.rows_where(REMINDERS, "reminder_id",
                                                  after["reminder_id"]):
                self._touch(reminder["dealer_code"], reminder["day"])

    def _reminder_due(self, e: dict[str, Any]) -> None:
        data = e["data"]
        self._insert_once(REMINDERS, {"reminder_id": data["reminder_id"]}, {
            "dealer_code": e["dealercode"], "day": local_day(data["raised_at"]),
            "reason": data["reason"]})

    # -- repair orders -------------------------------------------------------------------------

    def _repair_order(self, e: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> None:
        repair_order_id = e["data"]["repair_order_id"]
        before = self.facts.row(REPAIR_ORDERS, repair_order_id=repair_order_id)
        after = dict(before or {"dealer_code": e["dealercode"], "comeback": False})
        after.pop("repair_order_id", None)
        change(after)
        self.facts.save(REPAIR_ORDERS, before, after, repair_order_id=repair_order_id)
        for row in (before, after):
            if row:
                self._touch(row["dealer_code"], row.get("opened_day"))
                self._touch(row["dealer_code"], row.get("delivered_day"))

    def _repair_order_opened(self, e: dict[str, Any]) -> None:
        data = e["data"]

        def change(ro: dict[str, Any]) -> None:
            ro.update(vin=data["vin"], appointment_id=data.get("appointment_id"),
                      concerns=concern_keys(data["concerns"]),
                      opened_at=moment(data["opened_at"]),
                      opened_day=local_day(data["opened_at"]))
            ro["promised_at"] = ro.get("promised_at") or moment(data.get("promised_at"))

        self._repair_order(e, change)
        self._recount_comebacks(data["vin"])

    def _inspection_uploaded(self, e: dict[str, Any]) -> None:
        inspected_at = moment(e["data"]["inspected_at"])
        self._repair_order(e, lambda ro: ro.update(
            inspected_at=earliest(ro.get("inspected_at"), inspected_at)))

    def _quote_approved(self, e: dict[str, Any]) -> None:
        data, seq = e["data"], e["sequence"]
        signed_at = moment(data["signed_at"])
        self._repair_order(e, lambda ro: ro.update(
            approved_at=earliest(ro.get("approved_at"), signed_at)))
        decided = [(line, True) for line in data["approved_lines"]] + \
                  [(line, False) for line in data["declined_lines"]]
        for line, approved in decided:
            key = {"repair_order_id": data["repair_order_id"], "line_id": line["line_id"]}
            before = self.facts.row(QUOTE_LINES, **key)
            if before and before["decision_sequence"] > seq:
                continue  # a later decision on this line is already known
            after = {"dealer_code": e["dealercode"], "vin": data["vin"],
                     "day": local_day(data["signed_at"]), "decided_at": signed_at,
                     "decision_sequence": seq, "kind": line["kind"],
                     "work_key": work_key(line), "pay_type": line["pay_type"],
                     "amount": Decimal(line["amount"]), "approved": approved,
                     "recaptured": before["recaptured"] if before else False}
            self.facts.save(QUOTE_LINES, before, after, **key)
            self._touch(after["dealer_code"], after["day"])
            if before:
                self._touch(before["dealer_code"], before["day"])
        self._recount_recaptured(data["vin"])

    def _quality_check(self, e: dict[str, Any]) -> None:
        data = e["data"]
        checked_at = moment(data["checked_at"])
        self._insert_once(QUALITY_CHECKS, {"check_id": data["check_id"]}, {
            "repair_order_id": data["repair_order_id"], "dealer_code": e["dealercode"],
            "day": local_day(data["checked_at"]), "stage": data["stage"],
            "passed": data["passed"]})
        if data["passed"]:
            # The last passed check counts: work is done (and checked) after any rework.
            column = "work_done_at" if data["stage"] == "SELF" else "qc_passed_at"
            self._repair_order(e, lambda ro: ro.update(
                {column: latest(ro.get(column), checked_at)}))

    def _vehicle_delivered(self, e: dict[str, Any]) -> None:
        data, seq = e["data"], e["sequence"]
        pay = data["totals_by_pay_type"]

        def change(ro: dict[str, Any]) -> None:
            if ro.get("delivered_sequence") is not None and ro["delivered_sequence"] > seq:
                return
            ro.update(
                vin=ro.get("vin") or data["vin"],
                appointment_id=ro.get("appointment_id") or data.get("appointment_id"),
                opened_at=ro.get("opened_at") or moment(data["opened_at"]),
                opened_day=ro.get("opened_day") or local_day(data["opened_at"]),
                promised_at=moment(data["promised_at"]),
                delivered_at=moment(data["delivered_at"]),
                delivered_day=local_day(data["delivered_at"]), delivered_sequence=seq,
                labour_total=Decimal(data["labour_total"]),
                parts_total=Decimal(data["parts_total"]),
                grand_total=Decimal(data["grand_total"]),
                customer_pay=Decimal(pay["CUSTOMER_PAY"]), warranty=Decimal(pay["WARRANTY"]),
                internal=Decimal(pay["INTERNAL"]),
                labour_hours_sold=Decimal(data["labour_hours_sold"]),
                clocked_hours=Decimal(data["clocked_hours"]))

        self._repair_order(e, change)

    def _part_issued(self, e: dict[str, Any]) -> None:
        data = e["data"]
        self._insert_once(PART_ISSUES, {"issue_id": data["issue_id"]}, {
            "repair_order_id": data["repair_order_id"], "dealer_code": e["dealercode"],
            "day": local_day(data["issued_at"]), "from_stock": data["from_stock"]})

    def _survey_answered(self, e: dict[str, Any]) -> None:
        data = e["data"]
        self._insert_once(SURVEYS, {"survey_id": data["survey_id"]}, {
            "repair_order_id": data["repair_order_id"], "dealer_code": e["dealercode"],
            "day": local_day(data["answered_at"]), "score": data["score"]})

    # -- recalls (no dealer-day: the rates are read from these facts) ---------------------------

    def _recall_campaign(self, e: dict[str, Any]) -> None:
        """A part of a campaign: its header once, and the cars its VIN list names."""
        data = e["data"]
        code = data["campaign_code"]
        if self.facts.row(RECALL_CAMPAIGNS, campaign_code=code) is None:
            self.facts.save(RECALL_CAMPAIGNS, None, {
                "title": data["title"], "kind": data.get("kind"),
                "starts_on": date.fromisoformat(data["starts_on"])}, campaign_code=code)
        for vin in data.get("vins") or ():
            if self.facts.row(RECALL_CARS, campaign_code=code, vin=vin) is None:
                self.facts.save(RECALL_CARS, None, {"dealer_code": None, "completed_at": None},
                                campaign_code=code, vin=vin)

    def _recall_completed(self, e: dict[str, Any]) -> None:
        """Done on a car (listed, or taken in by its model): the first completion stands."""
        data = e["data"]
        key = {"campaign_code": data["campaign_code"], "vin": data["vin"]}
        before = self.facts.row(RECALL_CARS, **key)
        if before is not None and before["completed_at"] is not None:
            return
        self.facts.save(RECALL_CARS, before, {"dealer_code": data["dealer_code"],
                                              "completed_at": moment(data["completed_at"])},
                        **key)

    # -- facts that depend on a vehicle's other visits ------------------------------------------

    def _recount_comebacks(self, vin: str) -> None:
        rows = [r for r in self.facts.rows_where(REPAIR_ORDERS, "vin", vin)
                if r["opened_at"] is not None]
        found = comebacks((Visit(r["repair_order_id"], r["opened_at"],
                                               tuple(r["concerns"] or ())) for r in rows),
                                 self.comeback_days)
        for r in rows:
            flag = r["repair_order_id"] in found
            if flag != r["comeback"]:
                self.facts.mark(REPAIR_ORDERS,
                                {"repair_order_id": r["repair_order_id"]}, comeback=flag)
                self._touch(r["dealer_code"], r["opened_day"])

    def _recount_recaptured(self, vin: str) -> None:
        rows = self.facts.rows_where(QUOTE_LINES, "vin", vin)
        found = recaptured(LineDecision(
            (r["repair_order_id"], r["line_id"]), r["work_key"], r["approved"], r["decided_at"])
            for r in rows)
        for r in rows:
            flag = (r["repair_order_id"], r["line_id"]) in found
            if flag != r["recaptured"]:
                self.facts.mark(QUOTE_LINES, {"repair_order_id": r["repair_order_id"],
                                                   "line_id": r["line_id"]}, recaptured=flag)
                self._touch(r["dealer_code"], r["day"])
