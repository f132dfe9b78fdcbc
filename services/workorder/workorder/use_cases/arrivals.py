"""What other services tell workorder: cars booking expects, recall campaigns from
headquarters (through crm), parts issued by parts; and what workorder shows of them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chassis.identity import Identity
from workorder.domain import expected_arrival, quote
from workorder.use_cases.views import Row, repair_order

if TYPE_CHECKING:
    from workorder.store import WorkorderUnitOfWork


def expect_arrival(uow: WorkorderUnitOfWork, *, event: Mapping[str, Any], now: datetime
                   ) -> None:
    """An appointment booked: the car is expected (reception starts from it)."""
    uow.arrivals.add(expected_arrival(dict(event), recorded_at=now))


def expected_arrivals(uow: WorkorderUnitOfWork) -> list[Row]:
    return uow.arrivals.all()


def keep_campaign(uow: WorkorderUnitOfWork, *, data: Mapping[str, Any], now: datetime) -> None:
    """A part of a recall campaign: parts arrive in any order and again under new event ids;
    each is kept once."""
    uow.campaigns.record(data, recorded_at=now)


def keep_recall_completion(uow: WorkorderUnitOfWork, *, data: Mapping[str, Any],
                           now: datetime) -> None:
    """Headquarters says a campaign is done on a car (at this dealer or another): reception
    stops showing it open."""
    uow.campaigns.record_completion(data, recorded_at=now)


def record_part_issue(uow: WorkorderUnitOfWork, *, data: Mapping[str, Any], now: datetime
                      ) -> None:
    """A part issued to a repair order (traceability, 溯源); counted on its quote line only
    when that is an approved part line."""
    if uow.part_issues.known(data["issue_id"]):
        return  # the same issue under another event id
    ro_id = data["repair_order_id"]
    uow.repair_orders.get(ro_id, for_update=True)  # unknown RO: retried, then dead-lettered
    counts = quote.counts_as_issued(uow.quotes.line(ro_id, data["quote_line_id"]))
    uow.part_issues.add(quote.part_issue(data, against_approved_line=counts, recorded_at=now))
    if counts:
        uow.quotes.count_issued(ro_id, data["quote_line_id"], Decimal(data["quantity"]))


def part_issues(uow: WorkorderUnitOfWork, *, viewer: Identity, ro_id: str) -> dict[str, Any]:
    repair_order(uow, viewer, ro_id)
    return {"repair_order_id": ro_id, "items": uow.part_issues.of(ro_id)}
