"""crm's service layer: one function per use case, in the caller's unit of work.

Each reads and writes through the stores on `uow` (`customers`, `reminders`, `surveys`,
`leads`) and announces what happened with `uow.emit(...)`; the rules are `crm.domain`'s.
Nothing here commits: HTTP calls are committed by the framework before the answer leaves, the
survey timer when its worker ends, and the projections of site events by the consumer with
their inbox rows.

Writers of the customer 360 (every site event, and consent changes from the call centre)
first take the projection's turn (`uow.customers.lock_projection()`): see the store.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chassis.errors import Conflict, NotFound
from chassis.identity import Identity, own_dealer_only
from contracts import events
from contracts.plate import normal_plate
from crm.domain import campaigns, customers, leads, surveys
from crm.domain import reminders as rules
from crm.domain.times import timestamp

if TYPE_CHECKING:  # the stores' types, for annotations only: no SQL is reached from here
    from crm.store import CrmUnitOfWork

RUN_PAGE = 1000          # vehicles per query during a reminder run
SURVEY_BATCH = 500       # surveys requested per run

Envelope = Mapping[str, Any]


def _plate(plate: str | None) -> str | None:
    return normal_plate(plate) if plate else None


# -- projections of the sites' events --------------------------------------------------------


def appointment_booked(uow: CrmUnitOfWork, event: Envelope) -> None:
    """A booking at a site: the customer (matched across dealers by phone), the car, the
    appointment; the reminder or lead it answers is booked."""
    d = event["data"]
    at = timestamp(d["booked_at"])
    store = uow.customers
    store.lock_projection()
    customer = d["customer"]
    customer_id = store.resolve_customer(customer["customer_id"], at,
                                         phone=customer["phone"], name=customer["name"])
    vehicle = d["vehicle"]
    if vehicle.get("vin"):
        store.touch_vehicle(vehicle["vin"], at, customer_id=customer_id,
                            plate=_plate(vehicle.get("plate")), model=vehicle.get("model"))
    store.record_appointment(
        d["dealer_code"], d["appointment_id"], event["sequence"], d["status"],
        timestamp(d["slot_start"]),
        {"customer_id": customer_id, "vin": vehicle.get("vin"),
         "service_type": d["service_type"], "channel": d["channel"], "booked_at": at,
         "reminder_id": d.get("reminder_id"), "lead_id": d.get("lead_id")})
    if d.get("reminder_id"):
        uow.reminders.mark_booked(d["reminder_id"])
    _convert_lead(uow, d["dealer_code"], d["appointment_id"])


def appointment_changed(uow: CrmUnitOfWork, event: Envelope, status: str, at_field: str
                        ) -> None:
    """A later step of an appointment (rescheduled, confirmed, cancelled, no-show, checked
    in): its status, if newer than the one applied, and its lead's."""
    d = event["data"]
    at = timestamp(d[at_field])
    store = uow.customers
    store.lock_projection()
    customer_id = store.resolve_customer(d["customer_id"], at)
    store.record_appointment(event["dealercode"], d["appointment_id"], event["sequence"],
                             status, timestamp(d["slot_start"]), {"customer_id": customer_id})
    _convert_lead(uow, event["dealercode"], d["appointment_id"])


def _convert_lead(uow: CrmUnitOfWork, dealer_code: str, appointment_id: str) -> None:
    """The lead an appointment came from is booked, or arrived once the customer checked in,
    whichever of the two events came first."""
    found = uow.leads.of_appointment(dealer_code, appointment_id)
    if found is None:
        return  # no lead, or a lead taken in elsewhere: nothing of ours to convert
    lead_id, status, appointment_status = found
    uow.leads.update(lead_id, status=leads.after_appointment(appointment_status, status),
                     appointment_id=appointment_id)


def repair_order_opened(uow: CrmUnitOfWork, event: Envelope) -> None:
    """A car received at a site (booked or walk-in): the car, its plate, the visit."""
    d = event["data"]
    at = timestamp(d["opened_at"])
    store = uow.customers
    store.lock_projection()
    customer_id = store.resolve_customer(d["customer_id"], at)
    store.touch_vehicle(d["vin"], at, customer_id=customer_id, plate=_plate(d.get("plate")),
                        model=d.get("model"))
    store.record_visit(event["dealercode"], d["repair_order_id"], {
        "vin": d["vin"], "customer_id": customer_id, "opened_at": at,
        "mileage_in_km": d["mileage_km"]})


