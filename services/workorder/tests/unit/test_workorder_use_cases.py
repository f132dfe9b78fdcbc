"""A repair order from reception to hand-over, told through workorder's use cases against a
fake unit of work (no database, broker, network or files): what is kept, what is refused and
what is announced at each step."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from chassis.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from chassis.identity import Identity, Role
from contracts.customer import customer_id_for
from services.workorder.tests.unit.fakes import SECRET, FakeWorkorderUnitOfWork, Parts
from workorder import use_cases as uc
from workorder.links import read_report_token

NOW = datetime(2025, 3, 18, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
ZONE = "Asia/Shanghai"
VIN, OTHER_VIN = "LSVAU2187N2183740", "1M8GDM9AXKP042788"
PHONE = "13812345678"
CUSTOMER = customer_id_for(PHONE)
ADVISOR = Identity("SA-017", Role.ADVISOR, "D001")
TECHNICIAN = Identity("T-wang", Role.TECHNICIAN, "D001")
QC = Identity("QC-005", Role.QC_INSPECTOR, "D001")
CASHIER = Identity("CA-1", Role.CASHIER, "D001")
OWNER = Identity(CUSTOMER, Role.OWNER, None)
PORTAL = "https://owners.d001.example.cn"

OIL = {"kind": "LABOUR", "description": "更换机油 (oil change)", "operation_code": "MNT-OIL-01",
       "flat_rate_hours": D("0.5"), "pay_type": "CUSTOMER_PAY"}
OIL_PART = {"kind": "PART", "part_number": "G-052-195-M4", "quantity": D("4.5"),
            "pay_type": "CUSTOMER_PAY"}
BRAKES = {"kind": "LABOUR", "description": "更换前刹车片 (front brake pads)",
          "operation_code": "BRK-PAD-F", "flat_rate_hours": D("1.2"), "skill": "BRAKES",
          "pay_type": "CUSTOMER_PAY"}
ALIGNMENT = {"kind": "LABOUR", "description": "四轮定位 (alignment)", "operation_code": "ALIGN-4W",
             "flat_rate_hours": D("1"), "pay_type": "CUSTOMER_PAY"}
CATALOGUE = {"G-052-195-M4": {"unit_price": "98.00", "name": "机油 0W-20", "unit": "L",
                              "available": "40"}}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60


@pytest.fixture
def uow() -> FakeWorkorderUnitOfWork:
    return FakeWorkorderUnitOfWork()


@pytest.fixture
def parts() -> Parts:
    return Parts(CATALOGUE)


def reception(**changes: Any) -> dict[str, Any]:
    """A reception as the API hands it over, validated."""
    return {"customer_phone": PHONE, "vin": VIN, "plate": "京A12345", "model": "帕萨特",
            "mileage_km": 29876, "odometer_changed": False, "fuel_level": 60,
            "concerns": [{"description": "刹车异响", "code": "BRAKE_NOISE"}], "belongings": [],
            "customer_waiting": False, "promised_at": NOW + timedelta(hours=4), **changes}


def receive(uow: FakeWorkorderUnitOfWork, **changes: Any) -> str:
    view = uc.open_repair_order(uow, reception=reception(**changes), advisor=ADVISOR.subject,
                                dealer_code="D001", time_zone=ZONE, now=NOW)
    return view.repair_order["id"]


def inspected(uow: FakeWorkorderUnitOfWork, **changes: Any) -> str:
    ro_id = receive(uow, **changes)
    items = uc.start_inspection(uow, actor=TECHNICIAN, ro_id=ro_id, template_code=None,
                                now=NOW)["items"]
    for item in items:
        uc.record_inspection_item(uow, actor=TECHNICIAN, ro_id=ro_id, code=item["code"],
                                  result={"status": "GREEN", "photos": []}, now=NOW)
    uc.submit_inspection(uow, actor=TECHNICIAN, ro_id=ro_id, owner_portal_url="",
                         link_ttl_seconds=3600, now=NOW)
    return ro_id


def quoted(uow: FakeWorkorderUnitOfWork, parts: Parts, *lines: dict[str, Any]) -> str:
    ro_id = inspected(uow)
    uc.add_quote_lines(uow, parts, actor=ADVISOR, ro_id=ro_id, lines=list(lines),
                       labour_rate=D("300.00"), now=NOW)
    send(uow, ro_id)
    return ro_id


def send(uow: FakeWorkorderUnitOfWork, ro_id: str) -> dict[str, Any]:
    return uc.send_quote(uow, actor=ADVISOR, ro_id=ro_id, owner_portal_url=PORTAL,
                         link_ttl_seconds=72 * 3600, now=NOW)


def decide(uow: FakeWorkorderUnitOfWork, ro_id: str, who: Identity = OWNER,
           **decisions: str) -> dict[str, Any]:
    return uc.approve_quote(
        uow, actor=who, ro_id=ro_id, approved_via=None, signature={"name": "王伟"},
        decisions=[{"line_id": k, "decision": v} for k, v in decisions.items()],
        signed_from="10.0.0.7", now=NOW)


def in_work(uow: FakeWorkorderUnitOfWork, parts: Parts) -> str:
    """Oil (L1) and its oil (L2) and brakes (L3) approved, the alignment (L4) declined."""
    ro_id = quoted(uow, parts, OIL, OIL_PART, BRAKES, ALIGNMENT)
    decide(uow, ro_id, L1="APPROVED", L2="APPROVED", L3="APPROVED", L4="DECLINED")
    uc.add_technician(uow, technician_id="T-wang", name="王师傅", skills=["BRAKES"], now=NOW)
    return ro_id


def work_done(uow: FakeWorkorderUnitOfWork, ro_id: str, *line_ids: str) -> None:
    for line_id in line_ids:
        uc.clock_on(uow, actor=TECHNICIAN, ro_id=ro_id, line_id=line_id, now=NOW)
        uc.clock_off(uow, actor=TECHNICIAN, ro_id=ro_id, line_id=line_id, completed=True,
                     now=NOW + timedelta(minutes=45))


def stage_of(uow: FakeWorkorderUnitOfWork, ro_id: str) -> str:
    return uow.repair_orders.get(ro_id)["stage"]


# -- reception -----------------------------------------------------------------------------


def test_a_walk_in_opens_a_repair_order_numbered_by_the_sites_day_and_announces_it(uow):
    view = uc.open_repair_order(uow, reception=reception(), advisor="SA-017",
                                dealer_code="D001", time_zone=ZONE, now=NOW)
    ro = view.repair_order
    assert (ro["id"], ro["stage"], ro["customer_id"]) == (
        "RO-D001-20250318-0001", "VEHICLE_RECEIVED", CUSTOMER)
    assert [h["action"] for h in view.history] == ["RECEIVE"]
    assert [step["action"] for step in view.next_steps] == ["START_INSPECTION", "CANCEL"]
    assert uow.events.types() == ["aftersales.RepairOrderOpened.v1"]
    assert uow.emitted[0]["subject"] == ro["id"]
    assert uow.vehicles.last_mileage(VIN) == 29876


def test_reception_keeps_and_announces_the_plate_in_its_normal_form(uow):
    ro_id = receive(uow, plate="京a 12345")
    assert uow.repair_orders.get(ro_id)["plate"] == "京A12345"
    assert uow.vehicles.rows[VIN]["plate"] == "京A12345"
    assert uow.events_of("RepairOrderOpened")[0]["plate"] == "京A12345"


def test_an_appointment_supplies_the_customer_and_is_received_once(uow):
    uow.arrivals.add({"appointment_id": "APT-1", "customer_id": "C-1", "vin": OTHER_VIN,
                      "plate": "沪C88888", "model": "途观", "expected_at": NOW})
    ro_id = receive(uow, appointment_id="APT-1", customer_phone=None, vin=None, plate=None)
    assert uow.repair_orders.get(ro_id)["customer_id"] == "C-1"
    with pytest.raises(Conflict, match="already been received"):
        receive(uow, appointment_id="APT-1", customer_phone=None, vin=None, plate=None)


def test_a_car_with_an_open_repair_order_is_not_received_again(uow):
    first = receive(uow)
    with pytest.raises(Conflict) as refused:
        receive(uow)
    assert refused.value.detail["repair_order_id"] == first
    assert uow.events.types() == ["aftersales.RepairOrderOpened.v1"]


def test_an_owner_sees_only_their_own_repair_orders(uow):
    mine = receive(uow)
    receive(uow, vin=OTHER_VIN, customer_phone="13900000000")
    listed = uc.list_repair_orders(uow, viewer=OWNER, stage=None, vin=None, limit=10)
    assert [v.repair_order["id"] for v in listed] == [mine]
    assert len(uc.list_repair_orders(uow, viewer=ADVISOR, stage=None, vin=None, limit=10)) == 2


# -- the quote, line by line ---------------------------------------------------------------


def test_the_inspection_opens_the_first_quote_round(uow):
    ro_id = inspected(uow)
    assert stage_of(uow, ro_id) == "PROPOSAL_BUILD"
    assert uow.events.types()[-1] == "aftersales.InspectionUploaded.v1"
    assert [r["quote_id"] for r in uow.quotes.rounds(ro_id)] == [f"Q-{ro_id}-1"]


def test_part_lines_are_priced_by_parts_and_sent_to_the_owner(uow, parts):
    ro_id = quoted(uow, parts, OIL, OIL_PART)
    assert parts.asked == ["G-052-195-M4"]
    issued = uow.events_of("QuoteIssued")[0]
    assert [(line["line_id"], line["amount"]) for line in issued["lines"]] == [
        ("L1", "150.00"), ("L2", "441.00")]
    assert {line["status"] for line in uow.quotes.lines(ro_id)} == {"PROPOSED"}
    assert stage_of(uow, ro_id) == "AWAITING_CUSTOMER_AUTHORIZATION"


def test_when_parts_cannot_answer_nothing_is_added_to_the_quote(uow, parts):
    ro_id = inspected(uow)
    parts.down = True
    with pytest.raises(ServiceUnavailable):
        uc.add_quote_lines(uow, parts, actor=ADVISOR, ro_id=ro_id, lines=[OIL, OIL_PART],
                           labour_rate=D("300.00"), now=NOW)
    assert uow.quotes.lines(ro_id) == []


def test_no_work_starts_on_a_line_before_the_owner_approves_it(uow, parts):
    ro_id = quoted(uow, parts, OIL, BRAKES)
    uc.add_technician(uow, technician_id="T-wang", name="王师傅", skills=["BRAKES"], now=NOW)
    with pytest.raises(Conflict, match="not approved by the owner"):
        uc.assign_job(uow, actor=ADVISOR, ro_id=ro_id, line_id="L1", technician_id=None,
                      now=NOW)
    with pytest.raises(Conflict, match="not approved by the owner"):
        uc.clock_on(uow, actor=TECHNICIAN, ro_id=ro_id, line_id="L1", now=NOW)
    assert uow.workshop.job_rows == {} and uow.workshop.clock_rows == []


def test_the_owner_decides_each_line_and_only_approved_labour_becomes_work(uow, parts):
    ro_id = quoted(uow, parts, OIL, OIL_PART, BRAKES, ALIGNMENT)
    shown = decide(uow, ro_id, L1="APPROVED", L2="APPROVED", L3="APPROVED", L4="DECLINED")
    statuses = {line["line_id"]: line["status"] for line in shown["rounds"][0]["lines"]}
    assert statuses == {"L1": "APPROVED", "L2": "APPROVED", "L3": "APPROVED", "L4": "DECLINED"}
    assert sorted(line_id for _, line_id in uow.workshop.job_rows) == ["L1", "L3"]
    approved = uow.events_of("QuoteApproved")[0]
    assert [line["line_id"] for line in approved["approved_lines"]] == ["L1", "L2", "L3"]
    assert [line["line_id"] for line in approved["declined_lines"]] == ["L4"]
    assert (approved["approved_via"], approved["signed_by"]) == ("WEB", CUSTOMER)
    assert stage_of(uow, ro_id) == "WORK_IN_PROGRESS"
    uc.add_technician(uow, technician_id="T-wang", name="王师傅", skills=[], now=NOW)
    with pytest.raises(Conflict, match="DECLINED, not approved"):
        uc.clock_on(uow, actor=TECHNICIAN, ro_id=ro_id, line_id="L4", now=NOW)


def test_every_line_is_decided_once_and_through_the_deciders_channel(uow, parts):
    ro_id = quoted(uow, parts, OIL, BRAKES)
    with pytest.raises(InvalidInput, match="missing: L2"):
        decide(uow, ro_id, L1="APPROVED")
    with pytest.raises(InvalidInput) as refused:
        uc.approve_quote(uow, actor=OWNER, ro_id=ro_id, approved_via="PHONE",
                         signature={"name": "王伟"}, signed_from=None, now=NOW,
                         decisions=[{"line_id": "L1", "decision": "APPROVED"},
                                    {"line_id": "L2", "decision": "APPROVED"}])
    assert list(refused.value.detail["fields"]) == ["approved_via"]
    assert uow.events_of("QuoteApproved") == []


def test_an_advisor_records_a_phone_approval_signed_on_the_counter_pad(uow, parts):
    ro_id = quoted(uow, parts, OIL)
    uc.approve_quote(uow, actor=ADVISOR, ro_id=ro_id, approved_via=None, signed_from=None,
                     signature={"name": "王伟", "image": base64.b64encode(PNG).decode()},
                     decisions=[{"line_id": "L1", "decision": "APPROVED"}], now=NOW)
    decided = uow.quotes.rounds(ro_id)[0]
    assert (decided["approved_via"], decided["signed_by"]) == ("PHONE", "SA-017")
    assert uow.media.read(decided["signature_sha256"]) == PNG


def test_nothing_approved_sends_the_car_straight_to_settlement(uow, parts):
    ro_id = quoted(uow, parts, OIL, BRAKES)
    decide(uow, ro_id, L1="DECLINED", L2="DECLINED")
    assert stage_of(uow, ro_id) == "INVOICE"
    assert uow.workshop.job_rows == {}
    assert uow.repair_orders.history(ro_id)[-1]["action"] == "DECLINE_ALL_WORK"


# -- additional work -----------------------------------------------------------------------


def test_additional_work_opens_a_new_round_while_approved_work_goes_on(uow, parts):
    ro_id = in_work(uow, parts)
    view = uc.add_work(uow, actor=TECHNICIAN, ro_id=ro_id, now=NOW)
    assert (view.repair_order["stage"], view.repair_order["quote_round"]) == (
        "PROPOSAL_BUILD", 2)
    work_done(uow, ro_id, "L1")  # earlier work is not held up by the new round
    uc.add_quote_lines(uow, parts, actor=ADVISOR, ro_id=ro_id, lines=[ALIGNMENT],
                       labour_rate=D("300.00"), now=NOW)
    send(uow, ro_id)
    assert uow.events_of("QuoteIssued")[-1]["round"] == 2
    decide(uow, ro_id, L5="DECLINED")
    # Declining the whole second round still leaves the first round's work to finish.
    assert stage_of(uow, ro_id) == "WORK_IN_PROGRESS"
    assert uow.repair_orders.history(ro_id)[-1]["action"] == "AUTHORIZE_WORK"


def test_work_approved_cannot_simply_be_cancelled(uow, parts):
    ro_id = in_work(uow, parts)
    with pytest.raises(Conflict):
        uc.cancel_repair_order(uow, actor=ADVISOR, ro_id=ro_id, reason="客户改主意", now=NOW)


# -- the owner's quote link ------------------------------------------------------------------


def link_of(uow: FakeWorkorderUnitOfWork) -> str:
    """The grant in the owner's quote link the last QuoteIssued carries."""
    url = uow.events_of("QuoteIssued")[-1]["quote_url"]
    assert url.startswith(f"{PORTAL}/quote-links/")
    return url.rsplit("/", 1)[1]


