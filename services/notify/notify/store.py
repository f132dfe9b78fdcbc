"""Reads and writes of notify's tables: a store class per kind of row over the unit of work's
session, and `NotifyUnitOfWork` at the end. Projections merge commutatively (any arrival
order, any number of duplicates gives the same rows); messages are inserted once per dedupe
key. No commits: the framework commits the unit of work."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chassis.unit_of_work import Emits, UnitOfWork
from contracts.payloads import consent_supersedes
from notify import models
from notify.channels import ChannelAdapter
from notify.domain import Channel, Kind, Purpose, Status, dedupe_key
from notify.privacy import ContactCipher

Row = dict[str, Any]


def utc(value: Any) -> Any:
    """Datetimes are written in UTC: SQLite (embedded mode) would drop any other offset."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _utc_all(values: dict[str, Any]) -> dict[str, Any]:
    return {k: utc(v) for k, v in values.items()}


def _dialect(session: Session) -> Any:
    """PostgreSQL's or SQLite's (embedded mode) INSERT, for its ON CONFLICT clauses."""
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


def _newer(table: sa.Table, excluded: Any, column: str) -> dict[str, Any]:
    """A fact that changes (a slot, a promised time): the value from the newest event that
    carried one. Its own sequence column (`<column>_sequence`) makes this commutative even
    when the newest event of the aggregate does not carry the fact."""
    sequence = f"{column}_sequence"
    wins = sa.and_(excluded[column].is_not(None), excluded.last_sequence > table.c[sequence])
    return {column: sa.case((wins, excluded[column]), else_=table.c[column]),
            sequence: sa.case((wins, excluded.last_sequence), else_=table.c[sequence])}


def _keep_first(table: sa.Table, excluded: Any, column: str) -> Any:
    """Facts that never change (who the customer is, the plate): whichever arrived first."""
    return sa.func.coalesce(table.c[column], excluded[column])


def _max_sequence(table: sa.Table, excluded: Any) -> Any:
    return sa.case((excluded.last_sequence > table.c.last_sequence, excluded.last_sequence),
                   else_=table.c.last_sequence)




def aware(row: Row) -> Row:
    """SQLite (embedded mode) hands back naive datetimes; they are UTC."""
    return {k: (v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v)
            for k, v in row.items()}


def _one(session: Session, query: sa.Select, **params: Any) -> Row | None:
    row = session.execute(query, params).mappings().first()
    return aware(dict(row)) if row else None


_APPOINTMENT = sa.select(models.appointments).where(
    models.appointments.c.appointment_id == sa.bindparam("key"))
_REPAIR_ORDER = sa.select(models.repair_orders).where(
    models.repair_orders.c.repair_order_id == sa.bindparam("key"))
_CONTACT = sa.select(models.contacts).where(models.contacts.c.customer_id == sa.bindparam("key"))
_DELIVERY = sa.select(models.deliveries).where(
    models.deliveries.c.message_id == sa.bindparam("key"))
_BUCKET = sa.select(models.rate_buckets).where(
    models.rate_buckets.c.channel == sa.bindparam("key")).with_for_update()


class SiteFacts:
    """What the sites said about appointments and repair orders, as far as messages need it
    (who the customer is, the plate, the slot, the promised time, cancelled, delivered)."""

    def __init__(self, session: Session) -> None:
        self.session, self._dialect = session, _dialect(session)

    def merge_appointment(self, *, appointment_id: str, dealer_code: str, sequence: int,
                          customer_id: str, plate: str | None = None,
                          slot_start: datetime | None = None,
                          cancelled_at: datetime | None = None) -> None:
        table = models.appointments
        stmt = self._dialect.insert(table).values(
            appointment_id=appointment_id, dealer_code=dealer_code, customer_id=customer_id,
            plate=plate, slot_start=utc(slot_start), last_sequence=sequence,
            slot_start_sequence=sequence if slot_start else 0, cancelled_at=utc(cancelled_at))
        ex = stmt.excluded
        self.session.execute(stmt.on_conflict_do_update(
            index_elements=[table.c.appointment_id], set_={
                "plate": _keep_first(table, ex, "plate"),
                "cancelled_at": _keep_first(table, ex, "cancelled_at"),
                **_newer(table, ex, "slot_start"),
                "last_sequence": _max_sequence(table, ex)}))

    def merge_repair_order(self, *, repair_order_id: str, dealer_code: str, sequence: int,
                           customer_id: str | None = None, plate: str | None = None,
                           promised_at: datetime | None = None,
                           delivered_at: datetime | None = None) -> None:
        table = models.repair_orders
        stmt = self._dialect.insert(table).values(
            repair_order_id=repair_order_id, dealer_code=dealer_code, customer_id=customer_id,
            plate=plate, promised_at=utc(promised_at), delivered_at=utc(delivered_at),
            last_sequence=sequence, promised_at_sequence=sequence if promised_at else 0)
        ex = stmt.excluded
        self.session.execute(stmt.on_conflict_do_update(
            index_elements=[table.c.repair_order_id], set_={
                "customer_id": _keep_first(table, ex, "customer_id"),
                "plate": _keep_first(table, ex, "plate"),
                **_newer(table, ex, "promised_at"),
                "delivered_at": _keep_first(table, ex, "delivered_at"),
                "last_sequence": _max_sequence(table, ex)}))

    def appointment(self, appointment_id: str | None) -> Row | None:
        return _one(self.session, _APPOINTMENT, key=appointment_id) \
            if appointment_id else None

    def repair_order(self, repair_order_id: str | None) -> Row | None:
        return _one(self.session, _REPAIR_ORDER, key=repair_order_id) \
            if repair_order_id else None


