"""Building blocks of the event schemas.

Every field type and rule here knows its JSON Schema counterpart (see ``contracts.export``),
so the marshmallow schemas stay the single source of truth and the published JSON Schemas
accept and reject the same payloads. Patterns are written in the subset shared by Python
and ECMA-262 (``[0-9]`` rather than ``\\d``), because third parties validate with the
JSON Schema in other languages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .vocabulary import (  # noqa: F401  (the patterns, re-exported for the schemas' users)
    CODE,
    DEALER_CODE,
    HOURS,
    HTTPS_URL,
    ID,
    MAX_OWNER_LINK_LENGTH,
    MONEY,
    OWNER_LINK_URLS,
    PART_NUMBER,
    PHONE,
    POSITIVE_QUANTITY,
    QUANTITY,
    SHA256,
    UUID,
    VIN,
)

_DAY = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
TIMESTAMP = (
    rf"^{_DAY}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{{1,6}})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
_NAIVE_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$"
)
DATE = rf"^{_DAY}$"


class Pattern(validate.Regexp):
    """``Regexp`` with full-match semantics: Python's ``$`` also matches before a trailing
    newline, ECMA-262's does not, and the JSON Schema must mean the same thing."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class OneOfOrMatching(validate.Validator):
    """One of ``choices``, or else a full match of ``regex``: a value set that also takes a
    family of values (``partner:<id>`` next to ``SERVICE`` and ``MARKETING``). Published as
    ``anyOf: [{enum: choices}, {pattern: regex}]``, which ``contracts.compat`` takes as a
    widening of the plain enum it replaces."""

    def __init__(self, choices: Iterable[str], regex: str, *, error: str) -> None:
        self.choices = tuple(choices)
        self.regex = re.compile(regex)
        self.error = error

    def __call__(self, value: Any) -> Any:
        if value in self.choices or (
            isinstance(value, str) and self.regex.fullmatch(value) is not None
        ):
            return value
        raise ValidationError(self.error)


class MatchingAny(validate.Validator):
    """A full match of any one of ``regexes``: a pattern widened by another family of values
    (https links, and http ones on loopback). Published as ``anyOf: [{pattern: a}, {pattern:
    b}]``, which ``contracts.compat`` takes as a widening of the plain ``pattern`` it replaces
    when one branch is that pattern unchanged."""

    def __init__(self, regexes: Iterable[str], *, error: str) -> None:
        self.regexes = tuple(re.compile(regex) for regex in regexes)
        self.error = error

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str) and any(r.fullmatch(value) is not None for r in self.regexes):
            return value
        raise ValidationError(self.error)


# -- field types --------------------------------------------------------------------------


class StrictInteger(fields.Integer):
    """A JSON integer; rejects booleans, floats and numeric strings."""

    def _validated(self, value: Any) -> int:
        if type(value) is not int:
            raise self.make_error("invalid", input=value)
        return value


