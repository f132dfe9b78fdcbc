"""Headquarters end to end, on the real RabbitMQ and PostgreSQL: crm, bi and notify (with a
local SMS gateway) on one vhost, fed by the events two dealer sites (D001, D002) publish on
their services' event exchanges — as the forwarding from the sites delivers them.

A person with one phone and one car visits both dealers and is one customer in crm's 360;
reminders fall due on the right day, and notify tells the customer (quiet hours, consent and
unsubscribe honoured); a delivery is followed by a survey 24 hours later, whose low score
opens a complaint; bi's KPIs equal values computed by hand; duplicated, shuffled and
redelivered events change nothing.
"""

from __future__ import annotations

import json
import random
import re
import time as clock
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from bi.service import BiService
from chassis.consumer import EventEntrypoint
from chassis.metrics import REGISTRY
from chassis.testing import auth, make_settings, service_database, wait_for
from contracts import events
from contracts.vin import check_digit
from crm.service import CrmService
from notify import models as notify_models
from notify.channels import sign
from notify.service import Clock, NotifyService
from services.crm.tests.integration.crm_hq import (
    AGENT,
    CRM_EXTRA,
    OPERATOR,
    Crm,
    Publisher,
    booked,
    delivered,
    opened,
    site_event,
)
from services.notify.tests.integration.notify_hq import (
    GATEWAY_KEY,
    GATEWAY_SECRET,
    ManualClock,
)
from services.notify.tests.integration.provider_servers import SmsGatewayServer

SHANGHAI = timezone(timedelta(hours=8))
ANALYST = auth("oem_analyst", subject="analyst-1")
OWNER_APP = "https://owner.example.cn"
PHONE = "13812345678"
VIN = "LSVAU2187N2183740"
MARCH = {"from": "2025-03-01", "to": "2025-03-31"}


def consumed(service: type) -> frozenset[str]:
    """The event types a service consumes, read from its entrypoints."""
    return frozenset(entrypoint.event_type for name in dir(service)
                     for entrypoint in getattr(getattr(service, name), "nameko_entrypoints", ())
                     if isinstance(entrypoint, EventEntrypoint))


CONSUMED = {"crm": consumed(CrmService), "bi": consumed(BiService),
            "notify": consumed(NotifyService)}


def duplicates_skipped(service: str) -> float:
    return sum(sample.value for metric in REGISTRY.collect() for sample in metric.samples
               if sample.name == "aftersales_inbox_duplicates_total"
               and sample.labels.get("service") == service)


def a_vin(serial: int) -> str:
    """A valid VIN of the same model and year as `VIN`, numbered `serial`."""
    body = f"LSVAU2187N218{serial:04d}"
    return body[:8] + check_digit(body) + body[9:]


