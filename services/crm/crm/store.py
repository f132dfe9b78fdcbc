"""crm's reads and writes on its own tables: the projections of the sites' events, the
queries behind the call-centre screens, the reminder run, surveys, complaints and leads. At
the end, crm's unit of work, which carries these stores.

Events from hundreds of sites arrive duplicated (the inbox skips those) and out of order, so
every projection here gives the same rows whatever the order: a field written by one kind of
event only is simply filled in; a field several events write (appointment status, a
vehicle's plate and owner) is taken from the newest one (per-aggregate sequence, or the
event's own business time), and first-seen dates are minimums.

Plates and VINs arrive here in their stored form (`contracts.plate.normal_plate`, upper-case
VINs): the service layer normalises what is stored and what is searched alike.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chassis.unit_of_work import Emits, UnitOfWork
from contracts.payloads import consent_supersedes
from crm import models as m
from crm.domain import leads
from crm.domain import reminders as rules
from crm.domain.leads import LeadFacts
from crm.domain.times import aware
from crm.privacy import Vault

OPEN_APPOINTMENT = ("SCHEDULED", "CONFIRMED")
PROJECTION_LOCK = 0x63726D_0001  # "crm" + 1: the key of the projection writers' lock

# A customer's dealer-bound records, newest first (the names of crm.domain.customers.RECORDS).
_RECORDS: dict[str, tuple[sa.Table, Any]] = {
    "visits": (m.visits, m.visits.c.opened_at.desc()),
    "declined": (m.declined_lines, m.declined_lines.c.declined_at.desc()),
    "appointments": (m.appointments, m.appointments.c.slot_start.desc()),
    "reminders": (m.reminders, m.reminders.c.due_on.desc()),
    "surveys": (m.surveys, m.surveys.c.delivered_at.desc()),
    "complaints": (m.complaints, m.complaints.c.opened_at.desc()),
}
LIST_LIMIT = 1000  # rows a list screen shows

# Statements every site event runs (resolving its customer), built once.
_CUSTOMER_OF_ALIAS = sa.select(m.customer_aliases.c.customer_id).where(
    m.customer_aliases.c.alias == sa.bindparam("alias"))
_BY_PHONE_LOCKED = sa.select(m.customers.c.id).where(
    m.customers.c.phone_index == sa.bindparam("index")).with_for_update()
_CUSTOMER_EXISTS = sa.select(m.customers.c.id).where(m.customers.c.id == sa.bindparam("id"))


def _rows(session: Session, table: sa.Table, *where: Any, order: Any = None) -> list[sa.Row]:
    query = sa.select(table).where(*where)
    if order is not None:
        query = query.order_by(order)
    return list(session.execute(query).all())


def _dealer_and_status(table: sa.Table, dealer_code: str | None, status: str | None
                       ) -> list[Any]:
    """A list screen's filters: the dealer's rows and those in a status, when given."""
    where = []
    if dealer_code:
        where.append(table.c.dealer_code == dealer_code)
    if status:
        where.append(table.c.status == status)
    return where


class CustomerStore:
    """The customer 360: customers and their site ids, vehicles, visits, declined work,
    appointments and consents; personal fields go in and out through the vault."""

    def __init__(self, session: Session, vault: Vault) -> None:
        self.session = session
        self.vault = vault

    def lock_projection(self) -> None:
        """Apply one batch of site events at a time.

        Each consumer applies a batch of events in one transaction, and events of one
        customer touch the same customer, vehicle and alias rows in whatever order they
        come: two batches in parallel would deadlock. One transaction-level advisory lock
        makes the writers take turns (a batch is up to a hundred events, so they still keep
        up); it also settles two batches racing to create the same customer. SQLite
        (embedded mode) has a single connection and needs no lock.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(PROJECTION_LOCK)))

    # -- customers -------------------------------------------------------------------------

    def resolve_customer(self, alias: str, seen_at: datetime, *, phone: str | None = None,
                         name: str | None = None) -> str:
        """crm's customer behind a site's customer id; matched across dealers by phone."""
        s = self.session
        by_alias = self.customer_of_alias(alias)
        by_phone = None
        if phone:
            by_phone = s.scalar(_BY_PHONE_LOCKED, {"index": self.vault.phone_index(phone)})
        if by_phone and by_alias and by_phone != by_alias:
            self._merge(keep=by_phone, gone=by_alias)
        customer_id = by_phone or by_alias
        if customer_id is None:
            taken = s.scalar(_CUSTOMER_EXISTS, {"id": alias})
            customer_id = alias if taken is None else str(uuid.uuid4())
            s.execute(m.customers.insert().values(id=customer_id, first_seen_at=seen_at))
        else:
            s.execute(m.customers.update().where(m.customers.c.id == customer_id,
                                                 m.customers.c.first_seen_at > seen_at)
                      .values(first_seen_at=seen_at))
        if by_alias is None or by_alias != customer_id:
            s.execute(m.customer_aliases.delete().where(m.customer_aliases.c.alias == alias))
            s.execute(m.customer_aliases.insert().values(alias=alias, customer_id=customer_id))
        if phone and name:
            self._set_contact(customer_id, phone, name, seen_at)
        return customer_id

    def _set_contact(self, customer_id: str, phone: str, name: str, as_of: datetime) -> None:
        c = m.customers.c
        self.session.execute(
            m.customers.update()
            .where(c.id == customer_id, sa.or_(c.contact_as_of.is_(None), c.contact_as_of < as_of))
            .values(phone_enc=self.vault.encrypt(phone), phone_index=self.vault.phone_index(phone),
                    name_enc=self.vault.encrypt(name), name_index=self.vault.name_index(name),
                    contact_as_of=as_of))

    def _merge(self, keep: str, gone: str) -> None:
        """Two records turned out to be one person (a walk-in first, a booking with the phone
        later): everything moves to `keep`."""
        s = self.session
        for table in (m.customer_aliases, m.vehicles, m.visits, m.declined_lines,
                      m.appointments, m.reminders, m.surveys, m.complaints, m.leads):
            s.execute(table.update().where(table.c.customer_id == gone)
                      .values(customer_id=keep))
        for row in s.execute(sa.select(m.consents).where(m.consents.c.customer_id == gone)).all():
            # Each purpose and channel keeps the person's latest change, from either record.
            self.record_consent(keep, row.purpose, [row.channel], row.granted,
                                aware(row.recorded_at), row.recorded_by)
        s.execute(m.consents.delete().where(m.consents.c.customer_id == gone))
        s.execute(m.customers.delete().where(m.customers.c.id == gone))

    # -- consents --------------------------------------------------------------------------

    def record_consent(self, customer_id: str, purpose: str, channels: list[str],
                       granted: bool, at: datetime, by: str) -> list[str]:
        """One consent change for some of the customer's channels; the channels whose consent
        it changed. A change older than the one stored, or the same one again, changes nothing;
        a later one saying what is stored only moves its time."""
        s, c = self.session, m.consents.c
        stored = {row.channel: (row.granted, aware(row.recorded_at)) for row in s.execute(
            sa.select(m.consents).where(c.customer_id == customer_id, c.purpose == purpose,
                                        c.channel.in_(channels)).with_for_update())}
        changed = []
        for channel in dict.fromkeys(channels):
            if not consent_supersedes(stored.get(channel), granted, at):
                continue
            key = {"customer_id": customer_id, "purpose": purpose, "channel": channel}
            s.execute(m.consents.delete().where(*[c[k] == v for k, v in key.items()]))
            s.execute(m.consents.insert().values(**key, granted=granted, recorded_at=at,
                                                 recorded_by=by[:64]))
            if channel not in stored or stored[channel][0] != granted:
                changed.append(channel)
        return changed

    def aliases_of(self, customer_id: str) -> list[str]:
        """The sites' ids of the customer, other than crm's own id."""
        a = m.customer_aliases.c
        return sorted(self.session.scalars(sa.select(a.alias).where(
            a.customer_id == customer_id, a.alias != customer_id)))

    # -- vehicles --------------------------------------------------------------------------

    def touch_vehicle(self, vin: str, at: datetime, *, customer_id: str | None = None,
                      plate: str | None = None, model: str | None = None) -> None:
        s, v = self.session, m.vehicles.c
        row = s.execute(sa.select(m.vehicles).where(v.vin == vin).with_for_update()).first()
        if row is None:
            s.execute(m.vehicles.insert().values(
                vin=vin, plate=plate, model=model, customer_id=customer_id,
                described_as_of=at if (plate or model) else None,
                owner_as_of=at if customer_id else None, first_seen_on=at.date()))
            return
        changes: dict[str, Any] = {}
        if at.date() < row.first_seen_on:
            changes["first_seen_on"] = at.date()
        if (plate or model) and (row.described_as_of is None or at > aware(row.described_as_of)):
            changes.update(described_as_of=at, plate=plate or row.plate, model=model or row.model)
        if customer_id and (row.owner_as_of is None or at > aware(row.owner_as_of)):
            changes.update(owner_as_of=at, customer_id=customer_id)
        if changes:
            s.execute(m.vehicles.update().where(v.vin == vin).values(**changes))

    def set_vehicle_dates(self, vin: str, changes: dict[str, date | None]) -> bool:
        result = self.session.execute(m.vehicles.update().where(m.vehicles.c.vin == vin)
                                      .values(**changes))
        return bool(result.rowcount)

    # -- visits, declined work, appointments -----------------------------------------------

    def _upsert(self, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
        """Fill in the given columns of one row, creating it when it is the first event."""
        where = [table.c[k] == v for k, v in key.items()]
        found = self.session.execute(sa.select(*[table.c[k] for k in key]).where(*where)
                                     .with_for_update()).first()
        if found is None:
            self.session.execute(table.insert().values(**key, **values))
        elif values:
            self.session.execute(table.update().where(*where).values(**values))

    def record_visit(self, dealer_code: str, repair_order_id: str, values: dict[str, Any]
                     ) -> None:
        self._upsert(m.visits, {"dealer_code": dealer_code, "repair_order_id": repair_order_id},
                     values)

    def record_declined(self, dealer_code: str, repair_order_id: str, line: dict[str, Any],
                        **values: Any) -> None:
        key = {"dealer_code": dealer_code, "repair_order_id": repair_order_id,
               "line_id": line["line_id"]}
        exists = self.session.scalar(sa.select(sa.func.count()).select_from(m.declined_lines)
                                     .where(*[m.declined_lines.c[k] == v for k, v in key.items()]))
        if not exists:
            self.session.execute(m.declined_lines.insert().values(
                **key, kind=line["kind"], description=line["description"],
                operation_code=line.get("operation_code"), part_number=line.get("part_number"),
                amount=Decimal(line["amount"]), **values))

    def record_appointment(self, dealer_code: str, appointment_id: str, sequence: int,
                           status: str, slot_start: datetime, details: dict[str, Any]) -> None:
        """Details fill in; status and slot follow the newest event of the appointment."""
        a = m.appointments.c
        key = [a.dealer_code == dealer_code, a.appointment_id == appointment_id]
        row = self.session.execute(sa.select(a.status_sequence).where(*key)
                                   .with_for_update()).first()
        if row is None:
            self.session.execute(m.appointments.insert().values(
                dealer_code=dealer_code, appointment_id=appointment_id, status=status,
                slot_start=slot_start, status_sequence=sequence, **details))
            return
        values = dict(details)
        if sequence > row.status_sequence:
            values.update(status=status, slot_start=slot_start, status_sequence=sequence)
        if values:
            self.session.execute(m.appointments.update().where(*key).values(**values))

    # -- search and the 360 view -----------------------------------------------------------

    def search(self, *, phone: str | None = None, name: str | None = None,
               plate: str | None = None, vin: str | None = None, limit: int = 20) -> list[str]:
        """Customers matching all that is given; `plate` and `vin` in their stored form."""
        c, v = m.customers.c, m.vehicles.c
        query = sa.select(c.id).distinct()
        if phone:
            query = query.where(c.phone_index == self.vault.phone_index(phone))
        if name:
            query = query.where(c.name_index == self.vault.name_index(name))
        if plate or vin:
            query = query.join(m.vehicles, v.customer_id == c.id)
            if plate:
                query = query.where(v.plate == plate)
            if vin:
                query = query.where(v.vin == vin)
        return list(self.session.scalars(query.order_by(c.id).limit(limit)))

    def customer(self, customer_id: str) -> sa.Row | None:
        return self.session.execute(sa.select(m.customers)
                                    .where(m.customers.c.id == customer_id)).first()

    def customer_of_alias(self, alias: str) -> str | None:
        return self.session.scalar(_CUSTOMER_OF_ALIAS, {"alias": alias})

    def customer_by_phone(self, phone: str) -> str | None:
        return self.session.scalar(sa.select(m.customers.c.id).where(
            m.customers.c.phone_index == self.vault.phone_index(phone)))

    def set_id_number(self, customer_id: str, id_number: str) -> bool:
        """Store the resident ID number, encrypted and blind-indexed; False: no customer."""
        result = self.session.execute(
            m.customers.update().where(m.customers.c.id == customer_id).values(
                id_number_enc=self.vault.encrypt(id_number),
                id_number_index=self.vault.id_number_index(id_number)))
        return bool(result.rowcount)

    def vehicles_of(self, customer_id: str) -> list[sa.Row]:
        return _rows(self.session, m.vehicles, m.vehicles.c.customer_id == customer_id,
                     order=m.vehicles.c.vin)

    def visits_of(self, customer_id: str) -> list[sa.Row]:
        return _rows(self.session, m.visits, m.visits.c.customer_id == customer_id)

    def vehicle(self, vin: str) -> tuple[sa.Row, list[sa.Row]] | None:
        """A vehicle and its visits."""
        found = _rows(self.session, m.vehicles, m.vehicles.c.vin == vin)
        if not found:
            return None
        return found[0], _rows(self.session, m.visits, m.visits.c.vin == vin)

    def records(self, customer_id: str, dealer: str | None) -> dict[str, list[sa.Row]]:
        """The customer's dealer-bound records (`crm.domain.customers.RECORDS`), newest
        first; with `dealer`, only that dealer's."""
        found = {}
        for name, (table, order) in _RECORDS.items():
            where = [table.c.customer_id == customer_id]
            if dealer is not None:
                where.append(table.c.dealer_code == dealer)
            found[name] = _rows(self.session, table, *where, order=order)
        return found

    def consents_of(self, customer_id: str) -> list[sa.Row]:
        return _rows(self.session, m.consents, m.consents.c.customer_id == customer_id,
                     order=m.consents.c.purpose)


class ReminderStore:
    """Campaigns, service schedules and reminders: what the daily run reads and raises."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- campaigns and schedules -----------------------------------------------------------

    def campaign_exists(self, code: str) -> bool:
        return self.session.scalar(sa.select(sa.func.count()).select_from(m.campaigns)
                                   .where(m.campaigns.c.code == code)) > 0

    def add_campaign(self, campaign: dict[str, Any], vins: list[str], *, at: datetime,
                     by: str) -> None:
        self.session.execute(m.campaigns.insert().values(**campaign, created_at=at,
                                                         created_by=by))
        if vins:
            self.session.execute(m.campaign_vins.insert(),
                                 [{"campaign_code": campaign["code"], "vin": v} for v in vins])

    def put_schedule(self, model: str, schedule: dict[str, int], *, at: datetime, by: str
                     ) -> None:
        self.session.execute(m.maintenance_schedules.delete()
                             .where(m.maintenance_schedules.c.model == model))
        self.session.execute(m.maintenance_schedules.insert().values(
            model=model, **schedule, updated_at=at, updated_by=by))

    def campaigns(self, run_on: date) -> list[rules.Campaign]:
        """The campaigns started by `run_on`, with the VINs each names and those it is done
        on."""
        found = []
        done = m.recall_completions.c
        for row in self.session.execute(sa.select(m.campaigns)
                                        .where(m.campaigns.c.starts_on <= run_on)):
            vins = frozenset(self.session.scalars(
                sa.select(m.campaign_vins.c.vin)
                .where(m.campaign_vins.c.campaign_code == row.code)))
            completed = frozenset(self.session.scalars(
                sa.select(done.vin).where(done.campaign_code == row.code)))
            found.append(_campaign(row, vins=vins, completed=completed))
        return found

    def schedules(self) -> dict[str, rules.MaintenanceSchedule]:
        """The service schedules set per model."""
        return {row.model: rules.MaintenanceSchedule(row.first_km, row.first_months,
                                                     row.interval_km, row.interval_months)
                for row in _rows(self.session, m.maintenance_schedules)}

    # -- the run ---------------------------------------------------------------------------

    def vehicle_facts(self, run_start: datetime, after_vin: str, limit: int
                      ) -> list[rules.VehicleFacts]:
        """One page of vehicles with an owner, in VIN order, with everything the reminder
        rules look at."""
        v = m.vehicles.c
        page = self.session.execute(
            sa.select(m.vehicles).where(v.customer_id.is_not(None), v.vin > after_vin)
            .order_by(v.vin).limit(limit)).all()
        if not page:
            return []
        vins = [row.vin for row in page]
        customer_ids = {row.customer_id for row in page}
        visits: dict[str, list[sa.Row]] = {}
        for row in self.session.execute(sa.select(m.visits).where(m.visits.c.vin.in_(vins))):
            visits.setdefault(row.vin, []).append(row)
        declined: dict[str, list[sa.Row]] = {}
        for row in self.session.execute(sa.select(m.declined_lines)
                                        .where(m.declined_lines.c.vin.in_(vins))):
            declined.setdefault(row.vin, []).append(row)
        consents: dict[str, dict[tuple[str, str], bool]] = {}
        # Only the message purposes choose reminders: a partner:<id> consent (data sharing,
        # channel DATA) says nothing about being contacted.
        for row in self.session.execute(sa.select(m.consents)
                                        .where(m.consents.c.customer_id.in_(customer_ids),
                                               m.consents.c.purpose.in_(rules.PURPOSES))):
            consents.setdefault(row.customer_id, {})[(row.purpose, row.channel)] = row.granted
        a = m.appointments.c
        open_rows = self.session.execute(
            sa.select(a.vin, a.customer_id).where(
                a.status.in_(OPEN_APPOINTMENT), a.slot_start >= run_start,
                sa.or_(a.vin.in_(vins), a.customer_id.in_(customer_ids)))).all()
        booked_vins = {r.vin for r in open_rows if r.vin}
        # A booking without a VIN counts for the customer's cars (plate-only bookings).
        booked_customers = {r.customer_id for r in open_rows if not r.vin}
        return [_facts(row, visits.get(row.vin, []), declined.get(row.vin, []),
                       consents.get(row.customer_id, {}),
                       booked=row.vin in booked_vins or row.customer_id in booked_customers)
                for row in page]

    def raised_among(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        return set(self.session.scalars(sa.select(m.reminders.c.id)
                                        .where(m.reminders.c.id.in_(ids))))

    def add(self, plan: rules.ReminderPlan, *, raised_on: date) -> None:
        self.session.execute(m.reminders.insert().values(
            id=plan.reminder_id, reason=plan.reason, customer_id=plan.customer_id,
            vin=plan.vin, dealer_code=plan.dealer_code, due_on=plan.due_on,
            due_mileage_km=plan.due_mileage_km, campaign_code=plan.campaign_code,
            source_repair_order_id=plan.source_repair_order_id, raised_on=raised_on,
            status="RAISED"))

    def mark_booked(self, reminder_id: str) -> None:
        self.session.execute(m.reminders.update().where(m.reminders.c.id == reminder_id)
                             .values(status="BOOKED"))

    def due_list(self, dealer_code: str, by: date, reason: str | None) -> list[sa.Row]:
        """The dealer's raised reminders due by `by`, with the car's plate and model."""
        r = m.reminders.c
        where = [r.dealer_code == dealer_code, r.due_on <= by, r.status == "RAISED"]
        if reason:
            where.append(r.reason == reason)
        return list(self.session.execute(
            sa.select(m.reminders, m.vehicles.c.plate, m.vehicles.c.model)
            .join(m.vehicles, m.vehicles.c.vin == r.vin, isouter=True)
            .where(*where).order_by(r.due_on, r.id).limit(LIST_LIMIT)).all())


def _facts(vehicle: sa.Row, visit_rows: list[sa.Row], declined: list[sa.Row],
           consents: dict[tuple[str, str], bool], *, booked: bool) -> rules.VehicleFacts:
    visits = [rules.Visit(on=(v.delivered_at or v.opened_at).date(),
                          mileage_km=v.mileage_out_km if v.mileage_out_km is not None
                          else v.mileage_in_km, dealer_code=v.dealer_code)
              for v in visit_rows if (v.delivered_at or v.opened_at)]
    latest = max(visits, key=lambda v: v.on, default=None)
    return rules.VehicleFacts(
        vin=vehicle.vin, customer_id=vehicle.customer_id, model=vehicle.model,
        first_seen_on=vehicle.first_seen_on, visits=visits,
        insurance_expires_on=vehicle.insurance_expires_on,
        inspection_due_on=vehicle.inspection_due_on,
        declined=[rules.DeclinedLine(d.repair_order_id, d.line_id, d.dealer_code,
                                     d.declined_at.date()) for d in declined],
        consents=rules.Consents(dict(consents)),
        has_open_appointment=booked,
        last_dealer_code=latest.dealer_code if latest else None)


class SurveyStore:
    """Follow-up surveys after delivery and the complaints low scores open."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, survey_id: str, dealer_code: str, repair_order_id: str,
            customer_id: str, vin: str, delivered_at: datetime, due_at: datetime) -> None:
        """The delivery's survey, unless a redelivered event already made it."""
        exists = self.session.scalar(sa.select(sa.func.count()).select_from(m.surveys)
                                     .where(m.surveys.c.id == survey_id))
        if not exists:
            self.session.execute(m.surveys.insert().values(
                id=survey_id, dealer_code=dealer_code, repair_order_id=repair_order_id,
                customer_id=customer_id, vin=vin, delivered_at=delivered_at, due_at=due_at))

    def due(self, at: datetime, limit: int) -> list[sa.Row]:
        """Surveys due by `at` and not yet requested, oldest first; locked, and skipping
        those another run has locked, so two runs never request one twice."""
        s = m.surveys.c
        return list(self.session.execute(
            sa.select(m.surveys).where(s.requested_at.is_(None), s.due_at <= at)
            .order_by(s.due_at).limit(limit).with_for_update(skip_locked=True)).all())

    def mark_requested(self, survey_id: str, at: datetime) -> None:
        self.session.execute(m.surveys.update().where(m.surveys.c.id == survey_id)
                             .values(requested_at=at))

    def get(self, survey_id: str) -> sa.Row | None:
        return self.session.execute(sa.select(m.surveys)
                                    .where(m.surveys.c.id == survey_id)).first()

    def for_answer(self, survey_id: str) -> sa.Row | None:
        """The survey, locked: two answers at once take turns."""
        return self.session.execute(sa.select(m.surveys).where(m.surveys.c.id == survey_id)
                                    .with_for_update()).first()

    def record_answer(self, survey_id: str, *, at: datetime, score: int,
                      comment: str | None, channel: str) -> None:
        self.session.execute(m.surveys.update().where(m.surveys.c.id == survey_id).values(
            answered_at=at, score=score, comment=comment, channel=channel))

    def open_complaint(self, *, complaint_id: str, survey: Any, score: int,
                       comment: str | None, owner: str, due_on: date, at: datetime) -> None:
        self.session.execute(m.complaints.insert().values(
            id=complaint_id, survey_id=survey.id, customer_id=survey.customer_id,
            dealer_code=survey.dealer_code, repair_order_id=survey.repair_order_id,
            score=score, comment=comment, owner=owner, due_on=due_on, status="OPEN",
            opened_at=at))

    def complaints(self, dealer_code: str | None, status: str | None) -> list[sa.Row]:
        c = m.complaints.c
        where = _dealer_and_status(m.complaints, dealer_code, status)
        return list(self.session.execute(sa.select(m.complaints).where(*where)
                                         .order_by(c.due_on, c.id).limit(LIST_LIMIT)).all())

    def complaint(self, complaint_id: str, *, lock: bool = False) -> sa.Row | None:
        query = sa.select(m.complaints).where(m.complaints.c.id == complaint_id)
        return self.session.execute(query.with_for_update() if lock else query).first()

    def close_complaint(self, complaint_id: str, *, at: datetime, resolution: str) -> None:
        self.session.execute(m.complaints.update().where(m.complaints.c.id == complaint_id)
                             .values(status="CLOSED", closed_at=at, resolution=resolution))