def decide_by_link(uow: FakeWorkorderUnitOfWork, token: str, **decisions: str
                   ) -> dict[str, Any]:
    return uc.approve_quote_by_link(
        uow, token=token, approved_via=None, signature={"name": "王伟"},
        decisions=[{"line_id": k, "decision": v} for k, v in decisions.items()],
        signed_from="10.0.0.7", now=NOW)


def test_the_link_in_quote_issued_shows_its_round_and_the_owner_decides_through_it(uow, parts):
    ro_id = quoted(uow, parts, OIL, BRAKES)
    token = link_of(uow)
    shown = uc.quote_by_link(uow, token=token, now=NOW)
    assert (shown["repair_order_id"], shown["quote_id"]) == (ro_id, f"Q-{ro_id}-1")
    assert [line["status"] for line in shown["rounds"][0]["lines"]] == ["PROPOSED"] * 2
    assert shown["expires_at"] == NOW + timedelta(hours=72)

    decided = decide_by_link(uow, token, L1="APPROVED", L2="DECLINED")
    assert [line["status"] for line in decided["rounds"][0]["lines"]] == [
        "APPROVED", "DECLINED"]
    [approved] = uow.events_of("QuoteApproved")
    assert (approved["approved_via"], approved["signed_by"]) == ("LINK", CUSTOMER)
    assert uow.quotes.rounds(ro_id)[0]["signed_from"] == "10.0.0.7"
    assert uow.audited == []  # the owner's own approval, not staff acting for them
    assert stage_of(uow, ro_id) == "WORK_IN_PROGRESS"

    # Decided: the link opens nothing any more, and decides nothing twice.
    for use in (lambda: uc.quote_by_link(uow, token=token, now=NOW),
                lambda: decide_by_link(uow, token, L1="DECLINED", L2="APPROVED")):
        with pytest.raises(NotFound) as refused:
            use()
        assert refused.value.detail["reason"] == "decided"
    assert len(uow.events_of("QuoteApproved")) == 1


