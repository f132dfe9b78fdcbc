"""A recall closes for a car only once it is delivered with the campaign's work done, across
a dealer site and headquarters joined by the shovels, on the real RabbitMQ and PostgreSQL.

Headquarters (crm) publishes a recall with its labour operation; the site's reception sees it
open. A car whose repair order is opened and worked with the operation still has it open;
a car whose owner declined the operation is delivered with it still open; once the first car
is delivered, crm records the completion and announces it, and the site's reception no
longer shows the recall for that car.
"""

from __future__ import annotations

from datetime import date, timedelta

import requests

from chassis.testing import auth, rows, wait_for
from contracts import events
from tests.flows.test_wan_cut import (  # noqa: F401  (the fixture `linked`)
    LABOUR_OIL_ONLY,
    Trading,
    _customer,
    linked,
    open_campaigns,
    vin_for,
)

RECALL = "RC-2026-11"
RECALL_WORK = {"kind": "LABOUR", "description": "更换制动软管 (replace brake hoses)",
               "operation_code": "RCL-BRK-11", "flat_rate_hours": "0.8",
               "pay_type": "WARRANTY"}


def _worked(trading: Trading, n: int, decisions: dict[str, str]) -> str:
    """Car `n` received and quoted oil (L1) and the recall's work (L2), decided, the
    approved labour done and checked: at the invoice, not delivered."""
    shop, phone = trading.workshop, f"1381234{n:04d}"
    ro_id = shop.open_ro(vin=vin_for(n), customer_phone=phone, plate=f"京A1{n:04d}")["id"]
    shop.inspect(ro_id)
    shop.quote(ro_id, LABOUR_OIL_ONLY, RECALL_WORK)
    owner = {"role": "owner", "subject": _customer(phone)}
    decided = shop.decide(ro_id, decisions, who=owner)
    assert decided.status_code == 200, decided.text
    for line, decision in decisions.items():
        if decision == "APPROVED":
            shop.clock(ro_id, line, "T-wang")
    shop.ok("POST", f"/repair-orders/{ro_id}/self-check", 201, role="technician",
            subject="T-wang", json={"passed": True})
    shop.ok("POST", f"/repair-orders/{ro_id}/inspector-check", 201, role="qc_inspector",
            subject="QC-005", json={"passed": True})
    return ro_id


def _deliver(trading: Trading, ro_id: str, n: int) -> None:
    shop, owner = trading.workshop, {"role": "owner", "subject": _customer(f"1381234{n:04d}")}
    invoice = shop.ok("POST", f"/repair-orders/{ro_id}/invoice", 201, json={})
    shop.ok("POST", f"/repair-orders/{ro_id}/payments", 201, role="cashier",
            subject="CASH-01", json={"method": "CARD", "amount": invoice["balance"]})
    shop.ok("POST", f"/repair-orders/{ro_id}/invoice/signature", **owner,
            json={"name": "王伟"})
    shop.ok("POST", f"/repair-orders/{ro_id}/hand-over",
            json={"mileage_km": 30000 + n, "delivery_mode": "COUNTER"})


def test_a_recall_closes_only_after_delivery(linked) -> None:  # noqa: F811
    site, hq, _, _ = linked
    trading = Trading(site)
    repaired, declined = vin_for(31), vin_for(32)
    answer = requests.post(f"http://127.0.0.1:{hq['crm'].http_port}/campaigns", timeout=15,
                           headers=auth("operator", subject="ops-1"), json={
                               "code": RECALL, "kind": "RECALL",
                               "title": "制动软管召回 (brake hose recall)",
                               "operation_code": "RCL-BRK-11",
                               "starts_on": str(date.today() - timedelta(days=1)),
                               "vins": [repaired, declined]})
    assert answer.status_code == 201, answer.text
    wait_for(lambda: open_campaigns(site, repaired) == [RECALL], timeout=30,
             message="reception at the site to see the recall")

    def crm_knows(ro_id: str, column: str) -> bool:
        return bool(rows(hq["crm"].database_url, f"SELECT count(*) FROM visits WHERE "
                         f"repair_order_id = '{ro_id}' AND {column} IS NOT NULL")[0][0])

    def completions() -> list[tuple]:
        return rows(hq["crm"].database_url, "SELECT campaign_code, vin, dealer_code, "
                    "repair_order_id FROM recall_completions")

    # Opened and worked with the recall's operation (its job finished): still open.
    worked = _worked(trading, 31, {"L1": "APPROVED", "L2": "APPROVED"})
    wait_for(lambda: crm_knows(worked, "opened_at"), timeout=30,
             message="headquarters to see the repair order")
    assert completions() == []
    assert open_campaigns(site, repaired) == [RECALL]

    # Delivered with the operation only quoted and declined: still open.
    other = _worked(trading, 32, {"L1": "APPROVED", "L2": "DECLINED"})
    _deliver(trading, other, 32)
    wait_for(lambda: crm_knows(other, "delivered_at"), timeout=30,
             message="headquarters to see the delivery without the recall's work")
    assert completions() == []

    # Delivered with it done: closed at headquarters and at the site.
    _deliver(trading, worked, 31)
    wait_for(lambda: completions() == [(RECALL, repaired, "D001", worked)], timeout=30,
             message="headquarters to record the completion")
    wait_for(lambda: open_campaigns(site, repaired) == [], timeout=30,
             message="reception at the site to no longer see the recall")
    assert open_campaigns(site, declined) == [RECALL]
    [done] = [e for e in trading.workshop.events("VehicleDelivered")
              if e["data"]["repair_order_id"] == worked]
    assert done["data"]["labour_operation_codes"] == ["MNT-OIL-01", "RCL-BRK-11"]
    assert rows(hq["crm"].database_url, "SELECT count(*) FROM outbox WHERE event_type = "
                f"'{events.RecallCompleted.type}'")[0][0] == 1
