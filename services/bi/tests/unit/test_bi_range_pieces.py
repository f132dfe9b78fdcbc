"""A date range is read as whole months from the monthly rollups and the days around them
from the daily rollups."""

from __future__ import annotations

from datetime import date

from bi.reports import Scope, _pieces


def pieces(first: date, last: date) -> list[tuple[str, date, date]]:
    return sorted((p.date_column, p.first, p.last) for p in _pieces(Scope(first, last)))


def test_whole_months_come_from_the_monthly_rollups():
    assert pieces(date(2025, 1, 1), date(2025, 3, 31)) == [
        ("month", date(2025, 1, 1), date(2025, 3, 31))]


def test_the_days_around_whole_months_come_from_the_daily_rollups():
    # 28 Feb → 1 Apr: 28 Feb by day, March by month, 1 Apr by day
    assert pieces(date(2025, 2, 28), date(2025, 4, 1)) == [
        ("day", date(2025, 2, 28), date(2025, 2, 28)),
        ("day", date(2025, 4, 1), date(2025, 4, 1)),
        ("month", date(2025, 3, 1), date(2025, 3, 31))]


def test_a_range_without_a_whole_month_is_read_by_day():
    assert pieces(date(2025, 3, 2), date(2025, 3, 31)) == [
        ("day", date(2025, 3, 2), date(2025, 3, 31))]
    assert pieces(date(2025, 3, 15), date(2025, 4, 14)) == [
        ("day", date(2025, 3, 15), date(2025, 4, 14))]
    # a leap February, whole
    assert pieces(date(2024, 2, 1), date(2024, 2, 29)) == [
        ("month", date(2024, 2, 1), date(2024, 2, 29))]
