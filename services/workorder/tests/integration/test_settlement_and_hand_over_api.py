"""Settlement and hand-over over HTTP: the invoice, partial payments, the owner's signature,
and the car leaves only when both are done."""

from __future__ import annotations

import base64
from decimal import Decimal

from services.workorder.tests.integration.site_client import (
    CUSTOMER,
    LABOUR_OIL,
    PART_OIL,
    VIN,
)
from workorder.domain.pricing import vat_included

INVOICE = {"sundries": [{"description": "废油处理 (waste oil disposal)", "amount": "20.00"}],
           "discount": "100.00", "coupon_code": "SPRING-100"}


def _pay(site, ro_id, amount, method="WECHAT_PAY", **kwargs):
    return site.call("POST", f"/repair-orders/{ro_id}/payments", role="cashier",
                     subject="CASH-01", json={"method": method, "amount": amount, **kwargs})


def test_the_invoice_adds_labour_parts_and_sundries_less_the_discount(site):
    ro_id = site.ro_at_invoice()
    too_much = site.call("POST", f"/repair-orders/{ro_id}/invoice",
                         json={**INVOICE, "discount": "5000.00"})
    assert too_much.status_code == 422 and "discount" in too_much.json()["fields"]

    invoice = site.ok("POST", f"/repair-orders/{ro_id}/invoice", 201, json=INVOICE)
    # approved: L1 oil change 0.5 h = 150.00, L2 oil 4.5 L = 441.00, L3 brakes 1.2 h = 360.00
    assert (invoice["labour_total"], invoice["parts_total"], invoice["sundries_total"],
            invoice["discount_total"], invoice["grand_total"]) == (
        "510.00", "441.00", "20.00", "100.00", "871.00")
    assert invoice["tax_total"] == str(vat_included(Decimal("871.00"))) == "100.20"
    assert invoice["totals_by_pay_type"] == {"CUSTOMER_PAY": "871.00", "WARRANTY": "0.00",
                                             "INTERNAL": "0.00"}
    assert invoice["labour_hours_sold"] == "1.70"
    assert [line["line_id"] for line in invoice["lines"]] == ["L1", "L2", "L3"]  # not L4
    assert (invoice["balance"], invoice["signed"], invoice["coupon_code"]) == (
        "871.00", False, "SPRING-100")
    assert invoice["invoice_number"] == f"INV-{ro_id}"
    assert site.ok("GET", f"/repair-orders/{ro_id}/invoice", **site.as_owner())["grand_total"] \
        == "871.00"
    assert site.call("GET", f"/repair-orders/{ro_id}/invoice",
                     **site.as_owner("someone-else")).status_code == 404
    reissued = site.ok("POST", f"/repair-orders/{ro_id}/invoice", 201)
    assert reissued["grand_total"] == "951.00"  # no sundries, no discount


def test_partial_payments_are_taken_and_overpayment_is_refused(site):
    ro_id = site.ro_at_invoice()
    assert _pay(site, ro_id, "100.00").status_code == 409  # nothing to pay yet
    site.ok("POST", f"/repair-orders/{ro_id}/invoice", 201, json=INVOICE)

    first = _pay(site, ro_id, "500.00", "CARD", reference="POS-7781")
    assert first.status_code == 201, first.text
    assert (first.json()["paid"], first.json()["balance"]) == ("500.00", "371.00")
    over = _pay(site, ro_id, "371.01", "CASH")
    assert over.status_code == 422 and "amount" in over.json()["fields"]
    assert over.json()["balance"] == "371.00"
    assert _pay(site, ro_id, 371.0).status_code == 422               # money is a string
    assert _pay(site, ro_id, "0.00").status_code == 422
    assert _pay(site, ro_id, "10.00", "BITCOIN").status_code == 422
    assert site.call("POST", f"/repair-orders/{ro_id}/payments",
                     json={"method": "CASH", "amount": "1.00"}).status_code == 403  # advisor

    last = _pay(site, ro_id, "371.00", "ALIPAY")
    assert last.json()["balance"] == "0.00"
    assert [(p["method"], p["amount"]) for p in last.json()["payments"]] == [
        ("CARD", "500.00"), ("ALIPAY", "371.00")]
    assert site.call("POST", f"/repair-orders/{ro_id}/invoice").status_code == 409  # paid on it