def test_the_quote_link_shows_the_car_and_the_inspection_report_behind_the_quote(uow, parts):
    ro_id = quoted(uow, parts, OIL)
    shown = uc.quote_by_link(uow, token=link_of(uow), now=NOW)
    ro = uow.repair_orders.get(ro_id)
    assert (shown["plate"], shown["model"]) == (ro["plate"], ro["model"])
    # A report link of its own purpose (the quote grant itself opens no report), for the
    # submitted inspection, expiring with the quote link.
    report = shown["report_link"]["url"].removeprefix("/inspection-reports/")
    grant = read_report_token(SECRET, report, now=NOW.timestamp())
    assert (grant.repair_order_id, grant.inspection_id) == (ro_id, f"INS-{ro_id}-1")
    assert shown["report_link"]["expires_at"] == shown["expires_at"] == NOW + timedelta(hours=72)
    assert grant.expires_at == int(shown["expires_at"].timestamp())
    with pytest.raises(NotFound):
        uc.quote_by_link(uow, token=report, now=NOW)


def test_a_round_approved_in_the_app_is_not_decided_again_through_its_link(uow, parts):
    ro_id = quoted(uow, parts, OIL)
    token = link_of(uow)
    decide(uow, ro_id, L1="APPROVED")
    with pytest.raises(NotFound):
        decide_by_link(uow, token, L1="DECLINED")


