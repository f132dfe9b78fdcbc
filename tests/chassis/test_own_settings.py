"""A service's own settings: one typed dataclass, every value checked at start, a bad one
named in one line."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from chassis.config import ConfigError, bounds, typed_settings


@dataclass(frozen=True)
class WorkshopSettings:
    survey_delay_hours: int = field(default=48, metadata=bounds(1, 720))
    labour_rate: float = 300.0
    send_surveys: bool = True
    dealer_names: dict = field(default_factory=dict)
    channels: tuple = ("SMS",)
    greeting: str = "您好"


def test_defaults_stand_when_nothing_is_set():
    assert typed_settings(WorkshopSettings, {}) == WorkshopSettings()


def test_values_are_read_under_the_service_prefix_and_converted():
    got = typed_settings(WorkshopSettings, {
        "crm_survey_delay_hours": "24", "crm_labour_rate": "280.5", "crm_send_surveys": "no",
        "crm_dealer_names": '{"D001": "北京一店"}', "crm_channels": ["SMS", "WECHAT"],
        "survey_delay_hours": "999"}, prefix="crm_")
    assert got == WorkshopSettings(survey_delay_hours=24, labour_rate=280.5, send_surveys=False,
                                   dealer_names={"D001": "北京一店"}, channels=("SMS", "WECHAT"))


@pytest.mark.parametrize("extra, message", [
    ({"x_survey_delay_hours": "soon"}, "x_survey_delay_hours: 'soon' is not a whole number"),
    ({"x_survey_delay_hours": 0}, "x_survey_delay_hours: 0 is not between 1 and 720"),
    ({"x_labour_rate": "cheap"}, "x_labour_rate: 'cheap' is not a number"),
    ({"x_send_surveys": "maybe"}, "x_send_surveys: 'maybe' is not true or false"),
    ({"x_dealer_names": "[1]"}, "x_dealer_names: must be a mapping"),
    ({"x_dealer_names": "{oops"}, "x_dealer_names: not valid JSON"),
])
def test_a_bad_value_is_named_in_one_line(extra, message):
    with pytest.raises(ConfigError) as refused:
        typed_settings(WorkshopSettings, extra, prefix="x_")
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_computed_fields_pass_through():
    got = typed_settings(WorkshopSettings, {"greeting": "ignored"}, greeting="Hello")
    assert got.greeting == "Hello"
