"""Leads: first contact within the SLA, outcomes that close a lead, conversion, the funnel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chassis.errors import Conflict
from crm.domain import leads

RECEIVED = datetime(2025, 3, 18, 9, 0, tzinfo=UTC)
DUE = leads.first_contact_due(RECEIVED)


def test_first_contact_is_due_thirty_minutes_after_the_lead_came_in() -> None:
    assert DUE == RECEIVED + timedelta(minutes=30)
    assert leads.first_contact_due(RECEIVED, 120) == RECEIVED + timedelta(hours=2)


def test_the_sla_is_decided_by_the_first_attempt_or_by_time_running_out() -> None:
    assert leads.sla_met(DUE, DUE - timedelta(minutes=1), DUE + timedelta(days=1)) is True
    assert leads.sla_met(DUE, DUE + timedelta(minutes=1), DUE + timedelta(days=1)) is False
    assert leads.sla_met(DUE, None, DUE - timedelta(minutes=5)) is None
    assert leads.sla_met(DUE, None, DUE + timedelta(minutes=5)) is False


def test_outcomes() -> None:
    assert leads.record_contact("NEW", None, "NO_ANSWER") == leads.ContactResult(
        "CONTACTED", True)
    assert leads.record_contact("CONTACTED", RECEIVED, "NOT_INTERESTED").status == "LOST"
    assert leads.record_contact("BOOKED", RECEIVED, "REACHED").status == "BOOKED"
    with pytest.raises(Conflict):
        leads.record_contact("LOST", RECEIVED, "REACHED")


def test_a_booking_converts_the_lead_and_an_arrival_stays_an_arrival() -> None:
    assert leads.after_booking("CONTACTED") == "BOOKED"
    assert leads.after_booking("LOST") == "BOOKED"  # they booked after all
    assert leads.after_booking("ARRIVED") == "ARRIVED"


def test_funnel() -> None:
    facts = [leads.LeadFacts("ARRIVED", DUE, DUE - timedelta(minutes=10)),
             leads.LeadFacts("BOOKED", DUE, DUE + timedelta(minutes=10)),
             leads.LeadFacts("LOST", DUE, DUE - timedelta(minutes=1)),
             leads.LeadFacts("NEW", DUE, None)]
    kpis = leads.funnel(facts, DUE - timedelta(minutes=20))
    assert kpis == {"leads": 4, "sla_met": 2, "sla_missed": 1, "sla_met_rate": "0.667",
                    "booked": 2, "arrived": 1, "booking_rate": "0.500",
                    "arrival_rate": "0.250"}
    assert leads.funnel([], DUE)["booking_rate"] is None
