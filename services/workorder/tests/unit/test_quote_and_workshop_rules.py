"""Line-by-line approval, dispatch by skill and load, clocking, and what a failed check reopens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from chassis.errors import Conflict, InvalidInput, NotFound
from contracts import events, new_event
from workorder.domain import published
from workorder.domain.quote import check_removable, contract_line, decide
from workorder.domain.workshop import (
    Technician,
    check_all_done,
    check_assignable,
    check_clock_off,
    check_clock_on,
    check_qc_reason,
    clocked_hours,
    jobs_to_rework,
    suggest_technician,
)

RO = {"id": "RO-D001-20250318-0042", "customer_id": "8e3f2a10-6c5d-5b7e-9a41-0f2d3c4b5a69",
      "vin": "LSVAU2187N2183740"}


def _line(line_id, kind="LABOUR", amount="300.00", status="PROPOSED", position=None):
    line = {"line_id": line_id, "kind": kind, "description": f"line {line_id}",
            "unit_price": D(amount), "amount": D(amount), "pay_type": "CUSTOMER_PAY",
            "status": status, "position": position or int(line_id[1:])}
    if kind == "LABOUR":
        line.update(operation_code="OP-1", flat_rate_hours=D("1.00"))
    else:
        line.update(part_number="06L115562B", quantity=D("1.000"))
    return line


# -- approval ------------------------------------------------------------------------------


def test_the_owner_decides_each_line_and_the_event_carries_both_lists():
    proposed = [_line("L1"), _line("L2", "PART", "68.00"), _line("L3", amount="150.00")]
    decided = decide(proposed, {"L1": "APPROVED", "L2": "APPROVED", "L3": "DECLINED"})
    assert [line["line_id"] for line in decided.approved] == ["L1", "L2"]
    assert [line["line_id"] for line in decided.declined] == ["L3"]
    data = published.quote_approved(RO, 1, decided.approved, decided.declined,
                                    approved_via="WECHAT", signed_by=RO["customer_id"],
                                    signed_at=datetime(2025, 3, 18, 7, tzinfo=UTC))
    event = new_event(events.QuoteApproved, data, source="dealer/D001/workorder",
                      subject=RO["id"], dealer_code="D001", correlation_id=RO["id"], sequence=3)
    assert event["data"]["approved_total"] == "368.00"
    assert event["data"]["declined_total"] == "150.00"
    assert event["data"]["approved_lines"][1]["quantity"] == "1"


def test_every_proposed_line_must_be_decided():
    with pytest.raises(InvalidInput) as refused:
        decide([_line("L1"), _line("L2")], {"L1": "APPROVED"})
    assert refused.value.detail["missing_lines"] == ["L2"]


def test_a_line_not_in_the_round_cannot_be_decided():
    with pytest.raises(InvalidInput) as refused:
        decide([_line("L1")], {"L1": "APPROVED", "L9": "APPROVED"})
    assert "L9" in refused.value.message


def test_only_draft_lines_are_removed():
    check_removable(_line("L1", status="DRAFT"), "L1")
    for status in ("PROPOSED", "APPROVED", "DECLINED"):
        with pytest.raises(Conflict):
            check_removable(_line("L1", status=status), "L1")


def test_hours_and_quantities_are_written_without_trailing_zeros():
    assert contract_line(_line("L1"))["flat_rate_hours"] == D("1")
    part = contract_line({**_line("L2", "PART"), "quantity": D("4.500")})
    assert str(part["quantity"]) == "4.5"
    assert "operation_code" not in part


# -- dispatch ------------------------------------------------------------------------------

WANG = Technician("T-wang", "王师傅", frozenset({"BRAKES", "ENGINE"}), D("3.5"))
LI = Technician("T-li", "李师傅", frozenset({"BRAKES"}), D("1.0"))
ZHAO = Technician("T-zhao", "赵师傅", frozenset({"ELECTRICAL"}), D("0"))


def test_the_least_loaded_qualified_technician_is_suggested():
    assert suggest_technician([WANG, LI, ZHAO], "BRAKES") is LI
    assert suggest_technician([WANG, LI, ZHAO], "ENGINE") is WANG
    assert suggest_technician([WANG, LI, ZHAO], "GENERAL") is ZHAO  # anyone does general work
    assert suggest_technician([WANG, LI], "ELECTRICAL") is None


def test_ties_are_broken_the_same_way_every_time():
    twin = Technician("T-a", "甲", frozenset({"BRAKES"}), D("1.0"))
    assert suggest_technician([LI, twin], "BRAKES") is twin
    assert suggest_technician([twin, LI], "BRAKES") is twin


def _job(status="ASSIGNED", technician="T-li"):
    return {"line_id": "L1", "status": status, "technician_id": technician}


def test_a_job_started_or_done_is_not_reassigned():
    check_assignable(_job("PENDING", None), "L1")
    for status in ("IN_PROGRESS", "DONE"):
        with pytest.raises(Conflict):
            check_assignable(_job(status), "L1")


@pytest.mark.parametrize("status", ["DRAFT", "PROPOSED", "DECLINED"])
def test_no_clock_on_a_line_the_owner_has_not_approved(status):
    with pytest.raises(Conflict) as refused:
        check_clock_on(line=_line("L1", status=status), job=None, line_id="L1",
                       technician_id="T-li", open_clock=None)
    assert refused.value.detail["line_status"] == status


def test_no_clock_on_a_part_line_or_a_line_that_does_not_exist():
    with pytest.raises(Conflict):
        check_clock_on(line=_line("L2", "PART", status="APPROVED"), job=None, line_id="L2",
                       technician_id="T-li", open_clock=None)
    with pytest.raises(NotFound):
        check_clock_on(line=None, job=None, line_id="L7", technician_id="T-li", open_clock=None)


def test_a_technician_has_one_open_clock_at_a_time():
    running = {"repair_order_id": "RO-D001-20250318-0041", "line_id": "L3"}
    with pytest.raises(Conflict) as refused:
        check_clock_on(line=_line("L1", status="APPROVED"), job=_job(), line_id="L1",
                       technician_id="T-li", open_clock=running)
    assert refused.value.detail["open_clock"] == running


def test_someone_elses_job_and_a_done_job_are_refused():
    with pytest.raises(Conflict):
        check_clock_on(line=_line("L1", status="APPROVED"), job=_job(technician="T-wang"),
                       line_id="L1", technician_id="T-li", open_clock=None)
    with pytest.raises(Conflict):
        check_clock_on(line=_line("L1", status="APPROVED"), job=_job("DONE"), line_id="L1",
                       technician_id="T-li", open_clock=None)
    check_clock_on(line=_line("L1", status="APPROVED"), job=_job("PENDING", None),
                   line_id="L1", technician_id="T-li", open_clock=None)


def test_clocking_off_needs_the_clock_to_run_on_that_job():
    with pytest.raises(Conflict):
        check_clock_off(None, "L1", "T-li")
    with pytest.raises(Conflict):
        check_clock_off({"line_id": "L2"}, "L1", "T-li")


def test_clocked_hours_add_up_the_entries_and_a_running_clock_counts_to_now():
    start = datetime(2025, 3, 18, 6, 0, tzinfo=UTC)
    entries = [{"clocked_on_at": start, "clocked_off_at": start + timedelta(minutes=45)},
               {"clocked_on_at": (start + timedelta(hours=1)).replace(tzinfo=None),  # SQLite
                "clocked_off_at": None}]
    assert clocked_hours(entries, now=start + timedelta(hours=2, minutes=30)) == D("2.25")
    assert clocked_hours([], now=start) == D("0.00")


def test_self_check_passes_only_when_every_job_is_done():
    check_all_done([_job("DONE"), {**_job("DONE"), "line_id": "L4"}])
    with pytest.raises(Conflict) as refused:
        check_all_done([_job("DONE"), {**_job("IN_PROGRESS"), "line_id": "L4"}])
    assert refused.value.detail["unfinished_jobs"] == ["L4"]


def test_a_failed_check_reopens_the_named_jobs_or_all_of_them():
    assert jobs_to_rework(["L4", "L1"], None) == ["L1", "L4"]
    assert jobs_to_rework(["L4", "L1"], ["L4", "L4"]) == ["L4"]
    with pytest.raises(InvalidInput):
        jobs_to_rework(["L1"], ["L2"])


def test_a_failed_check_says_why():
    check_qc_reason(True, None)
    with pytest.raises(InvalidInput) as refused:
        check_qc_reason(False, "  ")
    assert list(refused.value.detail["fields"]) == ["reason"]
