"""A simulated working day at one dealer site, with headquarters' crm beside it, on the real
RabbitMQ and PostgreSQL: the traffic simulator's report must match what the services stored.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
import requests

from booking.service import BookingService
from chassis.testing import make_settings, rows, service_database
from contracts.vin import is_valid_vin
from crm.service import CrmService
from parts.service import PartsService
from services.crm.tests.integration.crm_hq import CRM_EXTRA
from simulator import trade
from simulator.people import test_people
from simulator.traffic import (
    HeadquartersEndpoints,
    SiteEndpoints,
    TrafficAborted,
    run_days,
    seed_site,
)
from workorder.service import WorkorderService


def start(database, amqp_uri, services, tmp_path, *, with_crm: bool) -> tuple:
    """One dealer site, and crm beside it on the same vhost (the link between brokers is not
    under test): the endpoints, each service's database URL and its container."""
    started, containers = {}, {}
    chosen = [(PartsService, {}),
              (WorkorderService, {"media_dir": str(tmp_path / "media"),
                                  "time_zone": "Asia/Shanghai"}),
              (BookingService, {})]
    if with_crm:
        chosen.append((CrmService, {"dealer_code": "HQ", "extra": dict(CRM_EXTRA)}))
    for cls, overrides in chosen:
        settings = make_settings(cls.name, service_database(database, cls), amqp_uri,
                                 **overrides)
        containers[cls.name] = services(cls, settings)
        started[cls.name] = settings

    def base(name: str) -> str:
        return f"http://127.0.0.1:{started[name].http_port}"

    site = SiteEndpoints("D001", base("booking"), base("workorder"), base("parts"))
    unused = "http://127.0.0.1:9"  # notify and bi take no part in the simulated day
    hq = HeadquartersEndpoints(crm=base("crm"), notify=unused, bi=unused) if with_crm else None
    return site, hq, {name: s.database_url for name, s in started.items()}, containers


@pytest.fixture
def dealer_and_hq(database, amqp_uri, services, tmp_path):
    return start(database, amqp_uri, services, tmp_path, with_crm=True)[:3]


@pytest.fixture
def dealer(database, amqp_uri, services, tmp_path):
    return start(database, amqp_uri, services, tmp_path, with_crm=False)


def test_a_working_day_matches_what_the_services_stored(dealer_and_hq):
    site, hq, db = dealer_and_hq
    seed_site(site, test_people())
    seeded = rows(db["booking"], "SELECT updated_at FROM calendars")
    seed_site(site, test_people())  # a second seeding changes nothing
    assert rows(db["booking"], "SELECT updated_at FROM calendars") == seeded
    stock = rows(db["parts"], "SELECT part_number, on_hand FROM stock_levels "
                              "WHERE part_number = '5QD615301A'")
    steps = []
    report = run_days([site], hq, test_people(), days=1, seed=11,
                      progress=lambda done, total, label: steps.append((done, total)),
                      bookings_per_day=(10, 10))
    day = report.dealers["D001"]

    assert not day.refusals, day.refusals
    assert steps and steps[-1][0] == steps[-1][1]  # the progress bar reaches its end
    assert all(done <= total for done, total in steps)

    # Booking: every booking accepted is one appointment; cancellations and check-ins agree.
    statuses = dict(rows(db["booking"], "SELECT status, count(*) FROM appointments "
                                        "GROUP BY status"))
    assert day.bookings == 10 == sum(statuses.values())
    assert day.cancellations == statuses.get("CANCELLED", 0) >= 1
    assert day.check_ins == statuses.get("CHECKED_IN", 0)
    # The customers who did not come stay open until their slot is past the grace period.
    assert day.no_shows == statuses.get("SCHEDULED", 0) + statuses.get("CONFIRMED", 0) >= 1

    # Workorder: every car received was delivered, with its money.
    orders = rows(db["workorder"], "SELECT stage, appointment_id FROM repair_orders")
    assert day.repair_orders_opened == len(orders) == day.check_ins + day.walk_ins
    assert day.walk_ins == sum(1 for o in orders if o.appointment_id is None) >= 1
    assert day.deliveries == sum(1 for o in orders if o.stage in ("VEHICLE_DELIVERED",
                                                                   "CLOSED")) == len(orders)
    [(invoiced, paid)] = rows(db["workorder"], """
        SELECT (SELECT coalesce(sum(grand_total), 0) FROM invoices),
               (SELECT coalesce(sum(amount), 0) FROM payments)""")
    assert day.revenue_invoiced == Decimal(invoiced) > 0
    assert day.revenue_paid == Decimal(paid) > 0
    lines = dict(rows(db["workorder"], "SELECT status, count(*) FROM quote_lines "
                                       "GROUP BY status"))
    assert day.quote_lines_declined == lines.get("DECLINED", 0) > 0
    assert day.quote_lines_approved == lines.get("APPROVED", 0) > 0
    [(failed,)] = rows(db["workorder"], "SELECT count(*) FROM quality_checks "
                                        "WHERE stage = 'INSPECTOR' AND NOT passed")
    assert day.qc_failures == failed >= 1
    [(rounds,)] = rows(db["workorder"], "SELECT count(*) FROM quotes WHERE round > 1")
    assert day.additional_work_rounds == rounds >= 1
    [(photographed,)] = rows(db["workorder"], "SELECT count(DISTINCT repair_order_id) "
                                              "FROM repair_order_photos")
    assert day.inspections_with_photos == photographed >= 1

    # Parts: the brake discs were short; the urgent receipt filled them and they were issued.
    assert stock and stock[0].on_hand == 1
    assert day.parts_shortages >= 1 and day.emergency_receipts == day.parts_shortages
    [(requisitions,)] = rows(db["parts"], "SELECT count(*) FROM requisitions")
    assert day.parts_issued == requisitions > 0

    # crm: every delivery had its survey; the answers and low scores are on record.
    [(sent, answered, low)] = rows(db["crm"], """
        SELECT count(*) FILTER (WHERE requested_at IS NOT NULL),
               count(*) FILTER (WHERE answered_at IS NOT NULL),
               count(*) FILTER (WHERE score <= 6) FROM surveys""")
    assert day.surveys_sent == sent == day.deliveries
    assert day.surveys_answered == answered >= 1
    assert day.low_scores == low >= 1
    [(complaints,)] = rows(db["crm"], "SELECT count(*) FROM complaints")
    assert day.complaints_opened == complaints == low

    # The owner's link opens the repair order's inspection report without signing in.
    assert report.owner_link and report.example_repair_order
    page = requests.get(report.owner_link, timeout=10)
    assert page.status_code == 200, page.text
    assert report.as_dict()["total"]["deliveries"] == day.deliveries


