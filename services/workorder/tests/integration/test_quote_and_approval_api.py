"""The quote over HTTP: lines priced by parts, the owner's decision on each line, and the rule
that no work starts on a line the owner has not approved."""

from __future__ import annotations

import base64
import hashlib

import pytest

from services.workorder.tests.integration.site_client import (
    ADVISOR_ID,
    CUSTOMER,
    LABOUR_ALIGN,
    LABOUR_BRAKES,
    LABOUR_OIL,
    PART_OIL,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n" + b"signature strokes" * 20


def _ro_in_proposal(site):
    ro_id = site.open_ro()["id"]
    site.inspect(ro_id)
    return ro_id


def test_lines_are_priced_by_parts_and_the_round_is_sent_to_the_owner(site):
    ro_id = _ro_in_proposal(site)
    built = site.ok("POST", f"/repair-orders/{ro_id}/quote-lines", 201,
                    json={"lines": [LABOUR_OIL, PART_OIL]})
    [round_one] = built["rounds"]
    labour, part = round_one["lines"]
    assert (labour["line_id"], labour["unit_price"], labour["amount"], labour["status"]) == (
        "L1", "300.00", "150.00", "DRAFT")
    assert (part["line_id"], part["description"], part["unit"], part["unit_price"],
            part["quantity"], part["amount"]) == ("L2", "机油 0W-20", "L", "98.00", "4.500",
                                                 "441.00")
    assert part["available_at_quote"] == "40.000"
    assert round_one["total"] == "591.00"

    sent = site.ok("POST", f"/repair-orders/{ro_id}/quote/send")
    assert sent["stage"] == "AWAITING_CUSTOMER_AUTHORIZATION"
    assert {line["status"] for line in sent["rounds"][0]["lines"]} == {"PROPOSED"}
    [issued] = site.events("QuoteIssued")
    assert issued["data"]["round"] == 1 and issued["data"]["total"] == "591.00"
    assert "quote_url" not in issued["data"]  # this site has no owner portal for the link
    assert issued["data"]["lines"][1] == {
        "line_id": "L2", "kind": "PART", "description": "机油 0W-20",
        "part_number": "G-052-195-M4", "quantity": "4.5", "unit_price": "98.00",
        "amount": "441.00", "pay_type": "CUSTOMER_PAY"}

    assert site.ok("GET", f"/repair-orders/{ro_id}/quote", **site.as_owner())["rounds"]
    late = site.call("POST", f"/repair-orders/{ro_id}/quote-lines", json={"lines": [LABOUR_OIL]})
    assert late.status_code == 409
    assert {"action": "AUTHORIZE_WORK", "to": "WORK_IN_PROGRESS"} in \
        late.json()["allowed_next_steps"]


def test_when_parts_does_not_answer_the_quote_is_refused_with_503_and_nothing_stored(
        site_without_parts):
    site = site_without_parts
    ro_id = _ro_in_proposal(site)
    events_before = site.count("outbox")
    response = site.call("POST", f"/repair-orders/{ro_id}/quote-lines",
                         json={"lines": [LABOUR_OIL, PART_OIL]})
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"] == "SERVICE_UNAVAILABLE" and body["service"] == "parts"
    assert "nothing was added" in body["message"]
    assert site.count("quote_lines") == 0
    assert site.count("outbox") == events_before
    # Labour needs no price from parts: the advisor can go on with it.
    site.ok("POST", f"/repair-orders/{ro_id}/quote-lines", 201, json={"lines": [LABOUR_OIL]})


def test_an_unknown_part_is_422_naming_the_line_and_nothing_is_stored(site):
    ro_id = _ro_in_proposal(site)
    response = site.call("POST", f"/repair-orders/{ro_id}/quote-lines", json={"lines": [
        LABOUR_OIL, {**PART_OIL, "part_number": "NO-SUCH-PART"}]})
    assert response.status_code == 422, response.text
    assert "lines.1.part_number" in response.json()["fields"]
    assert site.count("quote_lines") == 0


@pytest.mark.parametrize(("line", "field"), [
    ({**LABOUR_OIL, "operation_code": None}, "operation_code"),
    ({k: v for k, v in LABOUR_OIL.items() if k != "operation_code"}, "operation_code"),
    ({**LABOUR_OIL, "flat_rate_hours": 0.5}, "flat_rate_hours"),   # hours are strings
    ({**LABOUR_OIL, "flat_rate_hours": "0"}, "flat_rate_hours"),
    ({**LABOUR_OIL, "labour_rate": "300.005"}, "labour_rate"),
    ({**LABOUR_OIL, "pay_type": "GOODWILL"}, "pay_type"),
    ({**PART_OIL, "quantity": "-1"}, "quantity"),
    ({**PART_OIL, "flat_rate_hours": "1"}, "flat_rate_hours"),
    ({**PART_OIL, "part_number": "bad part"}, "part_number"),
    ({**LABOUR_OIL, "discount": "10.00"}, "discount"),
])
def test_a_bad_line_is_422_naming_its_field(site, line, field):
    ro_id = _ro_in_proposal(site)
    response = site.call("POST", f"/repair-orders/{ro_id}/quote-lines", json={"lines": [line]})
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]["lines"]["0"]
    assert site.count("quote_lines") == 0


