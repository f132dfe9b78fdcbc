"""The facts a rebuild keeps in memory behave as BI's tables do: the same rules find the same
comebacks and recaptured work, rows are found again by vehicle, amounts are rounded as the
columns store them, and the bulk write hands its text out in the chunks asked for."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bi.domain.facts import QUOTE_LINES as quote_line_facts
from bi.domain.facts import REPAIR_ORDERS as repair_order_facts
from bi.projection import FactRules
from bi.store import MemoryFacts, _CopySource
from services.bi.tests.integration.bi_history import VIN, VIN_2, history


def test_the_live_rules_over_memory_find_the_comeback_and_the_recaptured_pads():
    facts = MemoryFacts()
    rules = FactRules(facts)
    for envelope in history():
        rules.apply(envelope)
    comeback = {ro["repair_order_id"]: ro["comeback"]
                for ro in facts.rows_where(repair_order_facts, "vin", VIN)}
    assert comeback == {"RO-D001-1": False, "RO-D001-2": True}
    pads = facts.row(quote_line_facts, repair_order_id="RO-D001-1", line_id="L2")
    assert pads is not None and (pads["approved"], pads["recaptured"]) == (False, True)
    assert {("D001", date(2025, 3, 18)), ("D001", date(2025, 3, 28)),
            ("D002", date(2025, 3, 18))} <= rules.touched


def test_a_repair_order_is_found_under_its_latest_vin_only():
    facts = MemoryFacts()
    key = {"repair_order_id": "RO-1"}
    facts.save(repair_order_facts, None, {"dealer_code": "D001", "vin": VIN}, **key)
    before = facts.row(repair_order_facts, **key)
    facts.save(repair_order_facts, before, {**before, "vin": VIN_2}, **key)
    assert facts.rows_where(repair_order_facts, "vin", VIN) == []
    assert [ro["repair_order_id"] for ro in facts.rows_where(repair_order_facts, "vin", VIN_2)
            ] == ["RO-1"]
    # Columns never written hold what the table would: the default, else nothing.
    assert (before["comeback"], before["delivered_at"]) == (False, None)


def test_amounts_are_kept_rounded_to_the_cent_as_the_columns_store_them():
    facts = MemoryFacts()
    facts.save(repair_order_facts, None, {
        "dealer_code": "D001", "labour_total": Decimal("150.005"),
        "clocked_hours": Decimal("1.254")}, repair_order_id="RO-1")
    ro = facts.row(repair_order_facts, repair_order_id="RO-1")
    assert (ro["labour_total"], ro["clocked_hours"]) == (Decimal("150.01"), Decimal("1.25"))


def test_the_bulk_write_hands_out_its_text_in_the_chunks_asked_for():
    lines = [f"row {n}\tvalue\n" for n in range(50)]
    source = _CopySource(iter(lines))
    chunks = []
    while chunk := source.read(7):
        assert len(chunk) <= 7
        chunks.append(chunk)
    assert "".join(chunks) == "".join(lines)
    assert _CopySource(iter(lines)).read() == "".join(lines)
