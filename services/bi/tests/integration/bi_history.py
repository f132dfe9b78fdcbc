"""A small history of two dealer sites and headquarters, built from the published examples.

D001: an appointment booked from a reminder (moved to the afternoon, checked in), its repair
order through inspection, quote (one line declined), self-check, a failed and a passed
inspector check, a part issue, delivery and a survey; then a comeback ten days later on the
same VIN, where the declined part is sold. D002: an appointment cancelled, one no-show, a
repair order delivered late with warranty work and a detractor's survey.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import contracts
from contracts import EventContract, events, new_event

VIN = "LSVAU2187N2183740"
VIN_2 = "1M8GDM9AXKP042788"


def _example(contract: EventContract) -> dict[str, Any]:
    path = Path(contracts.__file__).parent / contract.example_file
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def _event(contract: EventContract, dealer: str, subject: str, sequence: int, **data: Any
           ) -> dict[str, Any]:
    body = {**_example(contract), **data}
    producer = contract.producer
    source = f"hq/{producer}" if producer == "crm" else f"dealer/{dealer}/{producer}"
    return new_event(contract, body, source=source, subject=subject, dealer_code=dealer,
                     correlation_id=subject, sequence=sequence)


def _line(line_id: str, kind: str, key: str, amount: str, pay_type: str = "CUSTOMER_PAY"
          ) -> dict[str, Any]:
    line = {"line_id": line_id, "kind": kind, "description": key, "unit_price": amount,
            "amount": amount, "pay_type": pay_type}
    if kind == "LABOUR":
        line.update(operation_code=key, flat_rate_hours="1")
    else:
        line.update(part_number=key, quantity="1")
    return line


def _quote(dealer: str, ro: str, seq: int, vin: str, signed_at: str,
           approved: list[dict[str, Any]], declined: list[dict[str, Any]]) -> dict[str, Any]:
    def total(lines: list[dict[str, Any]]) -> str:
        return str(sum(float(x["amount"]) for x in lines)) if lines else "0.00"

    return _event(events.QuoteApproved, dealer, ro, seq, repair_order_id=ro,
                  quote_id=f"Q-{ro}", vin=vin, approved_lines=approved, declined_lines=declined,
                  approved_total=f"{float(total(approved)):.2f}",
                  declined_total=f"{float(total(declined)):.2f}", signed_at=signed_at)


def _delivered(dealer: str, ro: str, seq: int, *, vin: str, appointment_id: str | None,
               opened_at: str, promised_at: str, delivered_at: str, labour: str, parts: str,
               pay: dict[str, str], hours: str, clocked: str) -> dict[str, Any]:
    grand = f"{float(labour) + float(parts):.2f}"
    data = {"repair_order_id": ro, "vin": vin, "labour_total": labour, "parts_total": parts,
            "sundries_total": "0.00", "discount_total": "0.00", "tax_total": "0.00",
            "grand_total": grand, "totals_by_pay_type": pay, "labour_hours_sold": hours,
            "clocked_hours": clocked, "opened_at": opened_at, "promised_at": promised_at,
            "delivered_at": delivered_at}
    if appointment_id:
        data["appointment_id"] = appointment_id
    event = _event(events.VehicleDelivered, dealer, ro, seq, **data)
    if not appointment_id:
        event["data"].pop("appointment_id", None)
    return event


def history() -> list[dict[str, Any]]:
    """The events in the order they happened (as each site's outbox would send them)."""
    a1, ro1, ro2 = "APT-D001-1", "RO-D001-1", "RO-D001-2"
    a2, a3, ro3 = "APT-D002-1", "APT-D002-2", "RO-D002-1"
    booked: Callable[..., dict[str, Any]] = lambda dealer, apt, **d: _event(  # noqa: E731
        events.AppointmentBooked, dealer, apt, 1, appointment_id=apt, dealer_code=dealer, **d)
    return [
        _event(events.ReminderDue, "D001", "RMD-1", 1, reminder_id="RMD-1", dealer_code="D001",
               raised_at="2025-03-10T02:00:00+08:00"),
        booked("D001", a1, reminder_id="RMD-1", channel="WECHAT",
               slot_start="2025-03-18T09:30:00+08:00", slot_end="2025-03-18T10:30:00+08:00",
               booked_at="2025-03-15T20:00:00+08:00"),
        _event(events.AppointmentRescheduled, "D001", a1, 2, appointment_id=a1),
        _event(events.AppointmentCheckedIn, "D001", a1, 3, appointment_id=a1),
        _event(events.RepairOrderOpened, "D001", ro1, 1, repair_order_id=ro1, appointment_id=a1,
               vin=VIN, opened_at="2025-03-18T14:03:10+08:00"),
        _event(events.InspectionUploaded, "D001", ro1, 2, repair_order_id=ro1, vin=VIN,
               inspected_at="2025-03-18T14:33:10+08:00"),
        _quote("D001", ro1, 3, VIN, "2025-03-18T14:48:10+08:00",
               approved=[_line("L1", "LABOUR", "MNT-OIL-01", "150.00")],
               declined=[_line("L2", "PART", "BRAKE-PAD-F", "480.00")]),
        _event(events.QualityCheckCompleted, "D001", ro1, 4, repair_order_id=ro1,
               check_id="QC-1", stage="SELF", passed=True, checked_at="2025-03-18T16:03:10+08:00"),
        _event(events.QualityCheckCompleted, "D001", ro1, 5, repair_order_id=ro1,
               check_id="QC-2", stage="INSPECTOR", passed=False,
               checked_at="2025-03-18T16:25:08+08:00"),
        _event(events.QualityCheckCompleted, "D001", ro1, 6, repair_order_id=ro1,
               check_id="QC-3", stage="INSPECTOR", passed=True,
               checked_at="2025-03-18T16:50:00+08:00"),
        _event(events.PartIssued, "D001", ro1, 1, issue_id="ISS-1", repair_order_id=ro1,
               vin=VIN, from_stock=True, issued_at="2025-03-18T15:00:00+08:00"),
        _delivered("D001", ro1, 7, vin=VIN, appointment_id=a1,
                   opened_at="2025-03-18T14:03:10+08:00", promised_at="2025-03-18T17:30:00+08:00",
                   delivered_at="2025-03-18T17:20:00+08:00", labour="150.00", parts="0.00",
                   pay={"CUSTOMER_PAY": "150.00", "WARRANTY": "0.00", "INTERNAL": "0.00"},
                   hours="1.00", clocked="1.25"),
        _event(events.SurveyAnswered, "D001", "SVY-1", 1, survey_id="SVY-1",
               repair_order_id=ro1, score=10, answered_at="2025-03-19T10:00:00+08:00"),
        # Ten days later, the same brake noise: a comeback; the declined pads are sold.
        _event(events.RepairOrderOpened, "D001", ro2, 1, repair_order_id=ro2, vin=VIN,
               opened_at="2025-03-28T09:00:00+08:00"),
        _quote("D001", ro2, 2, VIN, "2025-03-28T09:40:00+08:00",
               approved=[_line("L1", "PART", "BRAKE-PAD-F", "480.00")], declined=[]),
        _event(events.PartIssued, "D001", ro2, 1, issue_id="ISS-2", repair_order_id=ro2,
               vin=VIN, from_stock=False, issued_at="2025-03-28T10:00:00+08:00"),
        # D002
        booked("D002", a2, channel="APP", slot_start="2025-03-18T09:00:00+08:00",
               slot_end="2025-03-18T10:00:00+08:00", booked_at="2025-03-16T08:00:00+08:00"),
        _event(events.AppointmentCancelled, "D002", a2, 2, appointment_id=a2,
               slot_start="2025-03-18T09:00:00+08:00"),
        booked("D002", a3, lead_id="LEAD-7", channel="WEB",
               slot_start="2025-03-18T11:00:00+08:00", slot_end="2025-03-18T12:00:00+08:00",
               booked_at="2025-03-16T09:00:00+08:00"),
        _event(events.AppointmentNoShow, "D002", a3, 2, appointment_id=a3,
               slot_start="2025-03-18T11:00:00+08:00", slot_end="2025-03-18T12:00:00+08:00"),
        _event(events.RepairOrderOpened, "D002", ro3, 1, repair_order_id=ro3, vin=VIN_2,
               opened_at="2025-03-18T08:00:00+08:00"),
        _delivered("D002", ro3, 2, vin=VIN_2, appointment_id=None,
                   opened_at="2025-03-18T08:00:00+08:00", promised_at="2025-03-18T12:00:00+08:00",
                   delivered_at="2025-03-18T15:00:00+08:00", labour="600.00", parts="400.00",
                   pay={"CUSTOMER_PAY": "200.00", "WARRANTY": "800.00", "INTERNAL": "0.00"},
                   hours="2.00", clocked="2.50"),
        _event(events.SurveyAnswered, "D002", "SVY-2", 1, survey_id="SVY-2",
               repair_order_id=ro3, score=4, answered_at="2025-03-19T11:00:00+08:00"),
    ]
