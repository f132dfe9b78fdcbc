"""The dispatcher's own timer delivers without being asked, on the channel the owner chose
(WeChat here, against a local server implementing WeChat's token and template endpoints)."""

from __future__ import annotations

import requests

from chassis.auth import Role
from chassis.testing import auth, make_settings, service_database, wait_for
from notify.service import Clock, NotifyService
from services.notify.tests.integration.notify_hq import (
    ManualClock,
    Publisher,
    booked,
    new_id,
    shanghai,
)
from services.notify.tests.integration.provider_servers import WechatServer


def test_the_timer_sends_a_wechat_template_message_to_the_owner(database, amqp_uri, services):
    clock = ManualClock(shanghai(17, 10))
    notify_class = type("NotifyWithLoop", (NotifyService,), {"clock": Clock(clock)})
    with WechatServer() as wechat:
        settings = make_settings(
            "notify", service_database(database, NotifyService), amqp_uri, dealer_code="HQ",
            extra={"channels": {"wechat": {
                "adapter": "wechat", "base_url": wechat.url, "appid": "wx123",
                "secret": "wx-secret", "template_ids": {"BOOKING_CONFIRMED": "TPL-BOOKED"}}}})
        services(notify_class, settings)
        url = f"http://127.0.0.1:{settings.http_port}"
        customer = new_id("C")
        chosen = requests.put(f"{url}/customers/{customer}/preferences",
                              json={"channels": ["WECHAT"], "wechat_openid": "oUpF8uMuAJO_M2pxb",
                                    "language": "en"},
                              headers=auth(Role.OWNER, subject=customer), timeout=10)
        assert chosen.status_code == 200 and chosen.json()["channels"] == ["WECHAT"]
        assert chosen.json()["phone_known"] is False
        bad = requests.put(f"{url}/customers/{customer}/preferences",
                           json={"channels": ["FAX"], "colour": "red"},
                           headers=auth(Role.OWNER, subject=customer), timeout=10)
        assert bad.status_code == 422 and set(bad.json()["fields"]) == {"channels", "colour"}
        read_back = requests.get(f"{url}/customers/{customer}/preferences",
                                 headers=auth(Role.OWNER, subject=customer), timeout=10)
        assert read_back.json()["wechat_openid"] == "oUpF8uMuAJO_M2pxb"
        assert requests.get(f"{url}/customers/{customer}/preferences",
                            headers=auth(Role.OWNER, subject="C-other"),
                            timeout=10).status_code == 404
        someone_else = requests.put(f"{url}/customers/{customer}/preferences", json={},
                                    headers=auth(Role.OWNER, subject="C-other"), timeout=10)
        assert someone_else.status_code == 404

        document = requests.get(f"{url}/openapi.json", timeout=10).json()
        assert {"/dispatch-runs", "/deliveries", "/inbound/sms"} <= set(document["paths"])

        publisher = Publisher(amqp_uri)
        try:
            publisher.publish(booked(customer))
            wait_for(lambda: wechat.received, timeout=20, message="a WeChat template message")
        finally:
            publisher.close()
    [message] = wechat.received
    assert message["touser"] == "oUpF8uMuAJO_M2pxb" and message["template_id"] == "TPL-BOOKED"
    assert message["data"]["keyword1"]["value"].startswith("Dear 王磊, your 京A12345 is booked")