def shanghai(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@dataclass
class Headquarters:
    crm: Crm
    bi_url: str
    bi_engine: sa.Engine
    notify_url: str
    notify_engine: sa.Engine
    clock: ManualClock
    gateway: SmsGatewayServer
    sites: Publisher

    def publish(self, *envelopes: dict[str, Any]) -> None:
        self.sites.publish(*envelopes)

    def inbox(self, service: str) -> int:
        """Events the service applied (one inbox row each)."""
        engine = {"crm": self.crm.engine, "bi": self.bi_engine,
                  "notify": self.notify_engine}[service]
        with engine.connect() as conn:
            return conn.scalar(sa.text("SELECT count(*) FROM inbox"))

    def settle(self, published: list[dict[str, Any]], since: dict[str, float] | None = None
               ) -> None:
        """Wait until every service applied each event it consumes once — the sites' and
        crm's own — and, given the duplicate counts `since` before publishing, skipped every
        further copy."""
        # Headquarters' own events too: crm's reminders, surveys and consent changes, and
        # the 退订 notify passes to crm. One answers another (crm records notify's 退订 and
        # announces it), so they are read again until every service has applied all of them.
        def applied_all() -> bool:
            own = self.outbox("crm") + self.outbox("notify")
            return all(self.inbox(service) == len({e["id"] for e in published + own
                                                   if e["type"] in types})
                       for service, types in CONSUMED.items())

        wait_for(applied_all, message="every service applied every event once")
        if since is None:
            return
        own = self.outbox("crm") + self.outbox("notify")
        for service, types in CONSUMED.items():
            mine = [e for e in published + own if e["type"] in types]
            copies = len(mine) - len({e["id"] for e in mine})
            wait_for(lambda: duplicates_skipped(service) >= since[service] + copies,  # noqa: B023
                     message=f"{service} skipped {copies} copies")

    def outbox(self, service: str) -> list[dict[str, Any]]:
        """Every event the service wrote to its outbox."""
        engine = {"crm": self.crm.engine, "notify": self.notify_engine}[service]
        with engine.connect() as conn:
            return [json.loads(p) for p in conn.execute(
                sa.text("SELECT payload FROM outbox ORDER BY id")).scalars()]

    def kpis(self, headers: dict[str, str] = ANALYST, **params: str) -> dict[str, Any]:
        answer = requests.get(f"{self.bi_url}/kpis", headers=headers, params=params,
                              timeout=15)
        assert answer.status_code == 200, answer.text
        return answer.json()["kpis"]

    def dispatch(self) -> dict[str, int]:
        answer = requests.post(f"{self.notify_url}/dispatch-runs", headers=OPERATOR, timeout=15)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def deliveries(self) -> list[dict[str, Any]]:
        table = notify_models.deliveries
        with self.notify_engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(table).order_by(table.c.id))
                    .mappings()]

    def consent(self, customer_id: str, purpose: str, granted: bool, *channels: str) -> None:
        """The call centre records a consent at crm, which owns it."""
        body = {"consents": [{"purpose": purpose, "channel": c, "granted": granted}
                             for c in channels]}
        answer = self.crm.put(f"/customers/{customer_id}/consents", body)
        assert answer.status_code == 200, answer.text


@pytest.fixture
def hq(database, amqp_uri, services) -> Iterator[Headquarters]:
    # Few workers each: three services share the machine's PostgreSQL connections.
    small = {"dealer_code": "HQ", "max_workers": 4}
    crm_settings = make_settings("crm", service_database(database, CrmService), amqp_uri,
                                 extra=dict(CRM_EXTRA), **small)
    bi_settings = make_settings("bi", service_database(database, BiService), amqp_uri,
                                **small)
    notify_clock = ManualClock(shanghai("2025-03-17T10:00:00"))
    # notify with a clock the test moves (name, tables and handlers unchanged).
    notify_class = type("NotifyAtTestTime", (NotifyService,), {"clock": Clock(notify_clock)})
    with SmsGatewayServer(GATEWAY_KEY, GATEWAY_SECRET) as gateway:
        notify_settings = make_settings(
            "notify", service_database(database, NotifyService), amqp_uri, **small,
            extra={"channels": {"sms": {"adapter": "sms_gateway", "url": gateway.url,
                                        "api_key": GATEWAY_KEY, "api_secret": GATEWAY_SECRET}},
                   "dispatch_loop": False, "owner_app_url": OWNER_APP,
                   "public_url": "https://notify.example.cn",
                   "dealer_names": {"D001": "北京朝阳4S店", "D002": "上海浦东4S店"}})
        for cls, settings in ((CrmService, crm_settings), (BiService, bi_settings),
                              (notify_class, notify_settings)):
            services(cls, settings)
        running = Headquarters(
            crm=Crm(f"http://127.0.0.1:{crm_settings.http_port}", crm_settings.database_url),
            bi_url=f"http://127.0.0.1:{bi_settings.http_port}",
            bi_engine=sa.create_engine(bi_settings.database_url),
            notify_url=f"http://127.0.0.1:{notify_settings.http_port}",
            notify_engine=sa.create_engine(notify_settings.database_url),
            clock=notify_clock, gateway=gateway, sites=Publisher(amqp_uri))
        yield running
        running.sites.close()
        for engine in (running.crm.engine, running.bi_engine, running.notify_engine):
            engine.dispose()


# -- one person, one car, two dealers -------------------------------------------------------

D001_CUSTOMER, D002_CUSTOMER = "D001-C-1001", "D002-C-2001"


def line(line_id: str, kind: str, key: str, amount: str, pay_type: str, hours: str = "1"
         ) -> dict[str, Any]:
    item = {"line_id": line_id, "kind": kind, "description": key, "unit_price": amount,
            "amount": amount, "pay_type": pay_type}
    if kind == "LABOUR":
        item.update(operation_code=key, flat_rate_hours=hours)
    else:
        item.update(part_number=key, quantity="1")
    return item


