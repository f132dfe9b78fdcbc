"""What the API answers: rows of crm's tables turned into JSON-ready dicts.

Personal fields are decrypted here and only here; roles that do not call customers see the
phone masked.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crm.domain.leads import sla_met
from crm.domain.surveys import QUESTIONS
from crm.domain.times import aware
from crm.privacy import Vault, mask_phone

if TYPE_CHECKING:
    from crm.use_cases import Customer360, Found


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return aware(value).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, int | bool | str):
        return value
    return str(value)  # Decimal money stays exact as a string


def _plain(row: sa.Row, *skip: str) -> dict[str, Any]:
    return {k: _json(v) for k, v in row._mapping.items() if k not in skip}


def vehicle_view(row: sa.Row, visits: list[sa.Row]) -> dict[str, Any]:
    mileages = [m for v in visits for m in (v.mileage_in_km, v.mileage_out_km) if m is not None]
    days = [t.date() for v in visits for t in (v.opened_at, v.delivered_at) if t is not None]
    return {"vin": row.vin, "plate": row.plate, "model": row.model,
            "last_mileage_km": max(mileages) if mileages else None,
            "last_visit_on": max(days).isoformat() if days else None,
            "insurance_expires_on": _day(row.insurance_expires_on),
            "inspection_due_on": _day(row.inspection_due_on)}


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def contact(customer: sa.Row, vault: Vault, *, full_phone: bool) -> dict[str, Any]:
    name = vault.decrypt(customer.name_enc) if customer.name_enc else None
    phone = vault.decrypt(customer.phone_enc) if customer.phone_enc else None
    if phone and not full_phone:
        phone = mask_phone(phone)
    return {"customer_id": customer.id, "name": name, "phone": phone}


def search_view(found: list[Found], vault: Vault, *, full_phone: bool) -> dict[str, Any]:
    return {"customers": [
        {**contact(f.customer, vault, full_phone=full_phone),
         "vehicles": [vehicle_view(v, [x for x in f.visits if x.vin == v.vin])
                      for v in f.vehicles]}
        for f in found]}


def customer_360(view: Customer360, vault: Vault, *, full_phone: bool) -> dict[str, Any]:
    records = view.records
    by_vin: dict[str, list[sa.Row]] = {}
    for visit in records["visits"]:
        by_vin.setdefault(visit.vin, []).append(visit)
    return {
        **contact(view.customer, vault, full_phone=full_phone),
        "vehicles": [vehicle_view(v, by_vin.get(v.vin, [])) for v in view.vehicles],
        "visits": [_plain(v, "customer_id") for v in records["visits"]],
        "declined_work": [_plain(d, "customer_id") for d in records["declined"]],
        "appointments": [_plain(a, "customer_id", "status_sequence")
                         for a in records["appointments"]],
        "reminders": [_plain(r, "customer_id") for r in records["reminders"]],
        "surveys": [_plain(s, "customer_id") for s in records["surveys"]],
        "complaints": [_plain(c, "customer_id") for c in records["complaints"]],
        "consents": [_plain(c, "customer_id") for c in view.consents],
    }


def consents_view(customer_id: str, consents: list[sa.Row]) -> dict[str, Any]:
    return {"customer_id": customer_id, "consents": [
        {"purpose": r.purpose, "channel": r.channel, "granted": r.granted} for r in consents]}


def reminder_view(row: sa.Row) -> dict[str, Any]:
    return {"reminder_id": row.id, "reason": row.reason, "customer_id": row.customer_id,
            "vin": row.vin, "plate": row.plate, "model": row.model,
            "due_on": row.due_on.isoformat(), "due_mileage_km": row.due_mileage_km,
            "campaign_code": row.campaign_code,
            "source_repair_order_id": row.source_repair_order_id,
            "raised_on": row.raised_on.isoformat()}


def survey_link_view(row: sa.Row) -> dict[str, Any]:
    """The survey as its signed link shows it: what it asks and whether it was answered
    (never the answer, nor who the customer is)."""
    return {"survey_id": row.id, "dealer_code": row.dealer_code,
            "repair_order_id": row.repair_order_id, "delivered_at": _json(row.delivered_at),
            "answered_at": _json(row.answered_at), "questions": QUESTIONS}


def complaint_view(row: sa.Row) -> dict[str, Any]:
    return {"complaint_id": row.id, "survey_id": row.survey_id, "customer_id": row.customer_id,
            "dealer_code": row.dealer_code, "repair_order_id": row.repair_order_id,
            "score": row.score, "comment": row.comment, "owner": row.owner,
            "due_on": row.due_on.isoformat(), "status": row.status,
            "resolution": row.resolution}


def lead_view(row: sa.Row, vault: Vault, now: datetime, *, full_phone: bool) -> dict[str, Any]:
    phone = vault.decrypt(row.phone_enc)
    due = aware(row.first_contact_due_at)
    first = aware(row.first_contacted_at) if row.first_contacted_at else None
    return {"lead_id": row.id, "channel": row.channel, "dealer_code": row.dealer_code,
            "name": vault.decrypt(row.name_enc),
            "phone": phone if full_phone else mask_phone(phone),
            "customer_id": row.customer_id, "interest": row.interest,
            "assigned_to": row.assigned_to, "status": row.status,
            "received_at": aware(row.received_at).isoformat(),
            "first_contact_due_at": due.isoformat(),
            "first_contacted_at": first.isoformat() if first else None,
            "sla_met": sla_met(due, first, now), "appointment_id": row.appointment_id}
