"""The contract as a third party reads it: the published JSON Schema files, the event types they
define, and validation with `jsonschema` alone (no marshmallow).

This is what the `aftersales-contracts` wheel needs nothing else for. The platform's own
services validate with `contracts.validate_event` (marshmallow), which also checks the few rules
JSON Schema cannot express (each schema lists them in a `$comment`); the two accept the same
events otherwise, which the contract tests check on every example.

Two views of each event type:

* the full one, `schemas/<Name>.v<N>.json`: what the platform's services exchange;
* the partner view, `partner/<Name>.v<N>.json`: what a partner receives through a webhook,
  the same schema without the personal fields (`contracts.personal`), which are forbidden
  there rather than only optional, so a leak fails validation at the receiver too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from .errors import ContractViolation

FULL = "schemas"
PARTNER = "partner"


def _folder(view: str) -> Any:
    if view not in (FULL, PARTNER):
        raise ValueError(f"unknown view {view!r}: {FULL!r} or {PARTNER!r}")
    # importlib.resources rather than __file__: the schemas are package data, wherever and
    # however the package is installed.
    return resources.files(__package__) / view


@cache
def _index(view: str) -> dict[str, str]:
    """Event type -> file name, read from the files themselves (the `type` const)."""
    found: dict[str, str] = {}
    for entry in _folder(view).iterdir():
        if entry.name.endswith(".json"):
            schema = json.loads(entry.read_text(encoding="utf-8"))
            found[schema["properties"]["type"]["const"]] = entry.name
    return dict(sorted(found.items()))


def event_types(view: str = FULL) -> tuple[str, ...]:
    """Every published event type (``aftersales.QuoteApproved.v1``, ...), sorted; with
    ``view="partner"`` the types that have a partner view."""
    return tuple(_index(view))


@cache
def _schema_text(event_type: str, view: str) -> str:
    name = _index(view).get(event_type)
    if name is None:
        raise ContractViolation({"type": [f"Unknown event type {event_type!r}."]})
    return (_folder(view) / name).read_text(encoding="utf-8")


def json_schema(event_type: str, view: str = FULL) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one event type's whole envelope; a fresh copy."""
    return json.loads(_schema_text(event_type, view))


@cache
def _validator(event_type: str, view: str) -> Draft202012Validator:
    # FormatChecker asserts the formats it has a checker for (`date` is calendar-checked); the
    # patterns already pin down the rest.
    return Draft202012Validator(json_schema(event_type, view), format_checker=FormatChecker())


def validate_event(envelope: Mapping[str, Any], *, partner_view: bool = False) -> dict[str, Any]:
    """Validate an envelope against the published JSON Schema of its ``type``.

    ``partner_view=True`` checks it against the partner view: what a partner's webhook
    receives (personal fields removed, see `contracts.personal`). Returns a copy of the
    envelope. Raises :class:`contracts.ContractViolation` listing every problem by dotted
    path (``data.approved_lines.0.pay_type``), as the marshmallow check does.
    """
    if not isinstance(envelope, Mapping):
        raise ContractViolation({"_schema": ["An event envelope must be a JSON object."]})
    type_ = envelope.get("type")
    view = PARTNER if partner_view else FULL
    if not isinstance(type_, str) or type_ not in _index(view):
        raise ContractViolation({"type": [f"Unknown event type {type_!r}."]})
    try:
        document = json.loads(json.dumps(envelope, allow_nan=False))  # JSON types, a copy
    except (TypeError, ValueError) as exc:  # a Decimal, a datetime, NaN...: not JSON yet
        raise ContractViolation({"_schema": [f"Not a JSON document: {exc}."]}) from None
    errors: dict[str, list[str]] = {}
    validator = _validator(type_, view)
    for error in validator.iter_errors(document):
        for path, message in _describe(error, validator.schema, document):
            messages = errors.setdefault(path, [])
            if message not in messages:  # `required` reports once per missing property
                messages.append(message)
    if errors:
        raise ContractViolation(errors)
    return document


def _describe(error: ValidationError, schema: Any, document: Any) -> list[tuple[str, str]]:
    """One (path, message) per problem, keyed like marshmallow's: a missing or unknown
    property at its own path, not at the object that lacks or has it."""
    where = ".".join(str(part) for part in error.absolute_path)

    def at(name: str) -> str:
        return f"{where}.{name}" if where else name

    instance = error.instance
    if error.validator is None and error.schema is False:
        # A property forbidden by `name: false` (a labour line's part number). jsonschema
        # reports it at the object, without the name (its descend() returns before adding
        # it), so the names come from the `properties` it stopped at.
        names = _forbidden(error, schema, document)
        if names:
            return [(at(name), "Not allowed here.") for name in names]
    if error.validator == "required" and isinstance(instance, Mapping):
        return [(at(name), "Missing data for required field.")
                for name in error.validator_value if name not in instance]
    if error.validator == "dependentRequired" and isinstance(instance, Mapping):
        return [(at(need), f"Required when {name} is given.")
                for name, needs in error.validator_value.items() if name in instance
                for need in needs if need not in instance]
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        known = error.schema.get("properties", {})
        return [(at(name), "Unknown field.") for name in instance if name not in known]
    return [(where or "_schema", error.message)]


def _forbidden(error: ValidationError, schema: Any, document: Any) -> list[str]:
    node, obj = schema, document
    try:
        for key in error.absolute_schema_path:
            node = node[key]
        for key in error.absolute_path:
            obj = obj[key]
    except (KeyError, IndexError, TypeError):
        return []
    if not isinstance(node, Mapping) or not isinstance(obj, Mapping):
        return []
    return [name for name, sub in node.items() if sub is False and name in obj]
