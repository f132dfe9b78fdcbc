"""crm's entrypoints (headquarters): the customer 360 projected from every dealer site's
events, the call-centre API, the daily reminder run, follow-up surveys and complaints, and
online leads.

Who may call: invitation agents (the call centre: search, the 360 with full phone numbers,
consents, vehicle dates, complaints), OEM analysts (read only, phone numbers masked) and
operators (runs, campaigns). Dealer managers and advisors read their own dealer's due list and
customers as seen at their dealer (phone masked); a dealer manager also works their own
dealer's complaints. Headquarters admits dealer staff of any dealer by role
(`chassis.auth.admit`); each endpoint keeps them to their own dealer's rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from werkzeug.wrappers import Request, Response

from chassis.auth import DEALER_STAFF, Identity, Role, own_dealer_only
from chassis.config import ConfigError
from chassis.consumer import handle_event
from chassis.db import Database
from chassis.errors import Conflict, NotFound
from chassis.http import PUBLIC, http, identity_of, json_response, load_json, load_query
from chassis.outbox import Outbox
from chassis.service import PlatformService
from contracts import events
from crm import campaigns, leads, surveys
from crm import models as m
from crm import reminders as rules
from crm.privacy import Vault, vault_from_settings
from crm.schemas import (
    CampaignRequestSchema,
    CampaignSchema,
    ComplaintCloseSchema,
    ComplaintListQuerySchema,
    ComplaintListSchema,
    ComplaintSchema,
    ConsentsRequestSchema,
    ConsentsViewSchema,
    Customer360Schema,
    CustomerListSchema,
    CustomerSearchQuerySchema,
    DueListQuerySchema,
    DueListSchema,
    LeadAssignSchema,
    LeadContactSchema,
    LeadFunnelQuerySchema,
    LeadFunnelSchema,
    LeadListQuerySchema,
    LeadListSchema,
    LeadRequestSchema,
    LeadSchema,
    ProfileRequestSchema,
    RunRequestSchema,
    RunResultSchema,
    ScheduleSchema,
    ScheduleViewSchema,
    SurveyAnsweredSchema,
    SurveyAnswerSchema,
    SurveyRunRequestSchema,
    SurveyRunResultSchema,
    VehicleDatesSchema,
    VehicleViewSchema,
)
from crm.store import Store, aware, normal_plate, timestamp
from crm.views import complaint_view, contact, customer_360, lead_view, vehicle_view

READERS = {Role.INVITATION_AGENT, Role.OEM_ANALYST, Role.OPERATOR}
CALL_CENTRE = {Role.INVITATION_AGENT, Role.OPERATOR}
OPERATIONS = {Role.OPERATOR}
# Dealer staff who work the dealer's own customers: reminders to call, who came in before.
DEALER_READERS = {Role.DEALER_MANAGER, Role.ADVISOR}
# A low score's complaint is owned by the dealer's service manager, who closes it.
COMPLAINT_HANDLERS = {Role.DEALER_MANAGER}
RUN_PAGE = 1000          # vehicles per query during a reminder run
SURVEY_BATCH = 500       # surveys requested per run
SURVEY_POLL_SECONDS = 300


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CrmOptions:
    vault: Vault
    survey_delay_hours: int
    km_per_day: int
    survey_secret: str
    lead_sla_minutes: int = leads.DEFAULT_SLA_MINUTES


class CrmSettings(DependencyProvider):
    """crm's own settings, checked at start: a missing or malformed key stops the service
    with one line naming it."""

    def bind(self, container, attr_name):  # type: ignore[no-untyped-def]
        # Checked while the container is built, in the caller's thread: the command line
        # reports a ConfigError in one line. From `setup` (run in a green thread) eventlet
        # would print a traceback first.
        instance = super().bind(container, attr_name)
        instance.options = crm_options(container.config["AFTERSALES"])
        return instance

    def get_dependency(self, worker_ctx) -> CrmOptions:  # type: ignore[no-untyped-def]
        return self.options


def crm_options(settings: Any) -> CrmOptions:
    """crm's options from `settings.extra`; ConfigError naming the first bad setting."""
    extra = settings.extra
    delay = _int_setting(extra, "crm_survey_delay_hours", surveys.DEFAULT_DELAY_HOURS, 1, 720)
    km = _int_setting(extra, "crm_default_km_per_day", rules.DEFAULT_KM_PER_DAY, 1, 2000)
    sla = _int_setting(extra, "crm_lead_sla_minutes", leads.DEFAULT_SLA_MINUTES, 1, 10080)
    return CrmOptions(vault=vault_from_settings(extra), survey_delay_hours=delay,
                      km_per_day=km, survey_secret=settings.auth_secret, lead_sla_minutes=sla)


def _dealer_of(identity: Identity) -> str | None:
    """The dealer a caller is kept to: their own for dealer staff, None for headquarters."""
    return identity.dealer_code if identity.role in DEALER_STAFF else None


