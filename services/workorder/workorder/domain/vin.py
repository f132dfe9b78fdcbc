"""A VIN typed at the counter: the shared rule (`contracts.vin`), refused with the field named."""

from __future__ import annotations

from chassis.errors import InvalidInput
from contracts.vin import vin_problem


def valid_vin(vin: str, field: str = "vin") -> str:
    """The VIN, upper-cased; InvalidInput naming `field` when it is not a valid VIN."""
    normalised = vin.strip().upper()
    problem = vin_problem(normalised)
    if problem:
        raise InvalidInput(field, problem)
    return normalised