def vehicle_delivered(uow: CrmUnitOfWork, event: Envelope, *, survey_delay_hours: int,
                      now: datetime) -> None:
    """A car handed back: the visit's totals, its follow-up survey, due later, and the
    recall campaigns its work completed."""
    d = event["data"]
    dealer = event["dealercode"]
    at = timestamp(d["delivered_at"])
    store = uow.customers
    store.lock_projection()
    customer_id = store.resolve_customer(d["customer_id"], at)
    store.touch_vehicle(d["vin"], at, customer_id=customer_id)
    store.record_visit(dealer, d["repair_order_id"], {
        "vin": d["vin"], "customer_id": customer_id, "delivered_at": at,
        "mileage_out_km": d["mileage_km"], "grand_total": Decimal(d["grand_total"]),
        "labour_total": Decimal(d["labour_total"]),
        "parts_total": Decimal(d["parts_total"]), "currency": d["currency"]})
    uow.surveys.add(survey_id=surveys.survey_id_for(dealer, d["repair_order_id"]),
                    dealer_code=dealer, repair_order_id=d["repair_order_id"],
                    customer_id=customer_id, vin=d["vin"], delivered_at=at,
                    due_at=surveys.due_at(at, survey_delay_hours))
    complete_recalls(uow, event, now=now)


def complete_recalls(uow: CrmUnitOfWork, event: Envelope, *, now: datetime) -> list[str]:
    """A delivery whose work done includes a campaign's labour operation completes that
    campaign for the car, whichever dealer did it: recorded once, and announced to every
    site (RecallCompleted) so reception no longer shows it open. The codes completed."""
    d = event["data"]
    operations = d.get("labour_operation_codes") or []
    candidates, listed = uow.recalls.campaigns_of_operations(operations, d["vin"])
    if not candidates:
        return []
    found = uow.customers.vehicle(d["vin"])
    model = found[0].model if found else None
    # The campaign's start day is the dealer's own calendar day, as the delivery states it.
    delivered_on = datetime.fromisoformat(d["delivered_at"]).date()
    done = []
    for campaign in campaigns.completed_by_delivery(
            candidates, listed, vin=d["vin"], model=model, operations=operations,
            delivered_on=delivered_on):
        data = campaigns.completion_data(campaign, d, dealer_code=event["dealercode"],
                                         completed_at=now)
        if uow.recalls.record(data):
            uow.emit(events.RecallCompleted, data, subject=d["vin"],
                     correlation_id=d["repair_order_id"], dealer_code=event["dealercode"])
            done.append(campaign.code)
    return done


def quote_approved(uow: CrmUnitOfWork, event: Envelope) -> None:
    """A signed quote: the lines the customer declined, for a follow-up reminder later."""
    d = event["data"]
    if not d.get("declined_lines"):
        return
    at = timestamp(d["signed_at"])
    store = uow.customers
    store.lock_projection()
    customer_id = store.resolve_customer(d["customer_id"], at)
    store.touch_vehicle(d["vin"], at, customer_id=customer_id)
    for line in d["declined_lines"]:
        store.record_declined(event["dealercode"], d["repair_order_id"], line,
                              quote_id=d["quote_id"], vin=d["vin"],
                              customer_id=customer_id, declined_at=at)


def consent_expressed(uow: CrmUnitOfWork, event: Envelope) -> None:
    """The owner said 退订 (or changed their preferences) at notify: crm, which owns consent,
    records it, so the next reminder run does not choose them."""
    d = event["data"]
    at = timestamp(d["expressed_at"])
    store = uow.customers
    store.lock_projection()
    # notify knows the owner by a site's customer id; the booking may not be here yet.
    customer_id = (store.customer_of_alias(d["customer_id"])
                   or store.resolve_customer(d["customer_id"], at))
    _record_consent(uow, customer_id, d["purpose"], d["channels"], d["granted"], at,
                    via=d["via"], by=f"notify:{d['via']}")