def checked_in(dealer: str, appointment_id: str, customer_id: str, slot_start: str,
               at: str) -> dict[str, Any]:
    return site_event(events.AppointmentCheckedIn, dealer, 2, appointment_id=appointment_id,
                      customer_id=customer_id, slot_start=slot_start, checked_in_at=at)


def two_sites_history() -> list[dict[str, Any]]:
    """王磊 (phone 13812345678, VIN LSVAU2187N2183740) as the two sites' outboxes send it.

    D001, 18 March: booked, arrives; RO-D001-1 for brake noise and the 30,000 km service;
    five lines approved (1,699.00), the four-wheel alignment declined (300.00); delivered at
    17:21:40, before the promised 17:30; labour 510.00 over 1.7 h sold, 2.25 h clocked;
    1,619.00 customer pay.
    D002: booked for 24 March, no-show; booked again for 26 March, arrives; RO-D002-1 for the
    same brake noise (a comeback, 8 days later); the alignment D001 could not sell (300.00,
    1 h, customer pay) and brake pads under warranty (680.00) approved; delivered 12:40,
    promised 12:00; labour 300.00 over 1.0 h sold, 1.5 h clocked.
    """
    a1, a2, a3 = "APT-D001-1", "APT-D002-1", "APT-D002-2"
    ro1, ro2 = "RO-D001-1", "RO-D002-1"
    ro1_lines = site_event(events.QuoteApproved, "D001", 2)["data"]
    return [
        booked("D001", a1, D001_CUSTOMER, booked_at="2025-03-15T20:12:45+08:00",
               slot_start="2025-03-18T09:30:00+08:00"),
        checked_in("D001", a1, D001_CUSTOMER, "2025-03-18T09:30:00+08:00",
                   "2025-03-18T09:20:00+08:00"),
        site_event(events.RepairOrderOpened, "D001", 1, repair_order_id=ro1, appointment_id=a1,
                   customer_id=D001_CUSTOMER, vin=VIN, mileage_km=29_876,
                   opened_at="2025-03-18T09:40:00+08:00",
                   promised_at="2025-03-18T17:30:00+08:00"),
        site_event(events.QuoteApproved, "D001", 2, repair_order_id=ro1, quote_id=f"Q-{ro1}",
                   customer_id=D001_CUSTOMER, signed_by=D001_CUSTOMER, vin=VIN,
                   approved_lines=ro1_lines["approved_lines"],
                   declined_lines=ro1_lines["declined_lines"],
                   signed_at="2025-03-18T10:15:00+08:00"),
        site_event(events.VehicleDelivered, "D001", 3, repair_order_id=ro1, appointment_id=a1,
                   customer_id=D001_CUSTOMER, vin=VIN, mileage_km=29_879,
                   opened_at="2025-03-18T09:40:00+08:00",
                   promised_at="2025-03-18T17:30:00+08:00",
                   delivered_at="2025-03-18T17:21:40+08:00"),
        booked("D002", a2, D002_CUSTOMER, booked_at="2025-03-20T10:00:00+08:00",
               slot_start="2025-03-24T09:30:00+08:00"),
        site_event(events.AppointmentNoShow, "D002", 2, appointment_id=a2,
                   customer_id=D002_CUSTOMER, slot_start="2025-03-24T09:30:00+08:00",
                   slot_end="2025-03-24T10:30:00+08:00", recorded_at="2025-03-24T11:00:00+08:00"),
        booked("D002", a3, D002_CUSTOMER, booked_at="2025-03-24T11:30:00+08:00",
               slot_start="2025-03-26T09:30:00+08:00"),
        checked_in("D002", a3, D002_CUSTOMER, "2025-03-26T09:30:00+08:00",
                   "2025-03-26T09:25:00+08:00"),
        site_event(events.RepairOrderOpened, "D002", 1, repair_order_id=ro2, appointment_id=a3,
                   customer_id=D002_CUSTOMER, vin=VIN, mileage_km=30_400,
                   opened_at="2025-03-26T09:35:00+08:00",
                   promised_at="2025-03-26T12:00:00+08:00"),
        site_event(events.QuoteApproved, "D002", 2, repair_order_id=ro2, quote_id=f"Q-{ro2}",
                   customer_id=D002_CUSTOMER, signed_by=D002_CUSTOMER, vin=VIN,
                   approved_lines=[line("L1", "LABOUR", "ALIGN-4W", "300.00", "CUSTOMER_PAY"),
                                   line("L2", "PART", "5QD698151B", "680.00", "WARRANTY")],
                   declined_lines=[], approved_total="980.00", declined_total="0.00",
                   signed_at="2025-03-26T10:00:00+08:00"),
        site_event(events.VehicleDelivered, "D002", 3, repair_order_id=ro2, appointment_id=a3,
                   customer_id=D002_CUSTOMER, vin=VIN, mileage_km=30_402,
                   invoice_number="FP-D002-2025-000107", labour_total="300.00",
                   parts_total="680.00", sundries_total="0.00", discount_total="0.00",
                   tax_total="0.00", grand_total="980.00",
                   totals_by_pay_type={"CUSTOMER_PAY": "300.00", "WARRANTY": "680.00",
                                       "INTERNAL": "0.00"},
                   labour_hours_sold="1.0", clocked_hours="1.5",
                   opened_at="2025-03-26T09:35:00+08:00",
                   promised_at="2025-03-26T12:00:00+08:00",
                   delivered_at="2025-03-26T12:40:00+08:00"),
    ]


