"""The workshop board (看板): every car in the workshop, what each waits for, and the
technicians' load, read in one go for the advisors' and the manager's screen."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from workorder.domain import board
from workorder.domain.stages import OPEN_STAGES
from workorder.domain.workshop import JobStatus

if TYPE_CHECKING:
    from workorder.store import WorkorderUnitOfWork


def workshop_board(uow: WorkorderUnitOfWork, *, time_zone: str, now: datetime
                   ) -> dict[str, Any]:
    """The open repair orders and today's hand-overs, each with what it waits for, and each
    active technician's jobs and running clock."""
    since = board.start_of_day(now, time_zone)
    orders = uow.board.repair_orders(open_stages=[s.value for s in OPEN_STAGES],
                                     delivered_stages=[s.value for s in board.DELIVERED_STAGES],
                                     delivered_since=since)
    ids = [ro["id"] for ro in orders]
    jobs: dict[str, list[Any]] = defaultdict(list)
    for job in uow.board.jobs(ids):
        jobs[job["repair_order_id"]].append(job)
    parts = uow.board.parts_outstanding(ids)
    settled = {row["repair_order_id"]: row for row in uow.board.settlements(ids)}
    cards = []
    for ro in orders:
        own, invoice = jobs[ro["id"]], settled.get(ro["id"])
        progress = board.Progress(
            jobs=len(own),
            jobs_unassigned=sum(1 for j in own if j["technician_id"] is None),
            jobs_done=sum(1 for j in own if j["status"] == JobStatus.DONE),
            parts_outstanding=parts.get(ro["id"], 0),
            invoiced=invoice is not None,
            balance=(invoice["customer_pay_total"] - Decimal(invoice["paid"] or 0))
            if invoice else Decimal(0),
            signed=bool(invoice and invoice["signed_at"]))
        technicians = sorted({j["technician_id"] for j in own if j["technician_id"]})
        cards.append(board.board_card(ro, progress, technicians))
    assigned = uow.board.unfinished_jobs_by_technician()
    clocks = {row["technician_id"]: row for row in uow.board.open_clocks()}
    load = [board.technician_load(t, jobs_assigned=assigned.get(t.id, 0),
                                  clocked_on=clocks.get(t.id))
            for t in uow.workshop.technicians_with_load()]
    return {"as_of": now, "day_started_at": since, "repair_orders": cards,
            "technicians": load}
