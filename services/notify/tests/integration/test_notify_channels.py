"""Each channel adapter against a local server speaking its provider's protocol."""

from __future__ import annotations

import email
import json
from email import policy

import pytest

from notify.channels import (
    AppPush,
    ChannelConfigError,
    FileSink,
    OutboundMessage,
    SmsGateway,
    SmtpMailer,
    WechatTemplates,
    build_adapter,
)
from services.notify.tests.integration.provider_servers import (
    PushServer,
    SmsGatewayServer,
    SmtpServer,
    WechatServer,
)

MESSAGE = OutboundMessage(message_id="m-1", to="13812345678", title="车辆可取",
                          body="王磊您好，您的爱车京A12345已完工并通过质检，可到D001取车。",
                          link="https://owner.example.cn/ro/1", kind="READY_FOR_PICKUP",
                          extra={"dealer": "D001"})


def test_sms_goes_to_the_gateway_signed_with_the_api_key():
    with SmsGatewayServer() as gateway:
        result = SmsGateway(gateway.url, "key-1", "gateway-secret", sender="某品牌").send(MESSAGE)
    assert result.ok and result.provider_id == "SM000001"
    assert gateway.received == [{"to": "13812345678", "text": MESSAGE.body,
                                 "client_ref": "m-1", "sign_name": "某品牌"}]


def test_a_wrong_key_is_a_final_failure_and_a_busy_gateway_a_retryable_one():
    with SmsGatewayServer() as gateway:
        refused = SmsGateway(gateway.url, "key-1", "not-the-secret").send(MESSAGE)
    with SmsGatewayServer(fail_first=1) as busy:
        later = SmsGateway(busy.url, "key-1", "gateway-secret").send(MESSAGE)
    assert not refused.ok and not refused.retryable and "401" in refused.error
    assert not later.ok and later.retryable
    assert "13812345678" not in refused.error + later.error


def test_an_unreachable_gateway_is_retryable():
    result = SmsGateway("http://127.0.0.1:9", "k", "s").send(MESSAGE)
    assert not result.ok and result.retryable


def test_wechat_fetches_a_token_once_and_sends_a_template_message():
    with WechatServer() as wechat:
        adapter = WechatTemplates("wx123", "wx-secret", {"READY_FOR_PICKUP": "TPL-READY"},
                                  base_url=wechat.url)
        first = adapter.send(MESSAGE)
        second = adapter.send(MESSAGE)
    assert first.ok and second.ok
    assert wechat.tokens_issued == 1
    sent = wechat.received[0]
    assert sent["touser"] == "13812345678" and sent["template_id"] == "TPL-READY"
    assert sent["url"] == MESSAGE.link
    assert sent["data"]["first"] == {"value": "车辆可取"}
    assert sent["data"]["keyword1"] == {"value": MESSAGE.body}


def test_wechat_renews_an_expired_token_and_resends():
    with WechatServer() as wechat:
        adapter = WechatTemplates("wx123", "wx-secret", {"READY_FOR_PICKUP": "TPL-READY"},
                                  base_url=wechat.url)
        assert adapter.send(MESSAGE).ok
        wechat.expire_token()
        assert adapter.send(MESSAGE).ok
    assert wechat.tokens_issued == 2 and len(wechat.received) == 2


def test_wechat_with_a_wrong_appid_fails_for_good():
    with WechatServer() as wechat:
        result = WechatTemplates("wx-wrong", "wx-secret", {"READY_FOR_PICKUP": "T"},
                                 base_url=wechat.url).send(MESSAGE)
    assert not result.ok and not result.retryable and "40013" in result.error


def test_push_posts_json_with_the_bearer_token():
    with PushServer() as push:
        result = AppPush(f"{push.url}/v1/push", "push-token").send(MESSAGE)
        refused = AppPush(f"{push.url}/v1/push", "wrong").send(MESSAGE)
    assert result.ok and result.provider_id == "push-1"
    assert push.received[0]["alias"] == "13812345678" and push.received[0]["url"] == MESSAGE.link
    assert not refused.ok and not refused.retryable


def test_email_is_delivered_over_smtp(tmp_path):
    with SmtpServer(tmp_path) as smtp:
        message = OutboundMessage(**{**MESSAGE.__dict__, "to": "wang.lei@example.cn"})
        result = SmtpMailer("127.0.0.1", smtp.port, sender="service@dealer.example.cn").send(
            message)
        refused = SmtpMailer("127.0.0.1", smtp.port).send(
            OutboundMessage(**{**MESSAGE.__dict__, "to": "nobody@refused.example"}))
        mails = smtp.messages()
    assert result.ok and not refused.ok and not refused.retryable
    assert len(mails) == 1
    mail = email.message_from_bytes(mails[0], policy=policy.default)
    assert mail["To"] == "wang.lei@example.cn" and mail["Subject"] == "车辆可取"
    assert "已完工并通过质检" in mail.get_content()


def test_the_development_sink_writes_json_lines(tmp_path):
    sink = FileSink(str(tmp_path / "out" / "messages.jsonl"))
    assert sink.send(MESSAGE).ok and sink.send(MESSAGE).ok
    lines = (tmp_path / "out" / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["body"] for line in lines] == [MESSAGE.body] * 2


def test_channel_settings_are_checked():
    assert isinstance(build_adapter("SMS", {"adapter": "file", "path": "/tmp/x"}), FileSink)
    with pytest.raises(ChannelConfigError, match="channels.SMS.adapter"):
        build_adapter("SMS", {"adapter": "carrier-pigeon"})
    with pytest.raises(ChannelConfigError, match="channels.SMS"):
        build_adapter("SMS", {"adapter": "sms_gateway", "url": "http://x"})
