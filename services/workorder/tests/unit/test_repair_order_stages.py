"""The repair order moves along the STAR stages; anything else is refused with the way on."""

from __future__ import annotations

import pytest

from chassis.error_statuses import http_status
from chassis.errors import Conflict
from workorder.domain.stages import (
    TRANSITIONS,
    Action,
    IllegalTransition,
    Stage,
    advance,
    next_steps,
    require_in,
)

S, A = Stage, Action

HAPPY_PATH = [
    (S.VEHICLE_RECEIVED, A.START_INSPECTION, S.EVALUATION),
    (S.EVALUATION, A.SUBMIT_INSPECTION, S.PROPOSAL_BUILD),
    (S.PROPOSAL_BUILD, A.SEND_QUOTE, S.AWAITING_CUSTOMER_AUTHORIZATION),
    (S.AWAITING_CUSTOMER_AUTHORIZATION, A.AUTHORIZE_WORK, S.WORK_IN_PROGRESS),
    (S.WORK_IN_PROGRESS, A.FINISH_WORK, S.QUALITY_ASSURANCE),
    (S.QUALITY_ASSURANCE, A.PASS_QUALITY_CHECK, S.INVOICE),
    (S.INVOICE, A.HAND_OVER, S.VEHICLE_DELIVERED),
    (S.VEHICLE_DELIVERED, A.CLOSE, S.CLOSED),
]


@pytest.mark.parametrize(("stage", "action", "to"), HAPPY_PATH,
                         ids=[f"{a.value}" for _, a, _ in HAPPY_PATH])
def test_a_repair_order_goes_from_reception_to_closed(stage, action, to):
    assert advance(stage, action, work_approved=stage not in (
        S.VEHICLE_RECEIVED, S.EVALUATION, S.PROPOSAL_BUILD)) is to


def test_additional_work_goes_back_to_the_quote_and_the_owner():
    stage = advance(S.WORK_IN_PROGRESS, A.ADD_WORK, work_approved=True)
    assert stage is S.PROPOSAL_BUILD
    stage = advance(stage, A.SEND_QUOTE, work_approved=True)
    assert stage is S.AWAITING_CUSTOMER_AUTHORIZATION
    assert advance(stage, A.AUTHORIZE_WORK, work_approved=True) is S.WORK_IN_PROGRESS


def test_a_failed_quality_check_sends_the_car_back_to_work():
    assert advance(S.QUALITY_ASSURANCE, A.FAIL_QUALITY_CHECK, work_approved=True) \
        is S.WORK_IN_PROGRESS


def test_when_the_owner_declines_everything_the_car_goes_to_settlement():
    assert advance(S.AWAITING_CUSTOMER_AUTHORIZATION, A.DECLINE_ALL_WORK) is S.INVOICE


@pytest.mark.parametrize("stage", [S.VEHICLE_RECEIVED, S.EVALUATION, S.PROPOSAL_BUILD,
                                   S.AWAITING_CUSTOMER_AUTHORIZATION])
def test_an_early_repair_order_can_be_cancelled(stage):
    assert advance(stage, A.CANCEL) is S.CANCELLED


@pytest.mark.parametrize("stage", [S.PROPOSAL_BUILD, S.AWAITING_CUSTOMER_AUTHORIZATION])
def test_once_work_was_approved_cancelling_is_no_longer_a_next_step(stage):
    with pytest.raises(IllegalTransition) as refused:
        advance(stage, A.CANCEL, work_approved=True)
    actions = [s["action"] for s in refused.value.detail["allowed_next_steps"]]
    assert "CANCEL" not in actions and actions


def test_a_later_round_declined_in_full_cannot_skip_the_approved_work():
    with pytest.raises(IllegalTransition):
        advance(S.AWAITING_CUSTOMER_AUTHORIZATION, A.DECLINE_ALL_WORK, work_approved=True)


ILLEGAL = [(stage, action) for stage in Stage for action in Action
           if action not in TRANSITIONS[stage]]


@pytest.mark.parametrize(("stage", "action"), ILLEGAL,
                         ids=[f"{s.value}-{a.value}" for s, a in ILLEGAL])
def test_every_illegal_transition_is_a_409_listing_the_allowed_next_steps(stage, action):
    with pytest.raises(IllegalTransition) as refused:
        advance(stage, action)
    error = refused.value
    assert isinstance(error, Conflict) and http_status(error) == 409
    assert error.detail["stage"] == stage.value
    assert error.detail["allowed_next_steps"] == [
        {"action": a.value, "to": to.value} for a, to in TRANSITIONS[stage].items()]
    assert stage.value in error.message


@pytest.mark.parametrize("stage", [S.CLOSED, S.CANCELLED])
def test_closed_and_cancelled_are_final(stage):
    assert next_steps(stage) == []
    with pytest.raises(IllegalTransition) as refused:
        advance(stage, A.START_INSPECTION)
    assert "final" in refused.value.message


def test_an_operation_outside_its_stage_is_refused_with_the_next_steps():
    with pytest.raises(Conflict) as refused:
        require_in(S.INVOICE, {S.EVALUATION}, "recording inspection results")
    assert refused.value.detail["allowed_next_steps"] == [
        {"action": "HAND_OVER", "to": "VEHICLE_DELIVERED"}]


def test_every_stage_but_the_final_ones_has_a_way_on():
    for stage in Stage:
        if stage not in (S.CLOSED, S.CANCELLED):
            assert next_steps(stage, work_approved=True), stage
