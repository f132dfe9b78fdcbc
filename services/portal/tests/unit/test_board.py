"""The workshop board's layout: a column per STAR stage, late cards first and marked, the
words of each card, and a car's page summarised (inspection, quote lines, timeline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from portal.domain.board import (
    COLUMN_KEYS,
    board_of,
    column_of,
    inspection_summary,
    local_clock,
    minutes_late,
    quote_lines,
    timeline,
)
from portal.pages import Pages, catalogue

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai


def item(ro_id: str, stage: str, *, promised: timedelta = timedelta(hours=2),
         waiting_for: str | None = "INSPECTION", **extra) -> dict:
    return {"id": ro_id, "stage": stage, "plate": "京A12345", "model": "帕萨特",
            "advisor_id": "SA-01", "promised_at": (NOW + promised).isoformat(),
            "waiting_for": waiting_for, "customer_waiting": False, "jobs": 0, "jobs_done": 0,
            "technician_ids": [], **extra}


def test_every_stage_of_the_workshop_has_its_column_in_star_order():
    assert COLUMN_KEYS == ("received", "inspection", "quote", "approval", "work", "quality",
                           "settlement", "delivered")
    assert [column_of(s) for s in ("VEHICLE_RECEIVED", "EVALUATION", "PROPOSAL_BUILD",
                                   "AWAITING_CUSTOMER_AUTHORIZATION", "WORK_IN_PROGRESS",
                                   "QUALITY_ASSURANCE", "INVOICE", "VEHICLE_DELIVERED",
                                   "CLOSED")] == [
        "received", "inspection", "quote", "approval", "work", "quality", "settlement",
        "delivered", "delivered"]
    assert column_of("CANCELLED") is None and column_of("SOMETHING_NEW") is None


def test_a_car_past_its_promised_time_is_late_until_it_is_handed_over():
    promised = NOW - timedelta(minutes=25, seconds=30)
    assert minutes_late(promised, NOW, "work") == 25
    assert minutes_late(NOW - timedelta(seconds=5), NOW, "work") == 1  # late is never "0 min"
    assert minutes_late(NOW + timedelta(minutes=1), NOW, "work") == 0
    assert minutes_late(promised, NOW, "delivered") == 0


def test_cards_go_to_their_columns_late_ones_first_then_by_the_time_promised():
    answer = {"repair_orders": [
        item("RO-3", "AWAITING_CUSTOMER_AUTHORIZATION", promised=timedelta(hours=3),
             waiting_for="APPROVAL"),
        item("RO-1", "AWAITING_CUSTOMER_AUTHORIZATION", promised=timedelta(hours=1),
             waiting_for="APPROVAL"),
        item("RO-2", "AWAITING_CUSTOMER_AUTHORIZATION", promised=-timedelta(minutes=10),
             waiting_for="APPROVAL"),
        item("RO-9", "CANCELLED"),
        item("RO-4", "VEHICLE_DELIVERED", promised=-timedelta(hours=1), waiting_for=None)],
        "technicians": [{"id": "T-1", "name": "王师傅", "jobs_assigned": 2, "load_hours": "1.70",
                         "clocked_on": {"repair_order_id": "RO-1", "line_id": "L1"}},
                        {"id": "T-2", "name": "李师傅", "jobs_assigned": 0, "load_hours": "0.00",
                         "clocked_on": None}]}
    board = board_of(answer, NOW)
    approval = next(c for c in board.columns if c.key == "approval")
    assert [c.id for c in approval.cards] == ["RO-2", "RO-1", "RO-3"]
    assert [c.late for c in approval.cards] == [True, False, False]
    assert approval.cards[0].waits_key == "board.waits.APPROVAL"
    assert approval.cards[0].href == "/board/repair-orders/RO-2"
    delivered = next(c for c in board.columns if c.key == "delivered")
    assert [(c.id, c.late, c.waits_key) for c in delivered.cards] == [("RO-4", False, None)]
    assert "RO-9" not in [c.id for c in board.cards] and board.late == 1
    assert [(t.name, t.jobs_assigned, t.clocked_on) for t in board.technicians] == [
        ("王师傅", 2, "京A12345"), ("李师傅", 0, None)]


def test_what_a_car_waits_for_has_words_in_both_languages():
    words = catalogue()
    for waits in ("INSPECTION", "QUOTE", "APPROVAL", "DISPATCH", "PARTS", "WORK", "SELF_CHECK",
                  "QC", "INVOICE", "PAYMENT", "SIGNATURE", "HAND_OVER"):
        assert words["zh-CN"][f"board.waits.{waits}"] and words["en"][f"board.waits.{waits}"]
    for key in COLUMN_KEYS:
        assert f"board.column.{key}" in words["en"]


def test_times_read_as_the_workshop_reads_them():
    assert local_clock(NOW + timedelta(minutes=30), "Asia/Shanghai", NOW) == "14:30"
    assert local_clock(NOW + timedelta(days=1), "Asia/Shanghai", NOW) == "12-08 14:00"


def test_a_cars_page_summarises_its_inspection_lines_and_stages():
    summary = inspection_summary({"submitted_at": NOW.isoformat(), "items": [
        {"code": "TYRES", "name": "轮胎", "status": "YELLOW", "position": 2},
        {"code": "BRAKES", "name": "刹车片", "status": "RED", "position": 5, "notes": "2 mm"},
        {"code": "LIGHTS", "name": "灯光", "status": "GREEN", "position": 1},
        {"code": "WIPERS", "name": "雨刮", "status": None, "position": 3}]})
    assert summary.counts == {"RED": 1, "YELLOW": 1, "GREEN": 1, "OPEN": 1}
    assert [f["code"] for f in summary.findings] == ["BRAKES", "TYRES"] and summary.submitted
    assert inspection_summary(None) is None
    assert [line["line_id"] for line in quote_lines({"rounds": [
        {"round": 1, "lines": [{"line_id": "L1"}, {"line_id": "L2"}]},
        {"round": 2, "lines": [{"line_id": "L3"}]}]})] == ["L1", "L2", "L3"]
    assert quote_lines(None) == []
    steps = timeline([{"stage": "VEHICLE_RECEIVED", "action": "RECEIVE", "at": NOW.isoformat()}])
    assert steps == [{"stage": "VEHICLE_RECEIVED", "column": "received", "at": NOW}]


def test_the_board_renders_with_its_script_and_no_inline_code():
    board = board_of({"repair_orders": [item("RO-1", "EVALUATION", promised=-timedelta(
        minutes=5))], "technicians": []}, NOW)
    cards = [{"id": "RO-1", "column": "inspection", "href": "/board/repair-orders/RO-1",
              "plate": "京A12345", "model": "帕萨特", "late": True, "when": "已超时",
              "waits": "等待环检", "tone": "muted", "advisor": "顾问 SA-01", "progress": "",
              "waiting_customer": ""}]
    request = Request(EnvironBuilder(path="/board").get_environ())
    page = Pages(zone="Asia/Shanghai").render(
        request, "board.html", board=board, cards=cards, technicians=[], updated="14:00",
        config={"url": "/board.json", "refreshSeconds": 3, "signIn": "/staff/sign-in"})
    html = page.get_data(as_text=True)
    assert 'class="board-card late" data-ro="RO-1"' in html
    assert 'href="/board/repair-orders/RO-1"' in html and "/static/board.js" in html
    assert "style=" not in html and "<script>" not in html
