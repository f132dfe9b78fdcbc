"""crm's reads and writes on its own tables: the projections of the sites' events and the
queries behind the call-centre screens.

Events from hundreds of sites arrive duplicated (the inbox skips those) and out of order, so
every projection here gives the same rows whatever the order: a field written by one kind of
event only is simply filled in; a field several events write (appointment status, a
vehicle's plate and owner) is taken from the newest one (per-aggregate sequence, or the
event's own business time), and first-seen dates are minimums.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contracts.payloads import consent_supersedes
from crm import leads
from crm import models as m
from crm.privacy import Vault

OPEN_APPOINTMENT = ("SCHEDULED", "CONFIRMED")
PROJECTION_LOCK = 0x63726D_0001  # "crm" + 1: the key of the projection writers' lock


def timestamp(value: str) -> datetime:
    """An event's time, in UTC: SQLite (embedded mode) keeps no offset, so all stored times
    are UTC, and dates derived from them are UTC dates."""
    return datetime.fromisoformat(value).astimezone(UTC)


def aware(value: datetime) -> datetime:
    """A stored time as read back: SQLite returns it without its (UTC) offset."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def normal_plate(plate: str) -> str:
    """Sites store plates without spaces, upper case ('京a 12345' is '京A12345')."""
    return "".join(plate.split()).upper()


class Store:
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
        by_alias = s.scalar(sa.select(m.customer_aliases.c.customer_id)
                            .where(m.customer_aliases.c.alias == alias))
        by_phone = None
        if phone:
            by_phone = s.scalar(sa.select(m.customers.c.id).where(
                m.customers.c.phone_index == self.vault.phone_index(phone)).with_for_update())
        if by_phone and by_alias and by_phone != by_alias:
            self._merge(keep=by_phone, gone=by_alias)
        customer_id = by_phone or by_alias
        if customer_id is None:
            taken = s.scalar(sa.select(m.customers.c.id).where(m.customers.c.id == alias))
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

    def convert_lead(self, dealer_code: str, appointment_id: str) -> None:
        """The lead an appointment came from is booked, or arrived once the customer checked
        in, whichever of the two events came first."""
        a = m.appointments.c
        row = self.session.execute(sa.select(a.lead_id, a.status).where(
            a.dealer_code == dealer_code, a.appointment_id == appointment_id)).first()
        if row is None or row.lead_id is None:
            return
        current = self.session.scalar(sa.select(m.leads.c.status)
                                      .where(m.leads.c.id == row.lead_id).with_for_update())
        if current is None:
            return  # a lead taken in elsewhere; nothing of ours to convert
        status = leads.ARRIVED if row.status == "CHECKED_IN" else leads.after_booking(current)
        self.session.execute(m.leads.update().where(m.leads.c.id == row.lead_id)
                             .values(status=status, appointment_id=appointment_id))

    def mark_reminder_booked(self, reminder_id: str) -> None:
        self.session.execute(m.reminders.update().where(m.reminders.c.id == reminder_id)
                             .values(status="BOOKED"))

    # -- search and the 360 view -----------------------------------------------------------

    def search(self, *, phone: str | None = None, name: str | None = None,
               plate: str | None = None, vin: str | None = None, limit: int = 20) -> list[str]:
        c, v = m.customers.c, m.vehicles.c
        query = sa.select(c.id).distinct()
        if phone:
            query = query.where(c.phone_index == self.vault.phone_index(phone))
        if name:
            query = query.where(c.name_index == self.vault.name_index(name))
        if plate or vin:
            query = query.join(m.vehicles, v.customer_id == c.id)
            if plate:
                query = query.where(v.plate == normal_plate(plate))
            if vin:
                query = query.where(v.vin == vin.upper())
        return list(self.session.scalars(query.order_by(c.id).limit(limit)))

    def customer(self, customer_id: str) -> sa.Row | None:
        return self.session.execute(sa.select(m.customers)
                                    .where(m.customers.c.id == customer_id)).first()

    def customer_of_alias(self, alias: str) -> str | None:
        return self.session.scalar(sa.select(m.customer_aliases.c.customer_id)
                                   .where(m.customer_aliases.c.alias == alias))

    def rows(self, table: sa.Table, *where: Any, order: Any = None) -> list[sa.Row]:
        query = sa.select(table).where(*where)
        if order is not None:
            query = query.order_by(order)
        return list(self.session.execute(query).all())

    # -- the reminder run ------------------------------------------------------------------

    def vehicle_facts(self, run_start: datetime, after_vin: str, limit: int) -> list[dict]:
        """One page of vehicles with an owner, and everything the reminder rules look at."""
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
        for row in self.session.execute(sa.select(m.consents)
                                        .where(m.consents.c.customer_id.in_(customer_ids))):
            consents.setdefault(row.customer_id, {})[(row.purpose, row.channel)] = row.granted
        a = m.appointments.c
        open_rows = self.session.execute(
            sa.select(a.vin, a.customer_id).where(
                a.status.in_(OPEN_APPOINTMENT), a.slot_start >= run_start,
                sa.or_(a.vin.in_(vins), a.customer_id.in_(customer_ids)))).all()
        booked_vins = {r.vin for r in open_rows if r.vin}
        # A booking without a VIN counts for the customer's cars (plate-only bookings).
        booked_customers = {r.customer_id for r in open_rows if not r.vin}
        return [{"vehicle": row, "visits": visits.get(row.vin, []),
                 "declined": declined.get(row.vin, []),
                 "consents": consents.get(row.customer_id, {}),
                 "booked": row.vin in booked_vins or row.customer_id in booked_customers}
                for row in page]

    def raised_among(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        return set(self.session.scalars(sa.select(m.reminders.c.id)
                                        .where(m.reminders.c.id.in_(ids))))

    def campaigns(self, run_on: date) -> list[tuple[sa.Row, set[str]]]:
        found = []
        for row in self.session.execute(sa.select(m.campaigns)
                                        .where(m.campaigns.c.starts_on <= run_on)):
            vins = set(self.session.scalars(
                sa.select(m.campaign_vins.c.vin)
                .where(m.campaign_vins.c.campaign_code == row.code)))
            found.append((row, vins))
        return found