def _int_setting(extra: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = extra.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} is not between {low} and {high}")
    return value


class CrmService(PlatformService):
    name = "crm"

    db = Database(m.metadata)
    outbox = Outbox()
    crm = CrmSettings()

    @property
    def store(self) -> Store:
        return Store(self.db, self.crm.vault)

    @property
    def projection(self) -> Store:
        """The store, with this transaction's turn as the projection's writer."""
        store = self.store
        store.lock_projection()
        return store

    # -- projections of the sites' events --------------------------------------------------

    def _appointment(self, event: dict, status: str, at_field: str,
                     details: dict[str, Any] | None = None) -> str:
        d = event["data"]
        at = timestamp(d[at_field])
        store = self.projection
        customer_id = store.resolve_customer(d["customer_id"], at)
        store.record_appointment(event["dealercode"], d["appointment_id"], event["sequence"],
                                 status, timestamp(d["slot_start"]),
                                 {"customer_id": customer_id, **(details or {})})
        store.convert_lead(event["dealercode"], d["appointment_id"])
        return customer_id

    @handle_event("booking", events.AppointmentBooked)
    def on_appointment_booked(self, event: dict) -> None:
        d = event["data"]
        at = timestamp(d["booked_at"])
        store = self.projection
        customer = d["customer"]
        customer_id = store.resolve_customer(customer["customer_id"], at,
                                             phone=customer["phone"], name=customer["name"])
        vehicle = d["vehicle"]
        if vehicle.get("vin"):
            store.touch_vehicle(vehicle["vin"], at, customer_id=customer_id,
                                plate=vehicle.get("plate"), model=vehicle.get("model"))
        store.record_appointment(
            d["dealer_code"], d["appointment_id"], event["sequence"], d["status"],
            timestamp(d["slot_start"]),
            {"customer_id": customer_id, "vin": vehicle.get("vin"),
             "service_type": d["service_type"], "channel": d["channel"], "booked_at": at,
             "reminder_id": d.get("reminder_id"), "lead_id": d.get("lead_id")})
        if d.get("reminder_id"):
            store.mark_reminder_booked(d["reminder_id"])
        store.convert_lead(d["dealer_code"], d["appointment_id"])

    @handle_event("booking", events.AppointmentRescheduled)
    def on_appointment_rescheduled(self, event: dict) -> None:
        self._appointment(event, event["data"]["status"], "rescheduled_at")

    @handle_event("booking", events.AppointmentConfirmed)
    def on_appointment_confirmed(self, event: dict) -> None:
        self._appointment(event, "CONFIRMED", "confirmed_at")

    @handle_event("booking", events.AppointmentCancelled)
    def on_appointment_cancelled(self, event: dict) -> None:
        self._appointment(event, "CANCELLED", "cancelled_at")

    @handle_event("booking", events.AppointmentNoShow)
    def on_appointment_no_show(self, event: dict) -> None:
        self._appointment(event, "NO_SHOW", "recorded_at")

    @handle_event("booking", events.AppointmentCheckedIn)
    def on_appointment_checked_in(self, event: dict) -> None:
        self._appointment(event, "CHECKED_IN", "checked_in_at")

    @handle_event("workorder", events.RepairOrderOpened)
    def on_repair_order_opened(self, event: dict) -> None:
        d = event["data"]
        at = timestamp(d["opened_at"])
        store = self.projection
        customer_id = store.resolve_customer(d["customer_id"], at)
        store.touch_vehicle(d["vin"], at, customer_id=customer_id, plate=d.get("plate"),
                            model=d.get("model"))
        store.record_visit(event["dealercode"], d["repair_order_id"], {
            "vin": d["vin"], "customer_id": customer_id, "opened_at": at,
            "mileage_in_km": d["mileage_km"]})

    @handle_event("workorder", events.VehicleDelivered)
    def on_vehicle_delivered(self, event: dict) -> None:
        d = event["data"]
        dealer = event["dealercode"]
        at = timestamp(d["delivered_at"])
        store = self.projection
        customer_id = store.resolve_customer(d["customer_id"], at)
        store.touch_vehicle(d["vin"], at, customer_id=customer_id)
        store.record_visit(dealer, d["repair_order_id"], {
            "vin": d["vin"], "customer_id": customer_id, "delivered_at": at,
            "mileage_out_km": d["mileage_km"], "grand_total": Decimal(d["grand_total"]),
            "labour_total": Decimal(d["labour_total"]),
            "parts_total": Decimal(d["parts_total"]), "currency": d["currency"]})
        survey_id = surveys.survey_id_for(dealer, d["repair_order_id"])
        if not store.rows(m.surveys, m.surveys.c.id == survey_id):
            self.db.execute(m.surveys.insert().values(
                id=survey_id, dealer_code=dealer, repair_order_id=d["repair_order_id"],
                customer_id=customer_id, vin=d["vin"], delivered_at=at,
                due_at=surveys.due_at(at, self.crm.survey_delay_hours)))

    @handle_event("workorder", events.QuoteApproved)
    def on_quote_approved(self, event: dict) -> None:
        d = event["data"]
        if not d.get("declined_lines"):
            return
        at = timestamp(d["signed_at"])
        store = self.projection
        customer_id = store.resolve_customer(d["customer_id"], at)
        store.touch_vehicle(d["vin"], at, customer_id=customer_id)
        for line in d["declined_lines"]:
            store.record_declined(event["dealercode"], d["repair_order_id"], line,
                                  quote_id=d["quote_id"], vin=d["vin"],
                                  customer_id=customer_id, declined_at=at)

    # -- the call centre -------------------------------------------------------------------

    @http("GET", "/customers", roles=READERS | DEALER_READERS, query=CustomerSearchQuerySchema,
          response=CustomerListSchema,
          summary="Find customers by phone, name, plate or VIN (all that are given must match); "
                  "dealer staff find only customers their dealer has served")
    def search_customers(self, request: Request) -> Response:
        query = load_query(request, CustomerSearchQuerySchema())
        identity = identity_of(request)
        full_phone = identity.role is Role.INVITATION_AGENT
        dealer = _dealer_of(identity)
        vin = query["vin"].upper() if query.get("vin") else None
        plate = normal_plate(query["plate"]) if query.get("plate") else None
        store = self.store
        found = []
        for customer_id in store.search(**query):
            customer = store.customer(customer_id)
            vehicles = store.rows(m.vehicles, m.vehicles.c.customer_id == customer_id,
                                  order=m.vehicles.c.vin)
            visits = store.rows(m.visits, m.visits.c.customer_id == customer_id)
            if dealer is not None:
                seen = self._records(store, customer_id, dealer)
                if seen is None:
                    continue
                vins = _vins_of(seen)
                vehicles = [v for v in vehicles if v.vin in vins]
                visits = seen["visits"]
                # A car the dealer never saw must not lead them to its owner.
                if (vin or plate) and not any((not vin or v.vin == vin) and
                                              (not plate or v.plate == plate)
                                              for v in vehicles):
                    continue
            found.append({**contact(customer, self.crm.vault, full_phone=full_phone),
                          "vehicles": [vehicle_view(v, [x for x in visits if x.vin == v.vin])
                                       for v in vehicles]})
        return json_response({"customers": found})

    def _records(self, store: Store, customer_id: str, dealer: str | None
                 ) -> dict[str, list[sa.Row]] | None:
        """The customer's dealer-bound records, newest first; with `dealer`, only that
        dealer's, and None when that dealer has never dealt with the customer."""
        tables = {"visits": (m.visits, m.visits.c.opened_at.desc()),
                  "declined": (m.declined_lines, m.declined_lines.c.declined_at.desc()),
                  "appointments": (m.appointments, m.appointments.c.slot_start.desc()),
                  "reminders": (m.reminders, m.reminders.c.due_on.desc()),
                  "surveys": (m.surveys, m.surveys.c.delivered_at.desc()),
                  "complaints": (m.complaints, m.complaints.c.opened_at.desc())}
        records = {}
        for name, (table, order) in tables.items():
            where = [table.c.customer_id == customer_id]
            if dealer is not None:
                where.append(table.c.dealer_code == dealer)
            records[name] = store.rows(table, *where, order=order)
        if dealer is not None and not any(records.values()):
            return None
        return records

    @http("GET", "/customers/<string:customer_id>", roles=READERS | DEALER_READERS,
          response=Customer360Schema,
          summary="The customer 360: vehicles, visits at every dealer, declined work, "
                  "appointments, reminders, surveys, complaints, consents (dealer staff: "
                  "as seen at their own dealer)")
    def get_customer(self, request: Request, customer_id: str) -> Response:
        identity = identity_of(request)
        dealer = _dealer_of(identity)
        store = self.store
        customer = store.customer(customer_id)
        if customer is None:
            # A site's customer id works too: the call centre may have it from a booking.
            alias_of = store.customer_of_alias(customer_id)
            customer = store.customer(alias_of) if alias_of else None
        records = self._records(store, customer.id, dealer) if customer is not None else None
        if records is None:
            # A dealer that never served this person learns nothing of them (PIPL).
            raise NotFound(f"no customer {customer_id}")
        cid = customer.id
        vehicles = store.rows(m.vehicles, m.vehicles.c.customer_id == cid,
                              order=m.vehicles.c.vin)
        if dealer is not None:
            vins = _vins_of(records)
            vehicles = [v for v in vehicles if v.vin in vins]
        view = customer_360(
            customer, self.crm.vault, full_phone=identity.role is Role.INVITATION_AGENT,
            vehicles=vehicles, **records,
            consents=store.rows(m.consents, m.consents.c.customer_id == cid,
                                order=m.consents.c.purpose))
        return json_response(view)

    @http("PUT", "/customers/<string:customer_id>/consents", roles=CALL_CENTRE,
          request=ConsentsRequestSchema, response=ConsentsViewSchema,
          summary="Record what the customer allows, per purpose (SERVICE, MARKETING) and channel")
    def put_consents(self, request: Request, customer_id: str) -> Response:
        body = load_json(request, ConsentsRequestSchema())
        store = self.projection  # consent changes from notify's events take turns with this
        if store.customer(customer_id) is None:
            # A site's customer id works too, as for the 360.
            customer_id = store.customer_of_alias(customer_id) or customer_id
            if store.customer(customer_id) is None:
                raise NotFound(f"no customer {customer_id}")
        by, now = identity_of(request).subject, _now()
        changes: dict[tuple[str, bool], list[str]] = {}
        for consent in body["consents"]:
            changes.setdefault((consent["purpose"], consent["granted"]), []).append(
                consent["channel"])
        for (purpose, granted), channels in changes.items():
            self._record_consent(store, customer_id, purpose, channels, granted, now,
                                 via="CALL_CENTRE", by=by)
        self.db.commit()
        rows = store.rows(m.consents, m.consents.c.customer_id == customer_id,
                          order=m.consents.c.purpose)
        return json_response({"customer_id": customer_id, "consents": [
            {"purpose": r.purpose, "channel": r.channel, "granted": r.granted} for r in rows]})

    def _record_consent(self, store: Store, customer_id: str, purpose: str,
                        channels: list[str], granted: bool, at: datetime, *, via: str,
                        by: str) -> None:
        """Record a consent change and tell notify (and anyone else) what changed."""
        changed = store.record_consent(customer_id, purpose, channels, granted, at, by)
        if not changed:
            return  # stale or repeated: nothing to announce
        data: dict[str, Any] = {"customer_id": customer_id, "purpose": purpose,
                                "channels": changed, "granted": granted, "via": via,
                                "changed_at": at.isoformat()}
        aliases = store.aliases_of(customer_id)
        if aliases:
            data["aliases"] = aliases[:50]
        self.outbox.emit(events.ConsentChanged, data, subject=customer_id,
                         correlation_id=customer_id)

    @handle_event("notify", events.ConsentExpressed)
    def on_consent_expressed(self, event: dict) -> None:
        """The owner said 退订 (or changed their preferences) at notify: crm, which owns
        consent, records it, so the next reminder run does not choose them."""
        d = event["data"]
        at = timestamp(d["expressed_at"])
        store = self.projection
        # notify knows the owner by a site's customer id; the booking may not be here yet.
        customer_id = (store.customer_of_alias(d["customer_id"])
                       or store.resolve_customer(d["customer_id"], at))
        self._record_consent(store, customer_id, d["purpose"], d["channels"], d["granted"],
                             at, via=d["via"], by=f"notify:{d['via']}")

    @http("PUT", "/customers/<string:customer_id>/identity", roles=CALL_CENTRE,
          request=ProfileRequestSchema, status=204,
          summary="Record the customer's resident ID number (stored encrypted)")
    def put_identity(self, request: Request, customer_id: str) -> Response:
        body = load_json(request, ProfileRequestSchema())
        vault = self.crm.vault
        id_number = body["id_number"].upper()
        result = self.db.execute(m.customers.update().where(m.customers.c.id == customer_id)
                                 .values(id_number_enc=vault.encrypt(id_number),
                                         id_number_index=vault.id_number_index(id_number)))
        if not result.rowcount:
            raise NotFound(f"no customer {customer_id}")
        self.db.commit()
        return Response(status=204)

    @http("PUT", "/vehicles/<string:vin>/dates", roles=CALL_CENTRE, request=VehicleDatesSchema,
          response=VehicleViewSchema,
          summary="Set the vehicle's insurance expiry and annual-inspection due dates")
    def put_vehicle_dates(self, request: Request, vin: str) -> Response:
        body = load_json(request, VehicleDatesSchema())
        store = self.store
        if not store.set_vehicle_dates(vin, body):
            raise NotFound(f"no vehicle {vin}")
        self.db.commit()
        vehicle = store.rows(m.vehicles, m.vehicles.c.vin == vin)[0]
        return json_response(vehicle_view(vehicle, store.rows(m.visits, m.visits.c.vin == vin)))

    # -- reminders -------------------------------------------------------------------------

    @http("POST", "/campaigns", roles=OPERATIONS, request=CampaignRequestSchema,
          response=CampaignSchema, status=201,
          summary="A recall or service campaign, by VIN list and/or model and model years; "
                  "published to the dealer sites (RecallCampaignPublished)")
    def post_campaign(self, request: Request) -> Response:
        body = load_json(request, CampaignRequestSchema())
        if self.store.rows(m.campaigns, m.campaigns.c.code == body["code"]):
            raise Conflict(f"campaign {body['code']} exists", code=body["code"])
        vins = sorted(set(body.pop("vins")))
        now = _now()
        self.db.execute(m.campaigns.insert().values(
            **body, created_at=now, created_by=identity_of(request).subject))
        if vins:
            self.db.execute(m.campaign_vins.insert(),
                            [{"campaign_code": body["code"], "vin": v} for v in vins])
        # The sites' reception learns of the campaign in the same transaction that stores it.
        for data in campaigns.published_data(body, vins, now):
            self.outbox.emit(events.RecallCampaignPublished, data, subject=body["code"],
                             correlation_id=body["code"])
        self.db.commit()
        return json_response({**body, "starts_on": body["starts_on"].isoformat(),
                              "vins": len(vins)}, status=201)

    @http("PUT", "/maintenance-schedules/<string:model>", roles=OPERATIONS,
          request=ScheduleSchema, response=ScheduleViewSchema,
          summary="A model's service schedule: first at N km or M months, then every ...")
    def put_schedule(self, request: Request, model: str) -> Response:
        body = load_json(request, ScheduleSchema())
        self.db.execute(m.maintenance_schedules.delete()
                        .where(m.maintenance_schedules.c.model == model))
        self.db.execute(m.maintenance_schedules.insert().values(
            model=model, **body, updated_at=_now(), updated_by=identity_of(request).subject))
        self.db.commit()
        return json_response({"model": model, **body})

    @http("POST", "/reminder-runs", roles=OPERATIONS, request=RunRequestSchema,
          response=RunResultSchema,
          summary="The daily run: raise every reminder due, one ReminderDue event each")
    def post_reminder_run(self, request: Request) -> Response:
        run_on: date = load_json(request, RunRequestSchema())["date"]
        store, options = self.store, self.crm
        run_start = datetime.combine(run_on, time(), tzinfo=UTC)
        campaigns = [rules.Campaign(code=row.code, starts_on=row.starts_on,
                                    vins=frozenset(vins), model=row.model,
                                    year_from=row.year_from, year_to=row.year_to)
                     for row, vins in store.campaigns(run_on)]
        schedules = {row.model: rules.MaintenanceSchedule(
            row.first_km, row.first_months, row.interval_km, row.interval_months)
            for row in store.rows(m.maintenance_schedules)}
        total = rules.RunResult()
        now, after = _now(), ""
        while True:
            page = store.vehicle_facts(run_start, after, RUN_PAGE)
            if not page:
                break
            after = page[-1]["vehicle"].vin
            page_facts = [_facts(item) for item in page]
            schedule_of = {f.vin: schedules.get(f.model or "", rules.DEFAULT_SCHEDULE)
                           for f in page_facts}
            candidates = [p.reminder_id for f in page_facts for p in rules.due_for_vehicle(
                f, run_on, campaigns, schedule_of[f.vin], default_km_per_day=options.km_per_day)]
            already = store.raised_among(candidates)  # one query per page, not per vehicle
            for facts in page_facts:
                result = rules.run_reminders(
                    [facts], run_on, campaigns, already, schedule=schedule_of[facts.vin],
                    default_km_per_day=options.km_per_day)
                for plan in result.raised:
                    self._raise(plan, run_on, now)
                total.raised.extend(result.raised)
                for why, count in result.suppressed.items():
                    total.suppressed[why] = total.suppressed.get(why, 0) + count
            # A page at a time: a run over millions of cars is not one transaction, and a run
            # cut short is simply run again (reminder ids make that harmless).
            self.db.commit()
        return json_response({"date": run_on.isoformat(), "raised": len(total.raised),
                              "suppressed": total.suppressed})

    def _raise(self, plan: rules.ReminderPlan, run_on: date, now: datetime) -> None:
        self.db.execute(m.reminders.insert().values(
            id=plan.reminder_id, reason=plan.reason, customer_id=plan.customer_id,
            vin=plan.vin, dealer_code=plan.dealer_code, due_on=plan.due_on,
            due_mileage_km=plan.due_mileage_km, campaign_code=plan.campaign_code,
            source_repair_order_id=plan.source_repair_order_id, raised_on=run_on,
            status="RAISED"))
        data = {"reminder_id": plan.reminder_id, "reason": plan.reason,
                "customer_id": plan.customer_id, "vin": plan.vin,
                "dealer_code": plan.dealer_code, "due_on": plan.due_on.isoformat(),
                "raised_at": now.isoformat()}
        for name in ("due_mileage_km", "campaign_code", "source_repair_order_id"):
            if getattr(plan, name) is not None:
                data[name] = getattr(plan, name)
        self.outbox.emit(events.ReminderDue, data, subject=plan.reminder_id,
                         correlation_id=plan.source_repair_order_id or plan.reminder_id,
                         dealer_code=plan.dealer_code)

    @http("GET", "/due-list", roles=READERS | DEALER_READERS, query=DueListQuerySchema,
          response=DueListSchema,
          summary="A dealer's reminders due by a date, not yet turned into a booking "
                  "(dealer staff: their own dealer only)")
    def get_due_list(self, request: Request) -> Response:
        query = load_query(request, DueListQuerySchema())
        own_dealer_only(identity_of(request), query["dealer"])
        r = m.reminders.c
        where = [r.dealer_code == query["dealer"], r.due_on <= query["date"],
                 r.status == "RAISED"]
        if query.get("reason"):
            where.append(r.reason == query["reason"])
        rows = self.db.execute(
            sa.select(m.reminders, m.vehicles.c.plate, m.vehicles.c.model)
            .join(m.vehicles, m.vehicles.c.vin == r.vin, isouter=True)
            .where(*where).order_by(r.due_on, r.id).limit(1000)).all()
        return json_response({"dealer": query["dealer"], "date": query["date"].isoformat(),
                              "reminders": [_reminder(row) for row in rows]})

    # -- follow-up surveys and complaints --------------------------------------------------

    @http("POST", "/survey-runs", roles=OPERATIONS, request=SurveyRunRequestSchema,
          body_optional=True, response=SurveyRunResultSchema,
          summary="Request every survey due by `at` (default now): one SurveyRequested each")
    def post_survey_run(self, request: Request) -> Response:
        at = load_json(request, SurveyRunRequestSchema(), optional=True)["at"] or _now()
        requested = self._request_surveys(at.astimezone(UTC))
        self.db.commit()
        return json_response({"requested": requested})

    @timer(interval=SURVEY_POLL_SECONDS)
    def request_due_surveys(self) -> None:
        """The same as POST /survey-runs, every few minutes, so no scheduler is needed."""
        if self._request_surveys(_now()):
            self.db.commit()

    def _request_surveys(self, at: datetime) -> int:
        s = m.surveys.c
        due = self.db.execute(
            sa.select(m.surveys).where(s.requested_at.is_(None), s.due_at <= at)
            .order_by(s.due_at).limit(SURVEY_BATCH)
            .with_for_update(skip_locked=True)).all()
        now = _now()
        for survey in due:
            data = {"survey_id": survey.id, "repair_order_id": survey.repair_order_id,
                    "customer_id": survey.customer_id, "dealer_code": survey.dealer_code,
                    "delivered_at": aware(survey.delivered_at).isoformat(),
                    "link_token": surveys.link_token(self.crm.survey_secret, survey.id),
                    "requested_at": now.isoformat()}
            if survey.vin:
                data["vin"] = survey.vin
            self.outbox.emit(events.SurveyRequested, data, subject=survey.id,
                             correlation_id=survey.repair_order_id,
                             dealer_code=survey.dealer_code)
            self.db.execute(m.surveys.update().where(s.id == survey.id).values(requested_at=now))
        return len(due)

    @http("POST", "/surveys/<string:token>", roles=PUBLIC, request=SurveyAnswerSchema,
          response=SurveyAnsweredSchema, status=201, statuses=(404, 409),
          summary="The customer answers the follow-up survey through the signed link")
    def answer_survey(self, request: Request, token: str) -> Response:
        survey_id = surveys.survey_of_token(self.crm.survey_secret, token)
        if survey_id is None:
            raise NotFound("no such survey")  # a forged link learns nothing
        body = load_json(request, SurveyAnswerSchema())
        survey = self.db.execute(sa.select(m.surveys).where(m.surveys.c.id == survey_id)
                                 .with_for_update()).first()
        if survey is None:
            raise NotFound("no such survey")
        if survey.answered_at is not None:
            raise Conflict("this survey has been answered", survey_id=survey_id)
        now = _now()
        self.db.execute(m.surveys.update().where(m.surveys.c.id == survey_id).values(
            answered_at=now, score=body["score"], comment=body.get("comment"),
            channel=body["channel"]))
        data = {"survey_id": survey_id, "repair_order_id": survey.repair_order_id,
                "customer_id": survey.customer_id, "score": body["score"],
                "channel": body["channel"], "answered_at": now.isoformat()}
        if body.get("comment"):
            data["comment"] = body["comment"]
        self.outbox.emit(events.SurveyAnswered, data, subject=survey_id,
                         correlation_id=survey.repair_order_id, dealer_code=survey.dealer_code)
        complaint = surveys.complaint_for(survey_id, survey.dealer_code, body["score"],
                                          now.date())
        if complaint:
            self.db.execute(m.complaints.insert().values(
                id=complaint.complaint_id, survey_id=survey_id, customer_id=survey.customer_id,
                dealer_code=survey.dealer_code, repair_order_id=survey.repair_order_id,
                score=body["score"], comment=body.get("comment"), owner=complaint.owner,
                due_on=complaint.due_on, status="OPEN", opened_at=now))
        self.db.commit()
        return json_response({"survey_id": survey_id, "score": body["score"],
                              "complaint_id": complaint.complaint_id if complaint else None},
                             status=201)

    @http("GET", "/complaints", roles=READERS | COMPLAINT_HANDLERS, query=ComplaintListQuerySchema,
          response=ComplaintListSchema,
          summary="Complaints, by dealer and status, oldest due first (a dealer manager: "
                  "their own dealer only)")
    def list_complaints(self, request: Request) -> Response:
        query = load_query(request, ComplaintListQuerySchema())
        own_dealer_only(identity_of(request), query.get("dealer"))
        c = m.complaints.c
        where = []
        if query.get("dealer"):
            where.append(c.dealer_code == query["dealer"])
        if query.get("status"):
            where.append(c.status == query["status"])
        rows = self.db.execute(sa.select(m.complaints).where(*where)
                               .order_by(c.due_on, c.id).limit(1000)).all()
        return json_response({"complaints": [complaint_view(r) for r in rows]})

    @http("POST", "/complaints/<string:complaint_id>/close",
          roles=CALL_CENTRE | COMPLAINT_HANDLERS, request=ComplaintCloseSchema,
          response=ComplaintSchema,
          summary="Close a complaint with what was done (a dealer manager: their own dealer's)")
    def close_complaint(self, request: Request, complaint_id: str) -> Response:
        body = load_json(request, ComplaintCloseSchema())
        c = m.complaints.c
        row = self.db.execute(sa.select(m.complaints).where(c.id == complaint_id)
                              .with_for_update()).first()
        if row is None:
            raise NotFound(f"no complaint {complaint_id}")
        own_dealer_only(identity_of(request), row.dealer_code)
        if row.status == "CLOSED":
            raise Conflict("the complaint is closed", complaint_id=complaint_id)
        self.db.execute(m.complaints.update().where(c.id == complaint_id).values(
            status="CLOSED", closed_at=_now(), resolution=body["resolution"]))
        self.db.commit()
        return json_response(complaint_view(
            self.db.execute(sa.select(m.complaints).where(c.id == complaint_id)).one()))

    # -- leads -----------------------------------------------------------------------------

    @http("POST", "/leads", roles=CALL_CENTRE, request=LeadRequestSchema, response=LeadSchema,
          status=201, summary="An online lead (app, WeChat, vertical media, short video, web)")
    def post_lead(self, request: Request) -> Response:
        body = load_json(request, LeadRequestSchema())
        vault = self.crm.vault
        received = (body["received_at"] or _now()).astimezone(UTC)
        phone_index = vault.phone_index(body["phone"])
        known = self.db.scalar(sa.select(m.customers.c.id)
                               .where(m.customers.c.phone_index == phone_index))
        lead_id = "LEAD-" + uuid.uuid4().hex[:24]
        self.db.execute(m.leads.insert().values(
            id=lead_id, channel=body["channel"], dealer_code=body["dealer_code"],
            name_enc=vault.encrypt(body["name"]), phone_enc=vault.encrypt(body["phone"]),
            phone_index=phone_index, customer_id=known, interest=body.get("interest"),
            status=leads.NEW, received_at=received,
            first_contact_due_at=leads.first_contact_due(received, self.crm.lead_sla_minutes)))
        self.db.commit()
        return json_response(self._lead(request, lead_id), status=201)

    @http("GET", "/leads", roles=READERS, query=LeadListQuerySchema, response=LeadListSchema,
          summary="Leads by dealer and status; `overdue=true`: new leads past their SLA")
    def list_leads(self, request: Request) -> Response:
        query = load_query(request, LeadListQuerySchema())
        c = m.leads.c
        where = []
        if query.get("dealer"):
            where.append(c.dealer_code == query["dealer"])
        if query.get("status"):
            where.append(c.status == query["status"])
        if query["overdue"]:
            where += [c.status == leads.NEW, c.first_contact_due_at < _now()]
        rows = self.db.execute(sa.select(m.leads).where(*where)
                               .order_by(c.first_contact_due_at, c.id).limit(1000)).all()
        return json_response({"leads": [self._lead_view(request, r) for r in rows]})

    @http("POST", "/leads/<string:lead_id>/assign", roles=CALL_CENTRE, request=LeadAssignSchema,
          response=LeadSchema, summary="Give the lead to an invitation agent")
    def assign_lead(self, request: Request, lead_id: str) -> Response:
        body = load_json(request, LeadAssignSchema())
        result = self.db.execute(m.leads.update().where(m.leads.c.id == lead_id)
                                 .values(assigned_to=body["agent"]))
        if not result.rowcount:
            raise NotFound(f"no lead {lead_id}")
        self.db.commit()
        return json_response(self._lead(request, lead_id))

    @http("POST", "/leads/<string:lead_id>/contacts", roles=CALL_CENTRE,
          request=LeadContactSchema, response=LeadSchema, status=201,
          summary="Record a call to the lead and its outcome (the first one decides the SLA)")
    def contact_lead(self, request: Request, lead_id: str) -> Response:
        body = load_json(request, LeadContactSchema())
        row = self.db.execute(sa.select(m.leads).where(m.leads.c.id == lead_id)
                              .with_for_update()).first()
        if row is None:
            raise NotFound(f"no lead {lead_id}")
        result = leads.record_contact(row.status, row.first_contacted_at, body["outcome"])
        agent, now = identity_of(request).subject, _now()
        self.db.execute(m.lead_contacts.insert().values(
            lead_id=lead_id, agent=agent, outcome=body["outcome"], note=body.get("note"),
            contacted_at=now))
        changes: dict[str, Any] = {"status": result.status}
        if result.first_contact:
            changes["first_contacted_at"] = now
        if row.assigned_to is None:
            changes["assigned_to"] = agent
        self.db.execute(m.leads.update().where(m.leads.c.id == lead_id).values(**changes))
        self.db.commit()
        return json_response(self._lead(request, lead_id), status=201)

    @http("GET", "/lead-funnel", roles=READERS, query=LeadFunnelQuerySchema,
          response=LeadFunnelSchema,
          summary="Leads received in a period: SLA kept, lead-to-booking and to-arrival rates")
    def lead_funnel(self, request: Request) -> Response:
        query = load_query(request, LeadFunnelQuerySchema())
        c = m.leads.c
        start = datetime.combine(query["start"], time(), tzinfo=UTC)
        end = datetime.combine(query["end"], time(), tzinfo=UTC) + timedelta(days=1)
        where = [c.received_at >= start, c.received_at < end]
        if query.get("dealer"):
            where.append(c.dealer_code == query["dealer"])
        rows = self.db.execute(sa.select(c.status, c.first_contact_due_at, c.first_contacted_at)
                               .where(*where)).all()
        facts = [leads.LeadFacts(r.status, aware(r.first_contact_due_at),
                                 aware(r.first_contacted_at) if r.first_contacted_at else None)
                 for r in rows]
        return json_response(leads.funnel(facts, _now()))

    def _lead(self, request: Request, lead_id: str) -> dict[str, Any]:
        row = self.db.execute(sa.select(m.leads).where(m.leads.c.id == lead_id)).one()
        return self._lead_view(request, row)

    def _lead_view(self, request: Request, row: sa.Row) -> dict[str, Any]:
        return lead_view(row, self.crm.vault, _now(),
                         full_phone=identity_of(request).role is Role.INVITATION_AGENT)


