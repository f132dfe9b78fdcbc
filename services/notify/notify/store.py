"""Reads and writes of notify's tables. Projections merge commutatively (any arrival order,
any number of duplicates gives the same rows); messages are inserted once per dedupe key."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contracts.payloads import consent_supersedes
from notify import models
from notify.domain import Channel, Kind, Purpose, Status, dedupe_key

Row = dict[str, Any]


def utc(value: Any) -> Any:
    """Datetimes are written in UTC: SQLite (embedded mode) would drop any other offset."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _utc_all(values: dict[str, Any]) -> dict[str, Any]:
    return {k: utc(v) for k, v in values.items()}


def _insert(session: Session, table: sa.Table) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


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


def merge_appointment(session: Session, *, appointment_id: str, dealer_code: str,
                      sequence: int, customer_id: str, plate: str | None = None,
                      slot_start: datetime | None = None,
                      cancelled_at: datetime | None = None) -> None:
    table = models.appointments
    stmt = _insert(session, table).values(
        appointment_id=appointment_id, dealer_code=dealer_code, customer_id=customer_id,
        plate=plate, slot_start=utc(slot_start), last_sequence=sequence,
        slot_start_sequence=sequence if slot_start else 0, cancelled_at=utc(cancelled_at))
    ex = stmt.excluded
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.appointment_id], set_={
        "plate": _keep_first(table, ex, "plate"),
        "cancelled_at": _keep_first(table, ex, "cancelled_at"),
        **_newer(table, ex, "slot_start"),
        "last_sequence": _max_sequence(table, ex)}))


def merge_repair_order(session: Session, *, repair_order_id: str, dealer_code: str,
                       sequence: int, customer_id: str | None = None, plate: str | None = None,
                       promised_at: datetime | None = None,
                       delivered_at: datetime | None = None) -> None:
    table = models.repair_orders
    stmt = _insert(session, table).values(
        repair_order_id=repair_order_id, dealer_code=dealer_code, customer_id=customer_id,
        plate=plate, promised_at=utc(promised_at), delivered_at=utc(delivered_at),
        last_sequence=sequence,
        promised_at_sequence=sequence if promised_at else 0)
    ex = stmt.excluded
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.repair_order_id], set_={
        "customer_id": _keep_first(table, ex, "customer_id"),
        "plate": _keep_first(table, ex, "plate"),
        **_newer(table, ex, "promised_at"),
        "delivered_at": _keep_first(table, ex, "delivered_at"),
        "last_sequence": _max_sequence(table, ex)}))


def learn_contact(session: Session, *, customer_id: str, name_sealed: str | None,
                  phone_sealed: str | None, phone_hash: str | None, learned_at: datetime,
                  now: datetime) -> None:
    """Name and phone from a booking; the most recent booking's wins, in any arrival order."""
    table = models.contacts
    stmt = _insert(session, table).values(
        customer_id=customer_id, name_sealed=name_sealed, phone_sealed=phone_sealed,
        phone_hash=phone_hash, learned_at=utc(learned_at), updated_at=utc(now))
    ex = stmt.excluded
    # Two bookings made in the same instant: the larger phone hash wins, in any order.
    newer = sa.or_(table.c.learned_at.is_(None), ex.learned_at > table.c.learned_at,
                   sa.and_(ex.learned_at == table.c.learned_at,
                           ex.phone_hash > table.c.phone_hash))
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.customer_id], set_={
        name: sa.case((newer, ex[name]), else_=table.c[name])
        for name in ("name_sealed", "phone_sealed", "phone_hash", "learned_at")}
        | {"updated_at": utc(now)}))


def contact(session: Session, customer_id: str) -> Row | None:
    row = session.execute(sa.select(models.contacts)
                          .where(models.contacts.c.customer_id == customer_id)).mappings().first()
    return aware(dict(row)) if row else None


def save_preferences(session: Session, customer_id: str, values: dict[str, Any],
                     now: datetime) -> Row:
    table = models.contacts
    values = _utc_all({**values, "updated_at": now})
    stmt = _insert(session, table).values(customer_id=customer_id, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.customer_id],
                                               set_=values))
    found = contact(session, customer_id)
    assert found is not None
    return found


def consents(session: Session, customer_id: str) -> dict[tuple[str, str], bool]:
    """What the customer allows: (purpose, crm channel) -> granted; absent = never said."""
    table = models.consents
    return {(row.purpose, row.channel): row.granted for row in session.execute(
        sa.select(table).where(table.c.customer_id == customer_id))}


