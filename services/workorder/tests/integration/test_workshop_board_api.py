"""The workshop board's data: every car in the right STAR column with what it waits for, the
technicians' load, and who may read it."""

from __future__ import annotations

import sqlalchemy as sa

from services.workorder.tests.integration.site_client import (
    LABOUR_OIL,
    OTHER_VIN,
    Site,
)


def board(site: Site, role: str = "advisor") -> dict:
    return site.ok("GET", "/workshop-board", role=role)


def card(answer: dict, ro_id: str) -> dict:
    return next(c for c in answer["repair_orders"] if c["id"] == ro_id)


def issue_every_part(site: Site) -> None:
    """What parts' PartIssued events do to the quote lines, without the parts service."""
    engine = sa.create_engine(site.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE quote_lines SET issued_quantity = quantity "
                                 "WHERE kind = 'PART'"))
    finally:
        engine.dispose()


def test_the_board_shows_each_car_at_its_stage_with_what_it_waits_for(site: Site):
    received = site.open_ro(vin=OTHER_VIN, plate="京B77777")["id"]
    quoted = site.open_ro()["id"]
    site.inspect(quoted)
    site.quote(quoted, LABOUR_OIL)

    answer = board(site)
    assert (card(answer, received)["stage"], card(answer, received)["waiting_for"]) == (
        "VEHICLE_RECEIVED", "INSPECTION")
    waiting = card(answer, quoted)
    assert (waiting["stage"], waiting["waiting_for"]) == (
        "AWAITING_CUSTOMER_AUTHORIZATION", "APPROVAL")
    assert waiting["plate"] == "京A12345" and waiting["model"] == "帕萨特"
    assert waiting["advisor_id"] == "SA-017" and waiting["promised_at"]


def test_approved_work_waits_for_its_parts_then_for_the_technicians(site: Site):
    site.add_technician("T-wang", ["BRAKES"], name="王师傅")
    ro_id = site.ro_in_work()  # oil labour, oil (a part line, not issued) and brakes approved
    assert card(board(site), ro_id)["waiting_for"] == "PARTS"

    issue_every_part(site)
    in_work = card(board(site), ro_id)
    assert (in_work["stage"], in_work["waiting_for"]) == ("WORK_IN_PROGRESS", "DISPATCH")

    for line_id in ("L1", "L3"):
        site.ok("POST", f"/repair-orders/{ro_id}/jobs/{line_id}/assign",
                json={"technician_id": "T-wang"})
    site.ok("POST", f"/repair-orders/{ro_id}/jobs/L1/clock-on", role="technician",
            subject="T-wang")
    answer = board(site, role="dealer_manager")
    assert card(answer, ro_id)["waiting_for"] == "WORK"
    assert card(answer, ro_id)["technician_ids"] == ["T-wang"]
    [wang] = [t for t in answer["technicians"] if t["id"] == "T-wang"]
    assert wang["jobs_assigned"] == 2 and wang["name"] == "王师傅"
    assert wang["clocked_on"] == {"repair_order_id": ro_id, "line_id": "L1"}
    assert wang["load_hours"] == "1.70"


def test_a_car_handed_over_today_stays_on_the_board_and_waits_for_nothing(site: Site):
    ro_id = site.ro_at_invoice()
    assert card(board(site), ro_id)["waiting_for"] == "INVOICE"
    invoice = site.ok("POST", f"/repair-orders/{ro_id}/invoice", 201, json={})
    assert card(board(site), ro_id)["waiting_for"] == "PAYMENT"
    site.ok("POST", f"/repair-orders/{ro_id}/payments", 201, role="cashier", subject="C-1",
            json={"method": "CASH", "amount": invoice["balance"]})
    assert card(board(site), ro_id)["waiting_for"] == "SIGNATURE"
    site.ok("POST", f"/repair-orders/{ro_id}/invoice/signature", json={"name": "王伟"},
            **site.as_owner())
    assert card(board(site), ro_id)["waiting_for"] == "HAND_OVER"
    site.ok("POST", f"/repair-orders/{ro_id}/hand-over", json={})

    delivered = card(board(site), ro_id)
    assert (delivered["stage"], delivered["waiting_for"]) == ("VEHICLE_DELIVERED", None)
    assert delivered["delivered_at"]


def test_owners_and_the_parts_desk_do_not_read_the_board(site: Site):
    assert site.call("GET", "/workshop-board", role="owner").status_code == 403
    assert site.call("GET", "/workshop-board", role="parts_clerk").status_code == 403
    assert site.call("GET", "/workshop-board", role=None).status_code == 401