def test_a_report_link_decides_no_quote(uow, parts):
    ro_id = quoted(uow, parts, OIL)
    report = uc.inspection_report_link(uow, viewer=OWNER, ro_id=ro_id, link_ttl_seconds=3600,
                                       now=NOW)["url"].rsplit("/", 1)[1]
    with pytest.raises(NotFound):
        uc.quote_by_link(uow, token=report, now=NOW)
    with pytest.raises(NotFound):
        decide_by_link(uow, report, L1="APPROVED")
    assert uow.events_of("QuoteApproved") == []
    with pytest.raises(NotFound):  # nor does a quote link show the report
        uc.inspection_report(uow, token=link_of(uow))


def test_the_link_keeps_the_owners_rules_and_channel(uow, parts):
    quoted(uow, parts, OIL, BRAKES)
    token = link_of(uow)
    with pytest.raises(InvalidInput, match="missing: L2"):
        decide_by_link(uow, token, L1="APPROVED")
    with pytest.raises(InvalidInput) as refused:
        uc.approve_quote_by_link(uow, token=token, approved_via="PHONE", signed_from=None,
                                 signature={"name": "王伟"}, now=NOW,
                                 decisions=[{"line_id": "L1", "decision": "APPROVED"},
                                            {"line_id": "L2", "decision": "APPROVED"}])
    assert list(refused.value.detail["fields"]) == ["approved_via"]
    assert uow.events_of("QuoteApproved") == []


