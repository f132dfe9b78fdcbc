"""The `data` of the events workorder publishes, built from its records (see contracts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from workorder.domain.pricing import CURRENCY, ZERO, InvoiceTotals
from workorder.domain.quote import contract_line, quote_id


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite drops the zone


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def repair_order_opened(ro: Mapping[str, Any]) -> dict[str, Any]:
    return _without_none({
        "repair_order_id": ro["id"], "appointment_id": ro["appointment_id"],
        "customer_id": ro["customer_id"], "vin": ro["vin"], "plate": ro["plate"],
        "model": ro["model"], "mileage_km": ro["mileage_km"], "fuel_level": ro["fuel_level"],
        "concerns": [_without_none({"description": c["description"], "code": c.get("code")})
                     for c in ro["concerns"]],
        "advisor_id": ro["advisor_id"], "opened_at": _aware(ro["opened_at"]),
        "promised_at": _aware(ro["promised_at"]), "customer_waiting": ro["customer_waiting"],
    })


def inspection_uploaded(ro: Mapping[str, Any], inspection_id: str,
                        items: list[dict[str, Any]], inspected_by: str, inspected_at: datetime,
                        report_url: str | None) -> dict[str, Any]:
    return _without_none({
        "repair_order_id": ro["id"], "inspection_id": inspection_id, "vin": ro["vin"],
        "items": items, "inspected_by": inspected_by, "inspected_at": _aware(inspected_at),
        "report_url": report_url,
    })


def quote_issued(ro: Mapping[str, Any], round_: int, lines: Iterable[Mapping[str, Any]],
                 issued_by: str, issued_at: datetime, quote_url: str | None = None
                 ) -> dict[str, Any]:
    lines = list(lines)
    return _without_none({
        "repair_order_id": ro["id"], "quote_id": quote_id(ro["id"], round_), "round": round_,
        "customer_id": ro["customer_id"], "vin": ro["vin"],
        "lines": [contract_line(line) for line in lines],
        "total": sum((Decimal(line["amount"]) for line in lines), ZERO),
        "currency": CURRENCY, "issued_by": issued_by, "issued_at": _aware(issued_at),
        "quote_url": quote_url,
    })


def quote_approved(ro: Mapping[str, Any], round_: int, approved: Iterable[Mapping[str, Any]],
                   declined: Iterable[Mapping[str, Any]], *, approved_via: str, signed_by: str,
                   signed_at: datetime) -> dict[str, Any]:
    approved, declined = list(approved), list(declined)
    return {
        "repair_order_id": ro["id"], "quote_id": quote_id(ro["id"], round_), "round": round_,
        "customer_id": ro["customer_id"], "vin": ro["vin"],
        "approved_lines": [contract_line(line) for line in approved],
        "declined_lines": [contract_line(line) for line in declined],
        "approved_total": sum((Decimal(line["amount"]) for line in approved), ZERO),
        "declined_total": sum((Decimal(line["amount"]) for line in declined), ZERO),
        "currency": CURRENCY, "approved_via": approved_via, "signed_by": signed_by,
        "signed_at": _aware(signed_at),
    }


def quality_check_completed(check: Mapping[str, Any]) -> dict[str, Any]:
    return _without_none({
        "repair_order_id": check["repair_order_id"], "check_id": check["check_id"],
        "stage": check["stage"], "passed": check["passed"], "reason": check["reason"],
        "rework_count": check["rework_count"], "line_ids": list(check["line_ids"]),
        "checked_by": check["checked_by"], "checked_at": _aware(check["checked_at"]),
    })


def vehicle_delivered(ro: Mapping[str, Any], invoice: Mapping[str, Any], totals: InvoiceTotals,
                      *, mileage_km: int, clocked_hours: Decimal, delivered_at: datetime,
                      delivery_mode: str, operations_done: list[str] | None = None
                      ) -> dict[str, Any]:
    return _without_none({
        "repair_order_id": ro["id"], "appointment_id": ro["appointment_id"],
        "customer_id": ro["customer_id"], "vin": ro["vin"], "mileage_km": mileage_km,
        "invoice_number": invoice["invoice_number"], **totals.as_event_fields(),
        "currency": CURRENCY, "clocked_hours": clocked_hours,
        "opened_at": _aware(ro["opened_at"]), "promised_at": _aware(ro["promised_at"]),
        "delivered_at": _aware(delivered_at), "delivery_mode": delivery_mode,
        "labour_operation_codes": operations_done or None,
    })
