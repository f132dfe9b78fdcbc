"""Follow-up after delivery: the survey falls due, its signed link is sent through
SurveyRequested, the answer becomes SurveyAnswered, a low score opens a complaint."""

from __future__ import annotations

import requests

from chassis.testing import auth, wait_for
from services.crm.tests.integration.crm_hq import ANALYST, delivered, opened


def deliver(crm, sites) -> None:
    sites.publish(opened("D002", "RO-7", "cust-7"),
                  delivered("D002", "RO-7", "cust-7", delivered_at="2025-03-18T17:21:40+08:00"))
    wait_for(lambda: crm.inbox() == 2, message="the delivery applied")


def request_link(crm) -> str:
    early = crm.post("/survey-runs", {"at": "2025-03-19T17:00:00+08:00"})
    assert early.json() == {"requested": 0}  # not yet 24 hours after delivery
    due = crm.post("/survey-runs", {"at": "2025-03-19T17:30:00+08:00"})
    assert due.status_code == 200, due.text
    assert due.json() == {"requested": 1}
    assert crm.post("/survey-runs", {"at": "2025-03-25T00:00:00+08:00"}).json() == {
        "requested": 0}  # requested once
    [event] = crm.outbox("aftersales.SurveyRequested.v1")
    assert (event["dealercode"], event["data"]["repair_order_id"]) == ("D002", "RO-7")
    return event["data"]["link_token"]


def test_a_low_score_opens_a_complaint_that_is_closed_later(crm, sites) -> None:
    deliver(crm, sites)
    token = request_link(crm)

    answer = requests.post(f"{crm.base}/surveys/{token}", timeout=10,
                           json={"score": 4, "comment": "等了很久 (long wait)",
                                 "channel": "SMS"})
    assert answer.status_code == 201, answer.text
    complaint_id = answer.json()["complaint_id"]
    assert complaint_id
    [answered] = crm.outbox("aftersales.SurveyAnswered.v1")
    assert (answered["data"]["score"], answered["dealercode"]) == (4, "D002")

    again = requests.post(f"{crm.base}/surveys/{token}", json={"score": 10}, timeout=10)
    assert again.status_code == 409

    [complaint] = crm.get("/complaints", headers=ANALYST, dealer="D002",
                          status="OPEN").json()["complaints"]
    assert (complaint["complaint_id"], complaint["owner"]) == (complaint_id,
                                                              "service-manager@D002")
    assert crm.get("/customers/cust-7").json()["complaints"][0]["status"] == "OPEN"
    assert crm.post(f"/complaints/{complaint_id}/close", {"resolution": "回电致歉，赠送保养"},
                    headers=ANALYST).status_code == 403
    closed = crm.post(f"/complaints/{complaint_id}/close", {"resolution": "回电致歉，赠送保养"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "CLOSED"
    assert crm.post(f"/complaints/{complaint_id}/close",
                    {"resolution": "again"}).status_code == 409


def test_a_good_score_opens_nothing(crm, sites) -> None:
    deliver(crm, sites)
    token = request_link(crm)
    answer = requests.post(f"{crm.base}/surveys/{token}", json={"score": 9}, timeout=10)
    assert answer.status_code == 201, answer.text
    assert answer.json()["complaint_id"] is None
    assert crm.get("/complaints").json()["complaints"] == []


def test_the_link_reads_what_the_survey_asks_and_whether_it_was_answered(crm, sites) -> None:
    deliver(crm, sites)
    token = request_link(crm)
    before = requests.get(f"{crm.base}/surveys/{token}", timeout=10)
    assert before.status_code == 200, before.text
    shown = before.json()
    assert (shown["dealer_code"], shown["repair_order_id"], shown["answered_at"]) == (
        "D002", "RO-7", None)
    assert shown["questions"]["score"] == {"kind": "NPS", "min": 0, "max": 10,
                                           "required": True, "low_score": 6}
    assert shown["questions"]["comment"]["max_length"] == 1000
    assert "customer_id" not in shown and "score" not in shown

    requests.post(f"{crm.base}/surveys/{token}", json={"score": 8}, timeout=10)
    assert requests.get(f"{crm.base}/surveys/{token}", timeout=10).json()["answered_at"]
    assert requests.get(f"{crm.base}/surveys/{token[:-4]}AAAA",
                        timeout=10).status_code == 404


def test_forged_links_and_bad_scores_are_refused(crm, sites) -> None:
    deliver(crm, sites)
    token = request_link(crm)
    forged = token[:-4] + "AAAA"
    assert requests.post(f"{crm.base}/surveys/{forged}", json={"score": 9},
                         timeout=10).status_code == 404
    for body in ({"score": 11}, {"score": -1}, {"score": "9"}, {}, {"score": 9, "x": 1}):
        refused = requests.post(f"{crm.base}/surveys/{token}", json=body, timeout=10)
        assert refused.status_code == 422, body
    assert crm.post("/survey-runs", {}, headers=auth("invitation_agent")).status_code == 403