def test_the_link_of_an_earlier_round_does_not_decide_the_next(uow, parts):
    ro_id = quoted(uow, parts, OIL)
    first = link_of(uow)
    decide_by_link(uow, first, L1="APPROVED")
    uc.add_work(uow, actor=TECHNICIAN, ro_id=ro_id, now=NOW)
    uc.add_quote_lines(uow, parts, actor=ADVISOR, ro_id=ro_id, lines=[ALIGNMENT],
                       labour_rate=D("300.00"), now=NOW)
    send(uow, ro_id)
    second = link_of(uow)
    assert second != first
    with pytest.raises(NotFound):
        decide_by_link(uow, first, L2="APPROVED")
    assert uc.quote_by_link(uow, token=second, now=NOW)["quote_id"] == f"Q-{ro_id}-2"
    decide_by_link(uow, second, L2="APPROVED")
    assert [e["round"] for e in uow.events_of("QuoteApproved")] == [1, 2]


def test_a_site_without_an_owner_portal_sends_no_quote_link(uow, parts):
    ro_id = inspected(uow)
    uc.add_quote_lines(uow, parts, actor=ADVISOR, ro_id=ro_id, lines=[OIL],
                       labour_rate=D("300.00"), now=NOW)
    uc.send_quote(uow, actor=ADVISOR, ro_id=ro_id, owner_portal_url="",
                  link_ttl_seconds=72 * 3600, now=NOW)
    assert "quote_url" not in uow.events_of("QuoteIssued")[0]


