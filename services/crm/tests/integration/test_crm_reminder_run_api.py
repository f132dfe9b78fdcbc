"""The daily reminder run over the customer 360: one ReminderDue per reminder, never twice,
nobody opted out or already booked; the dealer's due list; recall campaigns."""

from __future__ import annotations

from chassis.testing import auth, wait_for
from services.crm.tests.integration.crm_hq import (
    ANALYST,
    OPERATOR,
    VIN,
    booked,
    consents,
    delivered,
    opened,
    quote_approved,
)

OTHER_VIN = "1M8GDM9AXKP042788"


def visit_history(sites, crm, *, opt_in: bool = True) -> None:
    """A car serviced at D001 in September 2024 at 20,000 km and in March 2025 at ~30,000 km,
    where the customer declined an alignment; with `opt_in`, they agreed to invitations."""
    sites.publish(
        opened("D001", "RO-1", "cust-1", mileage=20_000, opened_at="2024-09-18T09:00:00+08:00"),
        delivered("D001", "RO-1", "cust-1", mileage=20_000,
                  delivered_at="2024-09-18T17:00:00+08:00"),
        opened("D001", "RO-2", "cust-1"),
        quote_approved("D001", "RO-2", "cust-1"),
        delivered("D001", "RO-2", "cust-1"))
    wait_for(lambda: crm.inbox() == 5, message="the visits applied")
    if opt_in:
        crm.opt_in("cust-1")


def test_reminders_are_raised_once_each_with_their_event(crm, sites) -> None:
    visit_history(sites, crm)
    # ~55 km a day from its own history: the next 10,000 km by 18 September 2025, before
    # the 12 months after the last visit (18 March 2026).
    run = crm.post("/reminder-runs", {"date": "2025-09-10"})
    assert run.status_code == 200, run.text
    assert run.json()["raised"] == 2  # maintenance and the declined alignment
    raised = {e["data"]["reason"]: e for e in crm.outbox("aftersales.ReminderDue.v1")}
    assert raised.keys() == {"MAINTENANCE", "DECLINED_WORK"}
    maintenance = raised["MAINTENANCE"]
    assert maintenance["dealercode"] == "D001" and maintenance["source"] == "hq/crm"
    assert maintenance["data"]["due_mileage_km"] == 39_879
    assert raised["DECLINED_WORK"]["data"]["source_repair_order_id"] == "RO-2"

    again = crm.post("/reminder-runs", {"date": "2025-09-11"})
    assert again.json()["raised"] == 0
    assert len(crm.outbox("aftersales.ReminderDue.v1")) == 2

    due = crm.get("/due-list", headers=ANALYST, dealer="D001", date="2025-09-30")
    assert due.status_code == 200, due.text
    assert sorted(r["reason"] for r in due.json()["reminders"]) == [
        "DECLINED_WORK", "MAINTENANCE"]
    assert crm.get("/due-list", dealer="D002", date="2025-09-30").json()["reminders"] == []
    view = crm.get("/customers/cust-1").json()
    assert len(view["reminders"]) == 2


def test_a_booking_from_a_reminder_takes_it_off_the_due_list(crm, sites) -> None:
    visit_history(sites, crm)
    crm.post("/reminder-runs", {"date": "2025-09-10"})
    [reminder] = [e["data"] for e in crm.outbox("aftersales.ReminderDue.v1")
                  if e["data"]["reason"] == "MAINTENANCE"]
    sites.publish(booked("D001", "APT-9", "cust-1", reminder_id=reminder["reminder_id"],
                         booked_at="2025-09-11T10:00:00+08:00",
                         slot_start="2025-09-14T09:30:00+08:00"))
    wait_for(lambda: crm.inbox() == 6, message="the booking applied")
    due = crm.get("/due-list", dealer="D001", date="2025-09-30").json()["reminders"]
    assert [r["reason"] for r in due] == ["DECLINED_WORK"]