def _record_consent(uow: CrmUnitOfWork, customer_id: str, purpose: str, channels: list[str],
                    granted: bool, at: datetime, *, via: str, by: str) -> None:
    """Record a consent change and tell notify (and anyone else) what changed."""
    changed = uow.customers.record_consent(customer_id, purpose, channels, granted, at, by)
    if not changed:
        return  # stale or repeated: nothing to announce
    uow.emit(events.ConsentChanged, customers.consent_changed_data(
        customer_id, purpose, changed, granted, at, via=via,
        aliases=uow.customers.aliases_of(customer_id)),
        subject=customer_id, correlation_id=customer_id)


# -- the call centre -------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A customer a search found, with the cars and visits the caller may see."""

    customer: Any
    vehicles: list[Any]
    visits: list[Any]


def search_customers(uow: CrmUnitOfWork, query: Mapping[str, Any], *, dealer: str | None
                     ) -> list[Found]:
    """Customers matching all that is given; dealer staff (`dealer`) find only customers
    their dealer has served, through cars their dealer has seen."""
    vin, plate = customers.search_key(query.get("vin"), query.get("plate"))
    store = uow.customers
    found = []
    for customer_id in store.search(phone=query.get("phone"), name=query.get("name"),
                                    plate=plate, vin=vin):
        customer = store.customer(customer_id)
        vehicles = store.vehicles_of(customer_id)
        visits = store.visits_of(customer_id)
        if dealer is not None:
            seen = _records(uow, customer_id, dealer)
            if seen is None:
                continue
            vins = customers.vins_of(seen)
            vehicles = [v for v in vehicles if v.vin in vins]
            visits = seen["visits"]
            if not customers.leads_to_owner(vehicles, vin, plate):
                continue
        found.append(Found(customer, vehicles, visits))
    return found


def _records(uow: CrmUnitOfWork, customer_id: str, dealer: str | None
             ) -> dict[str, list[Any]] | None:
    """The customer's dealer-bound records; None when `dealer` never dealt with them."""
    records = uow.customers.records(customer_id, dealer)
    if dealer is not None and not any(records.values()):
        return None
    return records


@dataclass(frozen=True)
class Customer360:
    customer: Any
    vehicles: list[Any]
    records: dict[str, list[Any]]
    consents: list[Any]


def customer_360(uow: CrmUnitOfWork, customer_id: str, *, dealer: str | None
                 ) -> Customer360:
    """The customer by crm's id or a site's; with `dealer`, as seen at that dealer."""
    store = uow.customers
    customer = store.customer(customer_id)
    if customer is None:
        # A site's customer id works too: the call centre may have it from a booking.
        alias_of = store.customer_of_alias(customer_id)
        customer = store.customer(alias_of) if alias_of else None
    records = _records(uow, customer.id, dealer) if customer is not None else None
    if records is None:
        # A dealer that never served this person learns nothing of them (PIPL).
        raise NotFound(f"no customer {customer_id}")
    vehicles = store.vehicles_of(customer.id)
    if dealer is not None:
        vins = customers.vins_of(records)
        vehicles = [v for v in vehicles if v.vin in vins]
    return Customer360(customer, vehicles, records, store.consents_of(customer.id))


def put_consents(uow: CrmUnitOfWork, customer_id: str, consents: list[Mapping[str, Any]], *,
                 by: str, now: datetime) -> tuple[str, list[Any]]:
    """What the customer allows, per purpose and channel, from the call centre; the
    customer's crm id and their consents as now stored."""
    store = uow.customers
    store.lock_projection()  # consent changes from notify's events take turns with this
    if store.customer(customer_id) is None:
        # A site's customer id works too, as for the 360.
        customer_id = store.customer_of_alias(customer_id) or customer_id
        if store.customer(customer_id) is None:
            raise NotFound(f"no customer {customer_id}")
    for (purpose, granted), channels in customers.consent_changes(consents).items():
        _record_consent(uow, customer_id, purpose, channels, granted, now,
                        via="CALL_CENTRE", by=by)
    return customer_id, store.consents_of(customer_id)


def put_identity(uow: CrmUnitOfWork, customer_id: str, id_number: str) -> None:
    """Record the resident ID number (encrypted by the store)."""
    if not uow.customers.set_id_number(customer_id, id_number.upper()):
        raise NotFound(f"no customer {customer_id}")


def put_vehicle_dates(uow: CrmUnitOfWork, vin: str, dates: dict[str, date | None]
                      ) -> tuple[Any, list[Any]]:
    """The vehicle's insurance expiry and inspection due dates; the vehicle and its visits."""
    found = uow.customers.vehicle(vin) if uow.customers.set_vehicle_dates(vin, dates) else None
    if found is None:
        raise NotFound(f"no vehicle {vin}")
    return found


