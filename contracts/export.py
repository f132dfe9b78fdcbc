"""Generate the published files from the marshmallow schemas.

    python -m contracts.export            write schemas/*.json, partner/*.json, asyncapi.yaml
    python -m contracts.export --check    exit 1, listing files that differ (CI)
    python -m contracts.export --release  also copy schemas not yet in released/

The JSON Schema converter covers exactly the field types and validators used in
``contracts.fields``; anything else is an error, so a new field type cannot be
published with a silently wrong schema.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, fields, validate

from . import __version__, personal
from .contract import EventContract
from .envelope import envelope_schema
from .fields import MatchingAny, OneOfOrMatching, Pattern, Rule, StrictBoolean, StrictInteger
from .registry import CONTRACTS
from .wire import CONTENT_ENCODING, CONTENT_TYPE

PACKAGE_DIR = Path(__file__).resolve().parent
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE = "asyncapi.yaml"
# AsyncAPI 2.x tools check a payload in the formats their parser knows: AsyncAPI's own schema
# (a superset of draft-07) and JSON Schema draft-07 (also 04 and 06). A draft 2020-12 payload
# they leave unchecked, so the AsyncAPI document carries each envelope schema in draft-07.
DRAFT_07_DIALECT = "http://json-schema.org/draft-07/schema#"
ASYNCAPI_SCHEMA_FORMAT = "application/schema+json;version=draft-07"


# -- marshmallow -> JSON Schema -----------------------------------------------------------------


def _validator_keywords(validator: Any, kind: str) -> dict[str, Any]:
    if isinstance(validator, validate.Length):
        if validator.equal is not None:
            low = high = validator.equal
        else:
            low, high = validator.min, validator.max
        prefix = "Items" if kind == "array" else "Length"
        out = {}
        if low is not None:
            out[f"min{prefix}"] = low
        if high is not None:
            out[f"max{prefix}"] = high
        return out
    if isinstance(validator, validate.Range):
        out = {}
        if validator.min is not None:
            out["minimum" if validator.min_inclusive else "exclusiveMinimum"] = validator.min
        if validator.max is not None:
            out["maximum" if validator.max_inclusive else "exclusiveMaximum"] = validator.max
        return out
    if isinstance(validator, validate.OneOf):
        return {"enum": list(validator.choices)}
    if isinstance(validator, OneOfOrMatching):
        return {"anyOf": [{"enum": list(validator.choices)}, {"pattern": validator.regex.pattern}]}
    if isinstance(validator, MatchingAny):
        return {"anyOf": [{"pattern": regex.pattern} for regex in validator.regexes]}
    if isinstance(validator, validate.Equal):
        return {"const": validator.comparable}
    if isinstance(validator, Pattern):  # plain Regexp uses re.match: not the same meaning
        return {"pattern": validator.regex.pattern}
    raise TypeError(f"no JSON Schema mapping for validator {validator!r}")


def field_schema(field: fields.Field) -> dict[str, Any]:
    """JSON Schema of one marshmallow field (as used in ``contracts.fields``)."""
    out: dict[str, Any]
    if isinstance(field, fields.Nested):
        nested = field.nested
        if not (isinstance(nested, type) and issubclass(nested, Schema)) or field.many:
            raise TypeError(f"unsupported Nested field {field!r}")
        out = object_schema(nested)
    elif isinstance(field, fields.List):
        out = {"type": "array", "items": field_schema(field.inner)}
    elif isinstance(field, StrictBoolean):
        out = {"type": "boolean"}
    elif isinstance(field, StrictInteger):
        out = {"type": "integer"}
    elif type(field) is fields.Dict:
        out = {"type": "object"}
    elif isinstance(field, fields.String) and not isinstance(field, (fields.UUID, fields.Url)):
        out = {"type": "string"}
    else:
        raise TypeError(f"no JSON Schema mapping for field {field!r}")
    out.update(getattr(field, "json_schema", {}))
    kind = out.get("type", "")
    for validator in field.validators:
        out.update(_validator_keywords(validator, kind))
    if field.allow_none:
        out["type"] = [kind, "null"]
    description = field.metadata.get("description")
    if description:
        out["description"] = description
    out.update(field.metadata.get("json_schema", {}))
    return out


def object_schema(schema: type[Schema]) -> dict[str, Any]:
    """JSON Schema of a marshmallow schema: closed object, required list, cross-field rules."""
    instance = schema()
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in instance.load_fields.items():
        key = field.data_key or name
        properties[key] = field_schema(field)
        if field.required:
            required.append(key)
    out: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        out["required"] = sorted(required)
    rules: Iterable[Rule] = getattr(schema, "rules", ())
    expressible = [s for s in (rule.json_schema() for rule in rules) if s is not None]
    if expressible:
        out["allOf"] = expressible
    comments = [rule.comment() for rule in rules if rule.json_schema() is None]
    if comments:
        out["$comment"] = "Also checked by the contracts package: " + " ".join(comments)
    return out


def json_schema_for(contract: EventContract) -> dict[str, Any]:
    """The JSON Schema of the whole envelope of one event type, ``data`` inlined."""
    body = object_schema(envelope_schema(contract))
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:aftersales:event:{contract.name}:v{contract.version}",
        "title": f"{contract.name} v{contract.version}",
        "description": f"{contract.summary} Producer: {contract.producer}; "
        f"routing key {contract.type} on exchange {contract.exchange}.",
        **body,
    }


def partner_schema_for(contract: EventContract) -> dict[str, Any] | None:
    """The partner view of one event type (`contracts.personal.partner_view`); None for a type
    whose subject is a customer id, which no partner gets."""
    if personal.subject_is_personal(contract.type):
        return None
    return personal.partner_view(contract.type, json_schema_for(contract))


# -- draft 2020-12 -> draft-07 ----------------------------------------------------------------

# Keywords whose value is a map of names to subschemas, or one subschema, or a list of them.
_SCHEMA_MAPS = ("properties", "patternProperties")
_SUBSCHEMAS = ("items", "additionalProperties", "not", "if", "then", "else", "contains",
               "propertyNames")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
# 2020-12 keywords draft-07 lacks. None is used today; a schema that starts using one fails
# the export, rather than publishing a draft-07 document that means something else.
_NOT_IN_DRAFT_07 = frozenset({"$defs", "$anchor", "$dynamicRef", "$dynamicAnchor",
                              "$vocabulary", "prefixItems", "unevaluatedProperties",
                              "unevaluatedItems", "dependentSchemas", "minContains",
                              "maxContains"})


def draft_07(schema: Any) -> Any:
    """The same schema in JSON Schema draft-07: ``$schema`` says so and ``dependentRequired``
    is written as draft-07's ``dependencies`` (same meaning for lists of names). Everything
    else our schemas use (``const``, ``if``/``then``, ``format``, ``$comment``) is draft-07
    already."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _NOT_IN_DRAFT_07:
            raise TypeError(f"no draft-07 form for {key!r}")
        if key == "$schema":
            out[key] = DRAFT_07_DIALECT
        elif key == "dependentRequired":
            out["dependencies"] = dict(value)
        elif key in _SCHEMA_MAPS:
            out[key] = {name: draft_07(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMAS:
            out[key] = draft_07(value)
        elif key in _SCHEMA_LISTS:
            out[key] = [draft_07(sub) for sub in value]
        else:
            out[key] = value
    return out


# -- AsyncAPI ---------------------------------------------------------------------------------


def _vhost(contract: EventContract) -> str:
    # Each dealer site has its own vhost (site-D001, …; a broker of its own in production);
    # links forward its exchanges to headquarters, whose services publish on the "hq" vhost.
    return "site-{dealerCode}" if contract.at_dealer_site else "hq"


def _channel(contract: EventContract) -> dict[str, Any]:
    return {
        "description": f"{contract.summary} Routing key {contract.type} "
        f"on exchange {contract.exchange}.",
        "servers": ["dealer-site", "oem"] if contract.at_dealer_site else ["oem"],
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": contract.exchange,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": _vhost(contract),
                },
                "bindingVersion": "0.2.0",
            }
        },
        "subscribe": {
            "operationId": f"on{contract.name}V{contract.version}",
            "summary": contract.summary,
            "tags": [{"name": contract.producer}],
            "message": {
                "messageId": contract.type,
                "name": contract.type,
                "title": f"{contract.name} v{contract.version}",
                "summary": contract.summary,
                "contentType": CONTENT_TYPE,
                "schemaFormat": ASYNCAPI_SCHEMA_FORMAT,
                "correlationId": {
                    "description": "Appointment or repair order id the event belongs to.",
                    "location": "$message.payload#/correlationid",
                },
                "headers": {
                    "type": "object",
                    "description": "AMQP headers set by the publisher (nameko call-id stack, "
                    "tracing). Not part of the contract: everything a consumer needs is in the "
                    "payload.",
                },
                "bindings": {
                    "amqp": {
                        "contentEncoding": CONTENT_ENCODING,
                        "messageType": contract.type,
                        "bindingVersion": "0.2.0",
                    }
                },
                # Inline rather than a $ref to schemas/: the document stands alone (a tool
                # given only this file checks every payload), and schemas/ stays 2020-12.
                "payload": draft_07(json_schema_for(contract)),
            },
        },
    }


