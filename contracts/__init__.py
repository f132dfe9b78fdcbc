"""Published event contract of the after-sales platform.

Producers build events with :func:`new_event`; consumers check them with
:func:`validate_event`. Each event type is an :class:`EventContract` in
:mod:`contracts.events`; :data:`CONTRACTS` maps CloudEvents ``type`` strings to them.
The schemas depend on marshmallow only.

The names below load on first use, so the pure modules (`contracts.vin`, `contracts.plate`,
`contracts.customer`, `contracts.vocabulary`) can be imported by a domain module without the
schema machinery coming along.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "1.0.0"

_LAZY = {
    "CONTRACTS": "registry",
    "ContractViolation": "errors",
    "EventContract": "contract",
    "contract_for": "registry",
    "events": None,  # the module itself
    "new_event": "api",
    "validate_event": "api",
}

__all__ = [
    "CONTRACTS",
    "ContractViolation",
    "EventContract",
    "contract_for",
    "events",
    "new_event",
    "validate_event",
]

if TYPE_CHECKING:
    from . import events
    from .api import new_event, validate_event
    from .contract import EventContract
    from .errors import ContractViolation
    from .registry import CONTRACTS, contract_for


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'contracts' has no attribute {name!r}")
    module = _LAZY[name]
    value = (import_module(f"{__name__}.{name}") if module is None
             else getattr(import_module(f"{__name__}.{module}"), name))
    globals()[name] = value
    return value
