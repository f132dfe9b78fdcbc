"""notify's own settings are checked before it starts: a bad one stops the start with one line
naming it, at the command line as in code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chassis.config import ConfigError
from chassis.testing import AMQP, POSTGRES, make_settings, trust_setting
from notify.service import NotifyService
from notify.settings import NotifySettings

BAD = [
    ({"channels": {"sms": {"adapter": "carrier-pigeon"}}},
     "channels.SMS.adapter: 'carrier-pigeon' is not one of file, push, sms_gateway, smtp, "
     "wechat"),
    ({"channels": {"fax": {"adapter": "file", "path": "/tmp/x"}}},
     "channels.fax: not one of SMS, EMAIL, WECHAT, PUSH"),
    ({"quiet_hours": {"start": "9pm"}}, "quiet_hours: "),
    ({"default_time_zone": "Mars/Olympus"}, "default_time_zone: "),
    ({"default_channels": ["FAX"]}, "default_channels: "),
    ({"rate_limits": {"sms": {"capacity": 5}}}, "rate_limits: "),
    ({"backoff": {"max_attempts": "many"}}, "backoff: "),
    ({"owner_pages": ["http://127.0.0.1:8105"]}, "owner_pages: must map a dealer code"),
    ({"owner_pages": {"D001": "127.0.0.1:8105"}}, "owner_pages.D001: "),
    ({"portal_url": "ftp://hq.example.cn"}, "portal_url: "),
]


def test_the_portals_are_read_without_their_trailing_slash() -> None:
    settings = make_settings("notify", f"{POSTGRES}/nowhere", f"{AMQP}/nowhere", extra={
        "owner_pages": {"D001": "https://d001.example.cn/"},
        "portal_url": "https://hq.example.cn/"})
    options = NotifySettings.from_settings(settings)
    assert options.owner_link("D001", "/repair-orders/RO-1") == (
        "https://d001.example.cn/repair-orders/RO-1")
    assert options.owner_link("D002", "/book?reminder=R-1") == (
        f"{NotifySettings.owner_app_url}/book?reminder=R-1")
    assert options.survey_link("SVY-1~x") == "https://hq.example.cn/surveys/SVY-1~x"
    assert options.unsubscribe_link("t") == "https://hq.example.cn/unsubscribe/t"


@pytest.mark.parametrize("extra, named", BAD)
def test_a_bad_setting_is_one_configuration_error_naming_it(extra: dict[str, Any],
                                                            named: str) -> None:
    settings = make_settings("notify", f"{POSTGRES}/nowhere", f"{AMQP}/nowhere", extra=extra)
    with pytest.raises(ConfigError) as raised:
        NotifySettings.from_settings(settings)
    assert str(raised.value).startswith(named) and "\n" not in str(raised.value)


def test_the_command_line_stops_with_one_line(tmp_path: Path) -> None:
    # Nothing is reached: the settings are checked before any connection is made.
    config = {"dealer_code": "HQ", "amqp_uri": f"{AMQP}/nowhere",
              "trust": trust_setting("headquarters", "HQ"),
              "services": {NotifyService.name: {"database_url": f"{POSTGRES}/nowhere",
                                                "quiet_hours": {"start": "9pm"}}}}
    path = tmp_path / "hq.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    command = Path(sys.executable).parent / "aftersales"
    done = subprocess.run([str(command), "--config", str(path), "run", "notify"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("aftersales: configuration error: quiet_hours: ")
