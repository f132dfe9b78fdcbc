"""Every field of every event's data is classified personal or not (contracts.personal), and
what a partner receives (redact(), the partner view) holds none of the personal ones."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contracts import CONTRACTS, ContractViolation, published
from contracts.personal import (
    NOT_PERSONAL,
    PERSONAL,
    PERSONAL_SUBJECT,
    partner_view,
    personal_fields,
    redact,
    subject_is_personal,
)

ALL = sorted(CONTRACTS.values(), key=lambda c: c.type)
IDS = [c.type for c in ALL]
SHAREABLE = [c for c in ALL if c.type not in PERSONAL_SUBJECT]


def data_schema(package_dir, contract) -> dict[str, Any]:
    schema = json.loads((package_dir / contract.schema_file).read_text(encoding="utf-8"))
    return schema["properties"]["data"]


def schema_paths(node: dict[str, Any], prefix: str = "") -> tuple[set[str], set[str]]:
    """(leaf paths, object paths) of a data schema, in contracts.personal's notation."""
    leaves: set[str] = set()
    objects: set[str] = set()
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        items = sub.get("items") if sub.get("type") == "array" else None
        if sub.get("type") == "object" and "properties" in sub:
            objects.add(path)
            found = schema_paths(sub, path)
        elif isinstance(items, dict) and items.get("type") == "object":
            objects.add(path)
            found = schema_paths(items, f"{path}[]")
        else:
            leaves.add(path)
            continue
        leaves |= found[0]
        objects |= found[1]
    return leaves, objects


def under(path: str, ancestors: frozenset[str]) -> bool:
    """Whether `path` is one of `ancestors` or lies below one (a.b below a, a[].b below a)."""
    return any(path == a or path.startswith((f"{a}.", f"{a}[].")) for a in ancestors)


# -- the classification ------------------------------------------------------------------------


def test_both_tables_name_exactly_the_registered_event_types():
    assert set(PERSONAL) == set(NOT_PERSONAL) == set(CONTRACTS)


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_every_field_of_the_schema_is_classified(contract, package_dir):
    leaves, objects = schema_paths(data_schema(package_dir, contract))
    personal, not_personal = PERSONAL[contract.type], NOT_PERSONAL[contract.type]
    unclassified = sorted(leaf for leaf in leaves
                          if leaf not in not_personal and not under(leaf, personal))
    assert not unclassified, (
        f"classify in contracts/personal.py (PERSONAL or NOT_PERSONAL["
        f"{contract.type!r}]): {unclassified}")


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_each_field_is_classified_once_and_every_entry_exists(contract, package_dir):
    leaves, objects = schema_paths(data_schema(package_dir, contract))
    personal, not_personal = PERSONAL[contract.type], NOT_PERSONAL[contract.type]
    assert not [p for p in not_personal if under(p, personal)], "both personal and not"
    # Not personal: leaves only, so a field added to an object later is never let through.
    assert not_personal <= leaves, sorted(not_personal - leaves)
    assert personal <= leaves | objects, f"no such field: {sorted(personal - leaves - objects)}"


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_the_types_without_a_partner_view_are_those_whose_subject_is_personal(contract):
    assert subject_is_personal(contract.type) == under(contract.subject_field,
                                                      personal_fields(contract.type))


def test_what_the_readme_promises_is_personal():
    assert {"customer", "vehicle.plate", "pickup_address"} <= personal_fields(
        "aftersales.AppointmentBooked.v1")
    for contract in ALL:  # every customer id, wherever it appears
        leaves = NOT_PERSONAL[contract.type] | PERSONAL[contract.type]
        assert not {p for p in leaves if p.endswith("customer_id")} - PERSONAL[contract.type]
    assert "concerns[].description" in personal_fields("aftersales.RepairOrderOpened.v1")
    assert "quote_url" in personal_fields("aftersales.QuoteIssued.v1")  # acts as the owner
    assert "vin" not in personal_fields("aftersales.RepairOrderOpened.v1")  # see the module