def test_a_draft_line_can_be_removed_but_a_sent_line_cannot(site):
    ro_id = _ro_in_proposal(site)
    site.quote(ro_id, LABOUR_OIL, PART_OIL, LABOUR_ALIGN, send=False)
    after = site.ok("DELETE", f"/repair-orders/{ro_id}/quote-lines/L2")
    assert [line["line_id"] for line in after["rounds"][0]["lines"]] == ["L1", "L3"]
    assert site.call("DELETE", f"/repair-orders/{ro_id}/quote-lines/L2").status_code == 409
    site.quote(ro_id, LABOUR_BRAKES, send=False)
    sent = site.ok("POST", f"/repair-orders/{ro_id}/quote/send")
    assert [line["line_id"] for line in sent["rounds"][0]["lines"]] == ["L1", "L3", "L4"]
    [issued] = site.events("QuoteIssued")
    assert [line["line_id"] for line in issued["data"]["lines"]] == ["L1", "L3", "L4"]
    assert site.call("DELETE", f"/repair-orders/{ro_id}/quote-lines/L1").status_code == 409


def test_an_empty_round_cannot_be_sent(site):
    ro_id = _ro_in_proposal(site)
    assert site.call("POST", f"/repair-orders/{ro_id}/quote/send").status_code == 409


def test_the_owner_approves_or_declines_each_line_and_only_approved_labour_becomes_jobs(site):
    ro_id = _ro_in_proposal(site)
    site.quote(ro_id, LABOUR_OIL, PART_OIL, LABOUR_BRAKES, LABOUR_ALIGN)

    missing = site.decide(ro_id, {"L1": "APPROVED"})
    assert missing.status_code == 422 and missing.json()["missing_lines"] == ["L2", "L3", "L4"]
    stranger = site.decide(ro_id, {"L1": "APPROVED", "L2": "APPROVED", "L3": "APPROVED",
                                   "L4": "DECLINED"}, who=site.as_owner("someone-else"))
    assert stranger.status_code == 404
    unsigned = site.call("POST", f"/repair-orders/{ro_id}/quote/approval", **site.as_owner(),
                         json={"decisions": [{"line_id": "L1", "decision": "APPROVED"}]})
    assert unsigned.status_code == 422 and "signature" in unsigned.json()["fields"]

    decided = site.decide(ro_id, {"L1": "APPROVED", "L2": "APPROVED", "L3": "APPROVED",
                                  "L4": "DECLINED"}, approved_via="WECHAT")
    assert decided.status_code == 200, decided.text
    statuses = {line["line_id"]: line["status"] for line in decided.json()["rounds"][0]["lines"]}
    assert statuses == {"L1": "APPROVED", "L2": "APPROVED", "L3": "APPROVED", "L4": "DECLINED"}
    assert decided.json()["stage"] == "WORK_IN_PROGRESS"

    [approved] = site.events("QuoteApproved")
    data = approved["data"]
    assert [line["line_id"] for line in data["approved_lines"]] == ["L1", "L2", "L3"]
    assert [line["line_id"] for line in data["declined_lines"]] == ["L4"]
    assert (data["approved_total"], data["declined_total"]) == ("951.00", "300.00")
    assert (data["signed_by"], data["approved_via"], data["round"]) == (CUSTOMER, "WECHAT", 1)
    signed = site.query("SELECT signer_name, signed_from FROM quotes WHERE round = 1")[0]
    assert signed == {"signer_name": "王伟", "signed_from": "127.0.0.1"}

    jobs = site.ok("GET", f"/repair-orders/{ro_id}/jobs")["items"]
    assert [job["line_id"] for job in jobs] == ["L1", "L3"]  # no job for the part or L4
    assert site.decide(ro_id, {"L4": "APPROVED"}).status_code == 409  # decided already


