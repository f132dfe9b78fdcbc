"""Online leads: taken in, called within the SLA, converted by the booking that quotes them
and by the customer's arrival, in whichever order those events come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chassis.testing import auth, wait_for
from contracts import events
from services.crm.tests.integration.crm_hq import AGENT, ANALYST, PHONE, booked, site_event

LEAD = {"channel": "SHORT_VIDEO", "dealer_code": "D001", "name": "李娜", "phone": "13900001111",
        "interest": "首保 (first service)"}


def checked_in(appointment_id: str, customer_id: str) -> dict:
    return site_event(events.AppointmentCheckedIn, "D001", 3, appointment_id=appointment_id,
                      customer_id=customer_id, slot_start="2025-03-18T09:30:00+08:00",
                      checked_in_at="2025-03-18T09:20:00+08:00")


def test_a_lead_is_called_then_booked_then_arrives(crm, sites) -> None:
    created = crm.post("/leads", LEAD, headers=AGENT)
    assert created.status_code == 201, created.text
    lead = created.json()
    assert (lead["status"], lead["sla_met"], lead["phone"]) == ("NEW", None, "13900001111")

    called = crm.post(f"/leads/{lead['lead_id']}/contacts", {"outcome": "REACHED"},
                      headers=AGENT)
    assert called.status_code == 201, called.text
    assert (called.json()["status"], called.json()["sla_met"]) == ("CONTACTED", True)
    assert called.json()["assigned_to"] == "agent-7"

    # The arrival may reach headquarters before the booking: the lead still ends ARRIVED.
    event = booked("D001", "APT-L", "cust-l", phone="13900001111", name="李娜")
    event["data"]["lead_id"] = lead["lead_id"]
    sites.publish(checked_in("APT-L", "cust-l"))
    wait_for(lambda: crm.inbox() == 1, message="the arrival applied")
    sites.publish(event)
    wait_for(lambda: crm.inbox() == 2, message="the booking applied")
    [seen] = crm.get("/leads", headers=ANALYST, dealer="D001").json()["leads"]
    assert (seen["status"], seen["appointment_id"], seen["phone"]) == (
        "ARRIVED", "APT-L", "139****1111")

    today = datetime.now(UTC).date().isoformat()
    funnel = crm.get("/lead-funnel", headers=ANALYST, **{"from": today, "to": today})
    assert funnel.status_code == 200, funnel.text
    assert funnel.json() == {"leads": 1, "sla_met": 1, "sla_missed": 0,
                             "sla_met_rate": "1.000", "booked": 1, "arrived": 1,
                             "booking_rate": "1.000", "arrival_rate": "1.000"}


def test_overdue_leads_and_known_customers(crm, sites) -> None:
    sites.publish(booked("D001", "APT-1", "c-1"))
    wait_for(lambda: crm.inbox() == 1, message="the booking applied")
    old = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    late = crm.post("/leads", {**LEAD, "phone": PHONE, "received_at": old}, headers=AGENT)
    assert late.json()["customer_id"] == "c-1"  # the phone is a customer's already
    assert late.json()["sla_met"] is False
    crm.post("/leads", LEAD, headers=AGENT)
    overdue = crm.get("/leads", overdue="true").json()["leads"]
    assert [x["lead_id"] for x in overdue] == [late.json()["lead_id"]]
    lost = crm.post(f"/leads/{late.json()['lead_id']}/contacts",
                    {"outcome": "WRONG_NUMBER"}).json()
    assert (lost["status"], lost["sla_met"]) == ("LOST", False)
    assert crm.post(f"/leads/{late.json()['lead_id']}/contacts",
                    {"outcome": "REACHED"}).status_code == 409


def test_lead_input_and_callers_are_checked(crm) -> None:
    assert crm.post("/leads", {**LEAD, "channel": "FAX"}, headers=AGENT).status_code == 422
    assert crm.post("/leads", {**LEAD, "phone": "abc"}, headers=AGENT).status_code == 422
    assert crm.post("/leads", LEAD, headers=ANALYST).status_code == 403
    assert crm.post("/leads/nope/contacts", {"outcome": "REACHED"},
                    headers=AGENT).status_code == 404
    assert crm.post("/leads/nope/assign", {"agent": "agent-9"},
                    headers=auth("operator")).status_code == 404
    assert crm.get("/lead-funnel", **{"from": "2025-03-02", "to": "2025-03-01"}
                   ).status_code == 422