def test_a_refused_step_is_counted_and_the_day_goes_on(dealer):
    """A site nobody seeded: no parts in the catalogue, so every quote with a part line is
    refused (422 naming the line's part number): each car's story stops there, counted by
    reason, and the run goes on to the end with its report."""
    site, _, db, _ = dealer
    report = run_days([site], None, test_people(), days=1, seed=3, bookings_per_day=(6, 6))
    day = report.dealers["D001"]
    refused = {reason: n for reason, n in day.refusals.items() if reason.startswith(
        "add quote lines: 422")}
    assert refused and all("part_number" in reason for reason in refused)
    [(stopped,)] = rows(db["workorder"], "SELECT count(*) FROM repair_orders "
                                         "WHERE stage = 'PROPOSAL_BUILD'")
    assert stopped == sum(refused.values())
    assert day.repair_orders_opened == stopped + day.deliveries


def test_a_service_failing_aborts_the_run_with_its_answer(dealer):
    site, _, _, containers = dealer
    seed_site(site, test_people())
    containers["parts"].stop()  # workorder cannot price parts: 503 on the first quote
    with pytest.raises(TrafficAborted, match=r"add quote lines: POST .* answered 503: .*parts"):
        run_days([site], None, test_people(), days=1, seed=3, bookings_per_day=(4, 4))


def test_a_day_s_plan_is_the_same_for_a_seed_and_holds_every_event_the_report_counts():
    def plan(seed: int) -> list:
        rng = random.Random(f"{seed}:D001:0")
        return trade.plan_day(rng, 12)

    assert plan(5) == plan(5) and plan(5) != plan(6)
    for seed in range(30):
        cars = plan(seed)
        booked = [c for c in cars if c.channel is not None]
        coming = [c for c in cars if c.fate == "ARRIVE" and not c.decline_everything]
        assert len(booked) == 12 and len(cars) > 12  # and at least one walk-in
        assert {c.fate for c in booked} >= {"CANCEL", "NO_SHOW", "ARRIVE"}
        assert any(c.short_part for c in coming) and any(c.qc_failure for c in coming)
        assert any(c.additional_work for c in coming)
        assert any(c.decline_something and c.findings for c in coming)
        assert any(c.survey_score is not None and c.survey_score <= 6 for c in coming)
        assert all(is_valid_vin(trade.make_vin(random.Random(seed * 100 + n)))
                   for n in range(20))
