"""Workorder's own settings: read once at start under the names sites already use, and a bad
one stops the start with one line naming it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chassis.config import ConfigError, Settings
from workorder.settings import WorkorderSettings


def _settings(**extra: object) -> Settings:
    return Settings(service="workorder", dealer_code="D001", database_url="sqlite://",
                    amqp_uri="memory:///test", extra=dict(extra))


def test_the_defaults_are_the_ones_workorder_always_had():
    options = WorkorderSettings.from_settings(_settings())
    assert options.default_labour_rate == Decimal("300.00")
    assert (options.max_photo_bytes, options.report_link_ttl_seconds) == (10 * 1024 * 1024,
                                                                           7 * 24 * 3600)
    assert options.owner_portal_url == ""
    assert options.quote_link_ttl_seconds == 72 * 3600


def test_a_site_sets_them_by_their_old_names_from_yaml_or_the_environment():
    options = WorkorderSettings.from_settings(_settings(
        labour_rate=280, owner_portal_url="https://owners.example.cn", max_photo_bytes="2048",
        report_link_ttl_hours="24", quote_link_ttl_hours="48"))
    assert options.default_labour_rate == Decimal("280")
    assert (options.max_photo_bytes, options.report_link_ttl_seconds) == (2048, 24 * 3600)
    assert options.quote_link_ttl_seconds == 48 * 3600
    assert options.owner_portal_url == "https://owners.example.cn"
    assert WorkorderSettings.from_settings(_settings(owner_portal_url=None)).owner_portal_url \
        == ""


@pytest.mark.parametrize(("name", "value"), [
    ("labour_rate", "three hundred"), ("labour_rate", "-1"), ("max_photo_bytes", "lots"),
    ("max_photo_bytes", 0), ("report_link_ttl_hours", "0"),
    # A quote link reaches the owner (an hour at least) while prices and stock hold (a week).
    ("quote_link_ttl_hours", "0.5"), ("quote_link_ttl_hours", "169"),
    ("quote_link_ttl_hours", "soon"),
])
def test_a_bad_value_stops_the_start_naming_the_setting(name, value):
    with pytest.raises(ConfigError) as refused:
        WorkorderSettings.from_settings(_settings(**{name: value}))
    assert str(refused.value).startswith(f"{name}: ")
