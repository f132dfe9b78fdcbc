"""What the owner's quote and inspection report pages show and send: workorder's quote link
view read as rounds, totals in cents, the form read as workorder's ApprovalSchema, the drawn
signature's checks, the inspection worst first, and the status of a link that opens nothing."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from portal.domain import quote
from portal.pages import catalogue

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode()


def line(line_id: str, amount: str, status: str = "PROPOSED", kind: str = "PART") -> dict:
    return {"line_id": line_id, "amount": amount, "status": status, "kind": kind,
            "description": f"line {line_id}"}


LINES = [line("L2", "368.00"), line("L10", "45.50"), line("L1", "150.00", kind="LABOUR")]


def link_view(**round_: object) -> dict:
    """A quote link's view as workorder answers it: its own round only."""
    return {"repair_order_id": "D001-RO-1", "current_round": 1, "plate": "沪A12345",
            "rounds": [{"round": 1, "quote_id": "Q-1", "sent_at": "2026-12-07T10:00:00Z",
                        "decided_at": None, "total": "563.50", "lines": LINES, **round_}],
            "report_link": {"url": "/inspection-reports/eyJ.abc.def",
                            "expires_at": "2026-12-10T10:00:00Z"}}


def test_money_is_added_up_in_cents_and_what_is_not_money_counts_as_nothing():
    assert [quote.cents(v) for v in ("368.00", "0.1", 45.5, "-12.34", "x", None, "NaN")] == [
        36800, 10, 4550, -1234, 0, 0, 0]
    assert quote.line_cents(LINES) == {"L2": 36800, "L10": 4550, "L1": 15000}


def test_the_totals_are_what_the_chosen_decisions_add_up_to():
    chosen = {"L1": "APPROVED", "L2": "APPROVED", "L10": "DECLINED"}
    assert quote.totals(LINES, chosen) == (Decimal("518.00"), Decimal("45.50"))
    assert quote.totals(LINES, {}) == (Decimal("0"), Decimal("0"))


def test_a_link_opens_its_waiting_round_with_the_lines_in_the_order_they_were_added():
    waiting = quote.waiting_round(link_view())
    assert waiting is not None and waiting.number == 1 and not waiting.additional
    assert [x["line_id"] for x in quote.to_decide(waiting)] == ["L1", "L2", "L10"]
    assert waiting.total == Decimal("563.50")
    # Decided, or never sent: nothing waits.
    assert quote.waiting_round(link_view(decided_at="2026-12-07T11:00:00Z")) is None
    assert quote.waiting_round(link_view(sent_at=None)) is None


def test_additional_work_is_a_later_round_shown_after_the_decided_ones():
    first = {"round": 1, "quote_id": "Q-1", "sent_at": "t", "decided_at": "t",
             "signer_name": "李娜", "approved_total": "518.00", "declined_total": "45.50",
             "lines": [line("L1", "150.00", "APPROVED"), line("L2", "368.00", "APPROVED"),
                       line("L3", "45.50", "DECLINED")]}
    second = {"round": 2, "quote_id": "Q-2", "sent_at": "t", "decided_at": None,
              "lines": [line("L4", "120.00"), line("L5", "80.00")]}
    history = {"current_round": 2, "rounds": [first, second]}
    waiting = quote.waiting_round(history)
    assert waiting is not None and waiting.number == 2 and waiting.additional
    assert [r.number for r in quote.decided_rounds(history, before=2)] == [1]
    assert quote.decided_rounds(history, before=1) == []
    done = quote.outcome(quote.the_round(history, 1))
    assert [x["line_id"] for x in done.approved] == ["L1", "L2"]
    assert [x["line_id"] for x in done.declined] == ["L3"]
    assert (done.approved_total, done.declined_total, done.signer_name) == (
        Decimal("518.00"), Decimal("45.50"), "李娜")


def test_a_decided_round_without_workorders_totals_adds_up_its_lines():
    decided = quote.round_of({"round": 1, "decided_at": "t", "sent_at": "t",
                              "lines": [line("L1", "10.00", "APPROVED"),
                                        line("L2", "2.50", "DECLINED")]})
    assert (quote.outcome(decided).approved_total, quote.outcome(decided).declined_total) == (
        Decimal("10.00"), Decimal("2.50"))


def test_a_good_form_is_workorders_approval_with_the_drawn_signature():
    values = {"decision-L1": "APPROVED", "decision-L2": "approved", "decision-L10": "DECLINED",
              "signer_name": "  李   娜 ", "signature_image": PNG}
    approval = quote.read_approval(values, LINES)
    assert approval.problems == {}
    assert approval.body == {
        "decisions": [{"line_id": "L2", "decision": "APPROVED"},
                      {"line_id": "L10", "decision": "DECLINED"},
                      {"line_id": "L1", "decision": "APPROVED"}],
        "signature": {"name": "李 娜", "image": PNG.split(",", 1)[1],
                      "image_content_type": "image/png"}}
    # A typed name alone signs too; the signed-in owner's page may name its channel.
    typed = quote.read_approval({**values, "signature_image": ""}, LINES, approved_via="WEB")
    assert typed.body is not None and typed.body["signature"] == {"name": "李 娜"}
    assert typed.body["approved_via"] == "WEB"