def _vins_of(records: dict[str, list[sa.Row]]) -> set[str]:
    """The vehicles named in a customer's records (an appointment may name none)."""
    return {row.vin for rows in records.values() for row in rows
            if getattr(row, "vin", None)}


def _facts(item: dict[str, Any]) -> rules.VehicleFacts:
    vehicle = item["vehicle"]
    visits = [rules.Visit(on=(v.delivered_at or v.opened_at).date(),
                          mileage_km=v.mileage_out_km if v.mileage_out_km is not None
                          else v.mileage_in_km, dealer_code=v.dealer_code)
              for v in item["visits"] if (v.delivered_at or v.opened_at)]
    latest = max(visits, key=lambda v: v.on, default=None)
    return rules.VehicleFacts(
        vin=vehicle.vin, customer_id=vehicle.customer_id, model=vehicle.model,
        first_seen_on=vehicle.first_seen_on, visits=visits,
        insurance_expires_on=vehicle.insurance_expires_on,
        inspection_due_on=vehicle.inspection_due_on,
        declined=[rules.DeclinedLine(d.repair_order_id, d.line_id, d.dealer_code,
                                     d.declined_at.date()) for d in item["declined"]],
        consents=rules.Consents(dict(item["consents"])),
        has_open_appointment=item["booked"],
        last_dealer_code=latest.dealer_code if latest else None)


def _reminder(row: sa.Row) -> dict[str, Any]:
    return {"reminder_id": row.id, "reason": row.reason, "customer_id": row.customer_id,
            "vin": row.vin, "plate": row.plate, "model": row.model,
            "due_on": row.due_on.isoformat(), "due_mileage_km": row.due_mileage_km,
            "campaign_code": row.campaign_code,
            "source_repair_order_id": row.source_repair_order_id,
            "raised_on": row.raised_on.isoformat()}