def test_personal_fields_is_frozen_and_an_unknown_type_is_refused():
    assert isinstance(personal_fields("aftersales.QuoteApproved.v1"), frozenset)
    with pytest.raises(ContractViolation) as info:
        personal_fields("aftersales.QuoteRejected.v1")
    assert "type" in info.value.errors
    with pytest.raises(ContractViolation):
        redact("QuoteApproved", {})
    with pytest.raises(ContractViolation):
        redact("aftersales.QuoteApproved.v1", ["not", "an", "object"])  # type: ignore[arg-type]


# -- redact() ------------------------------------------------------------------------------


def values_at(data: Any, path: str) -> list[Any]:
    """Every value at `path` in `data` (arrays of objects walked), leaves below objects too."""
    node: list[Any] = [data]
    for part in path.split("."):
        many, name = part.endswith("[]"), part.removesuffix("[]")
        node = [n[name] for n in node if isinstance(n, dict) and name in n]
        if many:
            node = [item for n in node for item in n]
    out: list[Any] = []

    def leaves(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                leaves(v)
        elif isinstance(value, list):
            for v in value:
                leaves(v)
        else:
            out.append(value)

    for value in node:
        leaves(value)
    return out


def plant(data: dict[str, Any], path: str, value: str) -> None:
    """Put `value` at `path`, making the objects and one-item arrays on the way."""
    parts = path.split(".")
    nodes = [data]
    for part in parts[:-1]:
        many, name = part.endswith("[]"), part.removesuffix("[]")
        nxt = []
        for node in nodes:
            if many:
                items = node.setdefault(name, [])
                if not items:
                    items.append({})
                nxt += [item for item in items if isinstance(item, dict)]
            else:
                nxt.append(node.setdefault(name, {}))
        nodes = nxt
    for node in nodes:
        node[parts[-1].removesuffix("[]")] = value


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_redacting_the_example_removes_every_personal_value(contract, example_of):
    data = example_of(contract)["data"]
    before = copy.deepcopy(data)
    secrets = [v for path in personal_fields(contract.type) for v in values_at(data, path)]
    redacted = redact(contract.type, data)
    assert data == before, "redact() changed its argument"
    text = json.dumps(redacted, ensure_ascii=False)
    for value in secrets:
        assert isinstance(value, str), value  # personal values are text: scanned as text
        assert value not in text, f"{value!r} survived redaction"
    # Nothing else is lost: every not-personal value of the example is still there.
    for path in NOT_PERSONAL[contract.type]:
        assert values_at(redacted, path) == values_at(data, path), path


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_every_personal_field_is_removed_even_where_the_example_leaves_it_out(
        contract, example_of, package_dir):
    # The examples do not fill every optional field: plant a marker in each personal one.
    data = example_of(contract)["data"]
    leaves, _ = schema_paths(data_schema(package_dir, contract))
    planted = [leaf for leaf in sorted(leaves) if under(leaf, PERSONAL[contract.type])]
    for n, leaf in enumerate(planted):
        plant(data, leaf, f"PERSONAL-{n}-王磊")
    text = json.dumps(redact(contract.type, data), ensure_ascii=False)
    assert "PERSONAL-" not in text and "王磊" not in text


def test_a_field_nobody_has_classified_is_not_forwarded(example_of):
    # A producer newer than this package (a field added since): dropped, not passed on.
    data = example_of(CONTRACTS["aftersales.AppointmentBooked.v1"])["data"]
    data["customer_email"] = "wang.lei@example.cn"
    data["vehicle"]["owner_id_card"] = "110101199003071234"
    redacted = redact("aftersales.AppointmentBooked.v1", data)
    assert "customer_email" not in redacted
    assert redacted["vehicle"] == {"vin": data["vehicle"]["vin"], "model": data["vehicle"]["model"]}
    assert "customer" not in redacted  # every member of it is personal


def test_personal_text_in_array_items_goes_and_the_rest_of_the_item_stays(example_of):
    data = example_of(CONTRACTS["aftersales.RepairOrderOpened.v1"])["data"]
    redacted = redact("aftersales.RepairOrderOpened.v1", data)
    assert redacted["concerns"] == [{"code": "BRAKE_NOISE"}, {}]
    inspection = example_of(CONTRACTS["aftersales.InspectionUploaded.v1"])["data"]
    items = redact("aftersales.InspectionUploaded.v1", inspection)["items"]
    assert [sorted(i) for i in items] == [["code", "name", "photos", "status"]] * 4
    assert items[0]["photos"] == inspection["items"][0]["photos"]


def test_a_shape_other_than_the_schemas_is_dropped_not_copied():
    redacted = redact("aftersales.RepairOrderOpened.v1", {
        "concerns": "刹车异响，王先生 13812345678", "vin": "LSVAU2187N2183740"})
    assert redacted == {"vin": "LSVAU2187N2183740"}


# -- the partner view ---------------------------------------------------------------------


def test_a_partner_view_is_published_for_every_type_but_those_with_a_personal_subject(
        package_dir):
    assert published.event_types("partner") == tuple(c.type for c in SHAREABLE)
    for contract in ALL:
        assert (package_dir / contract.partner_file).is_file() == (contract in SHAREABLE)
    with pytest.raises(ValueError):
        partner_view("aftersales.ConsentChanged.v1",
                     published.json_schema("aftersales.ConsentChanged.v1"))


@pytest.mark.parametrize("contract", SHAREABLE, ids=[c.type for c in SHAREABLE])
def test_the_partner_view_holds_exactly_the_fields_that_are_not_personal(contract, package_dir):
    view = json.loads((package_dir / contract.partner_file).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(view)
    leaves, _ = schema_paths(view["properties"]["data"])
    assert leaves == set(NOT_PERSONAL[contract.type])
    full = published.json_schema(contract.type)
    assert {k: v for k, v in view["properties"].items() if k != "data"} == \
        {k: v for k, v in full["properties"].items() if k != "data"}  # the envelope as is


@pytest.mark.parametrize("contract", SHAREABLE, ids=[c.type for c in SHAREABLE])
def test_the_redacted_example_validates_against_the_partner_view(contract, example_of):
    envelope = example_of(contract)
    envelope["data"] = redact(contract.type, envelope["data"])
    assert published.validate_event(envelope, partner_view=True) == envelope


@pytest.mark.parametrize("contract", SHAREABLE, ids=[c.type for c in SHAREABLE])
def test_the_partner_view_refuses_an_event_that_still_holds_personal_data(contract, example_of):
    envelope = example_of(contract)
    present = {path for path in personal_fields(contract.type)
               if values_at(envelope["data"], path)}
    if not present:  # nothing to refuse: the example is its own partner view
        assert published.validate_event(envelope, partner_view=True) == envelope
        return
    with pytest.raises(ContractViolation) as info:
        published.validate_event(envelope, partner_view=True)
    for path in present:
        top = path.split(".")[0].split("[]")[0]
        assert any(key.startswith(f"data.{top}") for key in info.value.errors), info.value.errors


def test_rules_that_mention_a_personal_field_are_dropped_and_the_others_kept(example_of):
    # Vehicle: plate or VIN. A car known by its plate alone redacts to one with neither.
    booked = example_of(CONTRACTS["aftersales.AppointmentBooked.v1"])
    del booked["data"]["vehicle"]["vin"]
    booked["data"] = redact(booked["type"], booked["data"])
    published.validate_event(booked, partner_view=True)
    # A failed check requires its reason, which is personal free text: not in the partner view.
    check = example_of(CONTRACTS["aftersales.QualityCheckCompleted.v1"])
    check["data"] = redact(check["type"], check["data"])
    assert "reason" not in check["data"] and check["data"]["passed"] is False
    published.validate_event(check, partner_view=True)
    # A labour line still may not carry a part number.
    quote = example_of(CONTRACTS["aftersales.QuoteApproved.v1"])
    quote["data"] = redact(quote["type"], quote["data"])
    quote["data"]["approved_lines"][0]["part_number"] = "06L115562B"
    with pytest.raises(ContractViolation) as info:
        published.validate_event(quote, partner_view=True)
    assert "data.approved_lines.0.part_number" in info.value.errors
