"""What workorder publishes is built from its records and passes the contract, sums included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from contracts import events, new_event
from workorder.domain import published
from workorder.domain.inspection import report_items
from workorder.domain.pricing import BillableLine, LineKind, PayType, Sundry, invoice_totals

OPENED = datetime(2025, 3, 18, 6, 3, 10, tzinfo=UTC)
RO = {"id": "RO-D001-20250318-0042", "appointment_id": None,
      "customer_id": "8e3f2a10-6c5d-5b7e-9a41-0f2d3c4b5a69", "vin": "LSVAU2187N2183740",
      "plate": "京A12345", "model": None, "mileage_km": 29876, "fuel_level": 60,
      "concerns": [{"description": "刹车异响", "code": "BRAKE_NOISE"}, {"description": "保养"}],
      "advisor_id": "SA-017", "opened_at": OPENED, "promised_at": OPENED + timedelta(hours=3),
      "customer_waiting": False}


def _event(contract, data):
    return new_event(contract, data, source="dealer/D001/workorder", subject=RO["id"],
                     dealer_code="D001", correlation_id=RO["id"], sequence=1)


def test_repair_order_opened_leaves_out_what_is_unknown():
    event = _event(events.RepairOrderOpened, published.repair_order_opened(RO))
    assert "appointment_id" not in event["data"] and "model" not in event["data"]
    assert event["data"]["concerns"][1] == {"description": "保养"}


def test_inspection_uploaded_lists_items_in_checklist_order_with_photo_details():
    sha = "9f2c4b1a7e3d5c6b8a0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3"
    items = report_items(
        [{"code": "BATTERY", "name": "蓄电池", "position": 2, "status": "GREEN", "notes": None,
          "photos": []},
         {"code": "BRAKE_PAD_FRONT", "name": "前刹车片", "position": 1, "status": "RED",
          "notes": "2 mm", "photos": [sha]}],
        {sha: {"content_type": "image/jpeg", "size_bytes": 1843211}})
    event = _event(events.InspectionUploaded, published.inspection_uploaded(
        RO, "INS-1", items, inspected_by="T-042", inspected_at=OPENED, report_url=None))
    assert [item["code"] for item in event["data"]["items"]] == ["BRAKE_PAD_FRONT", "BATTERY"]
    assert event["data"]["items"][0]["photos"][0]["size_bytes"] == 1843211
    assert "notes" not in event["data"]["items"][1]


def test_quote_issued_totals_its_lines():
    lines = [{"line_id": "L1", "kind": "LABOUR", "description": "换机油", "operation_code": "OIL",
              "flat_rate_hours": D("0.50"), "unit_price": D("300.00"), "amount": D("150.00"),
              "pay_type": "CUSTOMER_PAY"},
             {"line_id": "L2", "kind": "PART", "description": "机油", "part_number": "G-052",
              "quantity": D("4.500"), "unit_price": D("98.00"), "amount": D("441.00"),
              "pay_type": "WARRANTY"}]
    event = _event(events.QuoteIssued, published.quote_issued(RO, 2, lines, issued_by="SA-017",
                                                             issued_at=OPENED))
    assert (event["data"]["total"], event["data"]["round"]) == ("591.00", 2)
    assert event["data"]["quote_id"] == "Q-RO-D001-20250318-0042-2"
    assert event["data"]["lines"][0]["flat_rate_hours"] == "0.5"
    assert "quote_url" not in event["data"]  # a site without an owner portal sends none


def test_quote_issued_carries_the_owners_signed_link_when_there_is_one():
    line = {"line_id": "L1", "kind": "LABOUR", "description": "换机油", "operation_code": "OIL",
            "flat_rate_hours": D("0.50"), "unit_price": D("300.00"), "amount": D("150.00"),
            "pay_type": "CUSTOMER_PAY"}
    url = "https://owners.d001.example.cn/quote-links/eyJhbGciOiJIUzI1NiJ9.eyJybyI6IjEifQ.c2ln"
    event = _event(events.QuoteIssued, published.quote_issued(
        RO, 1, [line], issued_by="SA-017", issued_at=OPENED, quote_url=url))
    assert event["data"]["quote_url"] == url


def test_vehicle_delivered_carries_the_invoice_that_adds_up():
    totals = invoice_totals([BillableLine(LineKind.LABOUR, D("510.00"), PayType.CUSTOMER_PAY,
                                          D("1.70")),
                             BillableLine(LineKind.PART, D("1189.00"), PayType.CUSTOMER_PAY)],
                            [Sundry("废油处理", D("20.00"))], D("100.00"))
    delivered_at = OPENED + timedelta(hours=3, minutes=18)
    event = _event(events.VehicleDelivered, published.vehicle_delivered(
        RO, {"invoice_number": "INV-1"}, totals, mileage_km=29879, clocked_hours=D("2.25"),
        delivered_at=delivered_at, delivery_mode="COUNTER"))
    data = event["data"]
    assert (data["grand_total"], data["tax_total"], data["labour_hours_sold"]) == (
        "1619.00", "186.26", "1.70")
    assert data["totals_by_pay_type"] == {"CUSTOMER_PAY": "1619.00", "WARRANTY": "0.00",
                                          "INTERNAL": "0.00"}


def test_sqlite_times_without_a_zone_are_read_as_utc():
    naive = {**RO, "opened_at": OPENED.replace(tzinfo=None),
             "promised_at": RO["promised_at"].replace(tzinfo=None)}
    event = _event(events.RepairOrderOpened, published.repair_order_opened(naive))
    assert event["data"]["opened_at"] == "2025-03-18T06:03:10+00:00"