def asyncapi_document() -> dict[str, Any]:
    contracts = sorted(CONTRACTS.values(), key=lambda c: c.type)
    return {
        "asyncapi": "2.6.0",
        "id": "urn:aftersales:events",
        "info": {
            "title": "After-sales platform events",
            "version": __version__,
            "description": (
                "Events published by the dealer-site services (booking, workorder, parts) and "
                "the headquarters services (crm, notify). Every message is a CloudEvents 1.0 "
                "envelope in structured JSON mode. Each service publishes to its own topic "
                "exchange <service>.events with the event type as routing key; an incompatible "
                "change is published under a new type (...v2) alongside the old one."
            ),
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        },
        "tags": [
            {"name": producer, "description": f"Events of the {producer} service."}
            for producer in sorted({c.producer for c in contracts})
        ],
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "dealer-site": {
                "url": "{host}:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ of one dealer site; its exchanges are shovelled to the "
                "OEM broker.",
                "variables": {"host": {"default": "localhost"}},
            },
            "oem": {
                "url": "{host}:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ at OEM headquarters (vhost hq); receives every dealer "
                "site's events.",
                "variables": {"host": {"default": "localhost"}},
            },
        },
        "channels": {c.type: _channel(c) for c in contracts},
    }


# -- files ------------------------------------------------------------------------------------


