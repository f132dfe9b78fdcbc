"""Messages per event and language: Chinese first, English beside, personalised."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from notify.domain import Kind, render

SHANGHAI = timezone(timedelta(hours=8))
SLOT = datetime(2025, 3, 18, 9, 30, tzinfo=SHANGHAI)
FACTS = {"name": "王磊", "plate": "京A12345", "dealer": "北京朝阳4S店", "time": SLOT,
         "link": "https://owner.example.cn/r/1", "amount": "1999.00", "reason": "MAINTENANCE"}


def test_booking_confirmed_in_chinese_names_the_customer_car_dealer_and_slot():
    message = render(Kind.BOOKING_CONFIRMED, "zh-CN", FACTS, zone="Asia/Shanghai")
    assert message.title == "预约成功"
    assert message.body == ("王磊您好，您的爱车京A12345已预约北京朝阳4S店，时间3月18日 09:30。"
                            "如需改期请联系服务顾问。")


def test_the_same_message_in_english():
    message = render(Kind.BOOKING_CONFIRMED, "en", FACTS, zone="Asia/Shanghai")
    assert message.body.startswith("Dear 王磊, your 京A12345 is booked in at 北京朝阳4S店 "
                                   "for 18 Mar 09:30.")


def test_times_are_shown_in_the_customers_zone():
    message = render(Kind.BOOKING_CONFIRMED, "en", FACTS, zone="Europe/Berlin")
    assert "18 Mar 02:30" in message.body


def test_inspection_and_quote_messages_carry_their_link():
    inspection = render(Kind.INSPECTION_READY, "zh-CN", FACTS, zone="Asia/Shanghai")
    quote = render(Kind.QUOTE_WAITING, "zh-CN", FACTS, zone="Asia/Shanghai")
    assert inspection.link == FACTS["link"] and FACTS["link"] in inspection.body
    assert "1999.00元" in quote.body and FACTS["link"] in quote.body


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_kind_has_both_languages_and_survives_missing_facts(kind, language):
    message = render(kind, language, {}, zone="Asia/Shanghai")
    assert message.title and message.body
    assert "{" not in message.body and "None" not in message.body


def test_an_unknown_language_falls_back_to_chinese():
    message = render(Kind.READY_FOR_PICKUP, "fr", FACTS, zone="Asia/Shanghai")
    assert message.title == "车辆可取"


def test_marketing_messages_end_with_the_unsubscribe_path():
    message = render(Kind.REMINDER_DUE, "zh-CN", {**FACTS, "time": "2025-04-18"},
                     zone="Asia/Shanghai", unsubscribe_url="https://n.example.cn/unsubscribe/x")
    assert "保养将于2025-04-18到期" in message.body
    assert message.body.endswith("回复TD退订 https://n.example.cn/unsubscribe/x")
