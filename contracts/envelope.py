"""The CloudEvents 1.0 envelope (structured JSON mode) every event travels in."""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from marshmallow import ValidationError, fields, validate

from . import fields as f
from .contract import EventContract
from .fields import Check, ContractSchema
from .registry import CONTRACTS

SPECVERSION = "1.0"
DATACONTENTTYPE = "application/json"
SOURCE = r"^(dealer/[A-Z0-9]{2,12}|hq)/[a-z][a-z_]*$"


def _known_type(value: str) -> None:
    if value not in CONTRACTS:
        raise ValidationError(f"Unknown event type {value!r}.")


class EnvelopeSchema(ContractSchema):
    """Envelope of any event type; ``data`` is only checked to be an object here.

    Use :func:`envelope_schema` for the schema of one event type.
    """

    specversion = f.constant(SPECVERSION, description="CloudEvents version.")
    id = f.uuid(description="Event id; with source it identifies a duplicate.")
    source = f.matching(
        SOURCE,
        "Not a valid source: dealer/<DEALER_CODE>/<service> or hq/<service>.",
        description="Producer: dealer/<DEALER_CODE>/<service> at a dealer site, "
        "hq/<service> at headquarters.",
    )
    type = fields.String(required=True, validate=_known_type)
    subject = f.text(64, description="Id of the aggregate the event is about.")
    time = f.timestamp(description="When the change happened, with a UTC offset.")
    datacontenttype = f.constant(DATACONTENTTYPE)
    dataschema = fields.String(required=True, validate=validate.Length(min=1, max=256))
    dealercode = f.dealer_code(description="Dealer the event is about (headquarters events too).")
    sequence = f.integer(
        1, description="Per-aggregate sequence number: 1, 2, 3... per source and subject."
    )
    correlationid = f.text(64, description="Appointment or repair order id the event belongs to.")
    data = fields.Dict(required=True)


class _ContractEnvelopeSchema(EnvelopeSchema):
    contract: ClassVar[EventContract]


def _consistency_rules(contract: EventContract) -> tuple[Check, ...]:
    """Envelope attributes that repeat something the data or the source already says.

    JSON Schema cannot compare two values, so these are checked by this package only (the
    exported schema lists them in a ``$comment``).
    """
    rules = []
    if contract.at_dealer_site:
        rules.append(
            Check(
                "source",
                "The dealer segment must equal dealercode.",
                lambda e: e["source"].split("/")[1] == e["dealercode"],
            )
        )
    if contract.subject_field:
        name = contract.subject_field
        rules.append(
            Check(
                "subject", f"Must equal data.{name}.", lambda e: e["data"].get(name) == e["subject"]
            )
        )
    if "dealer_code" in contract.data_schema._declared_fields:
        rules.append(
            Check(
                "data.dealer_code",
                "Must equal dealercode.",
                lambda e: e["data"].get("dealer_code") == e["dealercode"],
            )
        )
    return tuple(rules)


@cache
def envelope_schema(contract: EventContract) -> type[EnvelopeSchema]:
    """The envelope schema of one event type, with its ``data`` schema inlined."""
    where = (
        f"dealer/<DEALER_CODE>/{contract.producer}"
        if contract.at_dealer_site
        else f"hq/{contract.producer}"
    )
    attrs: dict[str, Any] = {
        "contract": contract,
        "rules": _consistency_rules(contract),
        "source": f.matching(
            contract.source_pattern, f"Must be {where}.", description=f"Producer: {where}."
        ),
        "type": f.constant(contract.type, description="Event type; also the AMQP routing key."),
        "dataschema": f.constant(contract.dataschema, description="Identifies the schema of data."),
        "data": fields.Nested(
            contract.data_schema,
            required=True,
            metadata={"json_schema": {"$id": contract.dataschema}},
        ),
    }
    return type(f"{contract.name}V{contract.version}Envelope", (_ContractEnvelopeSchema,), attrs)
