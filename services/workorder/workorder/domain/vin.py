"""Vehicle identification numbers: 17 characters with the ISO 3779 check digit (GB 16735 in
China uses the same rule), so a mistyped VIN is caught at the counter, not at the warranty
claim."""

from __future__ import annotations

from chassis.errors import InvalidInput

LENGTH = 17
CHECK_DIGIT_POSITION = 9  # 1-based, as the standard counts
WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)

# The standard transliteration of letters; I, O and Q are never used (they read as 1 and 0).
TRANSLITERATION: dict[str, int] = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}


def check_digit(vin: str) -> str:
    """The check digit the other 16 characters imply ('X' stands for 10)."""
    total = sum(TRANSLITERATION[char] * weight for char, weight in zip(vin, WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_problem(vin: str) -> str | None:
    """Why `vin` is not a valid VIN, or None when it is."""
    if len(vin) != LENGTH:
        return f"must be {LENGTH} characters, got {len(vin)}"
    bad = sorted({char for char in vin if char not in TRANSLITERATION})
    if bad:
        return (f"may hold only digits and capital letters except I, O, Q; "
                f"found {', '.join(repr(c) for c in bad)}")
    expected = check_digit(vin)
    actual = vin[CHECK_DIGIT_POSITION - 1]
    if actual != expected:
        return (f"check digit (position {CHECK_DIGIT_POSITION}) is {actual!r} "
                f"but the VIN implies {expected!r}: it was probably mistyped")
    return None


def valid_vin(vin: str, field: str = "vin") -> str:
    """The VIN, upper-cased; InvalidInput naming `field` when it is not a valid VIN."""
    normalised = vin.strip().upper()
    problem = vin_problem(normalised)
    if problem:
        raise InvalidInput(field, problem)
    return normalised