def assert_one_customer_at_both_dealers(hq: Headquarters) -> dict[str, Any]:
    found = hq.crm.get("/customers", headers=AGENT, phone="+86 138 1234 5678")
    assert found.status_code == 200, found.text
    [customer] = found.json()["customers"]
    assert customer["customer_id"] in {D001_CUSTOMER, D002_CUSTOMER}
    [vehicle] = customer["vehicles"]
    # The last visit's mileage and day: D002's delivery.
    assert (vehicle["vin"], vehicle["last_mileage_km"], vehicle["last_visit_on"]) == (
        VIN, 30_402, "2025-03-26")
    view = hq.crm.get(f"/customers/{customer['customer_id']}", headers=AGENT).json()
    assert view["phone"] == PHONE
    assert sorted((v["dealer_code"], v["repair_order_id"], v["grand_total"])
                  for v in view["visits"]) == [("D001", "RO-D001-1", "1619.00"),
                                               ("D002", "RO-D002-1", "980.00")]
    assert [(d["dealer_code"], d["line_id"], d["operation_code"], d["amount"])
            for d in view["declined_work"]] == [("D001", "L6", "ALIGN-4W", "300.00")]
    assert sorted((a["dealer_code"], a["appointment_id"], a["status"])
                  for a in view["appointments"]) == [("D001", "APT-D001-1", "CHECKED_IN"),
                                                     ("D002", "APT-D002-1", "NO_SHOW"),
                                                     ("D002", "APT-D002-2", "CHECKED_IN")]
    assert sorted(s["dealer_code"] for s in view["surveys"]) == ["D001", "D002"]
    # Either site's own customer id finds the same person.
    for site_id in (D001_CUSTOMER, D002_CUSTOMER):
        assert hq.crm.get(f"/customers/{site_id}").json()["customer_id"] == view["customer_id"]
    return view


# Every KPI of the history, by hand (bi returns ratios to 4 places, money and hours to 2).
KPIS_MARCH = {
    "ro_count": 2,                             # RO-D001-1, RO-D002-1 opened
    "ros_delivered": 2,
    "ros_customer_pay": 2,                     # both have a customer-pay share
    "ros_warranty": 1,                         # RO-D002-1's brake pads
    "revenue": "2599.00",                      # 1619.00 + 980.00
    "revenue_customer_pay": "1919.00",         # 1619.00 + 300.00
    "revenue_warranty": "680.00",
    "revenue_internal": "0.00",
    "hours_per_ro": "1.35",                    # (1.7 + 1.0) h ÷ 2 ROs
    "effective_labour_rate": "300.00",         # (510.00 + 300.00) ÷ 2.7 h
    "technician_efficiency": "0.7200",         # 2.7 h sold ÷ (2.25 + 1.5) h clocked
    "quote_approval_rate": "0.8750",           # (5 + 2) approved ÷ (6 + 2) decided lines
    "quote_approval_rate_value": "0.8993",     # (1699 + 980) ÷ (1999 + 980) = 0.89929…
    "declined_work_recapture": "1.0000",       # D001's alignment sold at D002: 1 ÷ 1
    "appointment_show_rate": "0.6667",         # 2 arrived ÷ 3 booked, none cancelled
    "on_time_delivery": "0.5000",              # 17:21:40 ≤ 17:30; 12:40 > 12:00
    "comeback_rate": "0.5000",                 # RO-D002-1 repeats BRAKE_NOISE in 8 days
    "csi": None,                               # no survey answered
    "nps": None,
}
KPIS_D001 = {"ro_count": 1, "revenue": "1619.00", "on_time_delivery": "1.0000",
             "appointment_show_rate": "1.0000", "comeback_rate": "0.0000",
             "quote_approval_rate": "0.8333",   # 5 ÷ 6
             "declined_work_recapture": "1.0000"}
