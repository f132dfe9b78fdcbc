"""Events that break the contract are rejected, naming the field, by the package and by the
published JSON Schema alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from contracts import ContractViolation, events, validate_event


@dataclass
class Case:
    id: str
    contract: object
    mutate: Callable[[dict], None]
    path: str  # the key expected in ContractViolation.errors


def _set(path: str, value):
    def mutate(envelope: dict) -> None:
        *parents, last = path.split(".")
        node = envelope
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value

    return mutate


def _delete(path: str):
    def mutate(envelope: dict) -> None:
        *parents, last = path.split(".")
        node = envelope
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[last]

    return mutate


def _both(*mutations):
    def mutate(envelope: dict) -> None:
        for m in mutations:
            m(envelope)

    return mutate


RO, QA, BOOKED = events.RepairOrderOpened, events.QuoteApproved, events.AppointmentBooked
LINE = "data.approved_lines.0"  # L1, a LABOUR line
PART_LINE = "data.approved_lines.1"  # L2, a PART line

REJECTED = [
    # the cases every consumer relies on
    Case("bad VIN (letter O)", RO, _set("data.vin", "LSVAU2187N218374O"), "data.vin"),
    Case("bad VIN (16 chars)", RO, _set("data.vin", "LSVAU2187N218374"), "data.vin"),
    Case("naive envelope time", RO, _set("time", "2025-03-18T14:03:10"), "time"),
    Case("naive data time", RO, _set("data.opened_at", "2025-03-18 14:03:10"), "data.opened_at"),
    Case("unknown type", RO, _set("type", "aftersales.RepairOrderClosed.v1"), "type"),
    Case("unknown data field", RO, _set("data.customer_name", "王磊"), "data.customer_name"),
    Case("unknown envelope attribute", RO, _set("traceparent", "00-abc"), "traceparent"),
    Case("missing data field", RO, _delete("data.mileage_km"), "data.mileage_km"),
    Case("missing envelope attribute", RO, _delete("dealercode"), "dealercode"),
    Case("missing data", RO, _delete("data"), "data"),
    Case("negative amount", QA, _set(f"{LINE}.amount", "-150.00"), f"{LINE}.amount"),
    Case("amount as a float", QA, _set(f"{LINE}.amount", 150.0), f"{LINE}.amount"),
    Case("amount without cents", QA, _set("data.approved_total", "1699"), "data.approved_total"),
    Case("wrong pay type", QA, _set(f"{LINE}.pay_type", "CUSTOMER"), f"{LINE}.pay_type"),
    # envelope attributes
    Case("specversion", RO, _set("specversion", "0.3"), "specversion"),
    Case("id not a UUID", RO, _set("id", "42"), "id"),
    Case("source of another service", QA, _set("source", "dealer/D001/booking"), "source"),
    Case("source not a URI-reference", RO, _set("source", "workorder"), "source"),
    Case(
        "dataschema of another type",
        RO,
        _set("dataschema", "urn:aftersales:schema:QuoteApproved:v1"),
        "dataschema",
    ),
    Case("datacontenttype", RO, _set("datacontenttype", "text/plain"), "datacontenttype"),
    Case("dealercode lowercase", RO, _set("dealercode", "d001"), "dealercode"),
    Case("sequence zero", RO, _set("sequence", 0), "sequence"),
    Case("sequence as a string", RO, _set("sequence", "3"), "sequence"),
    Case("sequence as a boolean", RO, _set("sequence", True), "sequence"),
    Case("empty subject", RO, _set("subject", ""), "subject"),
    Case("subject too long", RO, _set("subject", "R" * 65), "subject"),
    Case("empty correlationid", RO, _set("correlationid", ""), "correlationid"),
    Case("month 13", RO, _set("time", "2025-13-18T10:00:00+08:00"), "time"),
    Case("hour 24", RO, _set("data.opened_at", "2025-03-18T24:00:00+08:00"), "data.opened_at"),
    # data values
    Case("mileage as a string", RO, _set("data.mileage_km", "29876"), "data.mileage_km"),
    Case("negative mileage", RO, _set("data.mileage_km", -1), "data.mileage_km"),
    Case("fuel above 100 %", RO, _set("data.fuel_level", 101), "data.fuel_level"),
    Case(
        "boolean as a string",
        BOOKED,
        _set("data.loaner_requested", "true"),
        "data.loaner_requested",
    ),
    Case("unknown channel", BOOKED, _set("data.channel", "DOUYIN"), "data.channel"),
    Case("null optional field", BOOKED, _set("data.reminder_id", None), "data.reminder_id"),
    Case(
        "unknown field in a nested object",
        BOOKED,
        _set("data.customer.id_card", "110101..."),
        "data.customer.id_card",
    ),
    Case("zero quantity", QA, _set(f"{PART_LINE}.quantity", "0"), f"{PART_LINE}.quantity"),
    Case("quote round 0", QA, _set("data.round", 0), "data.round"),
    Case("currency", QA, _set("data.currency", "USD"), "data.currency"),
    # rules across fields, expressed in the JSON Schema as well
    Case(
        "vehicle without plate or VIN",
        BOOKED,
        _both(_delete("data.vehicle.plate"), _delete("data.vehicle.vin")),
        "data.vehicle",
    ),
    Case(
        "labour line without operation code",
        QA,
        _delete(f"{LINE}.operation_code"),
        f"{LINE}.operation_code",
    ),
    Case(
        "labour line with a part number",
        QA,
        _set(f"{LINE}.part_number", "06L115562B"),
        f"{LINE}.part_number",
    ),
    Case(
        "part line without quantity", QA, _delete(f"{PART_LINE}.quantity"), f"{PART_LINE}.quantity"
    ),
    Case(
        "quote without any line",
        QA,
        _both(
            _set("data.approved_lines", []),
            _set("data.declined_lines", []),
            _set("data.approved_total", "0.00"),
            _set("data.declined_total", "0.00"),
        ),
        "data",
    ),
    Case(
        "failed check without reason",
        events.QualityCheckCompleted,
        _delete("data.reason"),
        "data.reason",
    ),
    Case(
        "part issued without batch or serial",
        events.PartIssued,
        _delete("data.batch_number"),
        "data",
    ),
    Case("price without currency", events.PartIssued, _delete("data.currency"), "data.currency"),
    Case(
        "recall reminder without campaign",
        events.ReminderDue,
        _both(_set("data.reason", "RECALL"), _delete("data.source_repair_order_id")),
        "data.campaign_code",
    ),
    Case("survey score above 10", events.SurveyAnswered, _set("data.score", 11), "data.score"),
]


def _path_parts(path: str) -> list:
    return [int(p) if p.isdigit() else p for p in path.split(".")] if path != "_schema" else []


@pytest.mark.parametrize("case", REJECTED, ids=[c.id for c in REJECTED])
def test_rejected_with_the_field_path(case, example_of):
    envelope = example_of(case.contract)
    case.mutate(envelope)
    with pytest.raises(ContractViolation) as info:
        validate_event(envelope)
    assert case.path in info.value.errors, info.value.errors
    assert case.path in str(info.value)


@pytest.mark.parametrize("case", REJECTED, ids=[c.id for c in REJECTED])
def test_rejected_by_the_published_json_schema_too(case, example_of, validator_of):
    envelope = example_of(case.contract)
    case.mutate(envelope)
    errors = list(validator_of(case.contract).iter_errors(envelope))
    assert errors, "the JSON Schema accepts what the package rejects"
    # JSON Schema reports a missing or unknown property at the object holding it.
    wanted = _path_parts(case.path)
    assert any(list(e.absolute_path) == wanted[: len(e.absolute_path)] for e in errors), [
        (list(e.absolute_path), e.message) for e in errors
    ]


def test_the_pay_type_message_lists_the_star_names(example_of):
    envelope = example_of(events.QuoteApproved)
    envelope["data"]["approved_lines"][0]["pay_type"] = "CASH"
    with pytest.raises(ContractViolation) as info:
        validate_event(envelope)
    assert str(info.value) == (
        "data.approved_lines.0.pay_type: Must be one of: CUSTOMER_PAY, WARRANTY, INTERNAL."
    )


def test_every_problem_is_reported_at_once(example_of):
    envelope = example_of(events.RepairOrderOpened)
    envelope["time"] = "2025-03-18T14:03:10"
    envelope["data"]["vin"] = "XYZ"
    del envelope["data"]["advisor_id"]
    with pytest.raises(ContractViolation) as info:
        validate_event(envelope)
    assert set(info.value.errors) == {"time", "data.vin", "data.advisor_id"}


def test_an_unknown_type_still_gets_its_envelope_checked(example_of):
    envelope = example_of(events.RepairOrderOpened)
    envelope["type"] = "aftersales.Nope.v1"
    envelope["dealercode"] = "?"
    with pytest.raises(ContractViolation) as info:
        validate_event(envelope)
    assert set(info.value.errors) == {"type", "dealercode"}


@pytest.mark.parametrize("not_an_object", [None, [], "{}", 42])
def test_an_envelope_must_be_an_object(not_an_object):
    with pytest.raises(ContractViolation) as info:
        validate_event(not_an_object)
    assert "_schema" in info.value.errors


# Rules that compare two values. JSON Schema cannot express them; the package enforces them
# on publish and on consume, and the schema files mention them in a $comment.
PACKAGE_ONLY = [
    # Calendar validity is `format: date-time`, which JSON Schema validators only annotate.
    Case("30 February", RO, _set("time", "2025-02-30T10:00:00+08:00"), "time"),
    # ECMA-262 `$` does not match before a final newline; Python's jsonschema does.
    Case("trailing newline", RO, _set("dealercode", "D001\n"), "dealercode"),
    Case("source dealer is not dealercode", RO, _set("source", "dealer/D002/workorder"), "source"),
    Case("subject is not the aggregate id", RO, _set("subject", "RO-OTHER"), "subject"),
    Case(
        "data.dealer_code is not dealercode",
        BOOKED,
        _set("data.dealer_code", "D002"),
        "data.dealer_code",
    ),
    Case(
        "slot ends before it starts",
        BOOKED,
        _set("data.slot_end", "2025-03-18T09:00:00+08:00"),
        "data.slot_end",
    ),
    Case(
        "approved total is not the sum of lines",
        QA,
        _set("data.approved_total", "1700.00"),
        "data.approved_total",
    ),
    Case(
        "grand total does not add up",
        events.VehicleDelivered,
        _set("data.grand_total", "1719.00"),
        "data.grand_total",
    ),
    Case(
        "pay-type split does not add up",
        events.VehicleDelivered,
        _set("data.totals_by_pay_type.WARRANTY", "10.00"),
        "data.totals_by_pay_type",
    ),
    Case(
        "one serial number per unit",
        events.PartIssued,
        _both(
            _set("data.serial_numbers", ["SN1", "SN2"]),
            _set("data.quantity", "3"),
            _set("data.unit", "EA"),
        ),
        "data.serial_numbers",
    ),
]


@pytest.mark.parametrize("case", PACKAGE_ONLY, ids=[c.id for c in PACKAGE_ONLY])
def test_rejected_by_the_package_for_rules_json_schema_cannot_express(case, example_of):
    envelope = example_of(case.contract)
    case.mutate(envelope)
    with pytest.raises(ContractViolation) as info:
        validate_event(envelope)
    assert case.path in info.value.errors, info.value.errors


def test_package_only_data_rules_are_documented_in_the_schema(package_dir):
    import json

    schema = json.loads((package_dir / events.VehicleDelivered.schema_file).read_text("utf-8"))
    comment = schema["properties"]["data"]["$comment"]
    assert "grand_total" in comment and "totals_by_pay_type" in comment
