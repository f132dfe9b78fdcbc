"""Quiet hours in the customer's own time zone: nothing between 21:00 and 08:00 there."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from notify.domain import QuietHours

SHANGHAI = timezone(timedelta(hours=8))
QUIET = QuietHours()


def at(hour: int, minute: int = 0, day: int = 18, tz: timezone = SHANGHAI) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=tz)


@pytest.mark.parametrize("moment", [at(8, 0), at(12, 0), at(20, 59)])
def test_daytime_messages_go_at_once(moment):
    assert QUIET.next_allowed(moment, "Asia/Shanghai") == moment


@pytest.mark.parametrize("moment", [at(21, 0), at(23, 59)])
def test_an_evening_message_waits_for_eight_the_next_morning(moment):
    assert QUIET.next_allowed(moment, "Asia/Shanghai") == at(8, 0, day=19)


@pytest.mark.parametrize("moment", [at(0, 0), at(3, 30), at(7, 59)])
def test_a_message_after_midnight_waits_for_eight_the_same_morning(moment):
    assert QUIET.next_allowed(moment, "Asia/Shanghai") == at(8, 0)


def test_the_customers_zone_decides_not_the_servers():
    # 14:00 UTC is 22:00 in Shanghai (quiet) but 15:00 in Berlin (fine).
    moment = datetime(2025, 3, 18, 14, 0, tzinfo=UTC)
    assert QUIET.next_allowed(moment, "Europe/Berlin") == moment
    assert QUIET.next_allowed(moment, "Asia/Shanghai") == datetime(2025, 3, 19, 0, 0,
                                                                   tzinfo=UTC)


def test_the_answer_keeps_the_zone_it_was_asked_in():
    moment = datetime(2025, 3, 18, 14, 0, tzinfo=UTC)
    assert QUIET.next_allowed(moment, "Asia/Shanghai").tzinfo is UTC


def test_morning_is_eight_on_the_wall_clock_across_a_daylight_saving_change():
    # New York springs forward on 9 March 2025: 23:00 EST on the 8th waits until 08:00 EDT.
    moment = datetime(2025, 3, 9, 4, 0, tzinfo=UTC)  # 23:00 EST on 8 March
    allowed = QUIET.next_allowed(moment, "America/New_York")
    assert allowed == datetime(2025, 3, 9, 12, 0, tzinfo=UTC)  # 08:00 EDT (UTC-4)


def test_a_window_that_does_not_cross_midnight():
    quiet = QuietHours(time(0, 0), time(7, 0))
    assert quiet.next_allowed(at(23, 0), "Asia/Shanghai") == at(23, 0)
    assert quiet.next_allowed(at(6, 0), "Asia/Shanghai") == at(7, 0)


def test_equal_start_and_end_means_no_quiet_hours():
    quiet = QuietHours(time(8, 0), time(8, 0))
    assert quiet.next_allowed(at(3, 0), "Asia/Shanghai") == at(3, 0)


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError):
        QUIET.next_allowed(datetime(2025, 3, 18, 22, 0), "Asia/Shanghai")
