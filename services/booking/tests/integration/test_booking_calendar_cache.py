"""Each booking process keeps the parsed calendar; a change made through another process of
the same site is seen at once, and capacity holds across processes."""

from __future__ import annotations

from booking.service import BookingService
from chassis.testing import make_settings
from services.booking.tests.integration.booking_site import ADVISOR, Site, tomorrow_at


def _second_process(site: Site, amqp_uri: str, services) -> Site:  # type: ignore[no-untyped-def]
    settings = make_settings("booking", site.database_url, amqp_uri)
    services(BookingService, settings)
    return Site(f"http://127.0.0.1:{settings.http_port}", site.database_url)


def test_a_calendar_change_in_one_process_is_seen_by_the_other(site, amqp_uri, services):
    other = _second_process(site, amqp_uri, services)
    site.set_calendar(bays=3, advisors=3)
    assert other.call("GET", "/calendar", ADVISOR).json()["capacity_per_slot"] == 3  # cached

    site.set_calendar(bays=2, advisors=2, closed_dates=[tomorrow_at(8).date().isoformat()])

    seen = other.call("GET", "/calendar", ADVISOR).json()
    assert seen["capacity_per_slot"] == 2
    assert seen["closed_dates"] == [tomorrow_at(8).date().isoformat()]
    refused = other.book(tomorrow_at(10), expect=422)
    assert "closed" in refused.text
    other.engine.dispose()


def test_capacity_holds_when_two_processes_book_the_same_slot(site, amqp_uri, services):
    other = _second_process(site, amqp_uri, services)
    site.set_calendar(bays=2, advisors=2)
    slot = tomorrow_at(9)

    answers = [site.book(slot, plate="京A00001", expect=None).status_code,
               other.book(slot, plate="京A00002", expect=None).status_code,
               site.book(slot, plate="京A00003", expect=None).status_code,
               other.book(slot, plate="京A00004", expect=None).status_code]

    assert sorted(answers) == [201, 201, 409, 409]
    other.engine.dispose()
