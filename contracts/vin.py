"""The vehicle identification number (VIN, 车架号) and its check digit.

One rule for every service (booking takes VINs from owners, workorder at reception, parts
for lookups), so a VIN valid at one counter is valid at all of them.

A VIN has 17 characters, digits and capital letters except I, O and Q (too easily read as 1
and 0). Position 9 is a check digit computed the North-American way (49 CFR 565, adopted in
ISO 3779 practice and mandatory in China under GB 16735): transliterate each letter to a
number, weight each position, sum, take the remainder of 11; a remainder of 10 is written X.
"""

from __future__ import annotations

LENGTH = 17
CHECK_POSITION = 9  # 1-based, as the standards count
ALLOWED = frozenset("0123456789ABCDEFGHJKLMNPRSTUVWXYZ")

# Letters transliterate to 1-9; I, O and Q never appear.
TRANSLITERATION: dict[str, int] = {
    **{str(d): d for d in range(10)},
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}
WEIGHTS: tuple[int, ...] = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def check_digit(vin: str) -> str:
    """The check digit ('0'-'9' or 'X') a VIN of 17 allowed characters must carry at
    position 9. The character already at position 9 does not count (its weight is 0)."""
    if len(vin) != LENGTH or not set(vin) <= ALLOWED:
        raise ValueError(f"not a VIN: {vin!r}")
    remainder = sum(TRANSLITERATION[c] * w for c, w in zip(vin, WEIGHTS, strict=True)) % 11
    return "X" if remainder == 10 else str(remainder)


def vin_problem(vin: str) -> str | None:
    """Why `vin` is not a valid VIN, in words for the person who typed it; None when valid."""
    if len(vin) != LENGTH:
        return f"must be {LENGTH} characters, not {len(vin)}"
    wrong = sorted(set(vin) - ALLOWED)
    if wrong:
        return ("may hold only digits and capital letters except I, O and Q "
                f"(found {''.join(wrong)})")
    expected = check_digit(vin)
    if vin[CHECK_POSITION - 1] != expected:
        return (f"check digit (position {CHECK_POSITION}) is {vin[CHECK_POSITION - 1]}, "
                f"expected {expected}: please re-read the VIN")
    return None


def is_valid_vin(vin: str) -> bool:
    return vin_problem(vin) is None


# Position 10 encodes the model year in a 30-year cycle: A-Y without I, O, Q, U, Z for
# 1980-2000 (and again 2010-2030), then 1-9 for 2001-2009 (2031-2039). 0 is never used.
MODEL_YEAR_POSITION = 10  # 1-based
MODEL_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"
MODEL_YEAR_CYCLE = len(MODEL_YEAR_CODES)  # 30
FIRST_MODEL_YEAR = 1980


def model_year(vin: str, latest: int) -> int | None:
    """The model year position 10 of `vin` encodes: the latest year of its 30-year cycle not
    after `latest` (pass next calendar year: model years run ahead of the calendar). None when
    the character is not a year code."""
    if len(vin) != LENGTH:
        raise ValueError(f"not a VIN: {vin!r}")
    index = MODEL_YEAR_CODES.find(vin[MODEL_YEAR_POSITION - 1])
    if index < 0:
        return None
    year = FIRST_MODEL_YEAR + index
    if year > latest:
        return None
    return year + (latest - year) // MODEL_YEAR_CYCLE * MODEL_YEAR_CYCLE
