"""The consent purpose `partner:<partner id>` (data sharing, on the channel DATA), the rule of
compat that lets a value set widen into alternatives, and partners' PartnerEndpointDisabled."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from contracts import ContractViolation, events, export, new_event, personal
from contracts.compat import breaking_changes
from contracts.vocabulary import is_partner_purpose

CUSTOMER = "D001-C-1001"


def _consent(**changes) -> dict:
    data = {"customer_id": CUSTOMER, "purpose": "partner:ptn_4e1f0a9c7b2d",
            "channels": ["DATA"], "granted": True, "via": "CALL_CENTRE",
            "changed_at": "2025-03-20T10:05:11+08:00"}
    data.update(changes)
    return new_event(events.ConsentChanged, data, source="hq/crm", subject=CUSTOMER,
                     dealer_code="HQ", correlation_id=CUSTOMER, sequence=3)


def _published(contract) -> dict:
    return export.json_schema_for(contract)


@pytest.mark.parametrize("purpose", ["partner:ptn_4e1f0a9c7b2d", "partner:SPEEDY-01",
                                     "partner:a.b_c-d"])
def test_a_partner_purpose_on_the_data_channel_is_valid_here_and_in_the_json_schema(purpose):
    event = _consent(purpose=purpose)
    jsonschema.validate(event, _published(events.ConsentChanged))
    assert is_partner_purpose(purpose)


@pytest.mark.parametrize("purpose", ["partner:", "partner:-x", "partner:a/b", "PARTNER:x",
                                     "partner:" + "x" * 65, "SALES"])
def test_anything_else_is_no_purpose_in_either(purpose):
    with pytest.raises(ContractViolation):
        _consent(purpose=purpose)
    # The JSON Schema refuses the same values.
    event = _consent()
    event["data"]["purpose"] = purpose
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(event, _published(events.ConsentChanged))


def test_a_trailing_newline_is_no_partner_purpose():
    with pytest.raises(ContractViolation):
        _consent(purpose="partner:x\n")
    assert not is_partner_purpose("partner:x\n")


def test_a_partner_purpose_is_on_data_alone_and_data_only_for_a_partner():
    with pytest.raises(ContractViolation):
        _consent(channels=["SMS"])
    with pytest.raises(ContractViolation):
        _consent(channels=["DATA", "APP"])
    with pytest.raises(ContractViolation):
        _consent(purpose="MARKETING", channels=["DATA"])
    assert _consent(purpose="MARKETING", channels=["SMS", "APP"])["data"]["channels"] == [
        "SMS", "APP"]


def test_consent_changed_still_accepts_what_it_accepted_and_the_widening_is_compatible(
        package_dir: Path):
    released = json.loads((package_dir / events.ConsentChanged.released_file).read_text())
    assert breaking_changes(released, _published(events.ConsentChanged)) == []
    example = json.loads((package_dir / events.ConsentChanged.example_file).read_text())
    jsonschema.validate(example, _published(events.ConsentChanged))


# -- compat: a value set widened into alternatives ------------------------------------------------


def _with(purpose: dict) -> dict:
    return {"type": "object", "properties": {"purpose": {"type": "string", **purpose}}}


OLD = _with({"enum": ["SERVICE", "MARKETING"]})
WIDER = _with({"anyOf": [{"enum": ["SERVICE", "MARKETING"]}, {"pattern": "^partner:.+$"}]})


def test_an_enum_widened_into_alternatives_is_compatible():
    assert breaking_changes(OLD, WIDER) == []
    assert breaking_changes(_with({"const": "SERVICE"}), WIDER) == []
    more = copy.deepcopy(WIDER)
    more["properties"]["purpose"]["anyOf"].append({"enum": ["OTHER"]})
    assert breaking_changes(WIDER, more) == []
    values_split = _with({"anyOf": [{"enum": ["SERVICE"]}, {"const": "MARKETING"},
                                    {"pattern": "^x$"}]})
    assert breaking_changes(OLD, values_split) == []


def test_alternatives_that_lose_an_old_value_or_branch_break():
    lost = _with({"anyOf": [{"enum": ["SERVICE"]}, {"pattern": "^partner:.+$"}]})
    assert breaking_changes(OLD, lost) == [
        "purpose: anyOf alternatives no longer accept every value accepted before"]
    other_pattern = _with({"anyOf": [{"enum": ["SERVICE", "MARKETING"]},
                                     {"pattern": "^partner:[a-z]+$"}]})
    assert breaking_changes(WIDER, other_pattern) == [
        "purpose: anyOf alternatives no longer accept every value accepted before"]
    # A value the old enum held, now only matched by a pattern, is not proven covered.
    by_pattern = _with({"anyOf": [{"enum": ["SERVICE"]}, {"pattern": "^MARKETING$"}]})
    assert breaking_changes(OLD, by_pattern) != []


def test_a_cross_field_any_of_is_still_a_new_constraint():
    at_least_one = {"type": "object", "properties": {"a": {}, "b": {}},
                    "anyOf": [{"required": ["a"]}, {"required": ["b"]}]}
    assert breaking_changes({"type": "object", "properties": {"a": {}, "b": {}}},
                            at_least_one) == ["(root): anyOf added"]
    # An enum replaced by alternatives that also constrain the shape is no widening either.
    shaped = _with({"anyOf": [{"enum": ["SERVICE", "MARKETING"]}, {"minLength": 3}]})
    assert breaking_changes(OLD, shaped) == ["purpose: anyOf added"]


def test_alternatives_with_a_pattern_on_top_break():
    narrowed = copy.deepcopy(WIDER)
    narrowed["properties"]["purpose"]["pattern"] = "^[A-Z]+$"
    assert breaking_changes(OLD, narrowed) != []


# -- PartnerEndpointDisabled ----------------------------------------------------------------------


def _disabled(**changes) -> dict:
    data = {"partner_id": "ptn_4e1f0a9c7b2d", "endpoint_id": "5b0e7c4a-2f19-4e8d-a6b3-9d71c0e2f845",
            "url": "https://hooks.speedy-auto.example.cn/aftersales", "reason": "GONE",
            "disabled_at": "2025-03-21T02:14:07+08:00"}
    data.update(changes)
    return new_event(events.PartnerEndpointDisabled, data, source="hq/partners",
                     subject=data["endpoint_id"], dealer_code="HQ",
                     correlation_id=data["partner_id"], sequence=1)


def test_partners_tells_why_an_endpoint_was_disabled():
    assert events.PartnerEndpointDisabled.type == "aftersales.PartnerEndpointDisabled.v1"
    assert events.PartnerEndpointDisabled.exchange == "partners.events"
    for reason in ("GONE", "FAILING"):
        jsonschema.validate(_disabled(reason=reason), _published(events.PartnerEndpointDisabled))
    for wrong in ({"reason": "OPERATOR"}, {"url": "ftp://x"}, {"endpoint_id": "ep-1"},
                  {"partner_id": "ptn x"}):
        with pytest.raises(ContractViolation):
            _disabled(**wrong)
    with pytest.raises(ContractViolation):
        new_event(events.PartnerEndpointDisabled, _disabled()["data"], source="hq/webhooks",
                  subject="5b0e7c4a-2f19-4e8d-a6b3-9d71c0e2f845", dealer_code="HQ",
                  correlation_id="ptn_4e1f0a9c7b2d", sequence=1)


def test_nothing_in_partner_endpoint_disabled_is_personal():
    kind = events.PartnerEndpointDisabled.type
    assert personal.personal_fields(kind) == frozenset()
    assert not personal.subject_is_personal(kind)
    data = _disabled()["data"]
    assert personal.redact(kind, data) == data