class LeadStore:
    """Online leads and the calls made to them; name and phone kept encrypted."""

    def __init__(self, session: Session, vault: Vault) -> None:
        self.session = session
        self.vault = vault

    def add(self, *, lead_id: str, channel: str, dealer_code: str, name: str, phone: str,
            customer_id: str | None, interest: str | None, status: str,
            received_at: datetime, first_contact_due_at: datetime) -> None:
        self.session.execute(m.leads.insert().values(
            id=lead_id, channel=channel, dealer_code=dealer_code,
            name_enc=self.vault.encrypt(name), phone_enc=self.vault.encrypt(phone),
            phone_index=self.vault.phone_index(phone), customer_id=customer_id,
            interest=interest, status=status, received_at=received_at,
            first_contact_due_at=first_contact_due_at))

    def get(self, lead_id: str, *, lock: bool = False) -> sa.Row | None:
        query = sa.select(m.leads).where(m.leads.c.id == lead_id)
        return self.session.execute(query.with_for_update() if lock else query).first()

    def update(self, lead_id: str, **changes: Any) -> bool:
        """Change the lead's columns; False when there is no such lead."""
        result = self.session.execute(m.leads.update().where(m.leads.c.id == lead_id)
                                      .values(**changes))
        return bool(result.rowcount)

    def add_contact(self, lead_id: str, *, agent: str, outcome: str, note: str | None,
                    at: datetime) -> None:
        self.session.execute(m.lead_contacts.insert().values(
            lead_id=lead_id, agent=agent, outcome=outcome, note=note, contacted_at=at))

    def listed(self, *, dealer_code: str | None, status: str | None,
               new_and_due_before: datetime | None) -> list[sa.Row]:
        """Leads by dealer and status, the most urgent first; with `new_and_due_before`,
        only new leads whose first contact was due before then."""
        c = m.leads.c
        where = _dealer_and_status(m.leads, dealer_code, status)
        if new_and_due_before is not None:
            where += [c.status == leads.NEW, c.first_contact_due_at < new_and_due_before]
        return list(self.session.execute(
            sa.select(m.leads).where(*where)
            .order_by(c.first_contact_due_at, c.id).limit(LIST_LIMIT)).all())

    def funnel_facts(self, start: datetime, end: datetime, dealer_code: str | None
                     ) -> list[LeadFacts]:
        """What the funnel counts of every lead received in [start, end)."""
        c = m.leads.c
        where = [c.received_at >= start, c.received_at < end]
        if dealer_code:
            where.append(c.dealer_code == dealer_code)
        rows = self.session.execute(
            sa.select(c.status, c.first_contact_due_at, c.first_contacted_at).where(*where))
        return [LeadFacts(r.status, aware(r.first_contact_due_at),
                          aware(r.first_contacted_at) if r.first_contacted_at else None)
                for r in rows]

    def of_appointment(self, dealer_code: str, appointment_id: str
                       ) -> tuple[str, str, str] | None:
        """The lead an appointment came from: (lead id, the lead's status, the appointment's
        status); None when it quotes no lead or the lead was taken in elsewhere. The lead's
        row is locked until the transaction ends."""
        a = m.appointments.c
        row = self.session.execute(sa.select(a.lead_id, a.status).where(
            a.dealer_code == dealer_code, a.appointment_id == appointment_id)).first()
        if row is None or row.lead_id is None:
            return None
        current = self.session.scalar(sa.select(m.leads.c.status)
                                      .where(m.leads.c.id == row.lead_id).with_for_update())
        return None if current is None else (row.lead_id, current, row.status)


