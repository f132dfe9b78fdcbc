"""The VIN and its check digit (position 9), the North-American / GB 16735 rule."""

from __future__ import annotations

import pytest

from contracts.vin import check_digit, is_valid_vin, vin_problem


@pytest.mark.parametrize("vin", [
    "1M8GDM9AXKP042788",  # the textbook example: remainder 10 is written X
    "LSVAU2187N2183740",  # built in China (SAIC Volkswagen)
    "LFV2A21K8D4000000",
    "11111111111111111",
])
def test_valid_vins_pass(vin):
    assert vin_problem(vin) is None
    assert is_valid_vin(vin)


def test_the_check_digit_is_the_weighted_sum_modulo_eleven():
    # 1M8GDM9A?KP042788: 1·8 + 4·7 + 8·6 + 7·5 + 4·4 + 4·3 + 9·2 + 1·10 + 2·9 + 7·8 + 0·7
    # + 4·6 + 2·5 + 7·4 + 8·3 + 8·2 = 351 = 31·11 + 10 → X
    assert check_digit("1M8GDM9AXKP042788") == "X"
    assert check_digit("1M8GDM9A0KP042788") == "X"  # position 9 itself weighs nothing


def test_a_mistyped_character_is_caught_by_the_check_digit():
    problem = vin_problem("1M8GDM9AXKP042789")
    assert problem is not None and "check digit" in problem and "expected" in problem


@pytest.mark.parametrize("vin, words", [
    ("1M8GDM9AXKP04278", "17 characters"),
    ("1M8GDM9AXKP04278O", "except I, O and Q"),
    ("1m8gdm9axkp042788", "except I, O and Q"),
    ("WVWZZZ1JZXW000001", "check digit"),  # European VINs may carry no check digit
])
def test_other_problems_are_named(vin, words):
    assert words in vin_problem(vin)


def test_check_digit_refuses_what_is_not_a_vin():
    with pytest.raises(ValueError):
        check_digit("I1111111111111111")
