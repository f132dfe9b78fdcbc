"""Capacity is never exceeded, even when many bookings for the same slot arrive at once.

The requests run in parallel green threads against the real service on PostgreSQL; the
service takes them with 25 workers at a time, each in its own transaction.
"""

from __future__ import annotations

import random
from collections import Counter

import eventlet
import pytest
import requests

from booking.service import BookingService
from chassis.testing import make_settings, service_database
from services.booking.tests.integration.booking_site import (
    ADVISOR,
    Site,
    booking_body,
    tomorrow_at,
)

HOLDING = "('SCHEDULED', 'CONFIRMED', 'CHECKED_IN')"


@pytest.fixture
def busy_site(database, amqp_uri, services):
    settings = make_settings("booking", service_database(database, BookingService), amqp_uri,
                             max_workers=25)
    services(BookingService, settings)
    running = Site(f"http://127.0.0.1:{settings.http_port}", settings.database_url)
    yield running
    running.engine.dispose()


def in_parallel(site: Site, bodies: list[dict]) -> list[requests.Response]:
    def post(body: dict) -> requests.Response:
        return requests.post(f"{site.url}/appointments", json=body, headers=ADVISOR, timeout=60)

    pool = eventlet.GreenPool(len(bodies))
    return list(pool.imap(post, bodies))


def most_in_any_slot(site: Site) -> int:
    """The largest number of appointments holding any one 30-minute slot, from the rows."""
    return site.scalar(f"""
        SELECT coalesce(max(n), 0) FROM (
            SELECT count(a.id) AS n
            FROM generate_series(date_trunc('day', now()), date_trunc('day', now())
                                 + interval '3 days', interval '30 minutes') AS s(slot_start)
            JOIN appointments a ON a.slot_start < s.slot_start + interval '30 minutes'
                               AND a.slot_end > s.slot_start AND a.status IN {HOLDING}
            GROUP BY s.slot_start) AS per_slot""")


def test_fifty_parallel_bookings_into_a_slot_for_three_leave_exactly_three(busy_site):
    busy_site.set_calendar(bays=3, advisors=5)  # capacity min(3, 5) = 3
    slot = tomorrow_at(10)
    bodies = [booking_body(slot, plate=f"京B{n:05d}") for n in range(50)]

    answers = in_parallel(busy_site, bodies)

    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: 3, 409: 47}, [r.text for r in answers if r.status_code not in
                                           (201, 409)]
    refusals = [r.json() for r in answers if r.status_code == 409]
    assert all(r["error"] == "CONFLICT" and r["capacity"] == 3 for r in refusals)
    assert busy_site.scalar("SELECT count(*) FROM appointments") == 3
    assert busy_site.scalar("SELECT count(*) FROM outbox") == 3  # one event per booking
    assert most_in_any_slot(busy_site) == 3


def test_overlapping_services_booked_at_once_never_overfill_a_slot_or_deadlock(busy_site):
    busy_site.set_calendar(bays=3, advisors=3)
    rng = random.Random(20261122)
    starts = [tomorrow_at(9), tomorrow_at(9, 30), tomorrow_at(10), tomorrow_at(10, 30),
              tomorrow_at(11)]
    bodies = [booking_body(rng.choice(starts), plate=f"京C{n:05d}",
                           service_type=rng.choice(["MAINTENANCE", "REPAIR", "TYRES",
                                                    "INSPECTION"]))
              for n in range(60)]

    answers = in_parallel(busy_site, bodies)

    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {201, 409}, [r.text for r in answers if r.status_code >= 500]
    assert statuses[201] >= 3
    assert most_in_any_slot(busy_site) <= 3
    # What availability reports agrees with what is stored.
    day = tomorrow_at(0).date().isoformat()
    shown = busy_site.call("GET", "/availability", ADVISOR, params={
        "service_type": "INSPECTION", "from": day, "to": day}).json()
    assert max(s["booked"] for s in shown["days"][0]["slots"]) == most_in_any_slot(busy_site)


def test_cancelling_and_booking_at_once_keeps_the_count_right(busy_site):
    busy_site.set_calendar(bays=2, advisors=2)
    slot = tomorrow_at(15)
    first = [busy_site.book(slot, plate=f"京D0000{n}").json() for n in range(2)]

    def cancel(appointment: dict) -> requests.Response:
        return busy_site.act(appointment["id"], "cancel", body={"reason": "CUSTOMER_REQUEST"})

    def book(n: int) -> requests.Response:
        return requests.post(f"{busy_site.url}/appointments", headers=ADVISOR, timeout=60,
                             json=booking_body(slot, plate=f"京D1{n:04d}"))

    pool = eventlet.GreenPool(40)
    cancels = [pool.spawn(cancel, a) for a in first]
    bookings = [pool.spawn(book, n) for n in range(30)]
    assert all(c.wait().status_code == 200 for c in cancels)
    booked = sum(b.wait().status_code == 201 for b in bookings)

    assert 0 < booked <= 2
    assert most_in_any_slot(busy_site) <= 2