def test_hand_over_waits_for_the_balance_and_the_owners_signature(site):
    ro_id = site.ro_at_invoice()
    hand_over = f"/repair-orders/{ro_id}/hand-over"
    assert site.call("POST", hand_over).status_code == 409  # no invoice yet
    site.ok("POST", f"/repair-orders/{ro_id}/invoice", 201, json=INVOICE)
    _pay(site, ro_id, "500.00")

    unpaid = site.call("POST", hand_over)
    assert unpaid.status_code == 409 and unpaid.json()["balance"] == "371.00"
    _pay(site, ro_id, "371.00")
    unsigned = site.call("POST", hand_over)
    assert unsigned.status_code == 409 and "signed" in unsigned.json()["message"]

    at_counter = site.call("POST", f"/repair-orders/{ro_id}/invoice/signature",
                           json={"name": "王伟"})
    assert at_counter.status_code == 422  # in person means a captured signature image
    assert site.call("POST", f"/repair-orders/{ro_id}/invoice/signature",
                     **site.as_owner("someone-else"), json={"name": "李四"}).status_code == 404
    signed = site.ok("POST", f"/repair-orders/{ro_id}/invoice/signature", **site.as_owner(),
                     json={"name": "王伟"})
    assert signed["signed"] is True and signed["signed_by_name"] == "王伟"

    backwards = site.call("POST", hand_over, json={"mileage_km": 100})
    assert backwards.status_code == 422 and "mileage_km" in backwards.json()["fields"]
    delivered = site.ok("POST", hand_over, json={"mileage_km": 29879,
                                                  "delivery_mode": "COUNTER"})
    assert delivered["stage"] == "VEHICLE_DELIVERED" and delivered["delivered_at"]

    [event] = site.events("VehicleDelivered")
    data = event["data"]
    assert (data["repair_order_id"], data["customer_id"], data["vin"], data["mileage_km"]) == (
        ro_id, CUSTOMER, VIN, 29879)
    assert (data["grand_total"], data["tax_total"], data["discount_total"]) == (
        "871.00", "100.20", "100.00")
    assert data["totals_by_pay_type"]["CUSTOMER_PAY"] == "871.00"
    assert data["labour_hours_sold"] == "1.70"
    assert Decimal(data["clocked_hours"]) >= 0
    assert data["promised_at"] and data["opened_at"] < data["delivered_at"]
    assert data["invoice_number"] == f"INV-{ro_id}"

    assert site.call("POST", f"/repair-orders/{ro_id}/payments", role="cashier",
                     json={"method": "CASH", "amount": "1.00"}).status_code == 409
    closed = site.ok("POST", f"/repair-orders/{ro_id}/close", role="dealer_manager")
    assert closed["stage"] == "CLOSED" and closed["next_steps"] == []
    assert [h["stage"] for h in closed["history"]] == [
        "VEHICLE_RECEIVED", "EVALUATION", "PROPOSAL_BUILD", "AWAITING_CUSTOMER_AUTHORIZATION",
        "WORK_IN_PROGRESS", "QUALITY_ASSURANCE", "INVOICE", "VEHICLE_DELIVERED", "CLOSED"]
    assert site.call("POST", f"/repair-orders/{ro_id}/close").status_code == 409

    # The site now knows the car at 29 879 km: the next reception cannot read less.
    assert site.call("POST", "/repair-orders",
                     json=site.reception(mileage_km=29878)).status_code == 422


def test_warranty_work_is_not_the_owners_to_pay(site):
    ro_id = site.open_ro()["id"]
    site.inspect(ro_id)
    site.quote(ro_id, {**LABOUR_OIL, "pay_type": "WARRANTY"}, {**PART_OIL, "pay_type": "WARRANTY"})
    assert site.decide(ro_id, {"L1": "APPROVED", "L2": "APPROVED"}).status_code == 200
    site.add_technician("T-wang", [])
    site.clock(ro_id, "L1", "T-wang")
    site.ok("POST", f"/repair-orders/{ro_id}/self-check", 201, role="technician",
            subject="T-wang", json={"passed": True})
    site.ok("POST", f"/repair-orders/{ro_id}/inspector-check", 201, role="qc_inspector",
            json={"passed": True})
    invoice = site.ok("POST", f"/repair-orders/{ro_id}/invoice", 201)
    assert invoice["totals_by_pay_type"] == {"CUSTOMER_PAY": "0.00", "WARRANTY": "591.00",
                                             "INTERNAL": "0.00"}
    assert invoice["balance"] == "0.00"
    image = base64.b64encode(b"\xff\xd8\xff\xe0" + b"pen strokes" * 30).decode()
    site.ok("POST", f"/repair-orders/{ro_id}/invoice/signature",
            json={"name": "王伟", "image": image, "image_content_type": "image/jpeg"})
    assert site.ok("POST", f"/repair-orders/{ro_id}/hand-over")["stage"] == "VEHICLE_DELIVERED"
    [event] = site.events("VehicleDelivered")
    assert event["data"]["totals_by_pay_type"]["WARRANTY"] == "591.00"
    assert event["data"]["grand_total"] == "591.00"


def test_a_car_with_every_line_declined_is_settled_without_work(site):
    ro_id = site.open_ro()["id"]
    site.inspect(ro_id)
    site.quote(ro_id, LABOUR_OIL)
    assert site.decide(ro_id, {"L1": "DECLINED"}).json()["stage"] == "INVOICE"
    invoice = site.ok("POST", f"/repair-orders/{ro_id}/invoice", 201)
    assert invoice["grand_total"] == "0.00"
    site.ok("POST", f"/repair-orders/{ro_id}/invoice/signature", **site.as_owner(),
            json={"name": "王伟"})
    site.ok("POST", f"/repair-orders/{ro_id}/hand-over")
    [event] = site.events("VehicleDelivered")
    assert (event["data"]["grand_total"], event["data"]["labour_hours_sold"]) == ("0.00", "0.00")
