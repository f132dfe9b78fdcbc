"""What the workshop board says each car waits for, from its stage and its progress."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from workorder.domain.board import Progress, WaitingFor, start_of_day, waiting_for

W = WaitingFor


@pytest.mark.parametrize(("stage", "progress", "expected"), [
    ("VEHICLE_RECEIVED", Progress(), W.INSPECTION),
    ("EVALUATION", Progress(), W.INSPECTION),
    ("PROPOSAL_BUILD", Progress(), W.QUOTE),
    ("AWAITING_CUSTOMER_AUTHORIZATION", Progress(), W.APPROVAL),
    # In work: parts missing hold the car whoever is assigned; then a job nobody has.
    ("WORK_IN_PROGRESS", Progress(jobs=2, jobs_unassigned=1, parts_outstanding=1), W.PARTS),
    ("WORK_IN_PROGRESS", Progress(jobs=2, jobs_unassigned=1), W.DISPATCH),
    ("WORK_IN_PROGRESS", Progress(jobs=2, jobs_done=1), W.WORK),
    ("WORK_IN_PROGRESS", Progress(jobs=2, jobs_done=2), W.SELF_CHECK),
    ("QUALITY_ASSURANCE", Progress(jobs=2, jobs_done=2), W.QC),
    ("INVOICE", Progress(), W.INVOICE),
    ("INVOICE", Progress(invoiced=True, balance=Decimal("388.00")), W.PAYMENT),
    ("INVOICE", Progress(invoiced=True), W.SIGNATURE),
    ("INVOICE", Progress(invoiced=True, signed=True), W.HAND_OVER),
    ("VEHICLE_DELIVERED", Progress(invoiced=True, signed=True), None),
    ("CLOSED", Progress(), None),
])
def test_each_car_waits_for_whoever_must_act_next(stage, progress, expected):
    assert waiting_for(stage, progress) == expected


def test_delivered_today_counts_from_the_sites_midnight():
    at = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)  # 01:30 on the 8th in Shanghai
    assert start_of_day(at, "Asia/Shanghai") == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