# -- the workshop and the quality check ----------------------------------------------------


def test_a_job_goes_to_the_least_loaded_qualified_technician(uow, parts):
    ro_id = in_work(uow, parts)
    uc.add_technician(uow, technician_id="T-li", name="李师傅", skills=[], now=NOW)
    job = uc.assign_job(uow, actor=ADVISOR, ro_id=ro_id, line_id="L3", technician_id=None,
                        now=NOW)
    assert (job["technician_id"], job["assignment_overridden"]) == ("T-wang", False)
    uc.clock_on(uow, actor=TECHNICIAN, ro_id=ro_id, line_id="L1", now=NOW)
    with pytest.raises(Conflict, match="already clocked on"):
        uc.clock_on(uow, actor=TECHNICIAN, ro_id=ro_id, line_id="L3", now=NOW)


def test_the_self_check_passes_only_when_every_job_is_done(uow, parts):
    ro_id = in_work(uow, parts)
    work_done(uow, ro_id, "L1")
    with pytest.raises(Conflict, match="not finished: L3"):
        uc.self_check(uow, actor=TECHNICIAN, ro_id=ro_id, check={"passed": True}, now=NOW)
    work_done(uow, ro_id, "L3")
    check = uc.self_check(uow, actor=TECHNICIAN, ro_id=ro_id, check={"passed": True}, now=NOW)
    assert (check["stage"], check["repair_order_stage"]) == ("SELF", "QUALITY_ASSURANCE")


