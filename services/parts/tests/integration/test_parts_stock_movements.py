"""Reservations from approved quotes, issues, returns, receipts, transfers and stocktakes on
the real PostgreSQL and RabbitMQ, with the events each movement emits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

import contracts
from chassis.testing import auth, wait_for
from contracts import events

from .conftest import ADVISOR, CLERK, MANAGER, QC, TECHNICIAN, VIN, new_ro

OIL, FILTER, PADS = "G-052-195-M4", "06L115562B", "5QD698151B"


def test_approved_part_lines_are_reserved_and_a_shortage_stays_visible(parts_site):
    parts_site.part(FILTER, on_hand=10)
    ro = new_ro()
    parts_site.approve(ro, [("L1", FILTER, "4"), ("L2", FILTER, "8")])

    lines = parts_site.reservations(ro)
    assert set(lines) == {"L1", "L2"}  # the labour line needs no parts
    assert (lines["L1"]["reserved"], lines["L1"]["shortfall"]) == ("4", "0")
    assert (lines["L2"]["reserved"], lines["L2"]["shortfall"]) == ("6", "2")
    assert (lines["L1"]["from_stock"], lines["L2"]["from_stock"]) == (True, False)
    assert lines["L1"]["vin"] == VIN
    assert parts_site.stock(FILTER) == {"on_hand": 10, "reserved": 10, "available": 0}

    reserved = parts_site.emitted("PartReserved")
    assert [(e["quote_line_id"], e["quantity"]) for e in reserved] == [("L1", "4"), ("L2", "6")]
    assert all(e["repair_order_id"] == ro and e["unit"] == "EA" for e in reserved)
    [low] = parts_site.emitted("StockLow")
    assert (low["part_number"], low["available"], low["suggested_order_quantity"]) == (
        FILTER, "0", "2")

    short = parts_site.get("/reservations", ADVISOR, short="true").json()["items"]
    assert [(x["quote_line_id"], x["shortfall"]) for x in short] == [("L2", "2")]
    suggestions = parts_site.get("/reorder-suggestions", MANAGER).json()["items"]
    assert [(x["part_number"], x["suggested_quantity"]) for x in suggestions] == [(FILTER, "2")]


def test_no_part_is_issued_for_a_line_that_is_not_approved_or_was_declined(parts_site):
    parts_site.part(FILTER, on_hand=5)
    ro = new_ro()
    parts_site.approve(ro, [("L1", FILTER, "1")], declined=[("L2", FILTER, "1")])

    declined = parts_site.issue(ro, "L2")
    assert declined.status_code == 409
    assert declined.json()["reason"] == "LINE_DECLINED"
    never = parts_site.issue(ro, "L9")
    assert never.status_code == 409
    assert never.json()["reason"] == "LINE_NOT_APPROVED"
    assert "never approved" in never.json()["message"]
    unknown_ro = parts_site.issue(new_ro(), "L1")
    assert (unknown_ro.status_code, unknown_ro.json()["reason"]) == (409, "LINE_NOT_APPROVED")
    too_many = parts_site.issue(ro, "L1", quantity="2")
    assert (too_many.status_code, too_many.json()["reason"]) == (409, "NOT_ENOUGH_RESERVED")
    wrong_part = parts_site.issue(ro, "L1", part_number=PADS)
    assert (wrong_part.status_code, wrong_part.json()["reason"]) == (409, "WRONG_PART")

    assert parts_site.emitted("PartIssued") == []
    assert parts_site.stock(FILTER) == {"on_hand": 5, "reserved": 1, "available": 4}
    assert parts_site.issue(ro, "L1").status_code == 201


def test_an_issue_takes_the_oldest_batch_first_and_traces_it_to_the_vehicle(parts_site):
    parts_site.part(FILTER)
    parts_site.receive(FILTER, 2, batch="B-OLD")
    parts_site.receive(FILTER, 5, batch="B-NEW")
    ro = new_ro()
    parts_site.approve(ro, [("L3", FILTER, "3")])

    response = parts_site.issue(ro, "L3", quantity="3")

    assert response.status_code == 201, response.text
    issued = response.json()
    assert [(i["batch_number"], i["quantity"]) for i in issued["issues"]] == [
        ("B-OLD", "2"), ("B-NEW", "1")]
    assert (issued["vin"], issued["unit_price"], issued["reserved_left"]) == (VIN, "68.00", "0")
    assert parts_site.stock(FILTER) == {"on_hand": 4, "reserved": 0, "available": 4}
    events_issued = parts_site.emitted("PartIssued")
    assert [(e["batch_number"], e["quantity"]) for e in events_issued] == [
        ("B-OLD", "2"), ("B-NEW", "1")]
    assert all(e["vin"] == VIN and e["issued_by"] == "T-017" and e["from_stock"]
               and e["quote_line_id"] == "L3" for e in events_issued)

    trace = parts_site.get("/trace/batches/B-OLD").json()
    assert [(v["vin"], v["repair_order_id"], v["quantity"]) for v in trace["vehicles"]] == [
        (VIN, ro, "2")]
    assert trace["lots"][0]["quantity_received"] == "2"
    assert trace["lots"][0]["quantity_remaining"] == "0"
    vehicle = parts_site.get(f"/trace/vehicles/{VIN}", MANAGER).json()["parts"]
    assert sorted((p["part_number"], p["batch_number"], p["quantity"]) for p in vehicle) == [
        (FILTER, "B-NEW", "1"), (FILTER, "B-OLD", "2")]

    ledger = parts_site.get("/movements", MANAGER, part_number=FILTER).json()["items"]
    assert [(m["kind"], m["on_hand_change"], m["on_hand_after"], m["reserved_after"])
            for m in ledger] == [("RECEIPT", "2", "2", "0"), ("RECEIPT", "5", "7", "0"),
                                 ("RESERVE", "0", "7", "3"), ("ISSUE", "-2", "5", "1"),
                                 ("ISSUE", "-1", "4", "0")]
    assert [m["actor"] for m in ledger] == ["PC-003", "PC-003", "workorder-events", "T-017",
                                            "T-017"]
    assert parts_site.get("/trace/batches/B-NONE").status_code == 404
    assert parts_site.get("/trace/vehicles/NOT-A-VIN").status_code == 422


def test_serial_numbered_parts_are_received_issued_returned_and_traced_one_by_one(parts_site):
    parts_site.part(PADS, name="变速箱控制单元", tracking="SERIAL", unit="EA")
    parts_site.receive(PADS, serials=["SN-001", "SN-002", "SN-003"])
    again = parts_site.post("/receipts", {"lines": [{"part_number": PADS,
                                                     "serial_numbers": ["SN-002"]}]})
    assert (again.status_code, again.json()["reason"]) == (409, "SERIAL_ALREADY_IN_STOCK")
    no_serials = parts_site.post("/receipts", {"lines": [{"part_number": PADS,
                                                          "quantity": "1"}]})
    assert no_serials.status_code == 422
    assert "lines.0.serial_numbers" in no_serials.json()["fields"]
    ro = new_ro()
    parts_site.approve(ro, [("L5", PADS, "2")])

    named = parts_site.issue(ro, "L5", serial_numbers=["SN-003"])
    assert named.status_code == 201, named.text
    assert named.json()["issues"][0]["serial_numbers"] == ["SN-003"]
    oldest = parts_site.issue(ro, "L5")
    assert oldest.json()["issues"][0]["serial_numbers"] == ["SN-001"]
    assert [e["serial_numbers"] for e in parts_site.emitted("PartIssued")] == [
        ["SN-003"], ["SN-001"]]

    back = parts_site.post("/returns", {"repair_order_id": ro, "quote_line_id": "L5",
                                        "quantity": "1", "reason": "WRONG_PART",
                                        "serial_numbers": ["SN-003"]})
    assert back.status_code == 201, back.text
    [returned] = parts_site.emitted("PartReturned")
    assert (returned["serial_numbers"], returned["reason"], returned["vin"]) == (
        ["SN-003"], "WRONG_PART", VIN)
    assert parts_site.stock(PADS)["on_hand"] == 2

    life = parts_site.get("/trace/serials/SN-003").json()
    assert [m["kind"] for m in life["movements"]] == ["RECEIPT", "ISSUE", "RETURN"]
    assert parts_site.get("/trace/serials/SN-404").status_code == 404


def test_a_later_round_that_declines_an_approved_line_releases_it(parts_site):
    parts_site.part(FILTER, on_hand=5)
    ro = new_ro()
    first = parts_site.approve(ro, [("L1", FILTER, "3")])
    parts_site.approve(ro, [], declined=[("L1", FILTER, "3")])

    assert parts_site.reservations(ro)["L1"]["status"] == "DECLINED"
    assert parts_site.stock(FILTER) == {"on_hand": 5, "reserved": 0, "available": 5}
    [released] = parts_site.emitted("PartReleased")
    assert (released["quote_line_id"], released["quantity"], released["reason"]) == (
        "L1", "3", "LINE_DECLINED")

    # the first round's approval arriving again, late (a new copy): it is older, so ignored
    parts_site.approve(ro, [("L1", FILTER, "3")], sequence=first["sequence"])
    assert parts_site.reservations(ro)["L1"]["status"] == "DECLINED"
    assert parts_site.issue(ro, "L1").json()["reason"] == "LINE_DECLINED"


def test_received_and_released_stock_goes_to_lines_waiting_for_it(parts_site):
    parts_site.part(FILTER, on_hand=2)
    first, second = new_ro(), new_ro()
    parts_site.approve(first, [("L1", FILTER, "2")])
    parts_site.approve(second, [("L1", FILTER, "3")])
    assert parts_site.reservations(second)["L1"]["shortfall"] == "3"

    parts_site.receive(FILTER, 2, batch="B-2")
    line = parts_site.reservations(second)["L1"]
    assert (line["reserved"], line["shortfall"]) == ("2", "1")

    released = parts_site.post(f"/repair-orders/{first}/release",
                               {"reason": "CLERK_RELEASE", "quote_line_id": "L1"})
    assert released.status_code == 200, released.text
    assert released.json()["released"][0]["status"] == "RELEASED"
    line = parts_site.reservations(second)["L1"]
    assert (line["reserved"], line["shortfall"]) == ("3", "0")
    assert parts_site.stock(FILTER) == {"on_hand": 4, "reserved": 3, "available": 1}
    reasons = [e["reason"] for e in parts_site.emitted("PartReleased")]
    assert reasons == ["CLERK_RELEASE"]


def test_a_cancelled_repair_order_gives_everything_back_and_takes_no_more_quotes(parts_site):
    parts_site.part(FILTER, on_hand=5)
    ro = new_ro()
    parts_site.approve(ro, [("L1", FILTER, "2"), ("L2", FILTER, "1")])

    cancelled = parts_site.post(f"/repair-orders/{ro}/release",
                                {"reason": "REPAIR_ORDER_CANCELLED"})

    assert cancelled.status_code == 200, cancelled.text
    assert sorted(x["quote_line_id"] for x in cancelled.json()["released"]) == ["L1", "L2"]
    assert parts_site.stock(FILTER)["reserved"] == 0
    parts_site.approve(ro, [("L3", FILTER, "1")])
    assert "L3" not in parts_site.reservations(ro)
    assert parts_site.post(f"/repair-orders/{new_ro()}/release",
                           {"reason": "CLERK_RELEASE"}).status_code == 404
    bad = parts_site.post(f"/repair-orders/{ro}/release", {"reason": "BORED"})
    assert (bad.status_code, list(bad.json()["fields"])) == (422, ["reason"])


def test_delivery_gives_back_what_was_set_aside_and_never_fitted(parts_site):
    parts_site.part(FILTER, on_hand=5)
    ro = new_ro()
    parts_site.approve(ro, [("L1", FILTER, "3")])
    assert parts_site.issue(ro, "L1").status_code == 201
    example = json.loads((Path(contracts.__file__).parent /
                          events.VehicleDelivered.example_file).read_text(encoding="utf-8"))
    before = parts_site.applied()
    parts_site.publish(events.VehicleDelivered, {**example["data"], "repair_order_id": ro})
    wait_for(lambda: parts_site.applied() > before, message="VehicleDelivered applied")

    line = parts_site.reservations(ro)["L1"]
    assert (line["status"], line["reserved"], line["issued"]) == ("RELEASED", "0", "1")
    assert parts_site.stock(FILTER) == {"on_hand": 4, "reserved": 0, "available": 4}
    [released] = parts_site.emitted("PartReleased")
    assert (released["quantity"], released["reason"]) == ("2", "REPAIR_ORDER_CLOSED")

    # a quote event arriving after delivery (late, out of order) sets nothing aside
    late = new_ro()
    before = parts_site.applied()
    parts_site.publish(events.VehicleDelivered, {**example["data"], "repair_order_id": late})
    wait_for(lambda: parts_site.applied() > before, message="VehicleDelivered applied")
    parts_site.approve(late, [("L1", FILTER, "1")])
    assert parts_site.reservations(late) == {}
    assert parts_site.stock(FILTER)["reserved"] == 0


def test_parts_come_back_from_a_repair_order_with_a_reason(parts_site):
    parts_site.part(OIL, name="机油 0W-20", unit="L", unit_price="98.00")
    parts_site.receive(OIL, "20", batch="B2502-1187")
    ro = new_ro()
    parts_site.approve(ro, [("L2", OIL, "4.5")])
    assert parts_site.issue(ro, "L2", quantity="4.5").status_code == 201

    back = parts_site.post("/returns", {"repair_order_id": ro, "quote_line_id": "L2",
                                        "quantity": "0.5", "reason": "NOT_USED",
                                        "note": "加注 4 升已足够"})

    assert back.status_code == 201, back.text
    assert back.json()["lots"] == [{"batch_number": "B2502-1187", "quantity": "0.5"}]
    assert parts_site.stock(OIL) == {"on_hand": 16, "reserved": 0, "available": 16}
    [event] = parts_site.emitted("PartReturned")
    assert (event["quantity"], event["unit"], event["batch_number"], event["note"]) == (
        "0.5", "L", "B2502-1187", "加注 4 升已足够")
    too_much = parts_site.post("/returns", {"repair_order_id": ro, "quote_line_id": "L2",
                                            "quantity": "5", "reason": "NOT_USED"})
    assert (too_much.status_code, too_much.json()["reason"]) == (409, "MORE_THAN_ISSUED")
    nothing = parts_site.post("/returns", {"repair_order_id": ro, "quote_line_id": "L9",
                                           "quantity": "1", "reason": "NOT_USED"})
    assert (nothing.status_code, nothing.json()["reason"]) == (409, "NOTHING_ISSUED")


def test_a_transfer_sends_only_unreserved_stock_and_the_other_site_books_it_in(parts_site):
    parts_site.part(FILTER, reorder_point="2", reorder_quantity="10")
    parts_site.receive(FILTER, 4, batch="B-1")
    parts_site.receive(FILTER, 6, batch="B-2")
    parts_site.approve(new_ro(), [("L1", FILTER, "4")])

    too_many = parts_site.post("/transfers", {"part_number": FILTER, "quantity": "7",
                                              "to_dealer_code": "D002"})
    assert (too_many.status_code, too_many.json()["reason"]) == (409, "NOT_ENOUGH_AVAILABLE")
    to_self = parts_site.post("/transfers", {"part_number": FILTER, "quantity": "1",
                                             "to_dealer_code": "D001"})
    assert (to_self.status_code, list(to_self.json()["fields"])) == (422, ["to_dealer_code"])
    sent = parts_site.post("/transfers", {"part_number": FILTER, "quantity": "6",
                                          "to_dealer_code": "D002", "note": "D002 急需"})

    assert sent.status_code == 201, sent.text
    assert sent.json()["lots"] == [{"batch_number": "B-1", "quantity": "4"},
                                   {"batch_number": "B-2", "quantity": "2"}]
    assert parts_site.stock(FILTER) == {"on_hand": 4, "reserved": 4, "available": 0}
    [moved] = parts_site.emitted("StockTransferred")
    assert (moved["to_dealer_code"], moved["quantity"], len(moved["lots"])) == ("D002", "6", 2)
    low = parts_site.emitted("StockLow")[-1]
    assert (low["available"], low["suggested_order_quantity"]) == ("0", "12")

    # the receiving site books the transfer in with an ordinary receipt quoting it
    booked = parts_site.post("/receipts", {
        "transfer_id": moved["transfer_id"], "from_dealer_code": "D001",
        "lines": [{"part_number": FILTER, "batch_number": "B-1", "quantity": "4"}]})
    assert booked.status_code == 201, booked.text
    assert booked.json()["transfer_id"] == moved["transfer_id"]


def test_a_stocktake_sets_on_hand_and_keeps_the_reason_for_audit(parts_site):
    parts_site.part(FILTER, on_hand=10)
    ro = new_ro()
    parts_site.approve(ro, [("L1", FILTER, "6")])

    blank = parts_site.post("/stocktakes", {"part_number": FILTER, "counted": "8",
                                            "reason": "   "})
    assert (blank.status_code, list(blank.json()["fields"])) == (422, ["reason"])
    missing = parts_site.post("/stocktakes", {"part_number": FILTER, "counted": "8"})
    assert missing.json()["fields"] == {"reason": ["Missing data for required field."]}

    lost = parts_site.post("/stocktakes", {"part_number": FILTER, "counted": "8",
                                           "reason": "盘亏: 2 只破损 (2 damaged)"})
    assert lost.status_code == 201, lost.text
    assert (lost.json()["difference"], lost.json()["stock"]["available"]) == ("-2", "2")

    # fewer on the shelf than are reserved: the reservation gives way and shows a shortfall
    short = parts_site.post("/stocktakes", {"part_number": FILTER, "counted": "4",
                                            "reason": "年度盘点 (annual count)"})
    assert short.json()["stock"] == {"part_number": FILTER, "on_hand": "4", "reserved": "4",
                                     "available": "0", "shortfall": "2"}
    [released] = parts_site.emitted("PartReleased")
    assert (released["quantity"], released["reason"]) == ("2", "STOCKTAKE_SHORTAGE")

    found = parts_site.post("/stocktakes", {"part_number": FILTER, "counted": "7",
                                            "reason": "找到一箱 (found a box)"})
    assert found.json()["difference"] == "3"
    line = parts_site.reservations(ro)["L1"]
    assert (line["reserved"], line["shortfall"]) == ("6", "0")  # the found units filled it

    audit = parts_site.get("/stocktakes", MANAGER, part_number=FILTER).json()["items"]
    assert sorted((a["previous_on_hand"], a["counted"], a["difference"], a["adjusted_by"])
                  for a in audit) == [("10", "8", "-2", "PC-003"), ("4", "7", "3", "PC-003"),
                                      ("8", "4", "-4", "PC-003")]


def test_reorder_suggestions_list_the_parts_to_order(parts_site):
    parts_site.part("LOW-1", on_hand=3, reorder_point="5", reorder_quantity="20")
    parts_site.part("FINE-1", on_hand=30, reorder_point="5", reorder_quantity="20")
    parts_site.part("NONSTOCK-1")  # no policy: ordered only for waiting lines
    parts_site.part("NONSTOCK-2")
    parts_site.approve(new_ro(), [("L1", "NONSTOCK-1", "2")])

    items = parts_site.get("/reorder-suggestions", CLERK).json()["items"]

    assert [(x["part_number"], x["available"], x["shortfall"], x["suggested_quantity"])
            for x in items] == [("LOW-1", "3", "0", "22"), ("NONSTOCK-1", "0", "2", "2")]


def test_a_line_for_a_part_not_yet_in_the_catalogue_waits_for_it(parts_site):
    ro = new_ro()
    parts_site.approve(ro, [("L1", "NEW-PART-1", "2")])
    assert parts_site.reservations(ro)["L1"]["shortfall"] == "2"
    parts_site.part("NEW-PART-1", on_hand=5)
    line = parts_site.reservations(ro)["L1"]
    assert (line["reserved"], line["shortfall"]) == ("2", "0")


def test_the_movements_ledger_is_append_only(parts_site):
    parts_site.part(FILTER, on_hand=1)
    engine = sa.create_engine(parts_site.db)
    try:
        for statement in ("UPDATE stock_movements SET on_hand_change = 100",
                          "DELETE FROM stock_movements"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                with engine.begin() as conn:
                    conn.execute(sa.text(statement))
    finally:
        engine.dispose()
    assert parts_site.scalar("SELECT count(*) FROM stock_movements") == 1


# -- every endpoint: bad input names the field, and only its roles are admitted ------------

WRITES = [
    ("/receipts", {"lines": [{"part_number": FILTER, "batch_number": "B", "quantity": "0"}]},
     "lines"),
    ("/receipts", {"lines": []}, "lines"),
    ("/receipts", {"lines": [{"part_number": "NOPE", "batch_number": "B", "quantity": "1"}]},
     "lines.0.part_number"),
    ("/requisitions", {"repair_order_id": "RO 1", "quote_line_id": "L1", "quantity": "1"},
     "repair_order_id"),
    ("/requisitions", {"repair_order_id": "RO-1", "quote_line_id": "L1", "quantity": "-1"},
     "quantity"),
    ("/requisitions", {"repair_order_id": "RO-1", "quote_line_id": "L1", "quantity": 1.5},
     "quantity"),
    ("/returns", {"repair_order_id": "RO-1", "quote_line_id": "L1", "quantity": "1",
                  "reason": "BROKEN"}, "reason"),
    ("/transfers", {"part_number": FILTER, "quantity": "1", "to_dealer_code": "d-2"},
     "to_dealer_code"),
    ("/stocktakes", {"part_number": FILTER, "counted": "-1", "reason": "x"}, "counted"),
    ("/stocktakes", {"part_number": FILTER, "counted": "1", "reason": "x", "extra": 1},
     "extra"),
]


def test_bad_input_to_every_movement_is_422_naming_the_field(parts_site):
    parts_site.part(FILTER)
    for path, body, field in WRITES:
        response = parts_site.post(path, body)
        assert response.status_code == 422, (path, body, response.text)
        assert field in response.json()["fields"], (path, response.json())
        assert parts_site.post(path, "not an object").status_code == 400
    assert parts_site.scalar("SELECT count(*) FROM stock_movements") == 0
    assert parts_site.scalar("SELECT count(*) FROM outbox") == 0
    for path, params, field in (("/movements", {"kind": "THEFT"}, "kind"),
                                ("/reservations", {"status": "MAYBE"}, "status"),
                                ("/stocktakes", {"limit": "x"}, "limit")):
        response = parts_site.get(path, MANAGER, **params)
        assert (response.status_code, field in response.json()["fields"]) == (422, True)


ENDPOINTS = [  # method, path, who may
    ("POST", "/parts", {"parts_clerk"}),
    ("PATCH", f"/parts/{FILTER}", {"parts_clerk"}),
    ("GET", f"/parts/{FILTER}", {"parts_clerk", "technician", "advisor", "dealer_manager"}),
    ("GET", "/parts", {"parts_clerk", "technician", "advisor", "dealer_manager"}),
    ("PUT", "/vin-models/LSVAU2187", {"parts_clerk"}),
    ("GET", "/vin-models", {"parts_clerk", "technician", "advisor", "dealer_manager"}),
    ("DELETE", "/vin-models/LSVAU2187", {"parts_clerk"}),
    ("POST", "/receipts", {"parts_clerk"}),
    ("POST", "/requisitions", {"parts_clerk", "technician"}),
    ("POST", "/returns", {"parts_clerk"}),
    ("POST", "/transfers", {"parts_clerk"}),
    ("POST", "/stocktakes", {"parts_clerk"}),
    ("GET", "/stocktakes", {"parts_clerk", "dealer_manager"}),
    ("GET", "/reservations", {"parts_clerk", "technician", "advisor", "dealer_manager"}),
    ("POST", "/repair-orders/RO-1/release", {"parts_clerk"}),
    ("GET", "/reorder-suggestions", {"parts_clerk", "dealer_manager"}),
    ("GET", "/movements", {"parts_clerk", "dealer_manager"}),
    ("GET", "/trace/batches/B-1", {"parts_clerk", "dealer_manager"}),
    ("GET", "/trace/serials/SN-1", {"parts_clerk", "dealer_manager"}),
    ("GET", f"/trace/vehicles/{VIN}", {"parts_clerk", "dealer_manager"}),
]
ROLES = ["parts_clerk", "technician", "advisor", "dealer_manager", "qc_inspector", "cashier",
         "owner", "oem_analyst"]


def test_each_endpoint_admits_its_roles_only(parts_site):
    for method, path, allowed in ENDPOINTS:
        for role in ROLES:
            response = requests.request(method, f"{parts_site.url}{path}", json={},
                                        headers=auth(role), timeout=10)
            if role in allowed:
                assert response.status_code not in (401, 403), (method, path, role)
            else:
                assert response.status_code == 403, (method, path, role, response.text)
        anonymous = requests.request(method, f"{parts_site.url}{path}", json={}, timeout=10)
        assert anonymous.status_code == 401, (method, path)
    openapi = requests.get(f"{parts_site.url}/openapi.json", timeout=10).json()
    documented = {(m.upper(), p) for p, ops in openapi["paths"].items() for m in ops}
    assert ("POST", "/requisitions") in documented
    assert openapi["paths"]["/requisitions"]["post"]["x-roles"] == ["parts_clerk", "technician"]


def test_quote_events_of_another_round_add_lines_without_touching_earlier_ones(parts_site):
    parts_site.part(FILTER, on_hand=5)
    parts_site.part(PADS, on_hand=2)
    ro = new_ro()
    parts_site.approve(ro, [("L1", FILTER, "2")])
    parts_site.approve(ro, [("L7", PADS, "1")])  # additional work (增修), round 2
    lines = parts_site.reservations(ro)
    assert {k: v["reserved"] for k, v in lines.items()} == {"L1": "2", "L7": "1"}
    assert parts_site.get(f"/parts/{PADS}", QC).status_code == 403
    assert parts_site.get(f"/parts/{PADS}", TECHNICIAN).json()["available"] == "1"

    # the advisor re-quoted L1 with another part: the first part goes back on the shelf
    parts_site.approve(ro, [("L1", PADS, "1")])
    line = parts_site.reservations(ro)["L1"]
    assert (line["part_number"], line["reserved"]) == (PADS, "1")
    assert parts_site.stock(FILTER)["reserved"] == 0
    assert parts_site.stock(PADS)["reserved"] == 2
    assert [e["reason"] for e in parts_site.emitted("PartReleased")] == ["LINE_CHANGED"]
