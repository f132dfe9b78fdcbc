"""Reading KPIs: sums of the rollups (never the facts), by dealer, region, day or period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bi import domain, kpis
from bi.domain import UNASSIGNED, Scope
from bi.models import daily_rollups, dealers, monthly_rollups

__all__ = ["UNASSIGNED", "Scope", "by_dealer", "ranking", "series", "totals"]

GRAINS = ("day", "week", "month")


def _region() -> Any:
    return sa.func.coalesce(dealers.c.region, UNASSIGNED)


@dataclass(frozen=True)
class _Piece:
    table: sa.Table
    date_column: str  # "day" or "month"
    first: date
    last: date


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _pieces(scope: Scope, *, months: bool = True) -> list[_Piece]:
    """Whole calendar months read from `monthly_rollups`, the days before and after them from
    `daily_rollups`: the same sums, from a twelfth of the rows over a year."""
    start = scope.first if scope.first.day == 1 else _next_month(scope.first)
    day_after = scope.last + timedelta(days=1)
    end = day_after if day_after.day == 1 else scope.last.replace(day=1)  # after whole months
    if not months or start >= end:
        return [_Piece(daily_rollups, "day", scope.first, scope.last)]
    pieces = [_Piece(monthly_rollups, "month", start, end - timedelta(days=1))]
    if scope.first < start:
        pieces.append(_Piece(daily_rollups, "day", scope.first, start - timedelta(days=1)))
    if end <= scope.last:
        pieces.append(_Piece(daily_rollups, "day", end, scope.last))
    return pieces


class _Reads(dict):
    """Totals that note which measures a KPI reads."""

    def __init__(self, value: int) -> None:
        super().__init__()
        self.value, self.names = value, set()

    def __getitem__(self, name: str) -> int:
        self.names.add(name)
        return self.value


@cache
def measures_of(kpi: str) -> tuple[str, ...]:
    """The rollup measures a KPI is computed from, found by computing it (with every measure
    0, then 1, so that both sides of a "no data" test are seen): a series or a ranking then
    sums those columns only, a few of sixty."""
    names: set[str] = set()
    for value in (0, 1):
        totals = _Reads(value)
        kpis.KPIS[kpi](totals)
        names |= totals.names
    return tuple(name for name in domain.ROLLUP_MEASURES if name in names)


def _sums(piece: _Piece, scope: Scope, group_by: list[str],
          measures: tuple[str, ...] = domain.ROLLUP_MEASURES) -> sa.Select:
    r = piece.table
    when = r.c[piece.date_column]
    keys = {"dealer_code": r.c.dealer_code, "name": dealers.c.name,
            "region": _region().label("region"), "period": when.label("period")}
    columns = [keys[k] for k in group_by] + [
        sa.func.coalesce(sa.func.sum(r.c[name]), 0).label(name) for name in measures]
    query = (sa.select(*columns)
             .select_from(r.outerjoin(dealers, dealers.c.dealer_code == r.c.dealer_code))
             .where(when >= piece.first, when <= piece.last))
    if scope.dealer_code:
        query = query.where(r.c.dealer_code == scope.dealer_code)
    if scope.region:
        query = query.where(_region() == scope.region)
    return query.group_by(*(keys[k] for k in group_by)) if group_by else query


def _grouped(session: Session, scope: Scope, group_by: list[str], *, months: bool = True,
             measures: tuple[str, ...] = domain.ROLLUP_MEASURES
             ) -> dict[tuple, dict[str, Any]]:
    """`measures` summed per group key over every piece of the range (the others stay 0)."""
    out: dict[tuple, dict[str, Any]] = {}
    for piece in _pieces(scope, months=months):
        for row in session.execute(_sums(piece, scope, group_by, measures)):
            key = tuple(row._mapping[k] for k in group_by)
            bucket = out.setdefault(key, domain.empty_measures())
            for name in measures:
                bucket[name] += row._mapping[name]
    return out


def totals(session: Session, scope: Scope, *, months: bool = True) -> dict[str, Any]:
    return _grouped(session, scope, [], months=months).get((), domain.empty_measures())


def by_dealer(session: Session, scope: Scope,
              measures: tuple[str, ...] = domain.ROLLUP_MEASURES) -> list[dict[str, Any]]:
    """One entry per dealer with data in the scope: code, name, region and totals (of
    `measures`; the others are 0)."""
    grouped = _grouped(session, scope, ["dealer_code", "name", "region"], measures=measures)
    return [{"dealer_code": code, "name": name, "region": region, "totals": sums}
            for (code, name, region), sums in sorted(grouped.items())]


def period_start(day: date, grain: str) -> date:
    if grain == "week":  # ISO weeks start on Monday
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def series(session: Session, scope: Scope, kpi: str, grain: str) -> list[dict[str, Any]]:
    """The KPI per day, week or month: measures are summed per period, then the KPI taken
    (a month's approval rate is not the mean of its daily rates)."""
    per_period: dict[date, dict[str, Any]] = {}
    grouped = _grouped(session, scope, ["period"], months=grain == "month",
                       measures=measures_of(kpi))
    for (when,), measures in grouped.items():
        bucket = per_period.setdefault(period_start(when, grain), domain.empty_measures())
        for name, value in measures.items():
            bucket[name] += value
    return [{"period": start.isoformat(), "value": kpis.KPIS[kpi](bucket)}
            for start, bucket in sorted(per_period.items())]


def ranking(session: Session, scope: Scope, kpi: str) -> list[dict[str, Any]]:
    """Dealers by one KPI, best first (the highest, or the lowest for comebacks, rework and
    cycle times); dealers without data for it last, unranked."""
    entries = [{"dealer_code": d["dealer_code"], "name": d["name"], "region": d["region"],
                "value": kpis.KPIS[kpi](d["totals"])}
               for d in by_dealer(session, scope, measures_of(kpi))]
    sign = 1 if kpi in kpis.LOWER_IS_BETTER else -1
    with_value = sorted((e for e in entries if e["value"] is not None),
                        key=lambda e: (sign * e["value"], e["dealer_code"]))
    ranked = with_value + [e for e in entries if e["value"] is None]
    for position, entry in enumerate(ranked, start=1):
        entry["rank"] = position if entry["value"] is not None else None
    return ranked
