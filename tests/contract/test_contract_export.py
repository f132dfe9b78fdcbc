"""The published files are generated from the marshmallow schemas and kept in step with them."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from jsonschema import Draft202012Validator

from contracts import CONTRACTS, export

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
    ref = message["payload"]["$ref"]
    assert ref == f"./{contract.schema_file}"
    payload = json.loads((package_dir / ref).read_text(encoding="utf-8"))
    assert payload["properties"]["type"]["const"] == contract.type
