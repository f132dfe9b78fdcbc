"""Producers build envelopes with new_event: the CloudEvents attributes are filled in, the
result is JSON and reads back unchanged."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from contracts import ContractViolation, events, new_event, validate_event

BEIJING = timezone(timedelta(hours=8))
RO = "RO-D001-20250318-0042"


def _part_issued_data(**changes) -> dict:
    data = {
        "issue_id": "ISS-D001-0002214",
        "repair_order_id": RO,
        "quote_line_id": "L2",
        "vin": "LSVAU2187N2183740",
        "part_number": "G-052-195-M4",
        "quantity": "4.5",
        "unit": "L",
        "batch_number": "B2502-1187",
        "from_stock": True,
        "issued_by": "PC-003",
        "issued_at": "2025-03-18T15:20:33+08:00",
    }
    data.update(changes)
    return data


def _emit(data: dict, **overrides) -> dict:
    kwargs = dict(
        source="dealer/D001/parts", subject=RO, dealer_code="D001", correlation_id=RO, sequence=5
    )
    kwargs.update(overrides)
    return new_event(events.PartIssued, data, **kwargs)


def test_new_event_fills_the_cloudevents_attributes():
    before = datetime.now(UTC)
    event = _emit(_part_issued_data())
    assert event["specversion"] == "1.0"
    assert uuid.UUID(event["id"]).version == 4
    assert event["type"] == "aftersales.PartIssued.v1"
    assert event["dataschema"] == "urn:aftersales:schema:PartIssued:v1"
    assert event["datacontenttype"] == "application/json"
    assert (event["source"], event["subject"], event["dealercode"]) == (
        "dealer/D001/parts",
        RO,
        "D001",
    )
    assert (event["correlationid"], event["sequence"]) == (RO, 5)
    stamped = datetime.fromisoformat(event["time"])
    assert stamped.utcoffset() is not None
    assert before - timedelta(seconds=1) <= stamped <= datetime.now(UTC)


def test_new_event_round_trips_through_json_and_validate_event():
    event = _emit(_part_issued_data())
    wire = json.loads(json.dumps(event, ensure_ascii=False))
    assert validate_event(wire) == event


def test_given_id_and_time_are_kept():
    at = datetime(2025, 3, 18, 15, 20, 33, tzinfo=BEIJING)
    event = _emit(_part_issued_data(), id="3f0c9a4e-8d21-4b6a-9c3e-5b7d1f2a4c6e", time=at)
    assert event["id"] == "3f0c9a4e-8d21-4b6a-9c3e-5b7d1f2a4c6e"
    assert event["time"] == "2025-03-18T15:20:33+08:00"


def test_python_values_are_written_as_the_contract_expects():
    data = _part_issued_data(
        quantity=Decimal("4.5"),
        unit_price=Decimal("98.00"),
        currency="CNY",
        issued_at=datetime(2025, 3, 18, 15, 20, 33, tzinfo=BEIJING),
        serial_numbers=("SN-1",),
    )
    data["quantity"] = Decimal("1")
    event = _emit(data)
    assert event["data"]["quantity"] == "1"
    assert event["data"]["unit_price"] == "98.00"
    assert event["data"]["issued_at"] == "2025-03-18T15:20:33+08:00"
    assert event["data"]["serial_numbers"] == ["SN-1"]


def test_a_date_is_written_as_iso_date():
    data = {
        "reminder_id": "RMD-1",
        "reason": "MAINTENANCE",
        "customer_id": "C-1",
        "vin": "1M8GDM9AXKP042788",
        "dealer_code": "D001",
        "due_on": date(2025, 9, 18),
        "raised_at": datetime(2025, 3, 19, 2, tzinfo=BEIJING),
    }
    event = new_event(
        events.ReminderDue,
        data,
        source="hq/crm",
        subject="RMD-1",
        dealer_code="D001",
        correlation_id="RMD-1",
        sequence=1,
    )
    assert event["data"]["due_on"] == "2025-09-18"


def test_a_naive_event_time_is_refused():
    with pytest.raises(ContractViolation) as info:
        _emit(_part_issued_data(), time=datetime(2025, 3, 18, 15, 20))
    assert "time" in info.value.errors


def test_a_naive_datetime_in_data_is_refused():
    with pytest.raises(ContractViolation) as info:
        _emit(_part_issued_data(issued_at=datetime(2025, 3, 18, 15, 20)))
    assert "data.issued_at" in info.value.errors


def test_money_as_a_float_is_refused():
    with pytest.raises(ContractViolation) as info:
        _emit(_part_issued_data(unit_price=98.0, currency="CNY"))
    assert "data.unit_price" in info.value.errors


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"source": "hq/parts"}, "source"),
        ({"dealer_code": "d001"}, "dealercode"),
        ({"sequence": 0}, "sequence"),
        ({"subject": "RO-OTHER"}, "subject"),
        ({"correlation_id": ""}, "correlationid"),
        ({"id": "not-a-uuid"}, "id"),
    ],
)
def test_bad_envelope_arguments_raise_contract_violation_only(overrides, path):
    with pytest.raises(ContractViolation) as info:
        _emit(_part_issued_data(), **overrides)
    assert path in info.value.errors


def test_undeclared_data_is_refused_so_nothing_personal_leaks():
    with pytest.raises(ContractViolation) as info:
        _emit(_part_issued_data(customer_phone="13812345678"))
    assert info.value.errors == {"data.customer_phone": ["Unknown field."]}


def test_a_contract_may_be_named():
    event = new_event(
        "PartIssued",
        _part_issued_data(),
        source="dealer/D001/parts",
        subject=RO,
        dealer_code="D001",
        correlation_id=RO,
        sequence=1,
    )
    assert event["type"] == events.PartIssued.type


def test_headquarters_events_come_from_hq():
    data = {
        "survey_id": "SVY-1",
        "repair_order_id": RO,
        "customer_id": "C-1",
        "score": 3,
        "answered_at": "2025-03-21T10:15:42+08:00",
    }
    event = new_event(
        events.SurveyAnswered,
        data,
        source="hq/crm",
        subject="SVY-1",
        dealer_code="D001",
        correlation_id=RO,
        sequence=1,
    )
    assert event["source"] == "hq/crm" and event["dealercode"] == "D001"
    with pytest.raises(ContractViolation):
        new_event(
            events.SurveyAnswered,
            data,
            source="dealer/D001/crm",
            subject="SVY-1",
            dealer_code="D001",
            correlation_id=RO,
            sequence=1,
        )
