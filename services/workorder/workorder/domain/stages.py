"""The repair order's life on the STAR stages, as a state machine.

Every change of stage goes through `advance()`: an action not allowed in the current stage is
refused with the steps that are (HTTP 409), so a client never has to guess what comes next.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chassis.errors import Conflict


class Stage(StrEnum):
    VEHICLE_RECEIVED = "VEHICLE_RECEIVED"
    EVALUATION = "EVALUATION"                      # multi-point inspection (环检)
    PROPOSAL_BUILD = "PROPOSAL_BUILD"              # the advisor builds the quote
    AWAITING_CUSTOMER_AUTHORIZATION = "AWAITING_CUSTOMER_AUTHORIZATION"
    WORK_IN_PROGRESS = "WORK_IN_PROGRESS"
    QUALITY_ASSURANCE = "QUALITY_ASSURANCE"        # waiting for the QC inspector (终检)
    INVOICE = "INVOICE"                            # settlement (结算)
    VEHICLE_DELIVERED = "VEHICLE_DELIVERED"        # handed over (交车)
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


class Action(StrEnum):
    START_INSPECTION = "START_INSPECTION"
    SUBMIT_INSPECTION = "SUBMIT_INSPECTION"
    SEND_QUOTE = "SEND_QUOTE"
    AUTHORIZE_WORK = "AUTHORIZE_WORK"        # the owner approved at least one line (or a later
    #                                          round was decided while earlier work goes on)
    DECLINE_ALL_WORK = "DECLINE_ALL_WORK"    # nothing at all approved: straight to settlement
    ADD_WORK = "ADD_WORK"                    # additional work (增修) found: a new quote round
    FINISH_WORK = "FINISH_WORK"              # the technician's self-check passed
    PASS_QUALITY_CHECK = "PASS_QUALITY_CHECK"
    FAIL_QUALITY_CHECK = "FAIL_QUALITY_CHECK"  # back to work (rework)
    HAND_OVER = "HAND_OVER"
    CLOSE = "CLOSE"
    CANCEL = "CANCEL"


S, A = Stage, Action

TRANSITIONS: dict[Stage, dict[Action, Stage]] = {
    S.VEHICLE_RECEIVED: {A.START_INSPECTION: S.EVALUATION, A.CANCEL: S.CANCELLED},
    S.EVALUATION: {A.SUBMIT_INSPECTION: S.PROPOSAL_BUILD, A.CANCEL: S.CANCELLED},
    S.PROPOSAL_BUILD: {A.SEND_QUOTE: S.AWAITING_CUSTOMER_AUTHORIZATION, A.CANCEL: S.CANCELLED},
    S.AWAITING_CUSTOMER_AUTHORIZATION: {A.AUTHORIZE_WORK: S.WORK_IN_PROGRESS,
                                        A.DECLINE_ALL_WORK: S.INVOICE,
                                        A.CANCEL: S.CANCELLED},
    S.WORK_IN_PROGRESS: {A.ADD_WORK: S.PROPOSAL_BUILD, A.FINISH_WORK: S.QUALITY_ASSURANCE},
    S.QUALITY_ASSURANCE: {A.PASS_QUALITY_CHECK: S.INVOICE,
                          A.FAIL_QUALITY_CHECK: S.WORK_IN_PROGRESS},
    S.INVOICE: {A.HAND_OVER: S.VEHICLE_DELIVERED},
    S.VEHICLE_DELIVERED: {A.CLOSE: S.CLOSED},
    S.CLOSED: {},
    S.CANCELLED: {},
}

# Once any work is approved the car cannot simply be cancelled (work done must be settled),
# and "nothing approved" is no longer true.
_ONLY_BEFORE_APPROVED_WORK = frozenset({A.CANCEL, A.DECLINE_ALL_WORK})

# Stages in which technicians may work on approved jobs: while a later round of additional
# work is quoted and awaits the owner, the work already approved goes on.
WORKING_STAGES = frozenset({S.WORK_IN_PROGRESS, S.PROPOSAL_BUILD,
                            S.AWAITING_CUSTOMER_AUTHORIZATION})
OPEN_STAGES = frozenset(set(Stage) - {S.VEHICLE_DELIVERED, S.CLOSED, S.CANCELLED})


@dataclass(frozen=True)
class Step:
    action: Action
    to: Stage

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action.value, "to": self.to.value}


def next_steps(stage: Stage, *, work_approved: bool = False) -> list[Step]:
    """What may happen next to a repair order in `stage`."""
    return [Step(action, to) for action, to in TRANSITIONS[stage].items()
            if not (work_approved and action in _ONLY_BEFORE_APPROVED_WORK)]


class IllegalTransition(Conflict):
    def __init__(self, stage: Stage, action: Action, allowed: list[Step]) -> None:
        choices = ", ".join(step.action.value for step in allowed) or "nothing: it is final"
        super().__init__(
            f"a repair order in {stage.value} cannot {action.value}; allowed next: {choices}",
            stage=stage.value, action=action.value,
            allowed_next_steps=[step.as_dict() for step in allowed])


def advance(stage: Stage | str, action: Action | str, *, work_approved: bool = False) -> Stage:
    """The stage `action` leads to from `stage`; IllegalTransition (409) when not allowed."""
    stage, action = Stage(stage), Action(action)
    allowed = next_steps(stage, work_approved=work_approved)
    for step in allowed:
        if step.action is action:
            return step.to
    raise IllegalTransition(stage, action, allowed)


def require_stage(stage: Stage | str, action: Action | str, *, work_approved: bool = False
                  ) -> None:
    """Refuse (409) `action` unless the stage allows it, without changing anything."""
    advance(stage, action, work_approved=work_approved)


def require_in(stage: Stage | str, allowed: frozenset[Stage] | set[Stage], what: str, *,
               work_approved: bool = False) -> None:
    """Refuse (409) `what` unless the repair order is in one of the `allowed` stages."""
    stage = Stage(stage)
    if stage not in allowed:
        where = ", ".join(sorted(s.value for s in allowed))
        raise Conflict(f"{what} is done in {where}; the repair order is in {stage.value}",
                       stage=stage.value,
                       allowed_next_steps=[step.as_dict() for step in
                                           next_steps(stage, work_approved=work_approved)])