# -- campaigns and reminders -----------------------------------------------------------------


def post_campaign(uow: CrmUnitOfWork, campaign: dict[str, Any], *, by: str, now: datetime
                  ) -> tuple[dict[str, Any], int]:
    """A recall or service campaign, stored and published to the sites in one transaction
    (the sites' reception learns of it with it); the campaign and how many VINs it names."""
    if uow.reminders.campaign_exists(campaign["code"]):
        raise Conflict(f"campaign {campaign['code']} exists", code=campaign["code"])
    campaign = dict(campaign)
    vins = sorted(set(campaign.pop("vins")))
    uow.reminders.add_campaign(campaign, vins, at=now, by=by)
    for data in campaigns.published_data(campaign, vins, now):
        uow.emit(events.RecallCampaignPublished, data, subject=campaign["code"],
                 correlation_id=campaign["code"])
    return campaign, len(vins)


def put_schedule(uow: CrmUnitOfWork, model: str, schedule: dict[str, int], *, by: str,
                 now: datetime) -> None:
    """A model's service schedule, replacing the one before."""
    uow.reminders.put_schedule(model, schedule, at=now, by=by)


def run_reminders(uow: CrmUnitOfWork, run_on: date, *, default_km_per_day: int,
                  now: datetime) -> rules.RunResult:
    """The daily run: every reminder due on `run_on` raised once, one ReminderDue each.

    A page of vehicles at a time, so no query grows with the fleet; the whole run is one
    transaction (the framework commits it before answering), so a run either raised its
    reminders and their events or nothing, and a failed run is simply run again (reminder
    ids make a repeat harmless).
    """
    run_start = datetime.combine(run_on, time(), tzinfo=UTC)
    active = uow.reminders.campaigns(run_on)
    schedules = uow.reminders.schedules()
    total, after = rules.RunResult(), ""
    while page := uow.reminders.vehicle_facts(run_start, after, RUN_PAGE):
        after = page[-1].vin
        already = uow.reminders.raised_among(rules.candidate_ids(
            page, run_on, active, schedules, default_km_per_day=default_km_per_day))
        result = rules.run_page(page, run_on, active, already, schedules,
                                default_km_per_day=default_km_per_day)
        for plan in result.raised:
            uow.reminders.add(plan, raised_on=run_on)
            uow.emit(events.ReminderDue, rules.due_event_data(plan, now),
                     subject=plan.reminder_id,
                     correlation_id=plan.source_repair_order_id or plan.reminder_id,
                     dealer_code=plan.dealer_code)
        total.add(result)
    return total


def due_list(uow: CrmUnitOfWork, dealer_code: str, by: date, reason: str | None
             ) -> list[Any]:
    return uow.reminders.due_list(dealer_code, by, reason)


# -- follow-up surveys and complaints --------------------------------------------------------


def request_surveys(uow: CrmUnitOfWork, at: datetime, *, secret: str, now: datetime) -> int:
    """Request every survey due by `at` (a batch): one SurveyRequested each, with its signed
    link; how many were requested."""
    due = uow.surveys.due(at, SURVEY_BATCH)
    for survey in due:
        uow.emit(events.SurveyRequested, surveys.requested_data(survey, secret, now),
                 subject=survey.id, correlation_id=survey.repair_order_id,
                 dealer_code=survey.dealer_code)
        uow.surveys.mark_requested(survey.id, now)
    return len(due)


@dataclass(frozen=True)
class Answered:
    survey_id: str
    score: int
    complaint_id: str | None = None


def survey(uow: CrmUnitOfWork, survey_id: str) -> Any:
    """The survey a checked link opens, to show before it is answered."""
    found = uow.surveys.get(survey_id)
    if found is None:
        raise NotFound("no such survey")
    return found