class ContactBook:
    """Who the customers are and what they chose (names and phones sealed)."""

    def __init__(self, session: Session) -> None:
        self.session, self._dialect = session, _dialect(session)

    def learn(self, *, customer_id: str, name_sealed: str | None, phone_sealed: str | None,
              phone_hash: str | None, learned_at: datetime, now: datetime) -> None:
        """Name and phone from a booking; the most recent booking's wins, in any order."""
        table = models.contacts
        stmt = self._dialect.insert(table).values(
            customer_id=customer_id, name_sealed=name_sealed, phone_sealed=phone_sealed,
            phone_hash=phone_hash, learned_at=utc(learned_at), updated_at=utc(now))
        ex = stmt.excluded
        # Two bookings made in the same instant: the larger phone hash wins, in any order.
        newer = sa.or_(table.c.learned_at.is_(None), ex.learned_at > table.c.learned_at,
                       sa.and_(ex.learned_at == table.c.learned_at,
                               ex.phone_hash > table.c.phone_hash))
        self.session.execute(stmt.on_conflict_do_update(
            index_elements=[table.c.customer_id], set_={
                name: sa.case((newer, ex[name]), else_=table.c[name])
                for name in ("name_sealed", "phone_sealed", "phone_hash", "learned_at")}
            | {"updated_at": utc(now)}))

    def get(self, customer_id: str) -> Row | None:
        return _one(self.session, _CONTACT, key=customer_id)

    def save_preferences(self, customer_id: str, values: dict[str, Any], now: datetime) -> Row:
        table = models.contacts
        values = _utc_all({**values, "updated_at": now})
        stmt = self._dialect.insert(table).values(customer_id=customer_id, **values)
        self.session.execute(stmt.on_conflict_do_update(index_elements=[table.c.customer_id],
                                                        set_=values))
        found = self.get(customer_id)
        assert found is not None
        return found

    def with_phone(self, phone_hash: str) -> list[str]:
        return list(self.session.scalars(sa.select(models.contacts.c.customer_id)
                                         .where(models.contacts.c.phone_hash == phone_hash)))


class ConsentBook:
    """What each customer allows, per purpose and crm channel (crm owns consent)."""

    def __init__(self, session: Session) -> None:
        self.session, self._dialect = session, _dialect(session)

    def of(self, customer_id: str) -> dict[tuple[str, str], bool]:
        """(purpose, crm channel) -> granted; absent = never said."""
        table = models.consents
        return {(row.purpose, row.channel): row.granted for row in self.session.execute(
            sa.select(table).where(table.c.customer_id == customer_id))}

    def record(self, customer_id: str, purpose: str, channels: list[str], granted: bool,
               at: datetime, via: str) -> list[str]:
        """One consent change (from crm, or the owner here); the channels whose consent it
        changed. An older change than the one stored, or the same one again, changes
        nothing; a later one saying what is stored only moves its time."""
        table, c = models.consents, models.consents.c
        at = utc(at)
        changed = []
        for channel in dict.fromkeys(channels):
            key = {"customer_id": customer_id, "purpose": purpose, "channel": channel}
            values = {"granted": granted, "changed_at": at, "via": via}
            inserted = self.session.execute(self._dialect.insert(table).values(**key, **values)
                                            .on_conflict_do_nothing()).rowcount
            if not inserted:
                # The row exists: lock it, then let the contract's rule decide.
                row = self.session.execute(sa.select(table).where(
                    *[c[k] == v for k, v in key.items()]).with_for_update()).one()
                stored = (row.granted, aware({"at": row.changed_at})["at"])
                if not consent_supersedes(stored, granted, at):
                    continue
                self.session.execute(sa.update(table).where(
                    *[c[k] == v for k, v in key.items()]).values(**values))
                if row.granted == granted:
                    continue
            changed.append(channel)
        return changed