def record_consent(session: Session, customer_id: str, purpose: str, channels: list[str],
                   granted: bool, at: datetime, via: str) -> list[str]:
    """One consent change (from crm, or the owner here); the channels whose consent it
    changed. An older change than the one stored, or the same one again, changes nothing; a
    later one saying what is stored only moves its time."""
    table, c = models.consents, models.consents.c
    at = utc(at)
    changed = []
    for channel in dict.fromkeys(channels):
        key = {"customer_id": customer_id, "purpose": purpose, "channel": channel}
        values = {"granted": granted, "changed_at": at, "via": via}
        inserted = session.execute(_insert(session, table).values(**key, **values)
                                   .on_conflict_do_nothing()).rowcount
        if not inserted:
            # The row exists: lock it, then let the contract's rule decide.
            row = session.execute(sa.select(table).where(
                *[c[k] == v for k, v in key.items()]).with_for_update()).one()
            stored = (row.granted, aware({"at": row.changed_at})["at"])
            if not consent_supersedes(stored, granted, at):
                continue
            session.execute(sa.update(table).where(*[c[k] == v for k, v in key.items()])
                            .values(**values))
            if row.granted == granted:
                continue
        changed.append(channel)
    return changed


def customers_with_phone(session: Session, phone_hash: str) -> list[str]:
    return list(session.scalars(sa.select(models.contacts.c.customer_id)
                                .where(models.contacts.c.phone_hash == phone_hash)))


def enqueue(session: Session, *, kind: Kind, purpose: Purpose, channel: Channel,
            reference: str, dealer_code: str, event_id: str, params: dict[str, Any],
            due_at: datetime, now: datetime, customer_id: str | None = None,
            repair_order_id: str | None = None, appointment_id: str | None = None,
            reason: str | None = None) -> bool:
    """Queue one message; False when this (kind, reference, channel) was queued before."""
    table = models.deliveries
    stmt = _insert(session, table).values(
        message_id=str(uuid.uuid4()), dedupe_key=dedupe_key(kind, reference, channel),
        kind=kind.value, purpose=purpose.value, channel=channel.value, dealer_code=dealer_code,
        customer_id=customer_id, repair_order_id=repair_order_id, appointment_id=appointment_id,
        reference=reference, params=json.dumps(params, ensure_ascii=False, default=str),
        event_id=event_id, status=Status.QUEUED.value, reason=reason, attempts=0,
        due_at=utc(due_at),
        created_at=utc(now))
    result = session.execute(stmt.on_conflict_do_nothing(index_elements=[table.c.dedupe_key]))
    return bool(result.rowcount)


def due(session: Session, now: datetime, limit: int, exclude: set[int] | None = None
        ) -> list[Row]:
    table = models.deliveries
    query = (sa.select(table).where(table.c.status == Status.QUEUED.value,
                                    table.c.due_at <= utc(now))
             .order_by(table.c.due_at, table.c.id).limit(limit)
             .with_for_update(skip_locked=True))
    if exclude:
        query = query.where(table.c.id.not_in(exclude))
    return [aware(dict(row)) for row in session.execute(query).mappings()]


def aware(row: Row) -> Row:
    """SQLite (embedded mode) hands back naive datetimes; they are UTC."""
    return {k: (v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v)
            for k, v in row.items()}


def update_delivery(session: Session, delivery_id: int, **values: Any) -> None:
    session.execute(sa.update(models.deliveries).where(models.deliveries.c.id == delivery_id)
                    .values(**_utc_all(values)))


def delivery(session: Session, message_id: str) -> Row | None:
    row = session.execute(sa.select(models.deliveries).where(
        models.deliveries.c.message_id == message_id)).mappings().first()
    return aware(dict(row)) if row else None


def repair_order(session: Session, repair_order_id: str | None) -> Row | None:
    if not repair_order_id:
        return None
    row = session.execute(sa.select(models.repair_orders).where(
        models.repair_orders.c.repair_order_id == repair_order_id)).mappings().first()
    return aware(dict(row)) if row else None


def appointment(session: Session, appointment_id: str | None) -> Row | None:
    if not appointment_id:
        return None
    row = session.execute(sa.select(models.appointments).where(
        models.appointments.c.appointment_id == appointment_id)).mappings().first()
    return aware(dict(row)) if row else None


def bucket(session: Session, channel: str) -> Row | None:
    row = session.execute(sa.select(models.rate_buckets)
                          .where(models.rate_buckets.c.channel == channel)
                          .with_for_update()).mappings().first()
    return aware(dict(row)) if row else None


def save_bucket(session: Session, channel: str, tokens: float, updated_at: datetime) -> None:
    table = models.rate_buckets
    stmt = _insert(session, table).values(channel=channel, tokens=tokens,
                                          updated_at=utc(updated_at))
    session.execute(stmt.on_conflict_do_update(
        index_elements=[table.c.channel], set_={"tokens": tokens, "updated_at": utc(updated_at)}))


def deliveries(session: Session, *, customer_id: str | None, status: str | None,
               limit: int) -> list[Row]:
    table = models.deliveries
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    if customer_id:
        query = query.where(table.c.customer_id == customer_id)
    if status:
        query = query.where(table.c.status == status)
    return [dict(row) for row in session.execute(query).mappings()]