def answer_survey(uow: CrmUnitOfWork, survey_id: str, answer: Mapping[str, Any], *,
                  now: datetime) -> Answered:
    """The customer's answer (the link already checked): SurveyAnswered, and a complaint for
    the dealer's service manager when the score is low."""
    survey = uow.surveys.for_answer(survey_id)
    if survey is None:
        raise NotFound("no such survey")
    if survey.answered_at is not None:
        raise Conflict("this survey has been answered", survey_id=survey_id)
    score, comment = answer["score"], answer.get("comment")
    uow.surveys.record_answer(survey_id, at=now, score=score, comment=comment,
                              channel=answer["channel"])
    uow.emit(events.SurveyAnswered, surveys.answered_data(survey, dict(answer), now),
             subject=survey_id, correlation_id=survey.repair_order_id,
             dealer_code=survey.dealer_code)
    complaint = surveys.complaint_for(survey_id, survey.dealer_code, score, now.date())
    if complaint is None:
        return Answered(survey_id, score)
    uow.surveys.open_complaint(complaint_id=complaint.complaint_id, survey=survey,
                               score=score, comment=comment, owner=complaint.owner,
                               due_on=complaint.due_on, at=now)
    return Answered(survey_id, score, complaint.complaint_id)


def list_complaints(uow: CrmUnitOfWork, dealer_code: str | None, status: str | None
                    ) -> list[Any]:
    return uow.surveys.complaints(dealer_code, status)


def close_complaint(uow: CrmUnitOfWork, complaint_id: str, *, by: Identity, resolution: str,
                    now: datetime) -> Any:
    """Close a complaint with what was done; a dealer manager closes only their dealer's."""
    complaint = uow.surveys.complaint(complaint_id, lock=True)
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id}")
    own_dealer_only(by, complaint.dealer_code)
    if complaint.status == "CLOSED":
        raise Conflict("the complaint is closed", complaint_id=complaint_id)
    uow.surveys.close_complaint(complaint_id, at=now, resolution=resolution)
    return uow.surveys.complaint(complaint_id)


# -- leads -----------------------------------------------------------------------------------


def post_lead(uow: CrmUnitOfWork, lead: Mapping[str, Any], *, sla_minutes: int,
              now: datetime) -> Any:
    """An online lead, linked to the customer crm knows by its phone, if any; due for a
    first call within the SLA."""
    received = (lead.get("received_at") or now).astimezone(UTC)
    lead_id = "LEAD-" + uuid.uuid4().hex[:24]
    uow.leads.add(lead_id=lead_id, channel=lead["channel"], dealer_code=lead["dealer_code"],
                  name=lead["name"], phone=lead["phone"],
                  customer_id=uow.customers.customer_by_phone(lead["phone"]),
                  interest=lead.get("interest"), status=leads.NEW, received_at=received,
                  first_contact_due_at=leads.first_contact_due(received, sla_minutes))
    return uow.leads.get(lead_id)


def list_leads(uow: CrmUnitOfWork, *, dealer_code: str | None, status: str | None,
               overdue: bool, now: datetime) -> list[Any]:
    return uow.leads.listed(dealer_code=dealer_code, status=status,
                            new_and_due_before=now if overdue else None)


def assign_lead(uow: CrmUnitOfWork, lead_id: str, agent: str) -> Any:
    if not uow.leads.update(lead_id, assigned_to=agent):
        raise NotFound(f"no lead {lead_id}")
    return uow.leads.get(lead_id)


def contact_lead(uow: CrmUnitOfWork, lead_id: str, *, agent: str, outcome: str,
                 note: str | None, now: datetime) -> Any:
    """A call to the lead and its outcome; the first call decides the SLA, and an agent who
    calls an unassigned lead takes it."""
    lead = uow.leads.get(lead_id, lock=True)
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    result = leads.record_contact(lead.status, lead.first_contacted_at, outcome)
    uow.leads.add_contact(lead_id, agent=agent, outcome=outcome, note=note, at=now)
    changes: dict[str, Any] = {"status": result.status}
    if result.first_contact:
        changes["first_contacted_at"] = now
    if lead.assigned_to is None:
        changes["assigned_to"] = agent
    uow.leads.update(lead_id, **changes)
    return uow.leads.get(lead_id)


def lead_funnel(uow: CrmUnitOfWork, *, start: date, end: date, dealer_code: str | None,
                now: datetime) -> dict[str, object]:
    """The lead KPIs of leads received from `start` to `end` (both days included, UTC)."""
    first = datetime.combine(start, time(), tzinfo=UTC)
    after = datetime.combine(end, time(), tzinfo=UTC) + timedelta(days=1)
    return leads.funnel(uow.leads.funnel_facts(first, after, dealer_code), now)

