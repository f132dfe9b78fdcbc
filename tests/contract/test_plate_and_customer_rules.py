"""One normal form for licence plates and one customer id rule, shared by booking, workorder
and crm: what one counter stores is what another searches for."""

from __future__ import annotations

import pytest

from contracts.customer import customer_id_for
from contracts.plate import normal_plate


@pytest.mark.parametrize("typed", [
    "京A12345", "京a 12345", " 京 A 1 2 3 4 5 ", "京A-12345", "京A·12345", "京Ａ１２３４５",
    "jing a12345", "Jing-A12345", "JINGA12345", "京A1234５",
])
def test_ways_of_typing_one_plate_are_the_same_plate(typed):
    assert normal_plate(typed) == "京A12345"


def test_a_province_in_pinyin_becomes_its_character():
    assert normal_plate("hu b 88888") == "沪B88888"
    assert normal_plate("yue b12345d") == "粤B12345D"  # a new-energy plate keeps its D


@pytest.mark.parametrize("typed", ["jin a12345", "yu a12345", "ji a12345", "gan a12345",
                                   "gui a12345"])
def test_a_pinyin_that_names_two_provinces_is_left_as_typed(typed):
    # 津/晋, 渝/豫, 冀/吉, 赣/甘, 桂/贵: guessing would file the car under the wrong province.
    assert normal_plate(typed) == typed.replace(" ", "").upper()


def test_o_and_i_in_the_serial_are_the_digits_plates_use():
    assert normal_plate("沪B8888O") == "沪B88880"
    assert normal_plate("沪B8I888") == "沪B81888"


def test_plates_of_other_countries_are_only_cleaned_up():
    assert normal_plate("ea 12345") == "EA12345"
    assert normal_plate("M-AB 1234") == "MAB1234"


def test_normal_form_is_stable():
    for typed in ("京a 12345", "jing a12345", "沪B8888O", "xyz"):
        assert normal_plate(normal_plate(typed)) == normal_plate(typed)


def test_one_phone_is_one_customer_everywhere():
    assert customer_id_for("13800000001") == customer_id_for("13800000001")
    assert customer_id_for("13800000001") != customer_id_for("13800000002")
    # The id must not change between releases: bookings already made carry it.
    assert customer_id_for("13800000001") == "84ebfc20-0d06-500d-ad98-0c4673d938d5"
