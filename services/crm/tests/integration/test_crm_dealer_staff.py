"""Dealer staff at headquarters' crm: a dealer manager or advisor reads their own dealer's due
list and customers as seen at their dealer, never another dealer's; a dealer manager works
their own dealer's complaints."""

from __future__ import annotations

import requests

from chassis.testing import auth, wait_for
from services.crm.tests.integration.crm_hq import (
    PHONE,
    VIN,
    booked,
    delivered,
    opened,
    quote_approved,
)

MANAGER_D001 = auth("dealer_manager", dealer_code="D001", subject="sm-d001")
ADVISOR_D001 = auth("advisor", dealer_code="D001", subject="SA-017")
MANAGER_D002 = auth("dealer_manager", dealer_code="D002", subject="sm-d002")
ADVISOR_D003 = auth("advisor", dealer_code="D003", subject="SA-300")
OTHER_VIN = "1M8GDM9AXKP042788"


def two_dealers(crm, sites) -> None:
    """One person: served at D001 (RO-1, an alignment declined) and at D002 with another car."""
    sites.publish(
        booked("D001", "APT-1", "site1-cust"),
        opened("D001", "RO-1", "site1-cust", mileage=20_000,
               opened_at="2024-09-18T09:00:00+08:00"),
        delivered("D001", "RO-1", "site1-cust", mileage=20_000,
                  delivered_at="2024-09-18T17:00:00+08:00"),
        opened("D001", "RO-2", "site1-cust"),
        quote_approved("D001", "RO-2", "site1-cust"),
        delivered("D001", "RO-2", "site1-cust"),
        booked("D002", "APT-2", "site2-cust", booked_at="2025-06-01T10:00:00+08:00",
               vin=OTHER_VIN, plate="京B99999"),
        opened("D002", "RO-9", "site2-cust", vin=OTHER_VIN, plate="京B99999",
               opened_at="2025-06-03T09:00:00+08:00", mileage=8_000),
        delivered("D002", "RO-9", "site2-cust", vin=OTHER_VIN, mileage=8_001,
                  delivered_at="2025-06-03T17:00:00+08:00"))
    wait_for(lambda: crm.inbox() == 9, message="both dealers' events applied")
    crm.opt_in("site1-cust")


def test_dealer_staff_see_the_customer_as_seen_at_their_own_dealer(crm, sites) -> None:
    two_dealers(crm, sites)
    everything = crm.get("/customers/site1-cust").json()
    assert {v["dealer_code"] for v in everything["visits"]} == {"D001", "D002"}

    for headers in (MANAGER_D001, ADVISOR_D001):
        seen = crm.get("/customers/site1-cust", headers=headers)
        assert seen.status_code == 200, seen.text
        view = seen.json()
        assert view["customer_id"] == everything["customer_id"]
        assert view["phone"] == "138****5678"  # only the call centre sees the number
        assert [v["repair_order_id"] for v in view["visits"]] == ["RO-2", "RO-1"]
        assert [a["appointment_id"] for a in view["appointments"]] == ["APT-1"]
        assert [d["line_id"] for d in view["declined_work"]] == ["L6"]
        assert [s["dealer_code"] for s in view["surveys"]] == ["D001", "D001"]
        # The car D002 serviced is D002's business.
        assert [v["vin"] for v in view["vehicles"]] == [VIN]
        # D002's own customer id finds the person, still as seen at D001.
        assert crm.get("/customers/site2-cust", headers=headers).json()["visits"] == \
            view["visits"]

    at_d002 = crm.get("/customers/site1-cust", headers=MANAGER_D002).json()
    assert [v["repair_order_id"] for v in at_d002["visits"]] == ["RO-9"]
    assert [v["vin"] for v in at_d002["vehicles"]] == [OTHER_VIN]
    assert at_d002["declined_work"] == []
    # A dealer that never served the person learns nothing, not even that they exist.
    assert crm.get("/customers/site1-cust", headers=ADVISOR_D003).status_code == 404


def test_dealer_staff_search_only_customers_their_dealer_served(crm, sites) -> None:
    two_dealers(crm, sites)
    [found] = crm.get("/customers", headers=ADVISOR_D001, phone=PHONE).json()["customers"]
    assert found["phone"] == "138****5678"
    assert [v["vin"] for v in found["vehicles"]] == [VIN]
    assert crm.get("/customers", headers=ADVISOR_D001, plate="京a 12345").json()[
        "customers"] == [found]
    # The car only D002 has seen does not lead D001 to its owner.
    assert crm.get("/customers", headers=ADVISOR_D001, vin=OTHER_VIN).json() == {
        "customers": []}
    assert crm.get("/customers", headers=MANAGER_D002, vin=OTHER_VIN).json()[
        "customers"][0]["customer_id"] == found["customer_id"]
    assert crm.get("/customers", headers=ADVISOR_D003, phone=PHONE).json() == {"customers": []}


def test_dealer_staff_read_their_own_due_list_and_are_refused_another_dealers(
        crm, sites) -> None:
    two_dealers(crm, sites)
    run = crm.post("/reminder-runs", {"date": "2025-09-10"})
    assert run.status_code == 200, run.text
    own = crm.get("/due-list", headers=ADVISOR_D001, dealer="D001", date="2025-09-30")
    assert own.status_code == 200, own.text
    assert sorted(r["reason"] for r in own.json()["reminders"]) == [
        "DECLINED_WORK", "MAINTENANCE"]
    other = crm.get("/due-list", headers=ADVISOR_D001, dealer="D002", date="2025-09-30")
    assert other.status_code == 403 and "own dealer" in other.json()["message"]
    assert crm.get("/due-list", headers=MANAGER_D002, dealer="D001",
                   date="2025-09-30").status_code == 403
    # Runs, consents and campaigns stay with headquarters.
    assert crm.post("/reminder-runs", {"date": "2025-09-10"},
                    headers=MANAGER_D001).status_code == 403
    assert crm.put("/customers/site1-cust/consents", {"consents": []},
                   headers=MANAGER_D001).status_code == 403


def test_a_dealer_manager_works_their_own_dealers_complaints(crm, sites) -> None:
    two_dealers(crm, sites)
    assert crm.post("/survey-runs", {"at": "2025-07-01T00:00:00+08:00"}).json() == {
        "requested": 3}
    tokens = {e["dealercode"]: e["data"]["link_token"]
              for e in crm.outbox("aftersales.SurveyRequested.v1")}
    for dealer in ("D001", "D002"):
        answer = requests.post(f"{crm.base}/surveys/{tokens[dealer]}", json={"score": 2},
                               timeout=10)
        assert answer.status_code == 201, answer.text

    mine = crm.get("/complaints", headers=MANAGER_D001, dealer="D001")
    assert mine.status_code == 200, mine.text
    [complaint] = mine.json()["complaints"]
    assert complaint["owner"] == "service-manager@D001"
    assert crm.get("/complaints", headers=MANAGER_D001).status_code == 403  # all dealers
    assert crm.get("/complaints", headers=MANAGER_D001, dealer="D002").status_code == 403
    assert crm.get("/complaints", headers=ADVISOR_D001, dealer="D001").status_code == 403

    [theirs] = crm.get("/complaints", dealer="D002").json()["complaints"]
    refused = crm.post(f"/complaints/{theirs['complaint_id']}/close",
                       {"resolution": "不是我们的 (not ours)"}, headers=MANAGER_D001)
    assert refused.status_code == 403
    closed = crm.post(f"/complaints/{complaint['complaint_id']}/close",
                      {"resolution": "回电致歉 (called back, apologised)"}, headers=MANAGER_D001)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "CLOSED"