class StrictBoolean(fields.Boolean):
    """JSON ``true``/``false`` only (marshmallow's Boolean also takes "yes", 1, "on")."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value


class Timestamp(fields.String):
    """RFC 3339 date-time with a UTC offset, kept as the producer wrote it."""

    json_schema: ClassVar[dict[str, Any]] = {"format": "date-time", "pattern": TIMESTAMP}
    default_error_messages = {
        "timestamp": "Not a valid RFC 3339 timestamp, e.g. 2025-03-18T09:30:00+08:00.",
        "naive": "Naive timestamp: a UTC offset such as +08:00 or Z is required.",
    }
    _regex = re.compile(TIMESTAMP)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self._regex.fullmatch(text):
            raise self.make_error("naive" if _NAIVE_TIMESTAMP.fullmatch(text) else "timestamp")
        try:
            datetime.fromisoformat(text)
        except ValueError as exc:  # e.g. 2025-02-30
            raise self.make_error("timestamp") from exc
        return text


class Day(fields.String):
    """A calendar date, ``YYYY-MM-DD``."""

    json_schema: ClassVar[dict[str, Any]] = {"format": "date", "pattern": DATE}
    default_error_messages = {"date": "Not a valid date, e.g. 2025-09-30."}
    _regex = re.compile(DATE)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            if not self._regex.fullmatch(text):
                raise ValueError(text)
            date.fromisoformat(text)
        except ValueError as exc:
            raise self.make_error("date") from exc
        return text


# -- field factories ----------------------------------------------------------------------
# Every factory takes `required` (default True) and an optional `description` that ends up
# in the JSON Schema and the AsyncAPI document.


def _meta(description: str | None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if description:
        meta["description"] = description
    if extra:
        meta["json_schema"] = dict(extra)
    return meta


def text(
    max_length: int, *, required: bool = True, description: str | None = None
) -> fields.String:
    return fields.String(
        required=required,
        validate=validate.Length(min=1, max=max_length),
        metadata=_meta(description),
    )


def matching(
    regex: str,
    error: str,
    *,
    required: bool = True,
    description: str | None = None,
    max_length: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> fields.String:
    validators: list[Any] = [Pattern(regex, error=error)]
    if max_length is not None:
        validators.insert(0, validate.Length(max=max_length))
    return fields.String(required=required, validate=validators, metadata=_meta(description, extra))


def ident(*, required: bool = True, description: str | None = None) -> fields.String:
    return matching(
        ID,
        "Not a valid id: 1-64 characters A-Z a-z 0-9 . _ : - starting with a letter or digit.",
        required=required,
        description=description,
    )


def dealer_code(
    *, required: bool = True, description: str | None = "Dealer code (经销商代码)."
) -> fields.String:
    return matching(
        DEALER_CODE,
        "Not a valid dealer code: 2-12 characters A-Z 0-9.",
        required=required,
        description=description,
    )


def vin(
    *, required: bool = True, description: str | None = "Vehicle identification number (车架号)."
) -> fields.String:
    return matching(
        VIN,
        "Not a valid VIN: 17 characters A-Z (no I, O, Q) and 0-9.",
        required=required,
        description=description,
    )


def plate(
    *, required: bool = True, description: str | None = "Licence plate (车牌号), e.g. 京A12345."
) -> fields.String:
    return fields.String(
        required=required, validate=validate.Length(min=2, max=16), metadata=_meta(description)
    )


def phone(*, required: bool = True, description: str | None = None) -> fields.String:
    return matching(
        PHONE,
        "Not a valid phone number: digits, optionally starting with +.",
        required=required,
        description=description,
    )


def money(*, required: bool = True, description: str | None = None) -> fields.String:
    return matching(
        MONEY,
        'Not a valid amount: a non-negative decimal string with 2 decimals, e.g. "368.00".',
        required=required,
        description=description,
    )


def quantity(
    *, positive: bool = True, required: bool = True, description: str | None = None
) -> fields.String:
    if positive:
        return matching(
            POSITIVE_QUANTITY,
            'Not a valid quantity: a positive decimal string, e.g. "1" or "4.5".',
            required=required,
            description=description,
        )
    return matching(
        QUANTITY,
        'Not a valid quantity: a non-negative decimal string, e.g. "0" or "4.5".',
        required=required,
        description=description,
    )


def hours(*, required: bool = True, description: str | None = None) -> fields.String:
    return matching(
        HOURS,
        'Not valid hours: a non-negative decimal string with up to 2 decimals, e.g. "1.5".',
        required=required,
        description=description,
    )


def code(*, required: bool = True, description: str | None = None) -> fields.String:
    return matching(
        CODE,
        "Not a valid code: 1-32 characters A-Z 0-9 _ . - starting with A-Z or 0-9.",
        required=required,
        description=description,
    )


def part_number(
    *, required: bool = True, description: str | None = "OEM part number (零件号)."
) -> fields.String:
    return matching(
        PART_NUMBER,
        "Not a valid part number: 2-40 characters A-Z 0-9 . - (no spaces).",
        required=required,
        description=description,
    )


def sha256(*, required: bool = True, description: str | None = None) -> fields.String:
    return matching(
        SHA256,
        "Not a valid SHA-256: 64 lowercase hex digits.",
        required=required,
        description=description,
    )


def https_url(*, required: bool = True, description: str | None = None) -> fields.String:
    return matching(
        HTTPS_URL,
        "Not a valid https URL.",
        required=required,
        description=description,
        max_length=512,
        extra={"format": "uri"},
    )


def owner_link_url(*, required: bool = True, description: str | None = None) -> fields.String:
    """A link sent to the owner: https, or http on loopback (``OWNER_LINK_URLS``: a demo or
    test machine's portal); what ``vocabulary.is_owner_link`` says."""
    return fields.String(
        required=required,
        validate=[
            validate.Length(max=MAX_OWNER_LINK_LENGTH),
            MatchingAny(
                OWNER_LINK_URLS, error="Not a valid https URL (or http on 127.0.0.1/localhost)."
            ),
        ],
        metadata=_meta(description, {"format": "uri"}),
    )


def uuid(*, required: bool = True, description: str | None = None) -> fields.String:
    return matching(
        UUID,
        "Not a valid UUID (lowercase, hyphenated).",
        required=required,
        description=description,
        extra={"format": "uuid"},
    )


def choice(
    values: Iterable[str], *, required: bool = True, description: str | None = None
) -> fields.String:
    return fields.String(
        required=required, validate=validate.OneOf(tuple(values)), metadata=_meta(description)
    )


def choice_or_matching(
    values: Iterable[str],
    regex: str,
    error: str,
    *,
    required: bool = True,
    description: str | None = None,
) -> fields.String:
    """One of ``values`` or a string matching ``regex`` (see :class:`OneOfOrMatching`)."""
    return fields.String(
        required=required,
        validate=OneOfOrMatching(values, regex, error=error),
        metadata=_meta(description),
    )


def constant(value: str, *, required: bool = True, description: str | None = None) -> fields.String:
    return fields.String(
        required=required, validate=validate.Equal(value), metadata=_meta(description)
    )


def integer(
    minimum: int,
    maximum: int | None = None,
    *,
    required: bool = True,
    description: str | None = None,
) -> StrictInteger:
    return StrictInteger(
        required=required,
        validate=validate.Range(min=minimum, max=maximum),
        metadata=_meta(description),
    )


def boolean(*, required: bool = True, description: str | None = None) -> StrictBoolean:
    return StrictBoolean(required=required, metadata=_meta(description))


def timestamp(*, required: bool = True, description: str | None = None) -> Timestamp:
    return Timestamp(required=required, metadata=_meta(description))


def day(*, required: bool = True, description: str | None = None) -> Day:
    return Day(required=required, metadata=_meta(description))


def nested(
    schema: type[Schema], *, required: bool = True, description: str | None = None
) -> fields.Nested:
    return fields.Nested(schema, required=required, metadata=_meta(description))


def list_of(
    item: fields.Field,
    *,
    min_items: int = 0,
    max_items: int,
    required: bool = True,
    description: str | None = None,
) -> fields.List:
    return fields.List(
        item,
        required=required,
        validate=validate.Length(min=min_items, max=max_items),
        metadata=_meta(description),
    )


# -- rules across fields -----------------------------------------------------------------


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Rule:
    """A constraint on several fields of one object.

    ``check`` runs in marshmallow after the fields are valid; ``json_schema`` returns the
    equivalent JSON Schema, or ``None`` when JSON Schema cannot express it (then
    ``description`` is published as a ``$comment``).
    """

    description: str = ""

    def check(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any] | None:
        return None

    def comment(self) -> str:
        return self.description


class AtLeastOne(Rule):
    def __init__(self, *names: str) -> None:
        self.names = names

    def check(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if any(name in data for name in self.names):
            return {}
        return {"_schema": [f"At least one of {', '.join(self.names)} is required."]}

    def json_schema(self) -> dict[str, Any]:
        return {"anyOf": [{"required": [name]} for name in self.names]}


class AnyNonEmpty(Rule):
    """At least one of these lists has an item."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def check(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if any(data.get(name) for name in self.names):
            return {}
        return {"_schema": [f"At least one of {', '.join(self.names)} must not be empty."]}

    def json_schema(self) -> dict[str, Any]:
        return {
            "anyOf": [{"required": [n], "properties": {n: {"minItems": 1}}} for n in self.names]
        }


class When(Rule):
    """If ``field`` equals ``value``: the ``require`` fields must be present, the ``forbid``
    fields absent."""

    def __init__(
        self,
        field: str,
        value: str | bool,
        *,
        require: Iterable[str] = (),
        forbid: Iterable[str] = (),
    ) -> None:
        self.field, self.value = field, value
        self.require, self.forbid = tuple(require), tuple(forbid)

    def _applies(self, data: Mapping[str, Any]) -> bool:
        actual = data.get(self.field)
        return type(actual) is type(self.value) and actual == self.value

    def check(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if not self._applies(data):
            return {}
        cond = f"{self.field} is {_show(self.value)}"
        errors = {name: [f"Required when {cond}."] for name in self.require if name not in data}
        errors.update({name: [f"Not allowed when {cond}."] for name in self.forbid if name in data})
        return errors

    def json_schema(self) -> dict[str, Any]:
        then: dict[str, Any] = {}
        if self.require:
            then["required"] = list(self.require)
        if self.forbid:
            then["properties"] = {name: False for name in self.forbid}
        return {
            "if": {"properties": {self.field: {"const": self.value}}, "required": [self.field]},
            "then": then,
        }


class Requires(Rule):
    """If ``field`` is present, the ``needs`` fields must be too."""

    def __init__(self, field: str, *needs: str) -> None:
        self.field, self.needs = field, needs

    def check(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if self.field not in data:
            return {}
        return {
            name: [f"Required when {self.field} is given."]
            for name in self.needs
            if name not in data
        }

    def json_schema(self) -> dict[str, Any]:
        return {"dependentRequired": {self.field: list(self.needs)}}


class Check(Rule):
    """A comparison JSON Schema cannot express (order of times, sums of amounts).

    ``ok`` gets the loaded object and returns False when the rule is broken; it must treat
    absent optional fields as "not applicable".
    """

    def __init__(
        self, field: str, description: str, ok: Callable[[Mapping[str, Any]], bool]
    ) -> None:
        self.field, self.description, self.ok = field, description, ok

    def check(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        return {} if self.ok(data) else {self.field: [self.description]}

    def comment(self) -> str:
        return f"{self.field}: {self.description}"


class ContractSchema(Schema):
    """Base of every envelope and data schema: unknown keys are errors, so a producer
    cannot leak undeclared (possibly personal) fields."""

    class Meta:
        unknown = RAISE

    rules: ClassVar[tuple[Rule, ...]] = ()

    @validates_schema
    def _check_rules(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        for rule in self.rules:
            for key, messages in rule.check(data).items():
                errors.setdefault(key, []).extend(messages)
        if errors:
            raise ValidationError(errors)