def test_no_work_starts_on_a_declined_or_unapproved_line(site):
    site.add_technician("T-wang", ["BRAKES"])
    ro_id = site.ro_in_work()

    def clock_on(line_id):
        return site.call("POST", f"/repair-orders/{ro_id}/jobs/{line_id}/clock-on",
                         role="technician", subject="T-wang")

    declined = clock_on("L4")
    assert declined.status_code == 409
    assert declined.json()["line_status"] == "DECLINED"
    assert clock_on("L2").status_code == 409        # a part line is not a job
    assert clock_on("L9").status_code == 404
    assign = site.call("POST", f"/repair-orders/{ro_id}/jobs/L4/assign")
    assert assign.status_code == 409

    # Additional work: the new line waits for the owner; work on it cannot start before.
    site.ok("POST", f"/repair-orders/{ro_id}/additional-work", role="technician",
            subject="T-wang")
    site.quote(ro_id, {**LABOUR_ALIGN, "description": "更换雨刮 (wipers)",
                       "operation_code": "WIPER-01", "flat_rate_hours": "0.2"})
    proposed = clock_on("L5")
    assert proposed.status_code == 409 and proposed.json()["line_status"] == "PROPOSED"
    assert site.count("clock_entries") == 0
    # … while the work the owner did approve goes on.
    assert clock_on("L1").status_code == 200


def test_the_advisor_records_a_phone_approval_with_a_captured_signature(site):
    ro_id = _ro_in_proposal(site)
    site.quote(ro_id, LABOUR_OIL)
    advisor = {"role": "advisor", "subject": ADVISOR_ID}
    wrong_channel = site.decide(ro_id, {"L1": "APPROVED"}, who=advisor, approved_via="WECHAT")
    assert wrong_channel.status_code == 422 and "approved_via" in wrong_channel.json()["fields"]
    bad_image = site.decide(ro_id, {"L1": "APPROVED"}, who=advisor,
                            signature={"name": "王伟", "image": "not base64!"})
    assert bad_image.status_code == 422

    image = base64.b64encode(PNG_SIGNATURE).decode()
    response = site.decide(ro_id, {"L1": "APPROVED"}, who=advisor,
                           signature={"name": "王伟", "image": image,
                                      "image_content_type": "image/png"})
    assert response.status_code == 200, response.text
    [event] = site.events("QuoteApproved")
    assert (event["data"]["signed_by"], event["data"]["approved_via"]) == (ADVISOR_ID, "PHONE")
    sha = hashlib.sha256(PNG_SIGNATURE).hexdigest()
    assert site.query("SELECT signature_sha256 FROM quotes")[0]["signature_sha256"] == sha
    assert (site.media_dir / sha[:2] / sha[2:4] / sha).read_bytes() == PNG_SIGNATURE


def test_when_the_owner_declines_everything_the_car_goes_straight_to_settlement(site):
    ro_id = _ro_in_proposal(site)
    site.quote(ro_id, LABOUR_OIL, PART_OIL)
    response = site.decide(ro_id, {"L1": "DECLINED", "L2": "DECLINED"})
    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "INVOICE"
    [event] = site.events("QuoteApproved")
    assert event["data"]["approved_lines"] == [] and event["data"]["approved_total"] == "0.00"
    assert site.count("jobs") == 0


def test_additional_work_is_a_new_round_with_its_own_approval(site):
    site.add_technician("T-wang", ["BRAKES"])
    ro_id = site.ro_in_work()
    assert site.call("POST", f"/repair-orders/{ro_id}/cancel",
                     json={"reason": "x"}).status_code == 409  # approved work is settled

    reopened = site.ok("POST", f"/repair-orders/{ro_id}/additional-work")
    assert (reopened["stage"], reopened["quote_round"]) == ("PROPOSAL_BUILD", 2)
    site.quote(ro_id, {**LABOUR_ALIGN, "pay_type": "WARRANTY"},
               {"kind": "PART", "part_number": "06L115562B", "quantity": "1",
                "pay_type": "WARRANTY"})
    [_, issued] = site.events("QuoteIssued")
    assert issued["data"]["round"] == 2
    assert [line["line_id"] for line in issued["data"]["lines"]] == ["L5", "L6"]

    response = site.decide(ro_id, {"L5": "APPROVED", "L6": "DECLINED"})
    assert response.status_code == 200, response.text
    quote = response.json()
    assert quote["stage"] == "WORK_IN_PROGRESS" and quote["current_round"] == 2
    assert [r["round"] for r in quote["rounds"]] == [1, 2]
    [_, approved] = site.events("QuoteApproved")
    assert approved["data"]["round"] == 2
    assert approved["data"]["quote_id"] == f"Q-{ro_id}-2"
    assert [line["line_id"] for line in approved["data"]["approved_lines"]] == ["L5"]
    assert [line["line_id"] for line in approved["data"]["declined_lines"]] == ["L6"]
    jobs = site.ok("GET", f"/repair-orders/{ro_id}/jobs")["items"]
    assert [job["line_id"] for job in jobs] == ["L1", "L3", "L5"]