def render_json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_yaml(document: Any) -> str:
    header = "# Generated by `python -m contracts.export` from contracts/events.py. Do not edit.\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def generated_files() -> dict[str, str]:
    """Path relative to the package dir -> exact file content."""
    files = {c.schema_file: render_json(json_schema_for(c)) for c in CONTRACTS.values()}
    for contract in CONTRACTS.values():
        partner_view = partner_schema_for(contract)
        if partner_view is not None:
            files[contract.partner_file] = render_json(partner_view)
    files[ASYNCAPI_FILE] = render_yaml(asyncapi_document())
    return dict(sorted(files.items()))


def stale_files(base: Path | None = None) -> list[str]:
    """Files that differ from what would be generated, are missing, or are left over."""
    base = base or PACKAGE_DIR
    expected = generated_files()
    out = [
        rel
        for rel, text in expected.items()
        if not (base / rel).is_file() or (base / rel).read_text(encoding="utf-8") != text
    ]
    out += [
        f"{folder}/{p.name}"
        for folder in ("schemas", "partner")
        for p in sorted((base / folder).glob("*.json"))
        if f"{folder}/{p.name}" not in expected
    ]
    return sorted(out)


def write_files(base: Path | None = None) -> list[str]:
    base = base or PACKAGE_DIR
    written = []
    for rel, text in generated_files().items():
        path = base / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(rel)
    return written


def release_new(base: Path | None = None) -> list[str]:
    """Freeze schemas not released yet. A released file is never overwritten."""
    base = base or PACKAGE_DIR
    frozen = []
    for contract in sorted(CONTRACTS.values(), key=lambda c: c.type):
        target = base / contract.released_file
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render_json(json_schema_for(contract)), encoding="utf-8")
            frozen.append(contract.released_file)
    return frozen


def main(argv: list[str] | None = None, *, base: Path | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.export", description=__doc__.split("\n\n")[0]
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--check", action="store_true", help="exit 1 if any generated file is out of date"
    )
    group.add_argument(
        "--release", action="store_true", help="also freeze new schemas into released/"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(base)
        for rel in stale:
            print(f"out of date: contracts/{rel}")
        if stale:
            print("run: python -m contracts.export", file=sys.stderr)
            return 1
        return 0
    for rel in write_files(base):
        print(f"wrote contracts/{rel}")
    if args.release:
        for rel in release_new(base):
            print(f"released contracts/{rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
