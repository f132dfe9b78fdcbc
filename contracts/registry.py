"""Lookup of contracts by CloudEvents type or by event name."""

from __future__ import annotations

from . import events
from .contract import EventContract
from .errors import ContractViolation

CONTRACTS: dict[str, EventContract] = {c.type: c for c in events.ALL}

if len(CONTRACTS) != len(events.ALL):  # two constants with the same name and version
    raise RuntimeError("duplicate event type in contracts.events.ALL")


def contract_for(type_or_name: str) -> EventContract:
    """``"aftersales.QuoteApproved.v1"`` gives that contract; ``"QuoteApproved"`` gives the
    latest major version of QuoteApproved."""
    if not isinstance(type_or_name, str):
        raise ContractViolation({"type": [f"Unknown event type or name: {type_or_name!r}."]})
    found = CONTRACTS.get(type_or_name)
    if found is not None:
        return found
    versions = [c for c in CONTRACTS.values() if c.name == type_or_name]
    if not versions:
        raise ContractViolation({"type": [f"Unknown event type or name: {type_or_name!r}."]})
    return max(versions, key=lambda c: c.version)
