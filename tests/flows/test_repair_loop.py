"""The whole loop at one dealer site, on the real RabbitMQ and PostgreSQL, through the three
services' HTTP APIs and the events between them:

book → check in → reception → inspection with a photo → quote → the owner approves some
lines and declines one → parts reserved → requisition → PartIssued → clock on/off → QC fails
once, rework, passes → invoice, payments → hand-over → VehicleDelivered.

Every event that crossed the broker is checked against the published contracts, and each
service's database is checked for the end state.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import kombu
import pytest
import requests

from booking.service import BookingService
from chassis.broker import connect, event_exchange
from chassis.testing import auth, make_settings, service_database, wait_for
from contracts import validate_event
from parts.service import PartsService
from services.workorder.tests.integration.site_client import (
    CUSTOMER,
    LABOUR_BRAKES,
    LABOUR_OIL,
    Site,
)
from workorder.service import WorkorderService

OWNER = auth("owner", subject=CUSTOMER)
ADVISOR = auth("advisor", subject="SA-017")
CLERK = auth("parts_clerk", subject="PC-003")
TECHNICIAN = auth("technician", subject="T-wang")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
VIN = "LSVAU2187N2183740"

LABOUR_ALIGNMENT = {"kind": "LABOUR", "description": "四轮定位 (four-wheel alignment)",
                    "operation_code": "ALIGN-4W", "flat_rate_hours": "1",
                    "pay_type": "CUSTOMER_PAY"}
PART_OIL = {"kind": "PART", "part_number": "G-052-195-M4", "quantity": "4.5",
            "pay_type": "CUSTOMER_PAY"}
PART_PADS = {"kind": "PART", "part_number": "5QD698151B", "quantity": "1",
             "pay_type": "WARRANTY"}


class EventTap:
    """A queue bound to every site exchange: what crossed the broker, in order."""

    def __init__(self, amqp_uri: str) -> None:
        self.connection = connect(amqp_uri)
        self.channel = self.connection.channel()
        self.queues = [kombu.Queue(f"tap-{producer}", exchange=event_exchange(producer),
                                   routing_key="#", durable=True)(self.channel)
                       for producer in ("booking", "workorder", "parts")]
        for queue in self.queues:
            queue.declare()
        self.seen: list[dict] = []

    def drain(self) -> list[dict]:
        for queue in self.queues:
            while (message := queue.get(no_ack=True)) is not None:
                self.seen.append(json.loads(message.body))
        return self.seen

    def types(self) -> list[str]:
        return [event["type"].split(".")[1] for event in self.drain()]

    def close(self) -> None:
        self.connection.release()


@pytest.fixture
def site(database, amqp_uri, services, tmp_path):
    tap = EventTap(amqp_uri)
    started = {}
    for cls in (PartsService, WorkorderService, BookingService):
        settings = make_settings(cls.name, service_database(database, cls), amqp_uri,
                                 media_dir=str(tmp_path / "media"))
        services(cls, settings)
        started[cls.name] = settings
    yield started, tap
    tap.close()


def url(settings, path: str) -> str:
    return f"http://127.0.0.1:{settings.http_port}{path}"


def ok(method: str, address: str, headers: dict, status: int = 200, **kwargs) -> dict:
    response = requests.request(method, address, headers=headers, timeout=15, **kwargs)
    assert response.status_code == status, f"{method} {address}: {response.text}"
    return response.json()


def test_a_car_goes_round_the_whole_service_loop(site):
    settings, tap = site
    booking, parts = settings["booking"], settings["parts"]
    workshop = Site(settings["workorder"])

    # The parts desk has oil and brake pads on the shelf.
    for number, name, unit, price in (("G-052-195-M4", "机油 0W-20", "L", "98.00"),
                                      ("5QD698151B", "前刹车片", "SET", "680.00")):
        ok("POST", url(parts, "/parts"), CLERK, 201, json={
            "part_number": number, "name": name, "unit": unit, "unit_price": price,
            "reorder_point": "1", "reorder_quantity": "4"})
    ok("POST", url(parts, "/receipts"), CLERK, 201, json={"reference": "GR-1", "lines": [
        {"part_number": "G-052-195-M4", "quantity": "20", "batch_number": "OIL-2026-11"},
        {"part_number": "5QD698151B", "quantity": "2", "batch_number": "PAD-2026-10"}]})

    # 1. The owner books in the app; 2. arrives and is checked in.
    slot = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0,
                                                           microsecond=0)
    appointment = ok("POST", url(booking, "/appointments"), OWNER, 201, json={
        "customer": {"name": "王伟", "phone": "13812345678"},
        "vehicle": {"plate": "京A12345", "vin": VIN}, "service_type": "MAINTENANCE",
        "slot_start": slot.isoformat(), "channel": "APP"})
    ok("POST", url(booking, f"/appointments/{appointment['id']}/check-in"), ADVISOR)
    wait_for(lambda: workshop.ok("GET", "/expected-arrivals")["items"],
             message="the workshop to expect the car")

    # 3. Reception opens the repair order from the appointment.
    reception = workshop.reception(appointment_id=appointment["id"])
    for field in ("customer_phone", "vin", "plate", "model"):
        del reception[field]
    ro_id = workshop.ok("POST", "/repair-orders", 201, json=reception)["id"]

    # 4. Inspection with a photo of the worn pads.
    photo = workshop.call("POST", f"/repair-orders/{ro_id}/photos", role="technician",
                          subject="T-wang", data=PNG, headers={"Content-Type": "image/png"})
    assert photo.status_code == 201, photo.text
    sha = hashlib.sha256(PNG).hexdigest()
    inspected = workshop.inspect(ro_id, photos=[sha])
    report = requests.get(url(settings["workorder"], inspected["report_link"]["url"]),
                          timeout=10)
    assert report.status_code == 200  # the owner's link works without signing in

    # 5. The quote, priced by parts; the owner approves all but the alignment.
    workshop.quote(ro_id, LABOUR_OIL, PART_OIL, LABOUR_BRAKES, PART_PADS, LABOUR_ALIGNMENT)
    decided = workshop.decide(ro_id, {"L1": "APPROVED", "L2": "APPROVED", "L3": "APPROVED",
                                      "L4": "APPROVED", "L5": "DECLINED"})
    assert decided.status_code == 200, decided.text

    # 6. Parts reserves the approved part lines, and only those.
    def reservations():
        return ok("GET", url(parts, f"/reservations?repair_order_id={ro_id}"),
                  CLERK)["items"]

    reserved = wait_for(lambda: len(found := reservations()) == 2 and found,
                        message="two reservations")
    assert sorted(r["quote_line_id"] for r in reserved) == ["L2", "L4"]

    # No part for the declined line, no work on it.
    refused = requests.post(url(parts, "/requisitions"), headers=TECHNICIAN, timeout=10,
                            json={"repair_order_id": ro_id, "quote_line_id": "L5",
                                  "quantity": "1"})
    assert refused.status_code == 409
    workshop.add_technician("T-wang", ["BRAKES"])
    not_approved = workshop.call("POST", f"/repair-orders/{ro_id}/jobs/L5/clock-on",
                                 role="technician", subject="T-wang")
    assert not_approved.status_code == 409

    # 7. The technician's requisitions issue the reserved parts.
    for line, quantity in (("L2", "4.5"), ("L4", "1")):
        ok("POST", url(parts, "/requisitions"), TECHNICIAN, 201,
           json={"repair_order_id": ro_id, "quote_line_id": line, "quantity": quantity})
    wait_for(lambda: len(workshop.ok("GET", f"/repair-orders/{ro_id}/part-issues")["items"])
             == 2, message="the workshop to record both issues")

    # 8. Labour, then QC: the inspector fails the brakes once.
    workshop.clock(ro_id, "L1", "T-wang")
    workshop.clock(ro_id, "L3", "T-wang")
    workshop.ok("POST", f"/repair-orders/{ro_id}/self-check", 201, role="technician",
                subject="T-wang", json={"passed": True})
    failed = workshop.ok("POST", f"/repair-orders/{ro_id}/inspector-check", 201,
                         role="qc_inspector", subject="QC-005",
                         json={"passed": False, "line_ids": ["L3"],
                               "reason": "路试制动仍有轻微异响 (still squeals on the road test)"})
    assert failed["repair_order_stage"] == "WORK_IN_PROGRESS"
    workshop.clock(ro_id, "L3", "T-wang")
    workshop.ok("POST", f"/repair-orders/{ro_id}/self-check", 201, role="technician",
                subject="T-wang", json={"passed": True})
    passed = workshop.ok("POST", f"/repair-orders/{ro_id}/inspector-check", 201,
                         role="qc_inspector", subject="QC-005", json={"passed": True})
    assert (passed["repair_order_stage"], passed["rework_count"]) == ("INVOICE", 1)

    # 9. Invoice, two payments, the owner's signature, hand-over.
    invoice = workshop.ok("POST", f"/repair-orders/{ro_id}/invoice", 201, json={})
    owed = invoice["balance"]
    first = "100.00"
    workshop.ok("POST", f"/repair-orders/{ro_id}/payments", 201, role="cashier",
                subject="CASH-01", json={"method": "CARD", "amount": first})
    rest = f"{float(owed) - float(first):.2f}"
    workshop.ok("POST", f"/repair-orders/{ro_id}/payments", 201, role="cashier",
                subject="CASH-01", json={"method": "WECHAT_PAY", "amount": rest})
    workshop.ok("POST", f"/repair-orders/{ro_id}/invoice/signature", **workshop.as_owner(),
                json={"name": "王伟"})
    delivered = workshop.ok("POST", f"/repair-orders/{ro_id}/hand-over",
                            json={"mileage_km": 29880, "delivery_mode": "COUNTER"})
    assert delivered["stage"] == "VEHICLE_DELIVERED"

    # Every event that crossed the broker satisfies its contract…
    wanted = {"AppointmentBooked", "AppointmentCheckedIn", "RepairOrderOpened",
              "InspectionUploaded", "QuoteIssued", "QuoteApproved", "PartReserved",
              "PartIssued", "QualityCheckCompleted", "VehicleDelivered"}
    wait_for(lambda: wanted <= set(tap.types()), message=f"events {wanted}")
    for event in tap.drain():
        validate_event(event)
    by_type = {}
    for event in tap.seen:
        by_type.setdefault(event["type"].split(".")[1], []).append(event)
    [approved] = by_type["QuoteApproved"]
    assert [line["line_id"] for line in approved["data"]["declined_lines"]] == ["L5"]
    assert len(by_type["QualityCheckCompleted"]) == 4  # self, failed inspector, self, passed
    issued = {e["data"]["quote_line_id"]: e["data"] for e in by_type["PartIssued"]}
    assert issued["L4"]["batch_number"] == "PAD-2026-10" and issued["L4"]["vin"] == VIN
    [handed_over] = by_type["VehicleDelivered"]
    assert handed_over["data"]["grand_total"] == invoice["grand_total"]
    assert handed_over["correlationid"] == ro_id

    # …and each service's own database holds the end state.
    assert workshop.query("SELECT stage FROM repair_orders WHERE id = :id",
                          id=ro_id)[0]["stage"] == "VEHICLE_DELIVERED"
    stored = ok("GET", url(booking, f"/appointments/{appointment['id']}"), ADVISOR)
    assert stored["status"] == "CHECKED_IN"
    pads = ok("GET", url(parts, "/parts/5QD698151B"), CLERK)
    assert (pads["on_hand"], pads["reserved"]) == ("1", "0")
    traced = ok("GET", url(parts, f"/trace/vehicles/{VIN}"), CLERK)
    assert {(p["part_number"], p["batch_number"]) for p in traced["parts"]} == {
        ("G-052-195-M4", "OIL-2026-11"), ("5QD698151B", "PAD-2026-10")}
