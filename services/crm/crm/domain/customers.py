"""Who sees which customer, and what a consent change announces.

Headquarters' roles see every customer. Dealer staff see only customers their dealer has
dealt with, and of them only what happened at their dealer (PIPL: a dealer that never served
a person learns nothing of them, not even through a car's plate or VIN).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from chassis.identity import DEALER_STAFF, Identity, Role
from contracts.plate import normal_plate

# The dealer-bound records of a customer, in the order the 360 lists them.
RECORDS = ("visits", "declined", "appointments", "reminders", "surveys", "complaints")
MAX_ALIASES_ANNOUNCED = 50


def dealer_of(identity: Identity) -> str | None:
    """The dealer a caller is kept to: their own for dealer staff, None for headquarters."""
    return identity.dealer_code if identity.role in DEALER_STAFF else None


def sees_full_phone(identity: Identity) -> bool:
    """Only the call centre, who phones customers, sees whole numbers; others see 138****5678."""
    return identity.role is Role.INVITATION_AGENT


def vins_of(records: Mapping[str, Sequence[Any]]) -> set[str]:
    """The vehicles named in a customer's records (an appointment may name none)."""
    return {row.vin for rows in records.values() for row in rows
            if getattr(row, "vin", None)}


def search_key(vin: str | None, plate: str | None) -> tuple[str | None, str | None]:
    """A searched VIN and plate in the form they are stored in."""
    return (vin.upper() if vin else None, normal_plate(plate) if plate else None)


def leads_to_owner(vehicles: Iterable[Any], vin: str | None, plate: str | None) -> bool:
    """Whether one of the cars a dealer has seen is the one searched for: a car the dealer
    never saw must not lead them to its owner. `vin` and `plate` as `search_key` gives them."""
    if not (vin or plate):
        return True
    return any((not vin or v.vin == vin) and (not plate or v.plate == plate) for v in vehicles)


def consent_changes(consents: Iterable[Mapping[str, Any]]
                    ) -> dict[tuple[str, bool], list[str]]:
    """The call centre's consent list grouped into changes: (purpose, granted) → channels."""
    changes: dict[tuple[str, bool], list[str]] = {}
    for consent in consents:
        changes.setdefault((consent["purpose"], consent["granted"]), []).append(
            consent["channel"])
    return changes


def consent_changed_data(customer_id: str, purpose: str, channels: list[str], granted: bool,
                         at: datetime, *, via: str, aliases: Sequence[str]) -> dict[str, Any]:
    """ConsentChanged's data: notify, which knows the owner by a site's id, gets the aliases."""
    data: dict[str, Any] = {"customer_id": customer_id, "purpose": purpose,
                            "channels": channels, "granted": granted, "via": via,
                            "changed_at": at.isoformat()}
    if aliases:
        data["aliases"] = list(aliases[:MAX_ALIASES_ANNOUNCED])
    return data