def test_a_failed_inspector_check_sends_the_jobs_back_as_rework(uow, parts):
    ro_id = in_work(uow, parts)
    work_done(uow, ro_id, "L1", "L3")
    uc.self_check(uow, actor=TECHNICIAN, ro_id=ro_id, check={"passed": True}, now=NOW)
    with pytest.raises(InvalidInput):
        uc.inspector_check(uow, actor=QC, ro_id=ro_id, check={"passed": False}, now=NOW)
    failed = uc.inspector_check(uow, actor=QC, ro_id=ro_id, now=NOW,
                                check={"passed": False, "reason": "异响仍在", "line_ids": ["L3"]})
    assert failed["repair_order_stage"] == "WORK_IN_PROGRESS"
    reworked = uow.workshop.job(ro_id, "L3")
    assert (reworked["status"], reworked["rework_count"]) == ("ASSIGNED", 1)
    assert uow.workshop.job(ro_id, "L1")["status"] == "DONE"  # not named: not sent back
    assert uow.repair_orders.get(ro_id)["rework_count"] == 1
    work_done(uow, ro_id, "L3")
    uc.self_check(uow, actor=TECHNICIAN, ro_id=ro_id, check={"passed": True}, now=NOW)
    passed = uc.inspector_check(uow, actor=QC, ro_id=ro_id, check={"passed": True}, now=NOW)
    assert passed["repair_order_stage"] == "INVOICE"
    checks = uow.events_of("QualityCheckCompleted")
    assert [(c["stage"], c["passed"]) for c in checks] == [
        ("SELF", True), ("INSPECTOR", False), ("SELF", True), ("INSPECTOR", True)]


# -- settlement and hand-over --------------------------------------------------------------


def at_invoice(uow: FakeWorkorderUnitOfWork, parts: Parts) -> str:
    ro_id = in_work(uow, parts)
    work_done(uow, ro_id, "L1", "L3")
    uc.self_check(uow, actor=TECHNICIAN, ro_id=ro_id, check={"passed": True}, now=NOW)
    uc.inspector_check(uow, actor=QC, ro_id=ro_id, check={"passed": True}, now=NOW)
    return ro_id


def test_the_invoice_bills_the_approved_lines_with_sundries_less_the_discount(uow, parts):
    ro_id = at_invoice(uow, parts)
    invoice = uc.issue_invoice(uow, actor=ADVISOR, ro_id=ro_id, discount=D("100.00"),
                               coupon_code=None, now=NOW, sundries=[
                                   {"description": "废油处理", "amount": D("20.00"),
                                    "pay_type": "CUSTOMER_PAY"}])
    # 150.00 + 441.00 + 360.00 approved (the alignment was declined), + 20.00 − 100.00
    assert (invoice["grand_total"], invoice["balance"], invoice["signed"]) == (
        D("871.00"), D("871.00"), False)
    assert [line["line_id"] for line in invoice["lines"]] == ["L1", "L2", "L3"]


