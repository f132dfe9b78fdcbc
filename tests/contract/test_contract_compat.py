"""Within a major version a schema only grows: the released copy is the yardstick."""

from __future__ import annotations

import copy
import json

import pytest

from contracts import CONTRACTS, compat, export
from contracts.compat import breaking_changes

ALL = sorted(CONTRACTS.values(), key=lambda c: c.type)
IDS = [c.type for c in ALL]


# -- the released schemas ----------------------------------------------------------------------


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_current_schema_is_compatible_with_its_release(contract, package_dir):
    released = package_dir / contract.released_file
    if not released.exists():
        pytest.skip(f"{contract.type} is not released yet")
    old = json.loads(released.read_text(encoding="utf-8"))
    assert breaking_changes(old, export.json_schema_for(contract)) == []


def test_every_released_event_type_still_exists(package_dir):
    released = {p.name for p in (package_dir / "released").glob("*.json")}
    assert released, "nothing released"
    assert released <= {f"{c.name}.v{c.version}.json" for c in ALL}


def test_the_compat_command_passes_on_the_repository():
    assert compat.check_released() == {}
    assert compat.main() == 0


def test_the_compat_command_reports_a_break(tmp_path, package_dir):
    for folder in ("schemas", "released"):
        (tmp_path / folder).mkdir()
    name = "QuoteApproved.v1.json"
    schema = json.loads((package_dir / "schemas" / name).read_text(encoding="utf-8"))
    (tmp_path / "released" / name).write_text(json.dumps(schema), encoding="utf-8")
    del schema["properties"]["data"]["properties"]["signed_by"]
    (tmp_path / "schemas" / name).write_text(json.dumps(schema), encoding="utf-8")
    (tmp_path / "released" / "QuoteRejected.v1.json").write_text("{}", encoding="utf-8")
    report = compat.check_released(tmp_path)
    assert report == {
        name: ["data.signed_by: property removed"],
        "QuoteRejected.v1.json": ["event type removed"],
    }


# -- breaking_changes on small schemas ------------------------------------------------------


BASE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["repair_order_id", "lines"],
    "properties": {
        "repair_order_id": {"type": "string", "maxLength": 64},
        "mileage_km": {"type": "integer", "minimum": 0, "maximum": 2000000},
        "plate": {"type": "string"},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["pay_type"],
                "properties": {
                    "pay_type": {
                        "type": "string",
                        "enum": ["CUSTOMER_PAY", "WARRANTY", "INTERNAL"],
                    },
                    "amount": {"type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$"},
                },
            },
        },
    },
}


def changed(edit) -> list[str]:
    new = copy.deepcopy(BASE)
    edit(new)
    return breaking_changes(BASE, new)


def test_identical_schemas_are_compatible():
    assert breaking_changes(BASE, copy.deepcopy(BASE)) == []


def test_a_new_optional_property_is_compatible():
    def edit(s):
        s["properties"]["fuel_level"] = {"type": "integer", "minimum": 0, "maximum": 100}
        s["properties"]["lines"]["items"]["properties"]["discount"] = {"type": "string"}

    assert changed(edit) == []


def test_looser_constraints_are_compatible():
    def edit(s):
        s["properties"]["repair_order_id"]["maxLength"] = 128
        s["properties"]["mileage_km"]["minimum"] = -1
        s["properties"]["lines"]["items"]["properties"]["pay_type"]["enum"].append("GOODWILL")
        del s["properties"]["lines"]["items"]["properties"]["amount"]["pattern"]
        s["required"].remove("lines")

    assert changed(edit) == []


def test_removing_a_property_breaks():
    assert changed(lambda s: s["properties"].pop("plate")) == ["plate: property removed"]


def test_renaming_a_property_breaks():
    def edit(s):
        s["properties"]["licence_plate"] = s["properties"].pop("plate")

    assert changed(edit) == ["plate: property removed"]


def test_renaming_a_required_property_reports_both_halves():
    def edit(s):
        s["properties"]["ro_id"] = s["properties"].pop("repair_order_id")
        s["required"] = ["ro_id", "lines"]

    assert changed(edit) == ["repair_order_id: property removed", "ro_id: new required property"]


def test_changing_a_type_breaks():
    def edit(s):
        s["properties"]["mileage_km"]["type"] = "string"

    assert changed(edit) == ["mileage_km: type changed from integer to string"]


def test_widening_integer_to_number_is_compatible():
    def edit(s):
        s["properties"]["mileage_km"]["type"] = "number"

    assert changed(edit) == []


def test_making_an_optional_property_required_breaks():
    def edit(s):
        s["required"].append("plate")

    assert changed(edit) == ["plate: optional property made required"]


def test_narrowing_an_enum_breaks_even_when_nested_in_array_items():
    def edit(s):
        s["properties"]["lines"]["items"]["properties"]["pay_type"]["enum"].remove("INTERNAL")

    assert changed(edit) == ["lines[].pay_type: enum narrowed, removed 'INTERNAL'"]


def test_adding_or_changing_a_pattern_breaks():
    def edit(s):
        s["properties"]["plate"]["pattern"] = "^[A-Z0-9]+$"
        s["properties"]["lines"]["items"]["properties"]["amount"]["pattern"] = "^[0-9]+$"

    assert changed(edit) == [
        "plate: pattern added: '^[A-Z0-9]+$'",
        "lines[].amount: pattern changed: '^[0-9]+$'",
    ]


def test_lowering_a_maximum_or_raising_a_minimum_breaks():
    def edit(s):
        s["properties"]["mileage_km"]["maximum"] = 999999
        s["properties"]["mileage_km"]["minimum"] = 1
        s["properties"]["repair_order_id"]["maxLength"] = 32

    assert changed(edit) == [
        "repair_order_id: maxLength lowered from 64 to 32",
        "mileage_km: maximum lowered from 2000000 to 999999",
        "mileage_km: minimum raised from 0 to 1",
    ]


def test_closing_an_open_object_breaks():
    old = {"type": "object", "properties": {"a": {"type": "string"}}}
    new = {**old, "additionalProperties": False}
    assert breaking_changes(old, new) == ["(root): additional properties no longer allowed"]


def test_a_new_cross_field_rule_breaks():
    def edit(s):
        s["allOf"] = [{"anyOf": [{"required": ["plate"]}, {"required": ["mileage_km"]}]}]

    assert changed(edit) == ["(root): allOf added"]


def test_a_new_const_breaks():
    def edit(s):
        s["properties"]["plate"]["const"] = "京A12345"

    assert changed(edit) == ["plate: const added: '京A12345'"]


def test_a_property_forbidden_by_a_false_schema_breaks():
    def edit(s):
        s["properties"]["plate"] = False

    assert changed(edit) == ["plate: now forbidden"]