def test_opted_out_or_already_booked_customers_are_not_reminded(crm, sites) -> None:
    visit_history(sites, crm)
    answer = crm.put("/customers/cust-1/consents", consents("MARKETING", False))
    assert answer.status_code == 200, answer.text
    run = crm.post("/reminder-runs", {"date": "2025-09-10"}).json()
    assert (run["raised"], run["suppressed"]) == (0, {"OPTED_OUT": 2})

    crm.opt_in("cust-1", "WECHAT")
    # Booked for a date after the run: the open appointment stops the reminders.
    sites.publish(booked("D002", "APT-5", "cust-1", booked_at="2025-09-01T10:00:00+08:00",
                         slot_start="2025-09-20T09:30:00+08:00"))
    wait_for(lambda: crm.inbox() == 6, message="the booking applied")
    run = crm.post("/reminder-runs", {"date": "2025-09-10"}).json()
    assert (run["raised"], run["suppressed"]) == (0, {"ALREADY_BOOKED": 2})


def test_insurance_and_inspection_dates_and_a_recall_campaign(crm, sites) -> None:
    visit_history(sites, crm, opt_in=False)
    dates = crm.put(f"/vehicles/{VIN}/dates", {"inspection_due_on": "2025-05-01",
                                              "insurance_expires_on": "2025-05-10"})
    assert dates.status_code == 200, dates.text
    assert crm.put(f"/vehicles/{OTHER_VIN}/dates", {"inspection_due_on": "2025-05-01"}
                   ).status_code == 404
    campaign = {"code": "RC-2025-07", "title": "制动软管召回 (brake hose recall)",
                "starts_on": "2025-04-01", "model": "帕萨特 330TSI", "year_from": 2021,
                "year_to": 2023}
    created = crm.post("/campaigns", campaign)
    assert created.status_code == 201, created.text
    assert crm.post("/campaigns", campaign).status_code == 409
    assert crm.post("/campaigns", {**campaign, "code": "X", "model": None}
                    ).status_code == 422
    assert crm.post("/campaigns", campaign, headers=ANALYST).status_code == 403

    run = crm.post("/reminder-runs", {"date": "2025-04-20"}).json()
    reasons = sorted(e["data"]["reason"] for e in crm.outbox("aftersales.ReminderDue.v1"))
    # Without an opt-in only the recall (a safety notice) goes out; the renewal, the
    # inspection errand and the declined work are invitations, held back.
    assert reasons == ["RECALL"]
    assert run["suppressed"] == {"OPTED_OUT": 3}
    crm.opt_in("cust-1")
    crm.post("/reminder-runs", {"date": "2025-04-20"})
    reasons = sorted(e["data"]["reason"] for e in crm.outbox("aftersales.ReminderDue.v1"))
    assert reasons == ["ANNUAL_INSPECTION", "DECLINED_WORK", "INSURANCE", "RECALL"]
    recall = next(e for e in crm.outbox("aftersales.ReminderDue.v1")
                  if e["data"]["reason"] == "RECALL")
    assert recall["data"]["campaign_code"] == "RC-2025-07"


def test_run_and_due_list_refuse_bad_input_and_callers(crm) -> None:
    assert crm.post("/reminder-runs", {"date": "2026-02-30"}).status_code == 422
    assert crm.post("/reminder-runs", {"date": "2025-09-10", "x": 1}).status_code == 422
    assert crm.post("/reminder-runs", {"date": "2025-09-10"},
                    headers=auth("invitation_agent")).status_code == 403
    assert crm.get("/due-list", dealer="d001", date="2025-09-10").status_code == 422
    assert crm.get("/due-list", dealer="D001").status_code == 422


def test_a_models_own_schedule_replaces_the_default(crm, sites) -> None:
    visit_history(sites, crm)
    assert crm.post("/reminder-runs", {"date": "2025-06-10"}).json()["raised"] == 1  # declined
    schedule = {"first_km": 3_000, "first_months": 3, "interval_km": 5_000,
                "interval_months": 6}
    put = crm.put("/maintenance-schedules/帕萨特 330TSI", schedule, headers=OPERATOR)
    assert put.status_code == 200, put.text
    assert crm.put("/maintenance-schedules/X", {**schedule, "interval_km": 0},
                   headers=OPERATOR).status_code == 422
    assert crm.put("/maintenance-schedules/X", schedule).status_code == 403
    # Every 5,000 km at ~55 km a day: due on 18 June 2025, within the fortnight's lead.
    crm.post("/reminder-runs", {"date": "2025-06-10"})
    [maintenance] = [e["data"] for e in crm.outbox("aftersales.ReminderDue.v1")
                     if e["data"]["reason"] == "MAINTENANCE"]
    assert (maintenance["due_on"], maintenance["due_mileage_km"]) == ("2025-06-18", 34_879)