def test_the_car_is_handed_over_paid_and_signed_for_and_then_closed(uow, parts):
    ro_id = at_invoice(uow, parts)
    uc.issue_invoice(uow, actor=ADVISOR, ro_id=ro_id, sundries=[], discount=D("0.00"),
                     coupon_code=None, now=NOW)
    pay = dict(actor=CASHIER, ro_id=ro_id, method="WECHAT_PAY", reference=None, now=NOW)
    uc.record_payment(uow, amount=D("500.00"), **pay)
    with pytest.raises(Conflict, match="balance of 451.00 CNY"):
        uc.hand_over(uow, actor=ADVISOR, ro_id=ro_id, mileage_km=None, delivery_mode="COUNTER",
                     now=NOW)
    with pytest.raises(InvalidInput, match="more than the balance"):
        uc.record_payment(uow, amount=D("451.01"), **pay)
    uc.record_payment(uow, amount=D("451.00"), **pay)
    with pytest.raises(Conflict, match="not signed"):
        uc.hand_over(uow, actor=ADVISOR, ro_id=ro_id, mileage_km=None, delivery_mode="COUNTER",
                     now=NOW)
    with pytest.raises(InvalidInput, match="counter pad"):
        uc.sign_invoice(uow, actor=ADVISOR, ro_id=ro_id, signature={"name": "王伟"},
                        signed_from=None, now=NOW)
    signed = uc.sign_invoice(uow, actor=OWNER, ro_id=ro_id, signature={"name": "王伟"},
                             signed_from="10.0.0.7", now=NOW)
    assert signed["signed"] and uow.invoices.invoice(ro_id)["signed_via"] == "ONLINE"
    with pytest.raises(InvalidInput, match="below the 29876 km"):
        uc.hand_over(uow, actor=ADVISOR, ro_id=ro_id, mileage_km=29000,
                     delivery_mode="COUNTER", now=NOW)

    delivered = uc.hand_over(uow, actor=ADVISOR, ro_id=ro_id, mileage_km=29879,
                             delivery_mode="COUNTER", now=NOW + timedelta(hours=3))
    assert delivered.repair_order["stage"] == "VEHICLE_DELIVERED"
    event = uow.events_of("VehicleDelivered")[0]
    assert (event["grand_total"], event["clocked_hours"], event["mileage_km"]) == (
        "951.00", "1.50", 29879)
    # The work done, for headquarters' recalls: the declined alignment is not in it.
    assert event["labour_operation_codes"] == ["BRK-PAD-F", "MNT-OIL-01"]
    assert uow.vehicles.last_mileage(VIN) == 29879
    closed = uc.close_repair_order(uow, actor=ADVISOR, ro_id=ro_id, now=NOW + timedelta(days=1))
    assert closed.repair_order["stage"] == "CLOSED"


def test_the_whole_repair_announces_each_step_once_in_order(uow, parts):
    ro_id = at_invoice(uow, parts)
    uc.issue_invoice(uow, actor=ADVISOR, ro_id=ro_id, sundries=[], discount=D("0.00"),
                     coupon_code=None, now=NOW)
    uc.record_payment(uow, actor=CASHIER, ro_id=ro_id, method="CASH", amount=D("951.00"),
                      reference=None, now=NOW)
    uc.sign_invoice(uow, actor=OWNER, ro_id=ro_id, signature={"name": "王伟"}, signed_from=None,
                    now=NOW)
    uc.hand_over(uow, actor=ADVISOR, ro_id=ro_id, mileage_km=None, delivery_mode="COUNTER",
                 now=NOW + timedelta(hours=3))
    assert [t.split(".")[1] for t in uow.events.types()] == [
        "RepairOrderOpened", "InspectionUploaded", "QuoteIssued", "QuoteApproved",
        "QualityCheckCompleted", "QualityCheckCompleted", "VehicleDelivered"]
    assert {e["subject"] for e in uow.emitted} == {ro_id}
    assert [e["sequence"] for e in uow.emitted] == list(range(1, 8))
