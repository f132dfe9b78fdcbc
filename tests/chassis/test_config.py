"""Settings come from YAML and the environment; a missing or wrong one stops the start with
one line naming it."""

from __future__ import annotations

import pytest

from chassis.cli import main as aftersales
from chassis.config import ConfigError, RetryPolicy, load_settings

ENV = {"AFTERSALES_DEALER_CODE": "D001",
       "AFTERSALES_AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/site-D001",
       "AFTERSALES_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/d001_booking",
       "AFTERSALES_AUTH_SECRET": "a-secret-long-enough-to-sign-tokens-0123"}


def test_environment_alone_is_enough():
    settings = load_settings("booking", env=ENV)
    assert settings.dealer_code == "D001"
    assert settings.source == "dealer/D001/booking"
    assert settings.database_url.startswith("postgresql+psycopg2://")


def test_yaml_sections_are_overridden_by_the_environment(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(
        "dealer_code: D009\namqp_uri: amqp://guest:guest@127.0.0.1:5672/site-D009\n"
        "auth_secret: a-secret-long-enough-to-sign-tokens-0123\n"
        "retry: {max_attempts: 7}\n"
        "services:\n  booking:\n    database_url: sqlite:///var/b.sqlite\n    http_port: 8101\n"
        "  workorder:\n    database_url: sqlite:///var/w.sqlite\n", encoding="utf-8")
    settings = load_settings("booking", path, env={"AFTERSALES_BOOKING_HTTP_PORT": "9000"})
    assert (settings.dealer_code, settings.http_port) == ("D009", 9000)
    assert settings.database_url == "sqlite:///var/b.sqlite"
    assert settings.retry.max_attempts == 7


def test_headquarters_services_publish_under_hq():
    assert load_settings("crm", env=ENV).source == "hq/crm"


@pytest.mark.parametrize("change, named", [
    ({"AFTERSALES_DEALER_CODE": ""}, "dealer_code: missing"),
    ({"AFTERSALES_DEALER_CODE": "d-1"}, "dealer_code:"),
    ({"AFTERSALES_AMQP_URI": "http://broker"}, "amqp_uri:"),
    ({"AFTERSALES_DATABASE_URL": "mysql://x"}, "database_url:"),
    ({"AFTERSALES_HTTP_PORT": "eighty"}, "http_port:"),
    ({"AFTERSALES_HTTP_PORT": "70000"}, "http_port:"),
    ({"AFTERSALES_RETRY_MAX_ATTEMPTS": "0"}, "retry.max_attempts:"),
    ({"AFTERSALES_LOG_LEVEL": "LOUD"}, "log_level:"),
    ({"AFTERSALES_AUTH_SECRET": ""}, "auth_secret: missing"),
    ({"AFTERSALES_AUTH_SECRET": "short"}, "auth_secret:"),
    ({"AFTERSALES_TIME_ZONE": "Beijing"}, "time_zone:"),
])
def test_a_wrong_setting_is_named_in_one_line(change, named):
    with pytest.raises(ConfigError) as raised:
        load_settings("booking", env={**ENV, **change})
    message = str(raised.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_the_command_line_stops_with_exit_code_2_and_one_line(monkeypatch, capsys):
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("AFTERSALES_CONFIG", raising=False)
    assert aftersales(["outbox", "status", "booking"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["aftersales: configuration error: dealer_code: missing "
                   "(set AFTERSALES_DEALER_CODE or 'dealer_code' in the config file)"]


def test_retry_backoff_grows_and_is_capped():
    policy = RetryPolicy(max_attempts=6, backoff_initial_seconds=0.5, backoff_max_seconds=3)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3, 3]


def test_a_services_own_settings_come_from_the_environment_too(tmp_path):
    path = tmp_path / "hq.yaml"
    path.write_text("services:\n  crm:\n    crm_encryption_key: from-the-file\n",
                    encoding="utf-8")
    env = {**ENV, "AFTERSALES_CRM_CRM_BLIND_INDEX_KEY": "from-the-environment",
           "AFTERSALES_CRM_CRM_ENCRYPTION_KEY": "overridden", "AFTERSALES_BI_OTHER": "not crm's"}
    settings = load_settings("crm", path, env=env)
    assert settings.extra == {"crm_encryption_key": "overridden",
                              "crm_blind_index_key": "from-the-environment"}


def test_a_nested_setting_comes_from_the_environment_as_json():
    env = {**ENV, "AFTERSALES_NOTIFY_CHANNELS": '{"sms": {"adapter": "file", "path": "x"}}'}
    assert load_settings("notify", env=env).extra["channels"] == {
        "sms": {"adapter": "file", "path": "x"}}
    with pytest.raises(ConfigError, match="AFTERSALES_NOTIFY_CHANNELS: not valid JSON"):
        load_settings("notify", env={**ENV, "AFTERSALES_NOTIFY_CHANNELS": "{sms"})
