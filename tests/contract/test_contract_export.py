"""The published files are generated from the marshmallow schemas and kept in step with them."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator

from contracts import CONTRACTS, export
from tests.contract.test_contract_invalid_events import REJECTED

ALL = sorted(CONTRACTS.values(), key=lambda c: c.type)
IDS = [c.type for c in ALL]


def test_published_files_equal_what_export_generates():
    # If this fails: run `python -m contracts.export` and commit the result.
    assert export.stale_files() == []


def test_check_mode_lists_the_files_that_differ(tmp_path, package_dir, capsys):
    copy = tmp_path / "contracts"
    shutil.copytree(package_dir, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "schemas" / "QuoteApproved.v1.json").write_text("{}\n", encoding="utf-8")
    (copy / "schemas" / "QuoteRejected.v1.json").write_text("{}\n", encoding="utf-8")
    (copy / "asyncapi.yaml").unlink()
    assert export.stale_files(copy) == [
        "asyncapi.yaml",
        "schemas/QuoteApproved.v1.json",
        "schemas/QuoteRejected.v1.json",
    ]
    assert export.main(["--check"], base=copy) == 1
    assert "contracts/schemas/QuoteApproved.v1.json" in capsys.readouterr().out
    # Writing brings everything back except the left-over file, which is for a human to delete.
    assert export.main([], base=copy) == 0
    assert export.stale_files(copy) == ["schemas/QuoteRejected.v1.json"]


def test_check_mode_passes_on_the_repository():
    assert export.main(["--check"]) == 0


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_schema_files_are_valid_draft_2020_12(contract, package_dir):
    schema = json.loads((package_dir / contract.schema_file).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["type"] == {
        "const": contract.type,
        "description": "Event type; also the AMQP routing key.",
        "type": "string",
    }
    assert schema["properties"]["data"]["$id"] == contract.dataschema


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_schema_files_are_commit_ready(contract, package_dir):
    text = (package_dir / contract.schema_file).read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_every_object_is_closed(contract, package_dir):
    schema = json.loads((package_dir / contract.schema_file).read_text(encoding="utf-8"))

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node["additionalProperties"] is False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)


def test_validators_map_to_json_schema_keywords(package_dir):
    schema = json.loads((package_dir / "schemas/RepairOrderOpened.v1.json").read_text("utf-8"))
    data = schema["properties"]["data"]
    assert data["properties"]["vin"]["pattern"] == "^[A-HJ-NPR-Z0-9]{17}$"
    fuel = {"type": "integer", "minimum": 0, "maximum": 100}
    assert data["properties"]["fuel_level"].items() >= fuel.items()
    assert data["properties"]["concerns"]["maxItems"] == 20
    assert data["properties"]["plate"]["minLength"] == 2
    assert "promised_at" not in data["required"] and "vin" in data["required"]
    assert schema["required"] == sorted(
        [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "dataschema",
            "dealercode",
            "sequence",
            "correlationid",
            "data",
        ]
    )


def test_an_unmapped_field_type_is_an_error_not_a_silent_gap():
    from marshmallow import fields

    with pytest.raises(TypeError):
        export.field_schema(fields.Float())


# -- AsyncAPI ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asyncapi(package_dir):
    return yaml.safe_load((package_dir / "asyncapi.yaml").read_text(encoding="utf-8"))


def test_asyncapi_is_version_2_6_0(asyncapi):
    assert asyncapi["asyncapi"] == "2.6.0"
    assert asyncapi["defaultContentType"] == "application/cloudevents+json"
    assert set(asyncapi["channels"]) == set(CONTRACTS)


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_asyncapi_channel_routes_like_the_contract(contract, asyncapi, package_dir):
    channel = asyncapi["channels"][contract.type]  # the channel name is the routing key
    amqp = channel["bindings"]["amqp"]
    assert amqp["is"] == "routingKey" and amqp["bindingVersion"] == "0.2.0"
    exchange = {"name": contract.exchange, "type": "topic", "durable": True, "autoDelete": False}
    assert amqp["exchange"].items() >= exchange.items()
    assert "vhost" in amqp["exchange"]
    message = channel["subscribe"]["message"]
    assert message["contentType"] == "application/cloudevents+json"
    assert message["bindings"]["amqp"]["messageType"] == contract.type
    assert message["messageId"] == contract.type
    assert message["payload"]["properties"]["type"]["const"] == contract.type


# AsyncAPI tools (the parser, Studio, the generators) check payloads in AsyncAPI's own schema
# format or JSON Schema draft-07/06/04; a draft 2020-12 payload they report as "no schema parser
# registered" and leave unchecked. So the document carries each envelope schema in draft-07.

ASYNCAPI_2_6_0 = json.loads(
    (Path(__file__).parent / "asyncapi-2.6.0" / "schema.json").read_text(encoding="utf-8"))
DRAFT_2020_12_ONLY = {"$defs", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary",
                      "prefixItems", "unevaluatedProperties", "unevaluatedItems",
                      "dependentSchemas", "dependentRequired", "minContains", "maxContains"}


def keywords(node) -> set[str]:
    """Every keyword used anywhere in a schema (property names excluded)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            if key == "properties":
                for sub in value.values():
                    found |= keywords(sub)
            else:
                found |= keywords(value)
    elif isinstance(node, list):
        for item in node:
            found |= keywords(item)
    return found


def test_the_document_is_a_valid_asyncapi_2_6_0_document(asyncapi):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
              for e in Draft7Validator(ASYNCAPI_2_6_0).iter_errors(asyncapi)]
    assert not errors, errors


def test_the_asyncapi_check_looks_into_the_payloads(asyncapi):
    # The same check, on a copy whose payload breaks draft-07: it must fail, or the test above
    # proves nothing about the payloads.
    broken = copy.deepcopy(asyncapi)
    message = broken["channels"]["aftersales.StockLow.v1"]["subscribe"]["message"]
    message["payload"]["properties"]["sequence"]["minimum"] = "one"
    assert list(Draft7Validator(ASYNCAPI_2_6_0).iter_errors(broken))


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_asyncapi_payloads_are_draft_07_schemas_of_the_envelope(contract, asyncapi):
    message = asyncapi["channels"][contract.type]["subscribe"]["message"]
    assert message["schemaFormat"] == "application/schema+json;version=draft-07"
    payload = message["payload"]
    Draft7Validator.check_schema(payload)
    assert payload["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert not keywords(payload) & DRAFT_2020_12_ONLY
    assert payload == export.draft_07(export.json_schema_for(contract))


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_a_draft_07_validator_accepts_every_example(contract, asyncapi, example_of):
    payload = asyncapi["channels"][contract.type]["subscribe"]["message"]["payload"]
    Draft7Validator(payload).validate(example_of(contract))


@pytest.mark.parametrize("case", REJECTED, ids=[c.id for c in REJECTED])
def test_a_draft_07_validator_rejects_what_the_package_rejects(case, asyncapi, example_of):
    # "price without currency" is dependentRequired in 2020-12, dependencies in draft-07.
    envelope = example_of(case.contract)
    case.mutate(envelope)
    payload = asyncapi["channels"][case.contract.type]["subscribe"]["message"]["payload"]
    assert list(Draft7Validator(payload).iter_errors(envelope))


def test_a_keyword_without_a_draft_07_form_stops_the_export():
    with pytest.raises(TypeError):
        export.draft_07({"type": "object", "unevaluatedProperties": False})
    assert export.draft_07({"dependentRequired": {"unit_price": ["currency"]}}) == {
        "dependencies": {"unit_price": ["currency"]}}
