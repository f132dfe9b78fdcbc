"""identity's owner sign-in codes through notify's SMS channel: sent at once, whatever the hour
or the owner's choices, and kept nowhere (no delivery row, no event, no code in an error)."""

from __future__ import annotations

from notify import use_cases
from notify.channels import DeliveryResult
from services.notify.tests.unit.fakes import FakeNotifyUnitOfWork, RecordingChannel


def send(uow: FakeNotifyUnitOfWork, code: str = "042917") -> dict:
    return use_cases.send_one_time_code(uow, phone="13812345678", code=code, minutes=5,
                                        message_id="m-1")


def test_a_code_goes_out_at_once_in_both_languages_and_is_kept_nowhere():
    uow = FakeNotifyUnitOfWork()
    assert send(uow)["sent"] is True
    (message,) = uow.channels["SMS"].sent
    assert message.to == "13812345678" and message.kind == "ONE_TIME_CODE"
    assert "042917" in message.body and "5分钟" in message.body and "5 minutes" in message.body
    assert uow.deliveries.rows == []
    assert uow.emitted == []


def test_a_failed_send_says_why_without_the_code():
    channel = RecordingChannel(DeliveryResult.failed("HTTP 400: bad text 042917",
                                                     retryable=False))
    answer = send(FakeNotifyUnitOfWork(channels={"SMS": channel}))
    assert answer["sent"] is False and "042917" not in answer["error"]
    assert "******" in answer["error"]


def test_without_an_sms_channel_nothing_is_sent():
    answer = send(FakeNotifyUnitOfWork(channels={}))
    assert (answer["sent"], answer["error"]) == (False, "no SMS channel is configured")
