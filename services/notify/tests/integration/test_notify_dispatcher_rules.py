"""The dispatcher's rules on the real PostgreSQL, driven directly (no broker needed): late
contacts, rate limits, giving up on unknown customers, channels that are not configured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.orm import Session

from chassis.db import create_engine
from chassis.testing import service_database
from chassis.unit_of_work import FakeEvents
from contracts import events
from notify import use_cases
from notify.channels import FileSink
from notify.privacy import ContactCipher
from notify.service import NotifyService
from notify.settings import NotifySettings
from notify.store import NotifyUnitOfWork
from services.notify.tests.integration.notify_hq import (
    HANDLERS,
    ManualClock,
    booked,
    example,
    shanghai,
    site_event,
)

SECRET = "another-secret-for-the-contact-book-012345"


class Notify:
    def __init__(self, session: Session, config: NotifySettings, sink: FileSink) -> None:
        self.session, self.sink = session, sink
        self.clock = ManualClock(shanghai(17, 10))
        self.options = config
        self.uow = NotifyUnitOfWork(session, FakeEvents(), cipher=ContactCipher(SECRET),
                                    channels={"SMS": sink})
        self.runtime = SimpleNamespace(adapters=self.uow.channels)
        self.service = NotifyService.__new__(NotifyService)
        self.service.uow, self.service.options = self.uow, config
        self.service.clock = self.clock

    def receive(self, *history: dict[str, Any]) -> None:
        for event in history:
            HANDLERS[event["type"]].handler(self.service, event)
            self.session.commit()

    def dispatch(self) -> dict[str, int]:
        return use_cases.dispatch_due(self.uow, self.options, now=self.clock.now()).as_dict()

    def later(self, **delta: float) -> None:
        self.clock.set(self.clock.now() + timedelta(**delta))

    def log(self) -> list[dict[str, Any]]:
        return self.uow.deliveries.listing(customer_id=None, status=None, limit=100)

    def sent(self) -> list[dict[str, Any]]:
        if not self.sink.path.exists():
            return []
        return [json.loads(line) for line in self.sink.path.read_text("utf-8").splitlines()]


@pytest.fixture
def make_notify(database, tmp_path) -> Iterator[Any]:
    made: list[tuple[Any, Notify]] = []

    def make(**config: Any) -> Notify:
        engine = create_engine(service_database(database, NotifyService))
        options = NotifySettings(**config, contact_secret=SECRET, link_secret=SECRET)
        notify = Notify(Session(engine), options,
                        FileSink(str(tmp_path / f"sms-{len(made)}.jsonl")))
        made.append((engine, notify))
        return notify

    yield make
    for engine, notify in made:
        notify.session.close()
        engine.dispose()


def test_ready_for_pickup_before_the_repair_order_is_known_waits_for_it(make_notify):
    notify = make_notify()
    notify.receive(site_event(events.QualityCheckCompleted, sequence=6, repair_order_id="RO-9",
                              stage="INSPECTOR", passed=True, reason=None))
    assert notify.dispatch()["held"] == 1 and notify.sent() == []
    assert notify.log()[0]["reason"] == "AWAITING_CONTACT"
    notify.receive(site_event(events.RepairOrderOpened, repair_order_id="RO-9",
                              customer_id="C-9", appointment_id="A-9"),
                   booked("C-9", "A-9"))
    notify.later(minutes=5)
    notify.dispatch()
    bodies = {m["kind"]: m["body"] for m in notify.sent()}
    assert bodies["READY_FOR_PICKUP"] == ("王磊您好，您的爱车京A12345已完工并通过质检，"
                                          "可到D001取车。")
    assert {row["customer_id"] for row in notify.log()} == {"C-9"}


def test_a_customer_never_known_is_given_up_after_the_wait(make_notify):
    notify = make_notify(contact_wait=timedelta(hours=48))
    notify.receive(site_event(events.ReminderDue, customer_id="C-unknown", reason="RECALL",
                              campaign_code="RC-2025-01", source_repair_order_id=None))
    assert notify.dispatch()["held"] == 1
    notify.later(hours=48)
    assert notify.dispatch()["suppressed"] == 1
    assert [(r["status"], r["reason"]) for r in notify.log()] == [("SUPPRESSED", "NO_CONTACT")]


def test_the_rate_limit_spreads_a_burst(make_notify):
    notify = make_notify(rate_limits={"SMS": (2.0, 1 / 60)})
    notify.receive(*(booked(f"C-{n}", f"A-{n}", phone=f"1380000000{n}") for n in range(3)))
    assert notify.dispatch() == {"sent": 2, "failed": 0, "retrying": 0, "suppressed": 0,
                                 "held": 1}
    [waiting] = [row for row in notify.log() if row["status"] == "QUEUED"]
    assert waiting["due_at"] == notify.clock.now() + timedelta(seconds=60)
    assert waiting["reason"] == "RATE_LIMITED"
    notify.later(seconds=59)
    assert notify.dispatch()["sent"] == 0
    notify.later(seconds=1)
    assert notify.dispatch()["sent"] == 1


def test_a_channel_that_is_not_configured_is_recorded_not_attempted(make_notify):
    notify = make_notify()
    notify.uow.contacts.save_preferences("C-1", {"channels": "EMAIL,SMS",
                                                 "email": "wang@example.cn"},
                                         notify.clock.now())
    notify.session.commit()
    notify.receive(booked("C-1", "A-1"))
    notify.dispatch()
    outcome = {row["channel"]: (row["status"], row["reason"]) for row in notify.log()}
    assert outcome == {"EMAIL": ("SUPPRESSED", "CHANNEL_DISABLED"), "SMS": ("SENT", None)}


def test_a_queued_message_checked_at_night_is_moved_to_the_morning(make_notify):
    notify = make_notify()
    notify.clock.set(shanghai(16, 20, 59))
    notify.receive(booked("C-1", "A-1"))
    notify.clock.set(shanghai(16, 21, 0))  # the dispatcher comes round a minute later
    assert notify.dispatch()["held"] == 1
    assert notify.log()[0]["due_at"] == shanghai(17, 8)


def test_the_survey_after_delivery_carries_crms_signed_link(make_notify):
    notify = make_notify(owner_app_url="https://owner.example.cn")
    notify.receive(booked("C-1", "A-1"),
                   site_event(events.VehicleDelivered, sequence=9, repair_order_id="RO-1",
                              customer_id="C-1", appointment_id="A-1"),
                   site_event(events.SurveyRequested, survey_id="SVY-1", repair_order_id="RO-1",
                              customer_id="C-1", link_token="SVY-1~abc"))
    notify.dispatch()
    survey = [m for m in notify.sent() if m["kind"] == "SURVEY"]
    assert [m["link"] for m in survey] == ["https://owner.example.cn/surveys/SVY-1~abc"]
    assert survey[0]["body"].startswith("王磊您好，感谢您选择D001。请花一分钟评价本次服务")


def test_the_quote_message_carries_the_sites_signed_link(make_notify):
    notify = make_notify(owner_app_url="https://owner.example.cn")
    site_link = example(events.QuoteIssued)["data"]["quote_url"]
    notify.receive(booked("C-1", "A-1"),
                   site_event(events.QuoteIssued, sequence=3, repair_order_id="RO-1",
                              customer_id="C-1"),
                   site_event(events.QuoteIssued, sequence=4, repair_order_id="RO-1",
                              customer_id="C-1", round=2, quote_id="Q-RO-1-2", quote_url=None))
    notify.dispatch()
    quotes = [m for m in notify.sent() if m["kind"] == "QUOTE_WAITING"]
    # The site's own grant to decide round 1; round 2 came from a site with no owner portal.
    assert [m["link"] for m in quotes] == [site_link,
                                           "https://owner.example.cn/repair-orders/RO-1/quote"]
    assert quotes[0]["body"].endswith(site_link)


class Exploding:
    def send(self, message):  # type: ignore[no-untyped-def]
        raise RuntimeError("adapter bug")


def test_a_message_that_breaks_the_dispatcher_backs_off_and_finally_fails(make_notify):
    from notify.domain import Backoff

    notify = make_notify(backoff=Backoff(initial_seconds=10, max_attempts=2))
    notify.runtime.adapters["SMS"] = Exploding()
    notify.receive(booked("C-1", "A-1"))
    assert notify.dispatch()["retrying"] == 1
    notify.later(seconds=10)
    assert notify.dispatch()["failed"] == 1
    [row] = notify.log()
    assert row["status"] == "FAILED" and row["last_error"] == "dispatcher: RuntimeError"


def test_a_booking_message_that_arrives_after_its_slot_began_is_not_sent(make_notify):
    notify = make_notify()
    notify.clock.set(shanghai(18, 9, 30))  # the example's slot starts at 09:30 that day
    notify.receive(booked("C-1", "A-1"))
    notify.dispatch()
    assert [(r["status"], r["reason"]) for r in notify.log()] == [("SUPPRESSED", "SUPERSEDED")]
