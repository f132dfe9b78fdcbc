"""Online leads (线索): first contact within the SLA, outcomes, and conversion to a booking
and then an arrival. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chassis.errors import Conflict

LEAD_CHANNELS = ("APP", "WECHAT", "VERTICAL_MEDIA", "SHORT_VIDEO", "WEB", "PHONE")
DEFAULT_SLA_MINUTES = 30

NEW, CONTACTED, BOOKED, ARRIVED, LOST = "NEW", "CONTACTED", "BOOKED", "ARRIVED", "LOST"
STATUSES = (NEW, CONTACTED, BOOKED, ARRIVED, LOST)

# What an agent's call came to; the last two close the lead.
OUTCOMES = ("REACHED", "NO_ANSWER", "CALL_BACK_LATER", "NOT_INTERESTED", "WRONG_NUMBER")
CLOSING_OUTCOMES = ("NOT_INTERESTED", "WRONG_NUMBER")


def first_contact_due(received_at: datetime, sla_minutes: int = DEFAULT_SLA_MINUTES
                      ) -> datetime:
    return received_at + timedelta(minutes=sla_minutes)


@dataclass(frozen=True)
class ContactResult:
    status: str
    first_contact: bool


def record_contact(status: str, first_contacted_at: datetime | None, outcome: str
                   ) -> ContactResult:
    """An agent's attempt to reach the lead. Any attempt counts for the SLA (the customer was
    called); only a closing outcome ends the lead."""
    if status in (ARRIVED, LOST):
        raise Conflict(f"the lead is {status}: nothing more to contact", status=status)
    if outcome in CLOSING_OUTCOMES and status in (NEW, CONTACTED):
        new_status = LOST
    elif status == NEW:
        new_status = CONTACTED
    else:
        new_status = status  # a booked lead stays booked while the agent follows up
    return ContactResult(new_status, first_contacted_at is None)


def after_booking(status: str) -> str:
    """A booking quoting the lead converts it, whatever happened on the phone before."""
    return ARRIVED if status == ARRIVED else BOOKED


def after_appointment(appointment_status: str, status: str) -> str:
    """A lead whose appointment is checked in has arrived; any other state of it books it."""
    return ARRIVED if appointment_status == "CHECKED_IN" else after_booking(status)


def sla_met(due_at: datetime, first_contacted_at: datetime | None, now: datetime
            ) -> bool | None:
    """True/False once decided; None while the lead is new and still within its SLA."""
    if first_contacted_at is not None:
        return first_contacted_at <= due_at
    return False if now > due_at else None


@dataclass(frozen=True)
class LeadFacts:
    status: str
    due_at: datetime
    first_contacted_at: datetime | None


def funnel(leads: list[LeadFacts], now: datetime) -> dict[str, object]:
    """The lead KPIs: SLA kept, lead-to-booking and lead-to-arrival rates."""
    total = len(leads)
    decided = [sla_met(x.due_at, x.first_contacted_at, now) for x in leads]
    judged = [d for d in decided if d is not None]
    booked = sum(1 for x in leads if x.status in (BOOKED, ARRIVED))
    arrived = sum(1 for x in leads if x.status == ARRIVED)

    def rate(part: int, whole: int) -> str | None:
        return f"{part / whole:.3f}" if whole else None

    return {"leads": total, "sla_met": sum(judged), "sla_missed": len(judged) - sum(judged),
            "sla_met_rate": rate(sum(judged), len(judged)), "booked": booked,
            "arrived": arrived, "booking_rate": rate(booked, total),
            "arrival_rate": rate(arrived, total)}
