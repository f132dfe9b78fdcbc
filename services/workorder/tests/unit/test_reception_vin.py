"""A VIN's ninth character checks the other sixteen (ISO 3779 / GB 16735)."""

from __future__ import annotations

import pytest

from chassis.errors import InvalidInput
from contracts.vin import check_digit, vin_problem
from workorder.domain.vin import valid_vin

VALID = [
    "1M8GDM9AXKP042788",  # check digit X (remainder 10)
    "LSVAU2187N2183740",  # a Chinese VIN (SAIC-Volkswagen), check digit 7
    "11111111111111111",
]


@pytest.mark.parametrize("vin", VALID)
def test_a_valid_vin_passes(vin):
    assert vin_problem(vin) is None
    assert valid_vin(vin) == vin


def test_the_check_digit_is_the_weighted_sum_modulo_11_with_x_for_10():
    # 1M8GDM9A?KP042788: 1*8 + 4*7 + 8*6 + 7*5 + 4*4 + 4*3 + 9*2 + 1*10 + 2*9 + 7*8 + 0*7
    # + 4*6 + 2*5 + 7*4 + 8*3 + 8*2 = 351; 351 % 11 = 10 → "X"
    assert check_digit("1M8GDM9AXKP042788") == "X"
    assert check_digit("LSVAU2187N2183740") == "7"


def test_lower_case_and_spaces_around_are_forgiven():
    assert valid_vin("  1m8gdm9axkp042788 ") == "1M8GDM9AXKP042788"


@pytest.mark.parametrize(("vin", "why"), [
    ("1M8GDM9A1KP042788", "check digit"),        # wrong check digit
    ("1M8GDM9AXKP042789", "check digit"),        # a typo elsewhere breaks the check
    ("1M8GDM9AXKP04278", "17 characters"),       # too short
    ("1M8GDM9AXKP0427888", "17 characters"),     # too long
    ("1M8GDM9AXKP04278O", "found O"),                # O is never used
    ("IM8GDM9AXKP042788", "found I"),
    ("QM8GDM9AXKP042788", "found Q"),
    ("1M8GDM9AXKP04278-", "found -"),
])
def test_an_invalid_vin_is_refused_naming_vin(vin, why):
    assert why in vin_problem(vin)
    with pytest.raises(InvalidInput) as refused:
        valid_vin(vin)
    assert list(refused.value.detail["fields"]) == ["vin"]


def test_every_single_character_typo_is_caught_in_most_positions():
    vin = "LSVAU2187N2183740"
    caught = 0
    for position in range(17):
        if position == 8:
            continue
        for replacement in "0123456789ABCDEFGHJKLMNPRSTUVWXYZ":
            if replacement == vin[position]:
                continue
            typo = vin[:position] + replacement + vin[position + 1:]
            caught += vin_problem(typo) is not None
    # Letters sharing a value (A=J=1 …) and digit/letter twins slip through; most do not.
    assert caught > 0.8 * 16 * 32
