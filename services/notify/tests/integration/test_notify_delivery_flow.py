"""From a site's event to a message on the owner's phone, through the real broker, database
and a local SMS gateway: once, never at night, and never after 退订."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import requests

from chassis.auth import Role
from chassis.config import development_secret
from chassis.testing import auth, wait_for
from contracts import events
from notify.channels import sign
from notify.domain import unsubscribe_token
from services.notify.tests.integration.conftest import OPERATOR
from services.notify.tests.integration.notify_hq import (
    GATEWAY_SECRET,
    booked,
    new_id,
    shanghai,
    site_event,
)


def test_a_booking_reaches_the_owner_by_sms_once(hq):
    customer = new_id("C")
    booking = booked(customer)
    hq.events.publish(booking)
    [queued] = hq.wait_for_deliveries(1)
    assert queued["status"] == "QUEUED" and queued["kind"] == "BOOKING_CONFIRMED"

    assert hq.dispatch()["sent"] == 1
    [sms] = hq.gateway.received
    assert sms["to"] == "13812345678"
    assert sms["text"].startswith("王磊您好，您的爱车京A12345已预约北京朝阳4S店，时间3月18日 09:30")

    # The same event again (a redelivery) and the dealer's confirmation of the same booking.
    appointment_id = booking["data"]["appointment_id"]
    confirmed = site_event(events.AppointmentConfirmed, sequence=2,
                           appointment_id=appointment_id, customer_id=customer)
    hq.events.publish(booking, confirmed)
    wait_for(lambda: hq.inbox() >= 2, message="the confirmation in the inbox")
    hq.dispatch()
    assert len(hq.gateway.received) == 1
    [log] = hq.deliveries()
    assert log["status"] == "SENT" and log["attempts"] == 1 and log["customer_id"] == customer


def test_a_message_at_night_waits_until_eight_in_the_morning(hq):
    hq.clock.set(shanghai(16, 22, 30))
    customer = new_id("C")
    hq.events.publish(booked(customer))
    opened = site_event(events.RepairOrderOpened, repair_order_id=new_id("RO"),
                        customer_id=customer)
    hq.events.publish(opened)
    hq.wait_for_deliveries(2)

    summary = hq.dispatch()
    assert summary["sent"] == 0 and hq.gateway.received == []
    assert {(row["due_at"], row["reason"]) for row in hq.deliveries()} == {
        (shanghai(17, 8), "QUIET_HOURS")}

    hq.clock.set(shanghai(17, 7, 59))
    assert hq.dispatch()["sent"] == 0
    hq.clock.set(shanghai(17, 8, 0))
    assert hq.dispatch()["sent"] == 2
    assert {sms["text"][:12] for sms in hq.gateway.received} == {"王磊您好，您的爱车京A1"}
    assert any("已在北京朝阳4S店开单接车" in sms["text"] for sms in hq.gateway.received)


def test_a_failed_send_is_retried_with_backoff(hq):
    hq.gateway.fail_first = 1
    hq.events.publish(booked(new_id("C")))
    hq.wait_for_deliveries(1)
    assert hq.dispatch()["retrying"] == 1
    [row] = hq.deliveries()
    assert row["status"] == "QUEUED" and row["attempts"] == 1 and "503" in row["last_error"]
    assert row["reason"] == "RETRY"
    assert row["due_at"] == hq.clock.now() + timedelta(seconds=30)

    assert hq.dispatch()["sent"] == 0  # not due yet
    hq.clock.set(hq.clock.now() + timedelta(seconds=30))
    assert hq.dispatch()["sent"] == 1
    [row] = hq.deliveries()
    assert row["status"] == "SENT" and row["attempts"] == 2 and row["reason"] is None


def test_an_operator_sends_a_failed_message_again(hq):
    hq.gateway.fail_first, hq.gateway.fail_status = 1, 400  # refused for good
    hq.events.publish(booked(new_id("C")))
    [row] = hq.wait_for_deliveries(1)
    assert hq.dispatch()["failed"] == 1
    retry = f"{hq.url}/deliveries/{row['message_id']}/retry"
    again = requests.post(retry, headers=OPERATOR, timeout=10)
    assert again.status_code == 200 and again.json()["status"] == "QUEUED"
    assert hq.dispatch()["sent"] == 1 and len(hq.gateway.received) == 1
    sent_already = requests.post(retry, headers=OPERATOR, timeout=10)
    assert sent_already.status_code == 409 and sent_already.json()["status"] == "SENT"
    unknown = requests.post(f"{hq.url}/deliveries/{uuid.uuid4()}/retry", headers=OPERATOR,
                            timeout=10)
    assert unknown.status_code == 404


def _reminder(customer: str, reason: str) -> dict:
    return site_event(events.ReminderDue, reminder_id=new_id("RMD"), customer_id=customer,
                      reason=reason, source_repair_order_id=None)


def _consent(hq, customer: str) -> None:
    response = requests.put(f"{hq.url}/customers/{customer}/preferences",
                            json={"marketing_consent": True, "language": "zh-CN"},
                            headers=auth(Role.OWNER, subject=customer), timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["marketing_consent"] is True


def _signed_reply(text: str, phone: str = "13812345678") -> tuple[bytes, dict[str, str]]:
    body = f'{{"from": "{phone}", "text": "{text}"}}'.encode()
    stamp = str(int(time.time()))
    return body, {"Content-Type": "application/json", "X-Timestamp": stamp,
                  "X-Signature": sign(GATEWAY_SECRET, stamp, body)}


def test_a_reply_of_TD_unsubscribes_at_once_even_from_what_is_already_queued(hq):
    customer = new_id("C")
    hq.events.publish(booked(customer))
    hq.wait_for_deliveries(1)
    _consent(hq, customer)
    reminder = _reminder(customer, "MAINTENANCE")
    hq.events.publish(reminder)
    hq.wait_for_deliveries(1, kind="REMINDER_DUE")

    body, headers = _signed_reply("TD")
    unsigned = requests.post(f"{hq.url}/inbound/sms", data=body,
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert unsigned.status_code == 401
    answer = requests.post(f"{hq.url}/inbound/sms", data=body, headers=headers, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"unsubscribe": True, "customers": 1}

    hq.dispatch()
    [reminder_log] = hq.deliveries(kind="REMINDER_DUE")
    assert reminder_log["status"] == "SUPPRESSED" and reminder_log["reason"] == "UNSUBSCRIBED"
    # Service messages are not marketing: the booking confirmation still goes out.
    assert [sms["text"][:4] for sms in hq.gateway.received] == ["王磊您好"]


def test_marketing_needs_consent_and_the_link_unsubscribes(hq):
    consenting, silent = new_id("C"), new_id("C")
    hq.events.publish(booked(consenting, phone="13900001111"),
                      booked(silent, phone="13900002222"))
    hq.wait_for_deliveries(2)
    _consent(hq, consenting)
    hq.dispatch()
    for customer in (consenting, silent):
        hq.events.publish(_reminder(customer, "INSURANCE"))
    hq.wait_for_deliveries(2, kind="REMINDER_DUE")
    hq.dispatch()
    by_customer = {row["customer_id"]: row for row in hq.deliveries(kind="REMINDER_DUE")}
    assert by_customer[silent]["reason"] == "NO_CONSENT"
    assert by_customer[consenting]["status"] == "SENT"
    reminder_sms = hq.gateway.received[-1]["text"]
    assert "保险将于2025-04-18到期" in reminder_sms and "回复TD退订" in reminder_sms
    link = reminder_sms.rsplit(" ", 1)[1]
    token = link.rsplit("/", 1)[1]
    assert token == unsubscribe_token(development_secret("notify", "link_secret"), consenting)

    page = requests.get(f"{hq.url}/unsubscribe/{token}", timeout=10)
    assert page.status_code == 200 and "退订" in page.text
    assert requests.get(f"{hq.url}/unsubscribe/{token}x", timeout=10).status_code == 404
    again = _reminder(consenting, "MAINTENANCE")
    hq.events.publish(again)
    hq.wait_for_deliveries(3, kind="REMINDER_DUE")
    hq.dispatch()
    assert hq.deliveries(reference=again["subject"])[0]["reason"] == "UNSUBSCRIBED"


def test_the_portals_confirmation_posts_the_link_and_unsubscribes(hq):
    customer = new_id("C")
    hq.events.publish(booked(customer, phone="13900003333"))
    hq.wait_for_deliveries(1)
    _consent(hq, customer)
    token = unsubscribe_token(development_secret("notify", "link_secret"), customer)
    owner = auth(Role.OWNER, subject=customer)

    assert requests.post(f"{hq.url}/unsubscribe/{token}x", timeout=10).status_code == 404
    answer = requests.post(f"{hq.url}/unsubscribe/{token}", timeout=10)
    assert answer.status_code == 200 and answer.json() == {"unsubscribed": True}
    choices = requests.get(f"{hq.url}/customers/{customer}/preferences", headers=owner,
                           timeout=10).json()
    assert (choices["marketing_consent"], choices["unsubscribed"]) == (False, True)
    # Confirming twice (a double tap) is still done, not an error.
    assert requests.post(f"{hq.url}/unsubscribe/{token}", timeout=10).status_code == 200


def test_the_delivery_log_for_operators_and_for_the_owner_alone(hq):
    customer, other = new_id("C"), new_id("C")
    hq.events.publish(booked(customer), booked(other, phone="13900003333"))
    hq.wait_for_deliveries(2)
    hq.dispatch()
    log = requests.get(f"{hq.url}/deliveries", params={"customer": customer, "status": "SENT"},
                       headers=OPERATOR, timeout=10)
    assert log.status_code == 200
    [entry] = log.json()["deliveries"]
    assert entry["customer_id"] == customer and entry["channel"] == "SMS"
    assert "13812345678" not in log.text
    owner = auth(Role.OWNER, subject=customer)
    mine = requests.get(f"{hq.url}/deliveries", headers=owner, timeout=10).json()
    assert {e["customer_id"] for e in mine["deliveries"]} == {customer}
    theirs = requests.get(f"{hq.url}/deliveries", params={"customer": other}, headers=owner,
                          timeout=10)
    assert theirs.status_code == 404
    bad = requests.get(f"{hq.url}/deliveries", params={"status": "LOST"}, headers=OPERATOR,
                       timeout=10)
    assert bad.status_code == 422 and "status" in bad.json()["fields"]
    assert requests.post(f"{hq.url}/dispatch-runs", headers=owner, timeout=10).status_code == 403
    assert str(uuid.UUID(entry["message_id"])) == entry["message_id"]
