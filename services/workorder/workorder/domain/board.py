"""The workshop board (看板): which repair orders it shows and what each one waits for.

The board shows every open repair order and those handed over today (the advisor still
answers for them today). What a car waits for is read from its stage and, where the stage
alone does not say, from its jobs, parts and invoice: the board's one question is "who must
act for this car to move on?".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from workorder.domain.stages import OPEN_STAGES, Stage
from workorder.domain.workshop import Technician

# Handed over (and maybe closed since): shown for the rest of the site's day.
DELIVERED_STAGES = frozenset({Stage.VEHICLE_DELIVERED, Stage.CLOSED})
BOARD_STAGES = OPEN_STAGES | DELIVERED_STAGES


class WaitingFor(StrEnum):
    INSPECTION = "INSPECTION"    # received: the multi-point inspection is due or under way
    QUOTE = "QUOTE"              # the advisor builds the quote
    APPROVAL = "APPROVAL"        # the owner decides the quote
    DISPATCH = "DISPATCH"        # an approved job has no technician yet
    PARTS = "PARTS"              # an approved part is not issued from the store yet
    WORK = "WORK"                # technicians are on it (nothing else holds it up)
    SELF_CHECK = "SELF_CHECK"    # every job done: the technician's self-check (自检)
    QC = "QC"                    # the QC inspector's final check (终检)
    INVOICE = "INVOICE"          # settlement: the invoice is to be issued
    PAYMENT = "PAYMENT"          # the balance is to be paid
    SIGNATURE = "SIGNATURE"      # the owner signs the invoice
    HAND_OVER = "HAND_OVER"      # paid and signed: the car can go back


@dataclass(frozen=True)
class Progress:
    """What the board reads of one repair order besides its own row."""

    jobs: int = 0
    jobs_unassigned: int = 0
    jobs_done: int = 0
    parts_outstanding: int = 0     # approved part lines not fully issued
    invoiced: bool = False
    balance: Decimal = Decimal(0)
    signed: bool = False


def waiting_for(stage: Stage | str, progress: Progress) -> WaitingFor | None:
    """Who must act next for the car to move on; None once it is handed over."""
    stage = Stage(stage)
    by_stage = {Stage.VEHICLE_RECEIVED: WaitingFor.INSPECTION,
                Stage.EVALUATION: WaitingFor.INSPECTION,
                Stage.PROPOSAL_BUILD: WaitingFor.QUOTE,
                Stage.AWAITING_CUSTOMER_AUTHORIZATION: WaitingFor.APPROVAL,
                Stage.QUALITY_ASSURANCE: WaitingFor.QC}
    if stage in by_stage:
        return by_stage[stage]
    if stage is Stage.WORK_IN_PROGRESS:
        # Parts first: a car without its parts cannot be worked on whoever is assigned.
        if progress.parts_outstanding:
            return WaitingFor.PARTS
        if progress.jobs_unassigned:
            return WaitingFor.DISPATCH
        if progress.jobs and progress.jobs_done == progress.jobs:
            return WaitingFor.SELF_CHECK
        return WaitingFor.WORK
    if stage is Stage.INVOICE:
        if not progress.invoiced:
            return WaitingFor.INVOICE
        if progress.balance > 0:
            return WaitingFor.PAYMENT
        return WaitingFor.HAND_OVER if progress.signed else WaitingFor.SIGNATURE
    return None


def start_of_day(now: datetime, time_zone: str) -> datetime:
    """The site's midnight of `now` (what "delivered today" counts from), in UTC."""
    zone = ZoneInfo(time_zone)
    local = now.astimezone(zone).date()
    return datetime.combine(local, time(0), tzinfo=zone).astimezone(UTC)


def board_card(ro: Mapping[str, Any], progress: Progress, technicians: list[str]
               ) -> dict[str, Any]:
    """One repair order as the board shows it."""
    return {"id": ro["id"], "stage": ro["stage"], "plate": ro["plate"], "model": ro["model"],
            "advisor_id": ro["advisor_id"], "customer_waiting": ro["customer_waiting"],
            "opened_at": ro["opened_at"], "promised_at": ro["promised_at"],
            "delivered_at": ro["delivered_at"],
            "waiting_for": (found.value if (found := waiting_for(ro["stage"], progress))
                            else None),
            "jobs": progress.jobs, "jobs_done": progress.jobs_done,
            "technician_ids": technicians}


def technician_load(technician: Technician, *, jobs_assigned: int,
                    clocked_on: Mapping[str, Any] | None) -> dict[str, Any]:
    """A technician's line of the board: jobs not done, and the job the clock runs on."""
    return {"id": technician.id, "name": technician.name,
            "load_hours": technician.load_hours, "jobs_assigned": jobs_assigned,
            "clocked_on": ({"repair_order_id": clocked_on["repair_order_id"],
                            "line_id": clocked_on["line_id"]} if clocked_on else None)}

