"""Published event contract of the after-sales platform.

Producers build events with :func:`new_event`; consumers check them with
:func:`validate_event`. Each event type is an :class:`EventContract` in
:mod:`contracts.events`; :data:`CONTRACTS` maps CloudEvents ``type`` strings to them.
The schemas are marshmallow schemas; the JSON Schema files generated from them are the
published contract.

The names below load on first use, so the pure modules (`contracts.vin`, `contracts.plate`,
`contracts.customer`, `contracts.vocabulary`, `contracts.personal`, `contracts.webhooks`,
`contracts.wire`) can be imported by a domain module without the schema machinery coming
along, and so the partner wheel (`aftersales-contracts`, see PARTNERS.md) works with
`jsonschema` alone: there, without marshmallow, :func:`validate_event` is the JSON Schema check
of `contracts.published`, and the names that build events say which extra to install.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "1.0.0"

_LAZY = {
    "CONTRACTS": "registry",
    "ContractViolation": "errors",
    "EventContract": "contract",
    "WebhookVerificationError": "webhooks",
    "contract_for": "registry",
    "events": None,  # the module itself
    "new_event": "api",
    "sign_webhook": "webhooks",
    "validate_event": "api",
    "verify_webhook": "webhooks",
}

__all__ = [
    "CONTRACTS",
    "ContractViolation",
    "EventContract",
    "WebhookVerificationError",
    "contract_for",
    "events",
    "new_event",
    "sign_webhook",
    "validate_event",
    "verify_webhook",
]

if TYPE_CHECKING:
    from . import events
    from .api import new_event, validate_event
    from .contract import EventContract
    from .errors import ContractViolation
    from .registry import CONTRACTS, contract_for
    from .webhooks import WebhookVerificationError, sign_webhook, verify_webhook

# The modules built on marshmallow (the payload schemas); in the partner wheel it is an extra.
_NEEDS_MARSHMALLOW = {"registry", "contract", "api", "events"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'contracts' has no attribute {name!r}")
    module = _LAZY[name]
    try:
        value = (import_module(f"{__name__}.{name}") if module is None
                 else getattr(import_module(f"{__name__}.{module}"), name))
    except ModuleNotFoundError as exc:
        if exc.name != "marshmallow" or (module or name) not in _NEEDS_MARSHMALLOW:
            raise
        if name != "validate_event":
            raise ModuleNotFoundError(
                f"contracts.{name} needs marshmallow: pip install 'aftersales-contracts"
                "[marshmallow]' (the JSON Schema side, contracts.published, needs only "
                "jsonschema)", name="marshmallow") from exc
        # Without marshmallow the same name checks with the published JSON Schema: every
        # rule but the few listed in each schema's $comment (see contracts.published).
        value = getattr(import_module(f"{__name__}.published"), name)
    globals()[name] = value
    return value