@pytest.mark.parametrize(("changes", "problems"), [
    ({"signer_name": ""}, {"signer_name": "quote.problem_name"}),
    ({"signer_name": "   "}, {"signer_name": "quote.problem_name"}),
    ({"signer_name": "名" * 101}, {"signer_name": "quote.problem_name_long"}),
    ({"decision-L2": ""}, {"decision-L2": "quote.problem_decision"}),
    ({"decision-L2": "MAYBE"}, {"decision-L2": "quote.problem_decision"}),
    ({"signature_image": "data:image/jpeg;base64,/9j/4AAQ"}, {"signature_image":
                                                              "quote.problem_image"}),
    ({"signature_image": "data:image/png;base64,R0lGODlhAQABAAAAACw="},  # a GIF inside
     {"signature_image": "quote.problem_image"}),
    ({"signature_image": "data:image/png;base64,not base64!"},
     {"signature_image": "quote.problem_image"}),
    ({"signature_image": PNG + "A" * quote.MAX_IMAGE_CHARS},
     {"signature_image": "quote.problem_image"}),
])
def test_a_bad_form_names_each_field_to_fix_and_sends_nothing(changes, problems):
    values = {"decision-L1": "APPROVED", "decision-L2": "APPROVED", "decision-L10": "DECLINED",
              "signer_name": "李娜", **changes}
    approval = quote.read_approval(values, LINES)
    assert (approval.body, approval.problems) == (None, problems)
    assert all(key in catalogue()["zh-CN"] for key in problems.values())
    # What was chosen is kept, to show the form again as it was.
    assert approval.decisions.get("L1") == "APPROVED"


def test_the_signature_image_is_the_base64_of_a_png_or_nothing():
    assert quote.signature_image("") is None
    assert quote.signature_image(PNG) == PNG.split(",", 1)[1]
    assert quote.signature_image("data:image/png;base64,") is False


def test_the_inspection_is_shown_worst_first_with_photos_on_the_portals_origin():
    items = [
        {"code": "WIPERS", "name": "雨刮", "status": "GREEN", "photos": []},
        {"code": "TYRES", "name": "轮胎", "status": "YELLOW", "notes": "花纹浅",
         "photos": [{"sha256": "aa", "content_type": "image/jpeg"}]},
        {"code": "BRAKES", "name": "刹车", "status": "RED",
         "photos": [{"sha256": "bb", "content_type": "image/png"},
                    {"sha256": "cc", "content_type": "text/html"}]},  # not a picture: left out
        {"code": "LIGHTS", "name": "灯光", "status": "RED", "photos": []},
    ]
    found = quote.findings(items, "/inspection-reports/t/photos")
    assert [f.code for f in found.attention] == ["BRAKES", "LIGHTS", "TYRES"]
    assert [f.code for f in found.fine] == ["WIPERS"]
    assert found.attention[0].photos == ["/inspection-reports/t/photos/bb"]
    assert (found.attention[0].colour, found.attention[2].notes) == ("red", "花纹浅")
    assert (found.count("RED"), found.count("YELLOW"), found.count("GREEN")) == (2, 1, 1)


@pytest.mark.parametrize(("content_type", "passed"), [
    ("image/png", True), ("image/jpeg; charset=binary", True), ("IMAGE/WEBP", True),
    ("image/heic", True), ("image/svg+xml", False), ("text/html", False), ("", False),
])
def test_only_the_photo_types_workorder_keeps_are_passed_on(content_type, passed):
    assert quote.passes_photo(content_type) is passed


def test_the_report_link_beside_a_quote_is_a_token_of_workorders_report_path():
    assert quote.report_token({"url": "/inspection-reports/eyJ.abc.def"}) == "eyJ.abc.def"
    assert quote.report_token(None) is None
    assert quote.report_token({"url": "https://elsewhere.example/x"}) is None
    assert quote.report_token({"url": "/inspection-reports/a/b"}) is None


def test_the_report_url_of_an_inspection_names_its_repair_order():
    assert quote.repair_order_of_inspection("INS-D001-RO-20261207-0001-1") == \
        "D001-RO-20261207-0001"
    assert quote.repair_order_of_inspection("D001-RO-1") is None
    assert quote.repair_order_of_inspection("INS-../x-1") is None


@pytest.mark.parametrize(("reason", "posting", "status"), [
    ("invalid", False, 404), ("invalid", True, 404), ("", False, 404),
    ("expired", False, 410), ("superseded", True, 410), ("not_waiting", False, 410),
    ("decided", False, 200), ("decided", True, 409),
])
def test_a_link_that_opens_no_quote_answers_with_its_status(reason, posting, status):
    assert quote.closed_status(reason, posting=posting) == status
    key = quote.closed_reason({"reason": reason})
    assert key in catalogue()["zh-CN"] and f"{key}_body" in catalogue()["en"]


def test_a_report_link_that_opens_nothing_says_whether_it_expired():
    assert quote.report_closed(403, {"reason": "expired"}) == (410,
                                                               "inspection.closed_expired")
    assert quote.report_closed(404, {}) == (404, "inspection.closed_invalid")


@pytest.mark.parametrize(("value", "text"), [("4.500", "4.5"), ("1.000", "1"), ("0.50", "0.5"),
                                             ("12", "12"), ("x", "0")])
def test_quantities_read_as_the_owner_writes_them(value, text):
    assert quote.quantity_text(value) == text
