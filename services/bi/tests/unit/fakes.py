"""BI's unit of work without a database: the facts in `bi.store.MemoryFacts` (the store a
rebuild fills, which answers as BI's tables do), and an event log, rollups, dealers and KPI
reports kept in dicts. The rollups are recomputed from the facts by the domain's own
`day_measures` and summed per month by `month_sums`, as the database's are."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from bi import domain, kpis
from bi.domain import UNASSIGNED, Scope
from bi.domain.facts import DealerDay
from bi.store import MemoryFacts
from chassis.unit_of_work import FakeUnitOfWork


class InMemoryEventLog:
    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self.locked = 0

    def lock(self) -> None:
        self.locked += 1

    def append(self, envelope: dict[str, Any], received_at: datetime) -> bool:
        if any(e["id"] == envelope["id"] for e in self.envelopes):
            return False
        self.envelopes.append(envelope)
        return True

    def count(self) -> int:
        return len(self.envelopes)

    def pages(self, size: int) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(self.envelopes), size):
            yield self.envelopes[start:start + size]


class InMemoryRollups:
    def __init__(self, uow: FakeBiUnitOfWork) -> None:
        self.uow = uow
        self.daily: dict[DealerDay, dict[str, Any]] = {}
        self.monthly: list[dict[str, Any]] = []

    def refresh(self, touched: Iterable[DealerDay]) -> None:
        days = sorted(touched)
        for (dealer_code, day), facts in self.uow.facts.day_facts(days).items():
            self.daily[dealer_code, day] = {"dealer_code": dealer_code, "day": day,
                                            **domain.day_measures(facts)}
        self.monthly = domain.month_sums(self.daily[k] for k in sorted(self.daily))

    def clear_all(self) -> None:
        self.uow.facts = MemoryFacts()
        self.daily, self.monthly = {}, []

    def write_all(self, facts: MemoryFacts, daily: list[dict[str, Any]],
                  monthly: list[dict[str, Any]]) -> None:
        self.uow.facts = facts
        self.daily = {(row["dealer_code"], row["day"]): row for row in daily}
        self.monthly = monthly


class InMemoryDealers:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def all(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in self.rows[c].items() if k != "updated_at"}
                for c in sorted(self.rows)]

    def save(self, dealer_code: str, *, name: str, region: str, now: datetime) -> None:
        self.rows[dealer_code] = {"dealer_code": dealer_code, "name": name, "region": region,
                                  "updated_at": now}


class InMemoryReports:
    """Sums of the daily rollups in a scope, per dealer (a dealer not named: UNASSIGNED)."""

    def __init__(self, uow: FakeBiUnitOfWork) -> None:
        self.uow = uow

    def by_dealer(self, scope: Scope) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for (dealer_code, day), row in sorted(self.uow.rollups.daily.items()):
            dealer = self.uow.dealers.rows.get(dealer_code, {})
            region = dealer.get("region", UNASSIGNED)
            if not _within(scope, dealer_code, region, day):
                continue
            entry = found.setdefault(dealer_code, {
                "dealer_code": dealer_code, "name": dealer.get("name"), "region": region,
                "totals": domain.empty_measures()})
            for name in domain.ROLLUP_MEASURES:
                entry["totals"][name] += row[name]
        return list(found.values())

    def totals(self, scope: Scope) -> dict[str, Any]:
        sums = domain.empty_measures()
        for dealer in self.by_dealer(scope):
            for name in domain.ROLLUP_MEASURES:
                sums[name] += dealer["totals"][name]
        return sums

    def ranking(self, scope: Scope, kpi: str) -> list[dict[str, Any]]:
        entries = [{"dealer_code": d["dealer_code"], "value": kpis.KPIS[kpi](d["totals"])}
                   for d in self.by_dealer(scope)]
        return sorted(entries, key=lambda e: (e["value"] is None, -(e["value"] or 0)))

    def series(self, scope: Scope, kpi: str, grain: str) -> list[dict[str, Any]]:
        assert grain == "day", "the fake answers per day only"
        return [{"period": day.isoformat(), "value": kpis.KPIS[kpi](row)}
                for (dealer_code, day), row in sorted(self.uow.rollups.daily.items(),
                                                      key=lambda item: item[0][1])
                if _within(scope, dealer_code, None, day)]


def _within(scope: Scope, dealer_code: str, region: str | None, day: date) -> bool:
    return (scope.first <= day <= scope.last
            and scope.dealer_code in (None, dealer_code)
            and (scope.region is None or scope.region == region))


class FakeBiUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__(dealer_code="HQ")
        self.facts = MemoryFacts()
        self.log = InMemoryEventLog()
        self.rollups = InMemoryRollups(self)
        self.dealers = InMemoryDealers()
        self.reports = InMemoryReports(self)

    def memory_facts(self) -> MemoryFacts:
        return MemoryFacts()
