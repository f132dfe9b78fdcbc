"""contracts.published: the check a partner runs with jsonschema alone accepts the examples and
rejects what the marshmallow check rejects, naming the same field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts import CONTRACTS, ContractViolation, published
from tests.contract.test_contract_invalid_events import REJECTED

ALL = sorted(CONTRACTS.values(), key=lambda c: c.type)
IDS = [c.type for c in ALL]


def test_the_published_event_types_are_the_registered_ones():
    assert published.event_types() == tuple(sorted(CONTRACTS))


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_every_example_is_valid_and_comes_back_unchanged(contract, example_of):
    example = example_of(contract)
    assert published.validate_event(example) == example


@pytest.mark.parametrize("case", REJECTED, ids=[c.id for c in REJECTED])
def test_what_the_package_rejects_is_rejected_at_the_same_path(case, example_of):
    envelope = example_of(case.contract)
    case.mutate(envelope)
    with pytest.raises(ContractViolation) as info:
        published.validate_event(envelope)
    assert case.path in info.value.errors, info.value.errors


def test_a_forbidden_property_is_named_although_jsonschema_reports_its_object(example_of):
    envelope = example_of(CONTRACTS["aftersales.QuoteApproved.v1"])
    envelope["data"]["approved_lines"][0]["part_number"] = "06L115562B"  # a LABOUR line
    with pytest.raises(ContractViolation) as info:
        published.validate_event(envelope)
    assert info.value.errors == {"data.approved_lines.0.part_number": ["Not allowed here."]}


@pytest.mark.parametrize("not_an_object", [None, [], "{}", 42])
def test_an_envelope_must_be_an_object(not_an_object):
    with pytest.raises(ContractViolation) as info:
        published.validate_event(not_an_object)  # type: ignore[arg-type]
    assert "_schema" in info.value.errors


def test_python_values_that_are_not_json_are_a_violation_not_a_crash(example_of):
    envelope = example_of(CONTRACTS["aftersales.QuoteApproved.v1"])
    envelope["data"]["approved_total"] = Decimal("1699.00")
    with pytest.raises(ContractViolation):
        published.validate_event(envelope)


def test_the_schema_is_a_fresh_copy_each_time():
    schema = published.json_schema("aftersales.StockLow.v1")
    schema["properties"].clear()
    assert published.json_schema("aftersales.StockLow.v1")["properties"]
    with pytest.raises(ContractViolation):
        published.json_schema("aftersales.StockHigh.v1")
    with pytest.raises(ValueError):
        published.json_schema("aftersales.StockLow.v1", view="internal")
