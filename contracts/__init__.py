"""Published event contract of the after-sales platform.

Producers build events with :func:`new_event`; consumers check them with
:func:`validate_event`. Each event type is an :class:`EventContract` in
:mod:`contracts.events`; :data:`CONTRACTS` maps CloudEvents ``type`` strings to them.
This package depends on marshmallow only.
"""

from . import events
from .api import new_event, validate_event
from .contract import EventContract
from .errors import ContractViolation
from .registry import CONTRACTS, contract_for

__version__ = "1.0.0"

__all__ = [
    "CONTRACTS",
    "ContractViolation",
    "EventContract",
    "contract_for",
    "events",
    "new_event",
    "validate_event",
]