def _campaign(row: Any, **sets: frozenset[str]) -> rules.Campaign:
    return rules.Campaign(code=row.code, starts_on=row.starts_on, model=row.model,
                          year_from=row.year_from, year_to=row.year_to,
                          operation_code=row.operation_code, **sets)


class RecallStore:
    """Which campaigns a delivery may complete, and the completions recorded."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def campaigns_of_operations(self, operations: list[str], vin: str
                                ) -> tuple[list[rules.Campaign], set[str]]:
        """The campaigns whose labour operation is one of these, each with `completed`
        holding the car if it is done on it already, and the codes of those listing the
        car. The VIN lists themselves are not loaded: only whether they name this car."""
        if not operations:
            return [], set()
        c, v, done = m.campaigns.c, m.campaign_vins.c, m.recall_completions.c
        rows = self.session.execute(sa.select(m.campaigns)
                                    .where(c.operation_code.in_(operations))).all()
        codes = [row.code for row in rows]
        if not codes:
            return [], set()
        listed = set(self.session.scalars(sa.select(v.campaign_code).where(
            v.vin == vin, v.campaign_code.in_(codes))))
        completed = set(self.session.scalars(sa.select(done.campaign_code).where(
            done.vin == vin, done.campaign_code.in_(codes))))
        return [_campaign(row, completed=frozenset({vin} if row.code in completed else ()))
                for row in rows], listed

    def record(self, data: dict[str, Any]) -> bool:
        """One completion per campaign and car; False when it was recorded already (the
        same delivery again, or two dealers delivering the work at once)."""
        insert = (postgresql.insert if self.session.get_bind().dialect.name == "postgresql"
                  else sqlite.insert)
        result = self.session.execute(insert(m.recall_completions).values(
            campaign_code=data["campaign_code"], vin=data["vin"],
            dealer_code=data["dealer_code"], repair_order_id=data["repair_order_id"],
            operation_code=data["operation_code"],
            delivered_at=datetime.fromisoformat(data["delivered_at"]),
            completed_at=datetime.fromisoformat(data["completed_at"]),
        ).on_conflict_do_nothing())
        return bool(result.rowcount)


class CrmUnitOfWork(UnitOfWork):
    """One crm transaction: the customer 360, reminders, surveys and leads, and the events
    written with them."""

    def __init__(self, session: Session, events: Emits, *, vault: Vault) -> None:
        super().__init__(session, events)
        self.customers = CustomerStore(session, vault)
        self.reminders = ReminderStore(session)
        self.surveys = SurveyStore(session)
        self.leads = LeadStore(session, vault)
        self.recalls = RecallStore(session)
