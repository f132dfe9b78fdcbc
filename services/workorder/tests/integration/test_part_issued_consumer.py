"""Parts issued to a repair order (parts' PartIssued events) are recorded once, against the
approved line, for the invoice and for tracing each part to the vehicle."""

from __future__ import annotations

import json

from chassis.broker import ConfirmingPublisher, OutgoingMessage
from chassis.testing import wait_for
from contracts import events, new_event
from services.workorder.tests.integration.site_client import VIN


def _issued(ro_id: str, line_id: str, issue_id: str, quantity: str = "4.5") -> dict:
    data = {"issue_id": issue_id, "repair_order_id": ro_id, "quote_line_id": line_id,
            "vin": VIN, "part_number": "G-052-195-M4", "part_name": "机油 0W-20",
            "quantity": quantity, "unit": "L", "batch_number": "B2502-1187",
            "unit_price": "98.00", "currency": "CNY", "from_stock": True, "issued_by": "PC-003",
            "issued_at": "2025-03-18T15:20:33+08:00"}
    return new_event(events.PartIssued, data, source="dealer/D001/parts", subject=ro_id,
                     dealer_code="D001", correlation_id=ro_id, sequence=1)


def _publish(amqp_uri: str, *envelopes: dict) -> None:
    publisher = ConfirmingPublisher(amqp_uri)
    publisher.publish(OutgoingMessage(
        exchange=events.PartIssued.exchange, routing_key=events.PartIssued.type,
        body=json.dumps(envelope).encode(), message_id=envelope["id"])
        for envelope in envelopes)
    publisher.close()


def test_an_issued_part_is_recorded_once_against_its_approved_line(site, amqp_uri):
    ro_id = site.ro_in_work()  # L2 (engine oil) approved, L4 (alignment) declined
    first = _issued(ro_id, "L2", "ISS-1")
    same_issue_new_id = _issued(ro_id, "L2", "ISS-1")
    _publish(amqp_uri, first, first, same_issue_new_id)
    wait_for(lambda: site.count("inbox") >= 2, message="the issues applied")

    def line(line_id: str) -> dict:
        quote = site.ok("GET", f"/repair-orders/{ro_id}/quote")
        return next(x for x in quote["rounds"][0]["lines"] if x["line_id"] == line_id)

    assert line("L2")["issued_quantity"] == "4.500"
    issues = site.ok("GET", f"/repair-orders/{ro_id}/part-issues", role="parts_clerk")["items"]
    assert len(issues) == 1
    assert (issues[0]["issue_id"], issues[0]["batch_number"], issues[0]["quantity"],
            issues[0]["against_approved_line"]) == ("ISS-1", "B2502-1187", "4.5", True)

    # An issue against a line the owner declined is kept for tracing and flagged, never
    # counted as sold.
    _publish(amqp_uri, _issued(ro_id, "L4", "ISS-2", "1"))
    wait_for(lambda: len(site.ok("GET", f"/repair-orders/{ro_id}/part-issues")["items"]) == 2,
             message="the second issue")
    flagged = site.ok("GET", f"/repair-orders/{ro_id}/part-issues")["items"][1]
    assert (flagged["line_id"], flagged["against_approved_line"]) == ("L4", False)
    assert line("L4")["issued_quantity"] == "0.000"
    assert site.call("GET", f"/repair-orders/{ro_id}/part-issues",
                     role="cashier").status_code == 403
