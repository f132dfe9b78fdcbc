"""Build and validate event envelopes."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from marshmallow import Schema, ValidationError

from .contract import EventContract
from .envelope import DATACONTENTTYPE, SPECVERSION, EnvelopeSchema, envelope_schema
from .errors import ContractViolation
from .registry import CONTRACTS, contract_for


@cache
def _loader(contract: EventContract | None) -> Schema:
    # Schema instances hold no per-call state in marshmallow 4: build once, reuse.
    return EnvelopeSchema() if contract is None else envelope_schema(contract)()


def validate_event(envelope: dict) -> dict:
    """Validate an envelope and its ``data`` against the contract of ``envelope["type"]``.

    Returns a new JSON-ready dict (same values, declared key order). Raises
    :class:`ContractViolation` listing every problem by field path.
    """
    if not isinstance(envelope, Mapping):
        raise ContractViolation({"_schema": ["An event envelope must be a JSON object."]})
    type_ = envelope.get("type")
    contract = CONTRACTS.get(type_) if isinstance(type_, str) else None
    try:
        return _loader(contract).load(envelope)
    except ValidationError as exc:
        raise ContractViolation.from_marshmallow(exc.messages) from None


def new_event(
    contract: EventContract,
    data: dict,
    *,
    source: str,
    subject: str,
    dealer_code: str,
    correlation_id: str,
    sequence: int,
    id: str | None = None,  # named after the CloudEvents attribute
    time: datetime | None = None,
) -> dict:
    """Build the envelope of one event and validate it.

    Fills ``specversion``, ``id`` (a new UUID), ``time`` (now, UTC), ``dataschema`` and
    ``datacontenttype``. ``data`` may hold ``Decimal``, ``datetime``, ``date``, ``UUID`` and
    ``Enum`` values; they are written as the strings the contract expects. Raises
    :class:`ContractViolation` and nothing else.
    """
    if isinstance(contract, str):
        contract = contract_for(contract)
    if not isinstance(contract, EventContract):
        raise ContractViolation({"type": [f"Not an EventContract: {contract!r}."]})
    envelope = {
        "specversion": SPECVERSION,
        "id": str(uuid.uuid4()) if id is None else id,
        "source": source,
        "type": contract.type,
        "subject": subject,
        "time": _event_time(time),
        "datacontenttype": DATACONTENTTYPE,
        "dataschema": contract.dataschema,
        "dealercode": dealer_code,
        "sequence": sequence,
        "correlationid": correlation_id,
        "data": _jsonable(data),
    }
    return validate_event(envelope)


def _event_time(value: datetime | None) -> Any:
    if value is None:
        return datetime.now(UTC).isoformat(timespec="milliseconds")
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ContractViolation({"time": ["Naive datetime: a time zone is required."]})
        return value.isoformat()
    return value  # let the schema report what is wrong with it


def _jsonable(value: Any) -> Any:
    """Python values a producer naturally has -> the JSON the contract describes.

    Naive datetimes are written without an offset so that validation rejects them;
    floats are left alone for the same reason (money is never a float).
    """
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")  # never exponent notation ("1E+2")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    return value
