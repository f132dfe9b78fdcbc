"""crm's service layer against a unit of work in memory: what each main use case stores and
announces, with no database, broker or network."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chassis.errors import Conflict, Forbidden, NotFound
from chassis.identity import Identity, Role
from crm import use_cases
from crm.domain import reminders as rules
from crm.domain import surveys
from services.crm.tests.unit.fakes import FakeCrmUnitOfWork

PHONE = "13812345678"
VIN = "LSVAU2187N2183740"
SECRET = "survey-link-secret-for-unit-tests-0123"
NOW = datetime(2025, 6, 3, 9, 5, tzinfo=UTC)


def envelope(dealer: str, data: dict[str, Any], sequence: int = 1) -> dict[str, Any]:
    """A site event as the consumer hands it to a handler (already checked there)."""
    return {"dealercode": dealer, "sequence": sequence, "data": data}


def booked(dealer: str, appointment_id: str, site_customer: str, *, at: str,
           lead_id: str | None = None, reminder_id: str | None = None) -> dict[str, Any]:
    data = {"appointment_id": appointment_id, "dealer_code": dealer, "status": "SCHEDULED",
            "customer": {"customer_id": site_customer, "name": "王磊", "phone": PHONE},
            "vehicle": {"plate": "京A12345", "vin": VIN, "model": "帕萨特 330TSI"},
            "service_type": "MAINTENANCE", "slot_start": "2025-06-10T09:30:00+08:00",
            "channel": "WECHAT", "booked_at": at}
    if lead_id:
        data["lead_id"] = lead_id
    if reminder_id:
        data["reminder_id"] = reminder_id
    return envelope(dealer, data)


def walk_in(dealer: str, ro: str, site_customer: str, plate: str) -> dict[str, Any]:
    return envelope(dealer, {"repair_order_id": ro, "customer_id": site_customer, "vin": VIN,
                             "plate": plate, "model": "帕萨特 330TSI", "mileage_km": 40_100,
                             "opened_at": "2025-06-03T09:00:00+08:00"})


def delivered(dealer: str, ro: str, site_customer: str, *operations: str,
              vin: str = VIN) -> dict[str, Any]:
    data = {"repair_order_id": ro, "customer_id": site_customer, "vin": vin,
            "mileage_km": 40_102, "grand_total": "1619.00", "labour_total": "510.00",
            "parts_total": "1189.00", "currency": "CNY",
            "delivered_at": "2025-06-03T17:00:00+08:00"}
    if operations:
        data["labour_operation_codes"] = list(operations)
    return envelope(dealer, data, sequence=9)


def checked_in(dealer: str, appointment_id: str, site_customer: str) -> dict[str, Any]:
    return envelope(dealer, {"appointment_id": appointment_id, "customer_id": site_customer,
                             "slot_start": "2025-06-10T09:30:00+08:00",
                             "checked_in_at": "2025-06-10T09:20:00+08:00"}, sequence=3)


# -- the customer 360 --------------------------------------------------------------------------


def test_one_person_at_two_dealers_is_one_customer_found_by_any_spelling_of_the_plate():
    uow = FakeCrmUnitOfWork()
    use_cases.appointment_booked(uow, booked("D001", "APT-1", "site1-cust",
                                             at="2025-03-15T20:12:45+08:00"))
    # The same phone at another dealer, under that site's own customer id.
    use_cases.appointment_booked(uow, booked("D002", "APT-2", "site2-cust",
                                             at="2025-06-01T10:00:00+08:00"))
    use_cases.repair_order_opened(uow, walk_in("D002", "RO-D002-1", "site2-cust", "京b 54321"))
    use_cases.vehicle_delivered(uow, delivered("D002", "RO-D002-1", "site2-cust"),
                                survey_delay_hours=24,
                                now=NOW)

    view = use_cases.customer_360(uow, "site2-cust", dealer=None)
    assert use_cases.customer_360(uow, "site1-cust", dealer=None).customer.id == \
        view.customer.id
    assert sorted(a.appointment_id for a in view.records["appointments"]) == ["APT-1", "APT-2"]
    assert [v.repair_order_id for v in view.records["visits"]] == ["RO-D002-1"]
    assert len(view.records["surveys"]) == 1  # the follow-up of the delivery
    # The walk-in's plate is stored in the one normal form, and found by its spellings.
    [car] = view.vehicles
    assert (car.vin, car.plate) == (VIN, "京B54321")
    for typed in ("京B54321", "京b 54321", "jing b54321"):
        [found] = use_cases.search_customers(uow, {"plate": typed}, dealer=None)
        assert found.customer.id == view.customer.id
    assert uow.customers.projection_turns == 4  # every site event waited for its turn
    assert uow.emitted == []  # projecting announces nothing


def test_dealer_staff_see_the_customer_as_seen_at_their_dealer_only():
    uow = FakeCrmUnitOfWork()
    use_cases.appointment_booked(uow, booked("D001", "APT-1", "c-1",
                                             at="2025-03-15T20:12:45+08:00"))
    at_d001 = use_cases.customer_360(uow, "c-1", dealer="D001")
    assert [a.appointment_id for a in at_d001.records["appointments"]] == ["APT-1"]
    with pytest.raises(NotFound):
        use_cases.customer_360(uow, "c-1", dealer="D002")  # never served them
    assert use_cases.search_customers(uow, {"plate": "京A12345"}, dealer="D002") == []


def test_consents_from_the_call_centre_are_announced_once_with_the_sites_ids():
    uow = FakeCrmUnitOfWork()
    use_cases.appointment_booked(uow, booked("D001", "APT-1", "site1-cust",
                                             at="2025-03-15T20:12:45+08:00"))
    use_cases.appointment_booked(uow, booked("D002", "APT-2", "site2-cust",
                                             at="2025-06-01T10:00:00+08:00"))
    now = datetime(2025, 6, 2, tzinfo=UTC)
    opt_in = [{"purpose": "MARKETING", "channel": c, "granted": True} for c in ("SMS", "APP")]
    customer_id, stored = use_cases.put_consents(uow, "site2-cust", opt_in, by="agent-7",
                                                 now=now)
    assert sorted((c.channel, c.granted) for c in stored) == [("APP", True), ("SMS", True)]
    [changed] = uow.events_of("aftersales.ConsentChanged.v1")
    assert changed["data"]["channels"] == ["SMS", "APP"]
    assert set(changed["data"]["aliases"]) == {"site1-cust", "site2-cust"} - {customer_id}
    # Saying it again changes nothing, so nothing is announced.
    use_cases.put_consents(uow, customer_id, opt_in, by="agent-7", now=now + timedelta(1))
    assert len(uow.events_of("aftersales.ConsentChanged.v1")) == 1
    with pytest.raises(NotFound):
        use_cases.put_consents(uow, "nobody", opt_in, by="agent-7", now=now)


# -- the reminder run --------------------------------------------------------------------------


def serviced_car(vin: str, customer_id: str, *, marketing: bool) -> rules.VehicleFacts:
    """Serviced at D001 at 20,000 km in September 2024 and 30,000 km in March 2025."""
    return rules.VehicleFacts(
        vin=vin, customer_id=customer_id, model="帕萨特 330TSI",
        first_seen_on=date(2024, 9, 18),
        visits=[rules.Visit(date(2024, 9, 18), 20_000, "D001"),
                rules.Visit(date(2025, 3, 18), 29_879, "D001")],
        consents=rules.Consents({("MARKETING", "SMS"): True} if marketing else {}),
        last_dealer_code="D001")


def test_a_reminder_run_raises_each_due_reminder_once_with_its_event():
    uow = FakeCrmUnitOfWork()
    uow.reminders.fleet = [serviced_car(VIN, "cust-1", marketing=True),
                           serviced_car("1M8GDM9AXKP042788", "cust-2", marketing=False)]
    now = datetime(2025, 9, 10, 1, tzinfo=UTC)

    run = use_cases.run_reminders(uow, date(2025, 9, 10), default_km_per_day=40, now=now)

    [raised] = run.raised
    assert (raised.reason, raised.vin, raised.dealer_code) == ("MAINTENANCE", VIN, "D001")
    assert run.suppressed == {rules.OPTED_OUT: 1}  # marketing needs an opt-in
    [due] = uow.events_of("aftersales.ReminderDue.v1")
    assert (due["subject"], due["data"]["due_mileage_km"]) == (raised.reminder_id, 39_879)
    assert [r.id for r in use_cases.due_list(uow, "D001", date(2025, 9, 30), None)] == [
        raised.reminder_id]
    # The next day's run raises nothing again; a booking quoting the reminder takes it off
    # the due list.
    again = use_cases.run_reminders(uow, date(2025, 9, 11), default_km_per_day=40, now=now)
    assert again.raised == [] and len(uow.events_of("aftersales.ReminderDue.v1")) == 1
    use_cases.appointment_booked(uow, booked("D001", "APT-9", "cust-1",
                                             at="2025-09-11T10:00:00+08:00",
                                             reminder_id=raised.reminder_id))
    assert use_cases.due_list(uow, "D001", date(2025, 9, 30), None) == []


def test_a_campaign_is_published_to_the_sites_with_it_and_only_once():
    uow = FakeCrmUnitOfWork()
    campaign = {"code": "RC-2025-07", "title": "燃油泵召回 (fuel pump recall)",
                "starts_on": date(2025, 7, 1), "model": None, "year_from": None,
                "year_to": None, "vins": [VIN, VIN]}
    stored, vins = use_cases.post_campaign(uow, campaign, by="ops-1",
                                           now=datetime(2025, 6, 30, tzinfo=UTC))
    assert (stored["code"], vins) == ("RC-2025-07", 1)
    [published] = uow.events_of("aftersales.RecallCampaignPublished.v1")
    assert published["data"]["vins"] == [VIN]
    with pytest.raises(Conflict):
        use_cases.post_campaign(uow, campaign, by="ops-1", now=datetime(2025, 7, 1, tzinfo=UTC))


# -- recall completion -------------------------------------------------------------------------

OTHER_VIN = "1M8GDM9AXKP042788"


def recall(uow: FakeCrmUnitOfWork, code: str, **scope: Any) -> None:
    campaign = {"code": code, "title": "安全气囊召回 (airbag recall)", "kind": "RECALL",
                "starts_on": date(2025, 6, 1), "operation_code": "RCL-ABG-02", "vins": [],
                **scope}
    use_cases.post_campaign(uow, campaign, by="ops-1", now=datetime(2025, 5, 30, tzinfo=UTC))


def test_a_delivery_with_the_campaigns_operation_completes_it_once_for_that_car():
    uow = FakeCrmUnitOfWork()
    recall(uow, "RC-1", vins=[VIN, OTHER_VIN])
    recall(uow, "RC-2", model="帕萨特 330TSI")  # by model: the car's model, from its visit
    recall(uow, "RC-3", vins=[VIN], starts_on=date(2025, 7, 1))  # not started yet
    [published] = uow.events_of("aftersales.RecallCampaignPublished.v1")[:1]
    assert (published["data"]["kind"], published["data"]["operation_code"]) == (
        "RECALL", "RCL-ABG-02")
    use_cases.repair_order_opened(uow, walk_in("D002", "RO-1", "cust-1", "京A12345"))
    # Other work delivered: nothing completes.
    use_cases.vehicle_delivered(uow, delivered("D002", "RO-1", "cust-1", "MNT-OIL-01"),
                                survey_delay_hours=24, now=NOW)
    assert uow.events_of("aftersales.RecallCompleted.v1") == []

    use_cases.vehicle_delivered(uow, delivered("D002", "RO-2", "cust-1", "MNT-OIL-01",
                                               "RCL-ABG-02"), survey_delay_hours=24, now=NOW)
    done = [e["data"] for e in uow.events_of("aftersales.RecallCompleted.v1")]
    assert [(d["campaign_code"], d["vin"], d["dealer_code"], d["repair_order_id"])
            for d in done] == [("RC-1", VIN, "D002", "RO-2"), ("RC-2", VIN, "D002", "RO-2")]
    assert {e["dealercode"] for e in uow.events_of("aftersales.RecallCompleted.v1")} == {"D002"}

    # The same work again (redelivered, or another RO): nothing new.
    use_cases.vehicle_delivered(uow, delivered("D001", "RO-3", "cust-1", "RCL-ABG-02"),
                                survey_delay_hours=24, now=NOW)
    assert len(uow.events_of("aftersales.RecallCompleted.v1")) == 2
    # The daily run no longer calls the car in for what is done on it; the other car still.
    due = {c.code: c.covers(VIN, "帕萨特 330TSI") for c in uow.reminders.campaigns(
        date(2025, 6, 10))}
    assert due == {"RC-1": False, "RC-2": False}
    assert [c.covers(OTHER_VIN, None) for c in uow.reminders.campaigns(date(2025, 6, 10))
            if c.code == "RC-1"] == [True]


# -- surveys and complaints --------------------------------------------------------------------


def test_a_low_score_opens_a_complaint_for_the_dealers_service_manager():
    uow = FakeCrmUnitOfWork()
    use_cases.repair_order_opened(uow, walk_in("D002", "RO-7", "cust-7", "京A12345"))
    use_cases.vehicle_delivered(uow, delivered("D002", "RO-7", "cust-7"), survey_delay_hours=24,
                                now=NOW)
    delivered_at = datetime(2025, 6, 3, 9, tzinfo=UTC)

    early = delivered_at + timedelta(hours=23)
    assert use_cases.request_surveys(uow, early, secret=SECRET, now=early) == 0
    due = delivered_at + timedelta(hours=24)
    assert use_cases.request_surveys(uow, due, secret=SECRET, now=due) == 1
    assert use_cases.request_surveys(uow, due, secret=SECRET, now=due) == 0  # once
    [requested] = uow.events_of("aftersales.SurveyRequested.v1")
    survey_id = surveys.survey_of_token(SECRET, requested["data"]["link_token"])
    assert survey_id == requested["data"]["survey_id"]

    answered_at = due + timedelta(hours=2)
    answered = use_cases.answer_survey(uow, survey_id, {"score": 4, "channel": "SMS",
                                                        "comment": "等了很久"},
                                       now=answered_at)
    assert answered.complaint_id is not None
    [answer] = uow.events_of("aftersales.SurveyAnswered.v1")
    assert (answer["data"]["score"], answer["dealercode"]) == (4, "D002")
    [complaint] = use_cases.list_complaints(uow, "D002", "OPEN")
    assert (complaint.owner, complaint.due_on) == ("service-manager@D002", date(2025, 6, 6))
    with pytest.raises(Conflict):
        use_cases.answer_survey(uow, survey_id, {"score": 10, "channel": "SMS"},
                                now=answered_at)

    other = Identity("mgr-1", Role.DEALER_MANAGER, "D001")
    with pytest.raises(Forbidden):
        use_cases.close_complaint(uow, complaint.id, by=other, resolution="x", now=answered_at)
    own = Identity("mgr-2", Role.DEALER_MANAGER, "D002")
    closed = use_cases.close_complaint(uow, complaint.id, by=own, resolution="回电致歉",
                                       now=answered_at)
    assert (closed.status, closed.resolution) == ("CLOSED", "回电致歉")
    with pytest.raises(Conflict):
        use_cases.close_complaint(uow, complaint.id, by=own, resolution="again",
                                  now=answered_at)


def test_a_good_score_opens_nothing():
    uow = FakeCrmUnitOfWork()
    use_cases.vehicle_delivered(uow, delivered("D002", "RO-8", "cust-8"), survey_delay_hours=24,
                                now=NOW)
    survey_id = surveys.survey_id_for("D002", "RO-8")
    answered = use_cases.answer_survey(uow, survey_id, {"score": 9, "channel": "APP"},
                                       now=datetime(2025, 6, 5, tzinfo=UTC))
    assert answered.complaint_id is None and use_cases.list_complaints(uow, None, None) == []


# -- leads -------------------------------------------------------------------------------------


def test_a_lead_is_called_within_its_sla_then_booked_then_arrives():
    uow = FakeCrmUnitOfWork()
    use_cases.appointment_booked(uow, booked("D001", "APT-0", "cust-1",
                                             at="2025-05-01T10:00:00+08:00"))
    received = datetime(2025, 6, 1, 2, tzinfo=UTC)
    lead = use_cases.post_lead(uow, {"channel": "WECHAT", "dealer_code": "D001",
                                     "name": "王磊", "phone": "+86 138 1234 5678",
                                     "received_at": received}, sla_minutes=30, now=received)
    assert (lead.status, lead.customer_id) == ("NEW", "cust-1")  # known by the phone
    assert lead.first_contact_due_at == received + timedelta(minutes=30)

    called = use_cases.contact_lead(uow, lead.id, agent="agent-7", outcome="REACHED",
                                    note=None, now=received + timedelta(minutes=12))
    assert (called.status, called.assigned_to) == ("CONTACTED", "agent-7")
    use_cases.appointment_booked(uow, booked("D001", "APT-1", "cust-1",
                                             at="2025-06-01T10:30:00+08:00",
                                             lead_id=lead.id))
    assert uow.leads.get(lead.id).status == "BOOKED"
    use_cases.appointment_changed(uow, checked_in("D001", "APT-1", "cust-1"), "CHECKED_IN",
                                  "checked_in_at")
    assert uow.leads.get(lead.id).status == "ARRIVED"

    funnel = use_cases.lead_funnel(uow, start=date(2025, 6, 1), end=date(2025, 6, 30),
                                   dealer_code="D001", now=received + timedelta(days=30))
    assert (funnel["leads"], funnel["sla_met"], funnel["arrived"]) == (1, 1, 1)
    with pytest.raises(Conflict):  # an arrived lead is done
        use_cases.contact_lead(uow, lead.id, agent="agent-7", outcome="REACHED", note=None,
                               now=received + timedelta(days=10))
    with pytest.raises(NotFound):
        use_cases.assign_lead(uow, "LEAD-none", "agent-8")
