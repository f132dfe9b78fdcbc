"""notify's use cases against a fake unit of work and fake channels (no database, broker,
network or files): what is queued per event, what the dispatcher does with each message,
and the owner's choices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chassis.errors import Conflict, NotFound
from contracts import events
from notify import use_cases
from notify.channels import DeliveryResult
from notify.domain import Backoff, unsubscribe_token
from notify.settings import NotifySettings
from services.notify.tests.unit.fakes import (
    SECRET,
    BrokenChannel,
    FakeNotifyUnitOfWork,
    RecordingChannel,
)

SHANGHAI_NOON = datetime(2025, 3, 17, 4, 0, tzinfo=UTC)
SHANGHAI_NIGHT = datetime(2025, 3, 17, 15, 0, tzinfo=UTC)
OPTIONS = NotifySettings(owner_app_url="https://owner.example.cn", contact_secret=SECRET,
                         link_secret=SECRET, dealer_names={"D001": "北京一店"})
_ids = iter(range(1, 10_000))


def event(data: dict[str, Any], *, sequence: int = 1) -> dict[str, Any]:
    return {"id": f"E-{next(_ids)}", "dealercode": "D001", "sequence": sequence,
            "data": data}


def booked(customer_id: str = "C-1", appointment_id: str = "A-1",
           slot: str = "2025-03-18T09:30:00+08:00") -> dict[str, Any]:
    return event({"appointment_id": appointment_id,
                  "customer": {"customer_id": customer_id, "name": "王磊",
                               "phone": "13812345678"},
                  "vehicle": {"plate": "京A12345"}, "slot_start": slot,
                  "booked_at": "2025-03-15T20:12:45+08:00"})


def opened(customer_id: str = "C-1", ro: str = "RO-1") -> dict[str, Any]:
    return event({"repair_order_id": ro, "customer_id": customer_id, "plate": "京A12345",
                  "promised_at": "2025-03-17T18:00:00+08:00"})


def reminder(customer_id: str = "C-1", reason: str = "MAINTENANCE") -> dict[str, Any]:
    return event({"reminder_id": "RMD-1", "reason": reason, "customer_id": customer_id,
                  "due_on": "2025-04-18"})


@pytest.fixture
def uow() -> FakeNotifyUnitOfWork:
    return FakeNotifyUnitOfWork()


def sms(uow: FakeNotifyUnitOfWork) -> RecordingChannel:
    return uow.channels["SMS"]


# -- what is queued ----------------------------------------------------------------------------

def test_a_booking_learns_the_contact_sealed_and_queues_one_confirmation(uow):
    use_cases.appointment_booked(uow, OPTIONS, booked(), now=SHANGHAI_NOON)
    contact = uow.contacts.get("C-1")
    assert contact["phone_sealed"] != "13812345678"
    assert uow.cipher.open(contact["phone_sealed"]) == "13812345678"
    assert uow.deliveries.states() == [("BOOKING_CONFIRMED", "SMS", "QUEUED", None)]


def test_the_confirmation_of_a_booking_is_the_same_message_not_a_second_one(uow):
    use_cases.appointment_booked(uow, OPTIONS, booked(), now=SHANGHAI_NOON)
    use_cases.appointment_confirmed(uow, OPTIONS, event({
        "appointment_id": "A-1", "customer_id": "C-1",
        "slot_start": "2025-03-18T09:30:00+08:00"}, sequence=2), now=SHANGHAI_NOON)
    assert len(uow.deliveries.rows) == 1


def test_a_message_queued_at_night_is_due_in_the_morning(uow):
    use_cases.repair_order_opened(uow, OPTIONS, opened(), now=SHANGHAI_NIGHT)
    [row] = uow.deliveries.rows
    assert row["reason"] == "QUIET_HOURS"
    assert row["due_at"] == datetime(2025, 3, 18, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


def test_a_message_goes_on_every_channel_the_customer_chose(uow):
    uow.contacts.save_preferences("C-1", {"channels": "SMS,EMAIL"}, SHANGHAI_NOON)
    use_cases.repair_order_opened(uow, OPTIONS, opened(), now=SHANGHAI_NOON)
    assert [r[1] for r in uow.deliveries.states()] == ["SMS", "EMAIL"]


def test_only_the_inspector_passing_the_car_makes_it_ready_for_pickup(uow):
    for stage, passed in (("FOREMAN", True), ("INSPECTOR", False)):
        use_cases.quality_check_completed(uow, OPTIONS, event({
            "repair_order_id": "RO-1", "stage": stage, "passed": passed}), now=SHANGHAI_NOON)
    assert uow.deliveries.rows == []
    use_cases.quality_check_completed(uow, OPTIONS, event({
        "repair_order_id": "RO-1", "stage": "INSPECTOR", "passed": True}), now=SHANGHAI_NOON)
    assert uow.deliveries.states() == [("READY_FOR_PICKUP", "SMS", "QUEUED", None)]


def test_a_reminder_is_marketing_or_service_by_its_reason(uow):
    use_cases.reminder_due(uow, OPTIONS, reminder(reason="MAINTENANCE"), now=SHANGHAI_NOON)
    assert uow.deliveries.rows[0]["purpose"] == "MARKETING"
    assert uow.deliveries.rows[0]["params"].count("https://owner.example.cn/book?reminder=") == 1


def quote(**data: Any) -> dict[str, Any]:
    return event({"repair_order_id": "RO-1", "quote_id": "Q-RO-1-1", "round": 1,
                  "customer_id": "C-1", "total": "591.00", **data}, sequence=3)


def test_the_quote_message_carries_the_sites_signed_link_else_the_owner_app(uow):
    site_link = "https://owners.d001.example.cn/quote-links/eyJhbGciOiJIUzI1NiJ9.e30.c2ln"
    use_cases.appointment_booked(uow, OPTIONS, booked(), now=SHANGHAI_NOON)
    use_cases.quote_issued(uow, OPTIONS, quote(quote_url=site_link), now=SHANGHAI_NOON)
    use_cases.quote_issued(uow, OPTIONS, quote(round=2, quote_id="Q-RO-1-2"),
                           now=SHANGHAI_NOON)  # a site with no owner portal sends none
    use_cases.dispatch_due(uow, OPTIONS, now=SHANGHAI_NOON)
    links = [m.link for m in sms(uow).sent if m.kind == "QUOTE_WAITING"]
    assert links == [site_link, "https://owner.example.cn/repair-orders/RO-1/quote"]
    assert site_link in sms(uow).sent[1].body


PORTALS = NotifySettings(owner_app_url="https://owner.example.cn", contact_secret=SECRET,
                         link_secret=SECRET, portal_url="https://hq.example.cn",
                         owner_pages={"D001": "https://d001.example.cn"})


def test_a_dealers_links_open_that_sites_portal_and_others_fall_back(uow):
    use_cases.appointment_booked(uow, PORTALS, booked(), now=SHANGHAI_NOON)
    use_cases.repair_order_opened(uow, PORTALS, opened(), now=SHANGHAI_NOON)
    use_cases.inspection_uploaded(uow, PORTALS, event({
        "repair_order_id": "RO-1", "inspection_id": "INS-1"}, sequence=2), now=SHANGHAI_NOON)
    use_cases.quote_issued(uow, PORTALS, quote(), now=SHANGHAI_NOON)
    use_cases.quality_check_completed(uow, PORTALS, event({
        "repair_order_id": "RO-1", "stage": "INSPECTOR", "passed": True}, sequence=4),
        now=SHANGHAI_NOON)
    use_cases.reminder_due(uow, PORTALS, reminder(reason="RECALL"), now=SHANGHAI_NOON)
    elsewhere = event({"reminder_id": "RMD-2", "reason": "RECALL", "customer_id": "C-1",
                       "due_on": "2025-04-18"})
    elsewhere["dealercode"] = "D009"  # a site notify has no portal for
    use_cases.reminder_due(uow, PORTALS, elsewhere, now=SHANGHAI_NOON)
    use_cases.dispatch_due(uow, PORTALS, now=SHANGHAI_NOON)
    links = {(m.kind, m.link) for m in sms(uow).sent}
    assert links == {
        ("BOOKING_CONFIRMED", None),
        ("CAR_RECEIVED", "https://d001.example.cn/repair-orders/RO-1"),
        ("INSPECTION_READY", "https://d001.example.cn/repair-orders/RO-1/inspection"),
        ("QUOTE_WAITING", "https://d001.example.cn/repair-orders/RO-1/quote"),
        ("READY_FOR_PICKUP", "https://d001.example.cn/repair-orders/RO-1"),
        ("REMINDER_DUE", "https://d001.example.cn/book?reminder=RMD-1"),
        ("REMINDER_DUE", "https://owner.example.cn/book?reminder=RMD-2")}


def test_the_survey_and_unsubscribing_open_headquarters_portal(uow):
    use_cases.appointment_booked(uow, PORTALS, booked(), now=SHANGHAI_NOON)
    use_cases.survey_requested(uow, PORTALS, event({
        "survey_id": "SVY-1", "repair_order_id": "RO-1", "customer_id": "C-1",
        "link_token": "SVY-1~abc"}), now=SHANGHAI_NOON)
    use_cases.consent_changed(uow, event({
        "customer_id": "C-1", "purpose": "MARKETING", "channels": ["SMS"], "granted": True,
        "via": "CALL_CENTRE", "changed_at": "2025-03-16T10:00:00+08:00"}))
    use_cases.reminder_due(uow, PORTALS, reminder(), now=SHANGHAI_NOON)
    use_cases.dispatch_due(uow, PORTALS, now=SHANGHAI_NOON)
    by_kind = {m.kind: m for m in sms(uow).sent}
    assert by_kind["SURVEY"].link == "https://hq.example.cn/surveys/SVY-1~abc"
    token = unsubscribe_token(SECRET, "C-1")
    assert by_kind["REMINDER_DUE"].body.endswith(
        f"回复TD退订 https://hq.example.cn/unsubscribe/{token}")


# -- dispatching -------------------------------------------------------------------------------

def test_a_due_message_is_sent_in_the_customers_language_with_the_latest_facts(uow):
    use_cases.appointment_booked(uow, OPTIONS, booked(), now=SHANGHAI_NOON)
    use_cases.appointment_rescheduled(uow, event({
        "appointment_id": "A-1", "customer_id": "C-1",
        "slot_start": "2025-03-19T14:00:00+08:00"}, sequence=2))
    summary = use_cases.dispatch_due(uow, OPTIONS, now=SHANGHAI_NOON)
    assert summary.as_dict() == {"sent": 1, "failed": 0, "retrying": 0, "suppressed": 0,
                                 "held": 0}
    [message] = sms(uow).sent
    assert message.to == "13812345678"
    assert message.body == "王磊您好，您的爱车京A12345已预约北京一店，时间3月19日 14:00。" \
                           "如需改期请联系服务顾问。"
    assert uow.deliveries.states() == [("BOOKING_CONFIRMED", "SMS", "SENT", None)]
    assert summary.outcomes == {("SMS", "sent"): 1}


def test_a_cancelled_booking_is_not_confirmed(uow):
    use_cases.appointment_booked(uow, OPTIONS, booked(), now=SHANGHAI_NOON)
    use_cases.appointment_cancelled(uow, event({
        "appointment_id": "A-1", "customer_id": "C-1",
        "cancelled_at": "2025-03-16T10:00:00+08:00"}, sequence=2))
    assert use_cases.dispatch_due(uow, OPTIONS, now=SHANGHAI_NOON).suppressed == 1
    assert sms(uow).sent == []
    assert uow.deliveries.states() == [("BOOKING_CONFIRMED", "SMS", "SUPPRESSED",
                                        "SUPERSEDED")]


def test_news_of_a_car_already_delivered_is_not_sent(uow):
    use_cases.appointment_booked(uow, OPTIONS, booked(), now=SHANGHAI_NOON)
    use_cases.repair_order_opened(uow, OPTIONS, opened(), now=SHANGHAI_NOON)
    use_cases.vehicle_delivered(uow, event({
        "repair_order_id": "RO-1", "customer_id": "C-1",
        "delivered_at": "2025-03-17T11:00:00+08:00"}, sequence=9))
    use_cases.dispatch_due(uow, OPTIONS, now=SHANGHAI_NOON)
    assert ("CAR_RECEIVED", "SMS", "SUPPRESSED", "SUPERSEDED") in uow.deliveries.states()


def test_a_message_for_a_customer_not_known_yet_waits_then_is_given_up(uow):
    use_cases.repair_order_opened(uow, OPTIONS, opened(), now=SHANGHAI_NOON)
    assert use_cases.dispatch_due(uow, OPTIONS, now=SHANGHAI_NOON).held == 1
    assert uow.deliveries.states() == [("CAR_RECEIVED", "SMS", "QUEUED", "AWAITING_CONTACT")]
    later = SHANGHAI_NOON + OPTIONS.contact_wait
    assert use_cases.dispatch_due(uow, OPTIONS, now=later).suppressed == 1
    assert uow.deliveries.states() == [("CAR_RECEIVED", "SMS", "SUPPRESSED", "NO_CONTACT")]


def test_marketing_needs_consent_and_carries_an_unsubscribe_link(uow):
    use_cases.appointment_booked(uow, OPTIONS, booked(), now=SHANGHAI_NOON)
    use_cases.dispatch_due(uow, OPTIONS, now=SHANGHAI_NOON)
    use_cases.reminder_due(uow, OPTIONS, reminder(), now=SHANGHAI_NOON)
    use_cases.dispatch_due(uow, OPTIONS, now=SHANGHAI_NOON)
    assert uow.deliveries.states()[-1] == ("REMINDER_DUE", "SMS", "SUPPRESSED", "NO_CONSENT")

    uow2 = FakeNotifyUnitOfWork()
    use_cases.appointment_booked(uow2, OPTIONS, booked(), now=SHANGHAI_NOON)
    use_cases.consent_changed(uow2, event({
        "customer_id": "C-1", "purpose": "MARKETING", "channels": ["SMS"], "granted": True,
        "via": "CALL_CENTRE", "changed_at": "2025-03-16T10:00:00+08:00"}))
    use_cases.reminder_due(uow2, OPTIONS, reminder(), now=SHANGHAI_NOON)
    use_cases.dispatch_due(uow2, OPTIONS, now=SHANGHAI_NOON)
    token = unsubscribe_token(SECRET, "C-1")
    assert sms(uow2).sent[-1].body.endswith(
        f"回复TD退订 https://notify.aftersales.example.cn/unsubscribe/{token}")


def test_a_channel_not_configured_is_recorded_not_attempted():
    uow = FakeNotifyUnitOfWork(channels={})
    use_cases.appointment_booked(uow, OPTIONS, booked(), now=SHANGHAI_NOON)
    use_cases.dispatch_due(uow, OPTIONS, now=SHANGHAI_NOON)
    assert uow.deliveries.states() == [("BOOKING_CONFIRMED", "SMS", "SUPPRESSED",
                                        "CHANNEL_DISABLED")]


def test_the_rate_limit_holds_what_is_over_it_and_keeps_its_bucket(uow):
    limited = NotifySettings(rate_limits={"SMS": (1.0, 1 / 60)}, contact_secret=SECRET,
                             link_secret=SECRET)
    use_cases.appointment_booked(uow, limited, booked("C-1", "A-1"), now=SHANGHAI_NOON)
    use_cases.appointment_booked(uow, limited, booked("C-2", "A-2"), now=SHANGHAI_NOON)
    summary = use_cases.dispatch_due(uow, limited, now=SHANGHAI_NOON)
    assert (summary.sent, summary.held) == (1, 1)
    assert uow.deliveries.rows[1]["reason"] == "RATE_LIMITED"
    assert uow.deliveries.rows[1]["due_at"] == SHANGHAI_NOON + timedelta(seconds=60)
    assert uow.buckets.get("SMS")["tokens"] == 0.0


def test_a_retryable_failure_backs_off_then_fails():
    channel = RecordingChannel(*[DeliveryResult.failed("gateway busy", retryable=True)] * 2)
    uow = FakeNotifyUnitOfWork(channels={"SMS": channel})
    options = NotifySettings(backoff=Backoff(initial_seconds=10, max_attempts=2),
                             contact_secret=SECRET, link_secret=SECRET)
    use_cases.appointment_booked(uow, options, booked(), now=SHANGHAI_NOON)
    assert use_cases.dispatch_due(uow, options, now=SHANGHAI_NOON).retrying == 1
    assert uow.deliveries.rows[0]["due_at"] == SHANGHAI_NOON + timedelta(seconds=10)
    later = SHANGHAI_NOON + timedelta(seconds=10)
    assert use_cases.dispatch_due(uow, options, now=later).failed == 1
    assert uow.deliveries.rows[0]["attempts"] == 2


def test_a_message_that_breaks_the_dispatcher_is_undone_alone_and_counted():
    uow = FakeNotifyUnitOfWork(channels={"SMS": BrokenChannel()})
    options = NotifySettings(backoff=Backoff(initial_seconds=10, max_attempts=2),
                             contact_secret=SECRET, link_secret=SECRET)
    use_cases.appointment_booked(uow, options, booked(), now=SHANGHAI_NOON)
    assert use_cases.dispatch_due(uow, options, now=SHANGHAI_NOON).retrying == 1
    later = SHANGHAI_NOON + timedelta(seconds=10)
    summary = use_cases.dispatch_due(uow, options, now=later)
    assert summary.failed == 1 and summary.outcomes == {("SMS", "failed"): 1}
    [row] = uow.deliveries.rows
    assert (row["status"], row["last_error"]) == ("FAILED", "dispatcher: RuntimeError")


def test_a_failed_message_can_be_queued_again_and_nothing_else(uow):
    use_cases.appointment_booked(uow, OPTIONS, booked(), now=SHANGHAI_NOON)
    [row] = uow.deliveries.rows
    with pytest.raises(Conflict):
        use_cases.retry_delivery(uow, row["message_id"], now=SHANGHAI_NOON)
    uow.deliveries.update(row["id"], status="FAILED", attempts=5)
    again = use_cases.retry_delivery(uow, row["message_id"], now=SHANGHAI_NOON)
    assert (again["status"], again["attempts"]) == ("QUEUED", 0)
    with pytest.raises(NotFound):
        use_cases.retry_delivery(uow, "no-such-message", now=SHANGHAI_NOON)


# -- the owner's choices -----------------------------------------------------------------------

def test_preferences_with_consent_tell_crm_once(uow):
    view = use_cases.save_preferences(uow, OPTIONS, "C-1", {
        "channels": ["WECHAT", "SMS", "WECHAT"], "marketing_consent": True},
        now=SHANGHAI_NOON, wall_clock=SHANGHAI_NOON)
    assert view["channels"] == ["WECHAT", "SMS"] and view["marketing_consent"] is True
    assert uow.events.types() == [events.ConsentExpressed.type]
    use_cases.save_preferences(uow, OPTIONS, "C-1", {"marketing_consent": True},
                               now=SHANGHAI_NOON, wall_clock=SHANGHAI_NOON)
    assert uow.events.types() == [events.ConsentExpressed.type]  # nothing changed: nothing to say


def test_an_sms_reply_td_unsubscribes_every_customer_with_that_phone(uow):
    use_cases.appointment_booked(uow, OPTIONS, booked("C-1", "A-1"), now=SHANGHAI_NOON)
    use_cases.appointment_booked(uow, OPTIONS, booked("C-2", "A-2"), now=SHANGHAI_NOON)
    assert use_cases.unsubscribe_by_sms(uow, "+86 138-1234-5678", "hello",
                                        now=SHANGHAI_NOON) is None
    assert use_cases.unsubscribe_by_sms(uow, "+86 138-1234-5678", "ＴＤ",
                                        now=SHANGHAI_NOON) == 2
    assert [e["data"]["customer_id"] for e in uow.emitted] == ["C-1", "C-2"]
    assert use_cases.preferences(uow, OPTIONS, "C-1")["unsubscribed"] is True


def test_the_unsubscribe_link_names_its_customer_and_nobody_else(uow):
    use_cases.appointment_booked(uow, OPTIONS, booked(), now=SHANGHAI_NOON)
    use_cases.unsubscribe_by_link(uow, SECRET, unsubscribe_token(SECRET, "C-1"),
                                  now=SHANGHAI_NOON)
    assert uow.emitted[0]["data"]["granted"] is False
    with pytest.raises(NotFound):
        use_cases.unsubscribe_by_link(uow, SECRET, unsubscribe_token("other", "C-1"),
                                      now=SHANGHAI_NOON)
    with pytest.raises(NotFound):
        use_cases.preferences(uow, OPTIONS, "C-404")
