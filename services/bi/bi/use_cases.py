"""BI's service layer: an event becomes facts and rollups; KPIs are read from the rollups by
dealer, region and period; dealers are named and put in regions; the facts are rebuilt from
the event log.

Every function works in the unit of work it is given (`BiUnitOfWork`, or a fake one in the
unit tests) and never commits: the framework commits when the entrypoint returns (the
rebuild command when the rebuild is done).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bi import domain, kpis
from bi.domain import Scope, recalls
from bi.domain.facts import EVENT_NAMES, FactRules
from bi.settings import BiSettings
from contracts import events

if TYPE_CHECKING:  # the store's SQLAlchemy stays out of the service layer
    from bi.store import BiUnitOfWork

Progress = Callable[[int, int], None]

# The wire type of every event the fact rules apply, from the contracts.
EVENT_TYPES: dict[str, str] = {name: getattr(events, name).type for name in EVENT_NAMES}


def fact_rules(facts: Any, options: BiSettings) -> FactRules:
    """The fact rules over these facts (the database's or a rebuild's in memory)."""
    return FactRules(facts, EVENT_TYPES, options.comeback_days)


# -- events ----------------------------------------------------------------------------------


def receive(uow: BiUnitOfWork, envelope: dict[str, Any], options: BiSettings, *,
            now: datetime) -> bool:
    """A new event: logged, applied to the facts, its dealer-days' rollups recomputed.
    False when it was logged before (the inbox drops duplicates, but two copies can be in
    flight in two workers at once)."""
    uow.log.lock()
    if not uow.log.append(envelope, received_at=now):
        return False
    rules = fact_rules(uow.facts, options)
    rules.apply(envelope)
    uow.rollups.refresh(rules.touched)
    return True


# -- KPIs ------------------------------------------------------------------------------------


def kpi_report(uow: BiUnitOfWork, scope: Scope) -> dict[str, Any]:
    """Every KPI over the scope's dates, for one dealer, one region or all dealers."""
    return {"dealer": scope.dealer_code, "region": scope.region, "from": scope.first,
            "to": scope.last, "kpis": kpis.compute_all(uow.reports.totals(scope))}


def kpis_by_dealer(uow: BiUnitOfWork, scope: Scope) -> list[dict[str, Any]]:
    """Every KPI per dealer (the CSV export): dealer_code, name, region and `kpis`."""
    return [{"dealer_code": dealer["dealer_code"], "name": dealer["name"],
             "region": dealer["region"], "kpis": kpis.compute_all(dealer["totals"])}
            for dealer in uow.reports.by_dealer(scope)]


def ranking(uow: BiUnitOfWork, scope: Scope, kpi: str) -> list[dict[str, Any]]:
    return uow.reports.ranking(scope, kpi)


def series(uow: BiUnitOfWork, scope: Scope, kpi: str, grain: str) -> list[dict[str, Any]]:
    return uow.reports.series(scope, kpi, grain)


def recall_completion(uow: BiUnitOfWork, campaign_code: str | None) -> list[dict[str, Any]]:
    """Completion per campaign (one, or all), with its dealers' and regions' rates."""
    found = uow.recalls.facts(campaign_code)
    return recalls.completion(found["campaigns"], found["cars"], found["deliveries"],
                              uow.recalls.regions())


# -- dealers ---------------------------------------------------------------------------------


def dealers(uow: BiUnitOfWork) -> list[dict[str, Any]]:
    return uow.dealers.all()


def name_dealer(uow: BiUnitOfWork, dealer_code: str, *, name: str, region: str,
                now: datetime) -> dict[str, Any]:
    uow.dealers.save(dealer_code, name=name, region=region, now=now)
    return {"dealer_code": dealer_code, "name": name, "region": region}


# -- rebuild ---------------------------------------------------------------------------------


def rebuild(uow: BiUnitOfWork, options: BiSettings, *, progress: Progress | None = None,
            page: int = 5000) -> int:
    """Empty every fact and rollup table and replay the event log (in the order BI received
    the events). Returns the number of events replayed.

    The tables start empty, so the facts are built in memory by the live projection's own
    rules (`FactRules` over `MemoryFacts`), then every touched dealer-day's rollup is
    computed once by `domain.day_measures` and everything is written in bulk: a few
    statements per table instead of several per event. It needs memory for the facts of the
    whole log: about 1.5 KB per event (200,000 events: 420 MB all told).

    Run it with BI's consumers stopped (they would wait on the projection lock throughout);
    dashboards read the previous facts until the rebuild commits."""
    collecting = gc.isenabled()
    # Facts held in memory are hundreds of thousands of long-lived dicts without cycles:
    # the cycle collector would rescan them again and again (a fifth of the time).
    gc.disable()
    try:
        return _rebuild(uow, options, progress, page)
    finally:
        if collecting:
            gc.enable()


def _rebuild(uow: BiUnitOfWork, options: BiSettings, progress: Progress | None,
             page: int) -> int:
    uow.log.lock()
    uow.rollups.clear_all()
    total = uow.log.count()
    facts = uow.memory_facts()
    rules = fact_rules(facts, options)
    apply = rules.apply
    done = 0
    if progress:
        progress(0, total)
    for batch in uow.log.pages(page):
        for envelope in batch:
            apply(envelope)
        done += len(batch)
        if progress and done < total:  # 100 % once written
            progress(done, total)
    daily = [{"dealer_code": dealer_code, "day": day, **domain.day_measures(of_day)}
             for (dealer_code, day), of_day in sorted(facts.day_facts(rules.touched).items())]
    uow.rollups.write_all(facts, daily, domain.month_sums(daily))
    if progress:
        progress(done, max(done, total))
    return done