KPIS_D002 = {"ro_count": 1, "revenue": "980.00", "on_time_delivery": "0.0000",
             "appointment_show_rate": "0.5000",  # 1 arrived ÷ 2 booked
             "comeback_rate": "1.0000", "quote_approval_rate": "1.0000",
             "declined_work_recapture": None,    # D002 declined nothing
             "effective_labour_rate": "300.00"}  # 300.00 ÷ 1.0 h


def assert_kpis_by_hand(hq: Headquarters) -> dict[str, Any]:
    everyone = hq.kpis(**MARCH)
    assert {k: everyone[k] for k in KPIS_MARCH} == KPIS_MARCH
    d001 = hq.kpis(dealer="D001", **MARCH)
    assert {k: d001[k] for k in KPIS_D001} == KPIS_D001
    d002 = hq.kpis(dealer="D002", **MARCH)
    assert {k: d002[k] for k in KPIS_D002} == KPIS_D002
    return everyone


def assert_told_once_per_booking(hq: Headquarters) -> list[tuple[str, str, str, str]]:
    """With notify's clock on 17 March, 10:00: each booking is confirmed by one SMS; the
    car-received notices are superseded by the deliveries, whatever the arrival order."""
    hq.dispatch()
    told = sorted((d["kind"], d["reference"], d["status"], d["reason"] or "")
                  for d in hq.deliveries())
    assert told == [("BOOKING_CONFIRMED", "APT-D001-1", "SENT", ""),
                    ("BOOKING_CONFIRMED", "APT-D002-1", "SENT", ""),
                    ("BOOKING_CONFIRMED", "APT-D002-2", "SENT", ""),
                    ("CAR_RECEIVED", "RO-D001-1", "SUPPRESSED", "SUPERSEDED"),
                    ("CAR_RECEIVED", "RO-D002-1", "SUPPRESSED", "SUPERSEDED")]
    assert len(hq.gateway.received) == 3
    assert {m["to"] for m in hq.gateway.received} == {PHONE}
    return told


def test_one_owner_at_two_dealers_is_one_customer_in_the_360(hq) -> None:
    history = two_sites_history()
    hq.publish(*history)
    hq.settle(history)
    view = assert_one_customer_at_both_dealers(hq)

    # Each dealer's manager sees the person as seen at their own dealer, phone masked.
    at_d001 = hq.crm.get(f"/customers/{view['customer_id']}",
                         headers=auth("dealer_manager", dealer_code="D001"))
    assert at_d001.status_code == 200, at_d001.text
    assert [v["repair_order_id"] for v in at_d001.json()["visits"]] == ["RO-D001-1"]
    assert at_d001.json()["phone"] == "138****5678"
    assert [a["appointment_id"] for a in hq.crm.get(
        f"/customers/{view['customer_id']}", headers=auth("advisor", dealer_code="D002")
    ).json()["appointments"]] == ["APT-D002-2", "APT-D002-1"]
    assert hq.crm.get(f"/customers/{view['customer_id']}",
                      headers=auth("advisor", dealer_code="D003")).status_code == 404


def test_kpis_from_bi_equal_the_values_computed_by_hand(hq) -> None:
    history = two_sites_history()
    hq.publish(*history)
    hq.settle(history)
    assert_kpis_by_hand(hq)
    # A dealer manager reads their own dealer only.
    own = requests.get(f"{hq.bi_url}/kpis", params={"dealer": "D001", **MARCH}, timeout=15,
                       headers=auth("dealer_manager", dealer_code="D001"))
    assert own.status_code == 200 and own.json()["kpis"]["revenue"] == "1619.00"
    assert requests.get(f"{hq.bi_url}/kpis", params={"dealer": "D002", **MARCH}, timeout=15,
                        headers=auth("dealer_manager", dealer_code="D001")).status_code == 403