class DeliveryLog:
    """The queued messages and what became of each (the delivery log)."""

    def __init__(self, session: Session) -> None:
        self.session, self._dialect = session, _dialect(session)

    def enqueue(self, *, kind: Kind, purpose: Purpose, channel: Channel, reference: str,
                dealer_code: str, event_id: str, params: dict[str, Any], due_at: datetime,
                now: datetime, customer_id: str | None = None,
                repair_order_id: str | None = None, appointment_id: str | None = None,
                reason: str | None = None) -> bool:
        """Queue one message; False when this (kind, reference, channel) was queued before."""
        table = models.deliveries
        stmt = self._dialect.insert(table).values(
            message_id=str(uuid.uuid4()), dedupe_key=dedupe_key(kind, reference, channel),
            kind=kind.value, purpose=purpose.value, channel=channel.value,
            dealer_code=dealer_code, customer_id=customer_id, repair_order_id=repair_order_id,
            appointment_id=appointment_id, reference=reference,
            params=json.dumps(params, ensure_ascii=False, default=str), event_id=event_id,
            status=Status.QUEUED.value, reason=reason, attempts=0, due_at=utc(due_at),
            created_at=utc(now))
        result = self.session.execute(
            stmt.on_conflict_do_nothing(index_elements=[table.c.dedupe_key]))
        return bool(result.rowcount)

    def next_due(self, now: datetime, exclude: set[int]) -> Row | None:
        """The next message due, locked (a second dispatcher skips it)."""
        table = models.deliveries
        query = (sa.select(table).where(table.c.status == Status.QUEUED.value,
                                        table.c.due_at <= utc(now))
                 .order_by(table.c.due_at, table.c.id).limit(1)
                 .with_for_update(skip_locked=True))
        if exclude:
            query = query.where(table.c.id.not_in(exclude))
        return _one(self.session, query)

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """One message's changes, undone alone when handling it raises (a savepoint): the
        rest of the dispatch run stands."""
        with self.session.begin_nested():
            yield

    def update(self, delivery_id: int, **values: Any) -> None:
        self.session.execute(sa.update(models.deliveries)
                             .where(models.deliveries.c.id == delivery_id)
                             .values(**_utc_all(values)))

    def get(self, message_id: str) -> Row | None:
        return _one(self.session, _DELIVERY, key=message_id)

    def listing(self, *, customer_id: str | None, status: str | None,
                limit: int) -> list[Row]:
        table = models.deliveries
        query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if customer_id:
            query = query.where(table.c.customer_id == customer_id)
        if status:
            query = query.where(table.c.status == status)
        return [dict(row) for row in self.session.execute(query).mappings()]


class RateBuckets:
    """Each rate-limited channel's token bucket, shared by every dispatcher."""

    def __init__(self, session: Session) -> None:
        self.session, self._dialect = session, _dialect(session)

    def get(self, channel: str) -> Row | None:
        """The channel's state, locked until the transaction ends."""
        return _one(self.session, _BUCKET, key=channel)

    def save(self, channel: str, tokens: float, updated_at: datetime) -> None:
        table = models.rate_buckets
        stmt = self._dialect.insert(table).values(channel=channel, tokens=tokens,
                                                  updated_at=utc(updated_at))
        self.session.execute(stmt.on_conflict_do_update(
            index_elements=[table.c.channel],
            set_={"tokens": tokens, "updated_at": utc(updated_at)}))


class NotifyUnitOfWork(UnitOfWork):
    """notify's stores over one transaction, with the process's contact cipher and channel
    adapters (resources built once at start)."""

    def __init__(self, session: Session, events: Emits, *, cipher: ContactCipher,
                 channels: dict[str, ChannelAdapter]) -> None:
        super().__init__(session, events)
        self.cipher, self.channels = cipher, channels
        self.site = SiteFacts(session)
        self.contacts = ContactBook(session)
        self.consents = ConsentBook(session)
        self.deliveries = DeliveryLog(session)
        self.buckets = RateBuckets(session)
