"""BI's projection over one session, outside a service worker: the rebuild command, the
tests and the benchmark drive it directly (the service's entrypoints go through
`bi.use_cases` with the worker's unit of work).

`Projection.apply` turns one event into fact rows and remembers which dealer-days it
touched; `flush` recomputes those rollup rows from their facts. Recomputing a dealer-day (a
hundred-odd facts) instead of adding deltas is what makes the result independent of arrival
order and duplicates: a rollup row is always a function of the facts, and each fact keeps
the latest state by the aggregate's own `sequence`. The rules are `bi.domain.facts`; the
queries `bi.store`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from bi import domain, use_cases
from bi.domain import facts as rules
from bi.domain.facts import without_personal_data
from bi.settings import BiSettings
from bi.store import BiUnitOfWork, day_facts
from bi.use_cases import EVENT_TYPES, Progress

__all__ = ["FactRules", "Projection", "day_facts", "rebuild", "without_personal_data"]


class FactRules(rules.FactRules):
    """The fact rules bound to the contracts' event types."""

    def __init__(self, facts: rules.Facts, comeback_days: int = domain.COMEBACK_WINDOW_DAYS
                 ) -> None:
        super().__init__(facts, EVENT_TYPES, comeback_days)


class Projection(FactRules):
    """Applies events to BI's facts within the caller's transaction (never commits)."""

    def __init__(self, session: Session, comeback_days: int = domain.COMEBACK_WINDOW_DAYS
                 ) -> None:
        self.uow = BiUnitOfWork(session)
        self.options = BiSettings(comeback_days=comeback_days)
        super().__init__(self.uow.facts, comeback_days)

    def receive(self, envelope: dict[str, Any]) -> None:
        """A new event: log it, apply it (once, whatever the copies in flight)."""
        use_cases.receive(self.uow, envelope, self.options, now=datetime.now(UTC))

    def flush(self) -> None:
        """Recompute every dealer-day touched since the last flush."""
        touched, self.touched = self.touched, set()
        self.uow.rollups.refresh(touched)


def rebuild(session: Session, progress: Progress | None = None, page: int = 5000,
            comeback_days: int = domain.COMEBACK_WINDOW_DAYS) -> int:
    """`bi.use_cases.rebuild` in one transaction of its own, committed when it is done."""
    replayed = use_cases.rebuild(BiUnitOfWork(session), BiSettings(comeback_days=comeback_days),
                                 progress=progress, page=page)
    session.commit()
    return replayed