def test_duplicated_shuffled_and_redelivered_events_change_nothing(hq) -> None:
    history = two_sites_history()
    # Sites forward late and more than once: every event twice, in a shuffled order.
    arrivals = random.Random(11).sample(history * 2, k=2 * len(history))
    before = {service: duplicates_skipped(service) for service in CONSUMED}
    hq.publish(*arrivals)
    hq.settle(arrivals, since=before)
    view = assert_one_customer_at_both_dealers(hq)
    kpis = assert_kpis_by_hand(hq)
    told = assert_told_once_per_booking(hq)

    # The whole history delivered again (a replayed forwarding queue): nothing moves.
    before = {service: duplicates_skipped(service) for service in CONSUMED}
    hq.publish(*history)
    hq.settle(history, since=before)
    assert hq.crm.get(f"/customers/{view['customer_id']}", headers=AGENT).json() == view
    assert hq.kpis(**MARCH) == kpis
    assert assert_told_once_per_booking(hq) == told


# -- reminders ------------------------------------------------------------------------------

VIN_KM, VIN_TIME, VIN_OPTED_OUT, VIN_BOOKED = (a_vin(n) for n in (1001, 1002, 1003, 1004))


def serviced(dealer: str, customer_id: str, phone: str, vin: str,
             visits: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """A customer who booked once and had their car serviced at `dealer` on each
    (day, mileage) of `visits`."""
    first_day = visits[0][0]
    history = [booked(dealer, f"APT-{vin[-4:]}", customer_id, phone=phone, vin=vin,
                      plate=f"京A{vin[-5:]}", booked_at=f"{first_day}T08:00:00+08:00",
                      slot_start=f"{first_day}T09:30:00+08:00")]
    for number, (day, mileage) in enumerate(visits, start=1):
        ro = f"RO-{vin[-4:]}-{number}"
        history += [opened(dealer, ro, customer_id, vin=vin, mileage=mileage,
                           opened_at=f"{day}T09:40:00+08:00", plate=f"京A{vin[-5:]}"),
                    delivered(dealer, ro, customer_id, vin=vin, mileage=mileage,
                              delivered_at=f"{day}T16:00:00+08:00")]
    return history


def reminder_histories() -> list[dict[str, Any]]:
    # By km first: 20,000 km on 18 Sep 2024, 29,000 km on 18 Mar 2025 → 9,000 km in 181
    # days = 49.72 km a day; the next 10,000 km take ceil(201.1) = 202 days → 6 Oct 2025,
    # before 12 months (18 Mar 2026). Due at 39,000 km.
    by_km = [("2024-09-18", 20_000), ("2025-03-18", 29_000)]
    # By months first: 10,000 km on 6 Apr 2024, 12,000 km on 6 Oct 2024 → 10.9 km a day;
    # 10,000 km would take 915 days, 12 months end on 6 Oct 2025. Due at 22,000 km.
    by_months = [("2024-04-06", 10_000), ("2024-10-06", 12_000)]
    return [
        *serviced("D001", "C-KM", "13900000001", VIN_KM, by_km),
        *serviced("D002", "C-TIME", "13900000002", VIN_TIME, by_months),
        *serviced("D001", "C-OPTED-OUT", "13900000003", VIN_OPTED_OUT, by_km),
        *serviced("D002", "C-BOOKED", "13900000004", VIN_BOOKED, by_months),
        # Already booked: an appointment on 25 September, after the run.
        booked("D002", "APT-NEXT", "C-BOOKED", phone="13900000004", vin=VIN_BOOKED,
               booked_at="2025-09-15T10:00:00+08:00", slot_start="2025-09-25T09:30:00+08:00"),
    ]


def signed_sms_reply(text: str, phone: str) -> tuple[bytes, dict[str, str]]:
    body = f'{{"from": "{phone}", "text": "{text}"}}'.encode()
    stamp = str(int(clock.time()))
    return body, {"Content-Type": "application/json", "X-Timestamp": stamp,
                  "X-Signature": sign(GATEWAY_SECRET, stamp, body)}


def test_reminders_fall_due_on_the_right_day_and_notify_tells_the_customer(hq) -> None:
    # notify receives the reminders late at night in Shanghai: quiet hours.
    hq.clock.set(shanghai("2025-09-22T22:30:00"))
    history = reminder_histories()
    hq.publish(*history)
    hq.settle(history)
    # A maintenance invitation is marketing (the contract's rule, for crm and notify alike):
    # three customers opted in at the call centre, one said no. Nobody sets consent at notify:
    # crm's ConsentChanged events carry it there.
    for customer in ("C-KM", "C-TIME", "C-BOOKED"):
        hq.consent(customer, "MARKETING", True, "SMS")
    hq.consent("C-OPTED-OUT", "MARKETING", False, "SMS", "WECHAT", "PHONE", "APP", "EMAIL")

    # Both cars fall due on 6 October, raised 14 days ahead: not on 21 September ...
    early = hq.crm.post("/reminder-runs", {"date": "2025-09-21"})
    assert early.status_code == 200, early.text
    assert early.json() == {"date": "2025-09-21", "raised": 0, "suppressed": {}}
    # ... but on 22 September; the opted-out and the already-booked customers are not reminded.
    run = hq.crm.post("/reminder-runs", {"date": "2025-09-22"}).json()
    assert (run["raised"], run["suppressed"]) == (2, {"OPTED_OUT": 1, "ALREADY_BOOKED": 1})
    assert hq.crm.post("/reminder-runs", {"date": "2025-09-23"}).json()["raised"] == 0
    raised = {e["data"]["vin"]: e for e in hq.crm.outbox("aftersales.ReminderDue.v1")}
    assert raised.keys() == {VIN_KM, VIN_TIME}
    assert [(raised[v]["dealercode"], raised[v]["data"]["customer_id"],
             raised[v]["data"]["reason"], raised[v]["data"]["due_on"],
             raised[v]["data"]["due_mileage_km"]) for v in (VIN_KM, VIN_TIME)] == [
        ("D001", "C-KM", "MAINTENANCE", "2025-10-06", 39_000),
        ("D002", "C-TIME", "MAINTENANCE", "2025-10-06", 22_000)]
    for dealer, vin in (("D001", VIN_KM), ("D002", VIN_TIME)):
        due = hq.crm.get("/due-list", headers=auth("advisor", dealer_code=dealer),
                         dealer=dealer, date="2025-10-06")
        assert [r["vin"] for r in due.json()["reminders"]] == [vin]

    # Every ReminderDue reaches notify (and bi) once; at 22:30 nothing is sent.
    hq.settle(history)
    reminders = [d for d in hq.deliveries() if d["kind"] == "REMINDER_DUE"]
    assert sorted((d["customer_id"], d["status"], d["reason"]) for d in reminders) == [
        ("C-KM", "QUEUED", "QUIET_HOURS"), ("C-TIME", "QUEUED", "QUIET_HOURS")]
    hq.dispatch()
    assert hq.gateway.received == []
    # C-TIME replies 退订 to an earlier message before morning.
    body, headers = signed_sms_reply("退订", "13900000002")
    reply = requests.post(f"{hq.notify_url}/inbound/sms", data=body, headers=headers,
                          timeout=15)
    assert reply.status_code == 200 and reply.json()["unsubscribe"] is True
    # crm hears of it: the 360 shows marketing withdrawn, said at notify.
    hq.settle(history)
    consents = {(c["purpose"], c["channel"]): (c["granted"], c["recorded_by"])
                for c in hq.crm.get("/customers/C-TIME", headers=AGENT).json()["consents"]}
    assert consents[("MARKETING", "SMS")] == (False, "notify:SMS_REPLY")
    assert {granted for (purpose, _), (granted, _) in consents.items()
            if purpose == "MARKETING"} == {False}

    hq.clock.set(shanghai("2025-09-23T08:00:00"))
    hq.dispatch()
    reminders = {d["customer_id"]: d for d in hq.deliveries() if d["kind"] == "REMINDER_DUE"}
    assert (reminders["C-KM"]["status"], reminders["C-TIME"]["status"],
            reminders["C-TIME"]["reason"]) == ("SENT", "SUPPRESSED", "UNSUBSCRIBED")
    [sms] = [m for m in hq.gateway.received if m["to"] == "13900000001"]
    reminder_id = raised[VIN_KM]["data"]["reminder_id"]
    assert f"{OWNER_APP}/book?reminder={reminder_id}" in sms["text"]
    assert "TD" in sms["text"]  # a marketing message carries its way out
    # bi counts each reminder once, on the day it was raised (today: the event's raised_at),
    # none booked yet: 0 booked ÷ 1 raised at each dealer.
    today = datetime.now(UTC).date()
    around = {"from": (today - timedelta(days=1)).isoformat(),
              "to": (today + timedelta(days=1)).isoformat()}
    for dealer in ("D001", "D002"):
        assert hq.kpis(dealer=dealer, **around)["reminder_booking_rate"] == "0.0000"

    # The next run does not choose C-TIME: both cars' insurance falls due, only C-KM is told.
    for vin in (VIN_KM, VIN_TIME):
        assert hq.crm.put(f"/vehicles/{vin}/dates", {"insurance_expires_on": "2025-10-10"}
                          ).status_code == 200
    assert hq.crm.post("/reminder-runs", {"date": "2025-09-23"}).json()["raised"] == 1
    assert [e["data"]["customer_id"] for e in hq.crm.outbox("aftersales.ReminderDue.v1")
            if e["data"]["reason"] == "INSURANCE"] == ["C-KM"]


# -- follow-up ------------------------------------------------------------------------------

def test_a_delivery_is_followed_by_a_survey_whose_low_score_opens_a_complaint(hq) -> None:
    hq.clock.set(shanghai("2025-03-19T17:30:00"))
    history = [booked("D002", "APT-S", "C-SURVEY", phone="13900000005",
                      booked_at="2025-03-15T20:00:00+08:00"),
               opened("D002", "RO-S", "C-SURVEY"),
               delivered("D002", "RO-S", "C-SURVEY", delivered_at="2025-03-18T17:21:40+08:00")]
    hq.publish(*history)
    hq.settle(history)

    # The survey is due 24 hours after the delivery, not a second earlier.
    early = hq.crm.post("/survey-runs", {"at": "2025-03-19T17:21:39+08:00"})
    assert early.status_code == 200 and early.json() == {"requested": 0}
    assert hq.crm.post("/survey-runs", {"at": "2025-03-19T17:21:40+08:00"}).json() == {
        "requested": 1}
    [requested] = hq.crm.outbox("aftersales.SurveyRequested.v1")
    token = requested["data"]["link_token"]

    # notify sends the link by SMS (a service message: no marketing consent needed).
    hq.settle(history)
    hq.dispatch()
    [sms] = [m for m in hq.gateway.received if f"/surveys/{token}" in m["text"]]
    assert sms["to"] == "13900000005"
    link = re.search(r"https://\S+/surveys/(\S+)", sms["text"])
    assert link and link.group(1) == token

    day_before = datetime.now(UTC).date()
    answer = requests.post(f"{hq.crm.base}/surveys/{link.group(1)}", timeout=15,
                           json={"score": 3, "comment": "等了很久 (long wait)",
                                 "channel": "SMS"})
    assert answer.status_code == 201, answer.text
    day_after = datetime.now(UTC).date()
    [complaint] = hq.crm.get("/complaints", headers=ANALYST, dealer="D002").json()[
        "complaints"]
    assert (complaint["complaint_id"], complaint["owner"], complaint["status"],
            complaint["score"], complaint["repair_order_id"]) == (
        answer.json()["complaint_id"], "service-manager@D002", "OPEN", 3, "RO-S")
    # Due two days after the answer.
    assert complaint["due_on"] in {(day + timedelta(days=2)).isoformat()
                                   for day in (day_before, day_after)}
    # The dealer's service manager has it on their list; the customer's 360 shows it.
    mine = hq.crm.get("/complaints", headers=auth("dealer_manager", dealer_code="D002"),
                      dealer="D002").json()["complaints"]
    assert [c["complaint_id"] for c in mine] == [complaint["complaint_id"]]
    assert hq.crm.get("/customers/C-SURVEY").json()["complaints"][0]["status"] == "OPEN"

    # bi scores the answer on the day it was given: CSI 3.00, a detractor (NPS −100).
    hq.settle(history)
    around = {"from": (day_before - timedelta(days=1)).isoformat(),
              "to": (day_after + timedelta(days=1)).isoformat()}
    scored = hq.kpis(dealer="D002", **around)
    assert (scored["csi"], scored["nps"]) == ("3.00", "-100.00")
