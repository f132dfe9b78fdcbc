"""The audit log on the real PostgreSQL, through parts' HTTP entrypoints: a stocktake that
changes on hand leaves an audit row with the quantities before and after; one refused after
its audit row was written leaves neither the row nor the adjustment; a count that confirms
the books leaves none; and `aftersales audit list parts` shows what is there."""

from __future__ import annotations

import json

from chassis.cli import main as aftersales
from chassis.testing import HQ_ISSUER, trust_setting
from services.parts.tests.integration.conftest import new_ro

FILTER, GEARBOX = "06L115562B", "0CK300012"


def audit_rows(parts_site) -> list:  # type: ignore[no-untyped-def]
    return parts_site.rows("SELECT action, subject, actor_subject, actor_role, "
                           "actor_dealer_code, actor_issuer, client_address, detail "
                           "FROM audit_log ORDER BY id")


def test_a_stocktake_adjustment_is_audited_and_a_refused_one_is_rolled_back_with_it(
        parts_site, monkeypatch, capsys):
    parts_site.part(FILTER, on_hand=10)
    parts_site.part(GEARBOX, name="变速箱", unit_price="18800.00", tracking="SERIAL")
    parts_site.receive(GEARBOX, serials=["GB-001", "GB-002"])

    # A serial-numbered part counted short must name the missing serial numbers: refused
    # (422) after the adjustment and its audit row were written in the same transaction.
    refused = parts_site.post("/stocktakes", {"part_number": GEARBOX, "counted": "1",
                                              "reason": "盘亏 (missing)"})
    assert (refused.status_code, list(refused.json()["fields"])) == (422, ["serial_numbers"])
    assert audit_rows(parts_site) == []
    assert parts_site.scalar("SELECT count(*) FROM stock_adjustments") == 0
    assert parts_site.stock(GEARBOX)["on_hand"] == 2

    confirmed = parts_site.post("/stocktakes", {"part_number": FILTER, "counted": "10",
                                                "reason": "月度盘点 (monthly count)"})
    assert confirmed.status_code == 201, confirmed.text
    assert audit_rows(parts_site) == []  # the books were right: nothing changed

    lost = parts_site.post("/stocktakes", {"part_number": FILTER, "counted": "8",
                                           "reason": "盘亏: 2 只破损 (2 damaged)"})
    assert lost.status_code == 201, lost.text

    [row] = audit_rows(parts_site)
    assert (row.action, row.subject) == ("STOCK_ADJUSTED", FILTER)
    assert (row.actor_subject, row.actor_role, row.actor_dealer_code, row.actor_issuer,
            row.client_address) == ("PC-003", "parts_clerk", "D001", HQ_ISSUER, "127.0.0.1")
    assert row.detail == {
        "adjustment_id": lost.json()["adjustment_id"], "reason": "盘亏: 2 只破损 (2 damaged)",
        "on_hand_before": "10", "on_hand_after": "8", "difference": "-2", "unit": "EA",
        "reserved_before": "0", "reserved_after": "0", "batch_number": None,
        "serial_numbers": None}

    monkeypatch.setenv("AFTERSALES_DEALER_CODE", "D001")
    monkeypatch.setenv("AFTERSALES_AMQP_URI", parts_site.amqp_uri)
    monkeypatch.setenv("AFTERSALES_DATABASE_URL", parts_site.db)
    monkeypatch.setenv("AFTERSALES_TRUST", json.dumps(trust_setting("site", "D001")))
    assert aftersales(["audit", "list", "parts", "--json"]) == 0
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["action"], listed["subject"], listed["actor"]["subject"]) == (
        "STOCK_ADJUSTED", FILTER, "PC-003")
    assert listed["detail"]["difference"] == "-2"


def test_returns_and_releases_by_the_clerk_are_audited(parts_site):
    parts_site.part(FILTER, on_hand=10)
    ro = new_ro()
    parts_site.approve(ro, [("L1", FILTER, "2"), ("L2", FILTER, "3")])
    assert parts_site.issue(ro, "L1", "2").status_code == 201
    assert audit_rows(parts_site) == []  # workorder's approval and the issue: not privileged

    returned = parts_site.post("/returns", {"repair_order_id": ro, "quote_line_id": "L1",
                                            "quantity": "1", "reason": "NOT_USED"})
    assert returned.status_code == 201, returned.text
    released = parts_site.post(f"/repair-orders/{ro}/release",
                               {"reason": "CLERK_RELEASE", "quote_line_id": "L2"})
    assert released.status_code == 200, released.text

    back, freed = audit_rows(parts_site)
    assert (back.action, back.subject, back.detail["quantity"], back.detail["on_hand_before"],
            back.detail["on_hand_after"]) == ("PARTS_RETURNED", ro, "1", "8", "9")
    assert (freed.action, freed.subject, freed.detail["lines"]) == (
        "RESERVATION_RELEASED", ro,
        [{"quote_line_id": "L2", "part_number": FILTER, "released": "3"}])
