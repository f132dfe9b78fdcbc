"""Reads and writes of partners' tables in the unit of work's transaction: the registry
(partners, their VINs, dealers' regions, endpoints and secrets), what events said (owners and
cars of appointments and repair orders, owners' consents), and the outbound side (the feed,
deliveries, the attempt log, notices). `PartnersUnitOfWork` at the end carries them.

No commits: the framework commits. Works on PostgreSQL and on SQLite (embedded mode: one
connection, so transactions are serial anyway; FOR UPDATE and the advisory lock are left out).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chassis.sealing import Sealer
from chassis.unit_of_work import Emits, UnitOfWork
from contracts.payloads import consent_supersedes
from partners import models
from partners.domain import OPEN, DeliveryStatus, EndpointStatus, InLine, Secret
from partners.settings import PartnersSettings

Row = dict[str, Any]
# The one lock every transaction that writes the feed or moves deliveries in line takes
# (PostgreSQL advisory lock, released at commit): feed positions are then given out in
# commit order, and two transactions never place deliveries of one subject side by side.
OUTBOUND_LOCK = 0x7061_7274  # "part"


def utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def aware(row: Any) -> Row:
    """SQLite (embedded mode) hands back naive datetimes; they are UTC."""
    return {k: (v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v)
            for k, v in dict(row).items()}


def _dialect(session: Session) -> Any:
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


_p, _v, _r, _e, _s = (models.partners, models.partner_vins, models.dealer_regions,
                      models.endpoints, models.endpoint_secrets)
_m, _d, _a, _f, _c, _n = (models.messages, models.deliveries, models.attempts,
                          models.subject_facts, models.consents, models.notices)
_OPEN = [str(s) for s in OPEN]

# The hot path's statements, built once.
_ACTIVE_PARTNERS = sa.select(_p).where(_p.c.active.is_(True)).order_by(_p.c.partner_id)
_ACTIVE_ENDPOINTS = (sa.select(_e).where(_e.c.status == EndpointStatus.ACTIVE.value)
                     .order_by(_e.c.endpoint_id))
_LANE = (sa.select(_d.c.delivery_id, _d.c.sequence, _d.c.status)
         .where(_d.c.endpoint_id == sa.bindparam("endpoint"),
                _d.c.subject_key == sa.bindparam("subject"), _d.c.status.in_(_OPEN)))
_FACTS = sa.select(_f).where(_f.c.reference.in_(sa.bindparam("refs", expanding=True)))
_CONSENTED = (sa.select(_c.c.partner_id)
              .where(_c.c.customer_id.in_(sa.bindparam("customers", expanding=True)),
                     _c.c.granted.is_(True)))
_DUE = (sa.select(_d.c.delivery_id, _d.c.endpoint_id)
        .join(_e, _e.c.endpoint_id == _d.c.endpoint_id)
        .where(_d.c.status == DeliveryStatus.PENDING.value,
               _d.c.next_attempt_at <= sa.bindparam("now"),
               _e.c.status == EndpointStatus.ACTIVE.value)
        .order_by(_d.c.next_attempt_at, _d.c.delivery_id)
        .limit(sa.bindparam("limit")))


# The purpose label of the key endpoints' secrets are sealed with (and the migration that
# sealed the plain ones used): changing it would leave every stored secret unopenable.
ENDPOINT_SECRETS_PURPOSE = b"partners webhook endpoint secrets"


def endpoint_sealer(secret_encryption_key: str) -> Sealer:
    return Sealer(secret_encryption_key, ENDPOINT_SECRETS_PURPOSE,
                  name="this secret_encryption_key")


def partners_resources(settings: Any) -> dict[str, Any]:
    """What every partners unit of work of a process shares, built once at start: the sealer
    of endpoints' secrets, over the stack's secret_encryption_key."""
    options = PartnersSettings.from_settings(settings)
    return {"sealer": endpoint_sealer(options.secret_encryption_key)}


class Registry:
    """Partners, their entitlements and VINs, dealers' regions, endpoints and secrets (sealed
    at rest: sealed as written, opened as read)."""

    def __init__(self, session: Session, sealer: Sealer) -> None:
        self.session, self._dialect, self.sealer = session, _dialect(session), sealer

    def add_partner(self, row: Row) -> None:
        self.session.execute(_p.insert().values(**_utc_all(row)))

    def partner(self, partner_id: str) -> Row | None:
        found = self.session.execute(sa.select(_p).where(_p.c.partner_id == partner_id)).first()
        return aware(found._mapping) if found else None

    def partner_of_client(self, client_id: str) -> Row | None:
        found = self.session.execute(sa.select(_p).where(_p.c.client_id == client_id)).first()
        return aware(found._mapping) if found else None

    def partners(self) -> list[Row]:
        return [aware(r) for r in self.session.execute(
            sa.select(_p).order_by(_p.c.partner_id)).mappings()]

    def active_partners(self) -> list[Row]:
        return [aware(r) for r in self.session.execute(_ACTIVE_PARTNERS).mappings()]

    def save_partner(self, partner_id: str, **values: Any) -> None:
        self.session.execute(_p.update().where(_p.c.partner_id == partner_id)
                             .values(**_utc_all(values)))

    def vins(self, partner_id: str) -> set[str]:
        return set(self.session.scalars(sa.select(_v.c.vin).where(_v.c.partner_id == partner_id)))

    def all_vins(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for partner_id, vin in self.session.execute(sa.select(_v.c.partner_id, _v.c.vin)):
            found.setdefault(partner_id, set()).add(vin)
        return found

    def replace_vins(self, partner_id: str, vins: Iterable[str]) -> None:
        self.session.execute(_v.delete().where(_v.c.partner_id == partner_id))
        rows = [{"partner_id": partner_id, "vin": vin} for vin in sorted(set(vins))]
        if rows:
            self.session.execute(_v.insert(), rows)

    def regions(self) -> dict[str, str]:
        return dict(self.session.execute(sa.select(_r.c.dealer_code, _r.c.region)).all())

    def put_region(self, dealer_code: str, region: str, now: datetime) -> None:
        stmt = self._dialect.insert(_r).values(dealer_code=dealer_code, region=region,
                                               updated_at=utc(now))
        self.session.execute(stmt.on_conflict_do_update(
            index_elements=[_r.c.dealer_code], set_={"region": region, "updated_at": utc(now)}))

    # -- endpoints and their secrets -------------------------------------------------------

    def add_endpoint(self, row: Row) -> None:
        self.session.execute(_e.insert().values(**_utc_all(row)))

    def endpoint(self, endpoint_id: str, *, lock: bool = False) -> Row | None:
        query = sa.select(_e).where(_e.c.endpoint_id == endpoint_id)
        found = self.session.execute(query.with_for_update() if lock else query).first()
        return aware(found._mapping) if found else None

    def endpoints_of(self, partner_id: str) -> list[Row]:
        return [aware(r) for r in self.session.execute(
            sa.select(_e).where(_e.c.partner_id == partner_id)
            .order_by(_e.c.created_at, _e.c.endpoint_id)).mappings()]

    def active_endpoints(self) -> list[Row]:
        return [aware(r) for r in self.session.execute(_ACTIVE_ENDPOINTS).mappings()]

    def save_endpoint(self, endpoint_id: str, **values: Any) -> None:
        self.session.execute(_e.update().where(_e.c.endpoint_id == endpoint_id)
                             .values(**_utc_all(values)))

    def add_secret(self, secret: Secret, endpoint_id: str) -> None:
        self.session.execute(_s.insert().values(
            secret_id=secret.id, endpoint_id=endpoint_id, secret=self.sealer.seal(secret.secret),
            created_at=utc(secret.created_at), expires_at=utc(secret.expires_at)))

    def secrets(self, endpoint_ids: Iterable[str]) -> dict[str, list[Secret]]:
        found: dict[str, list[Secret]] = {}
        ids = sorted(set(endpoint_ids))
        if not ids:
            return found
        for row in self.session.execute(sa.select(_s).where(_s.c.endpoint_id.in_(ids))
                                        ).mappings():
            row = aware(row)
            found.setdefault(row["endpoint_id"], []).append(Secret(
                row["secret_id"], self.sealer.unseal(row["secret"]), row["created_at"],
                row["expires_at"]))
        return found

    def expire_secrets(self, endpoint_id: str, at: datetime) -> None:
        """The endpoint's current secret (and any later-expiring one) expires at `at`."""
        self.session.execute(_s.update().where(
            _s.c.endpoint_id == endpoint_id,
            sa.or_(_s.c.expires_at.is_(None), _s.c.expires_at > utc(at)))
            .values(expires_at=utc(at)))


class Facts:
    """What events said: the owner and car of each appointment and repair order, and owners'
    consent to share with a partner."""

    def __init__(self, session: Session) -> None:
        self.session, self._dialect = session, _dialect(session)

    def known(self, references: Iterable[str]) -> list[Row]:
        refs = sorted(set(references))
        if not refs:
            return []
        return [dict(r) for r in self.session.execute(_FACTS, {"refs": refs}).mappings()]

    def learn(self, references: Iterable[str], customer_id: str | None,
              vin: str | None) -> None:
        """Whichever event named them first wins (an owner and a car do not change)."""
        rows = [{"reference": ref[:64], "customer_id": customer_id, "vin": vin}
                for ref in sorted(set(references))]
        if not rows or (customer_id is None and vin is None):
            return
        stmt = self._dialect.insert(_f)
        self.session.execute(stmt.on_conflict_do_update(
            index_elements=[_f.c.reference], set_={
                "customer_id": sa.func.coalesce(_f.c.customer_id, stmt.excluded.customer_id),
                "vin": sa.func.coalesce(_f.c.vin, stmt.excluded.vin)}), rows)

    def consenting_partners(self, customer_ids: Iterable[str]) -> set[str]:
        customers = sorted(set(customer_ids))
        if not customers:
            return set()
        return set(self.session.scalars(_CONSENTED, {"customers": customers}))

    def record_consent(self, customer_id: str, partner_id: str, granted: bool,
                       at: datetime) -> bool:
        """One consent change; an older one than stored (or the same again) changes nothing
        (`contracts.payloads.consent_supersedes`). True when it changed what is stored."""
        where = (_c.c.customer_id == customer_id, _c.c.partner_id == partner_id)
        found = self.session.execute(sa.select(_c.c.granted, _c.c.changed_at).where(*where)
                                     .with_for_update()).first()
        stored = None if found is None else (found.granted, aware(found._mapping)["changed_at"])
        if not consent_supersedes(stored, granted, utc(at)):
            return False
        if found is None:
            self.session.execute(_c.insert().values(customer_id=customer_id,
                                                    partner_id=partner_id, granted=granted,
                                                    changed_at=utc(at)))
        else:
            self.session.execute(_c.update().where(*where).values(granted=granted,
                                                                  changed_at=utc(at)))
        return True

    def consents_of(self, partner_id: str) -> list[Row]:
        return [aware(r) for r in self.session.execute(
            sa.select(_c).where(_c.c.partner_id == partner_id)
            .order_by(_c.c.customer_id)).mappings()]


class Outbound:
    """The feed, the deliveries with their attempt log, and the notices to partners."""

    def __init__(self, session: Session) -> None:
        self.session, self._dialect = session, _dialect(session)
        self._locked = False

    def lock(self) -> None:
        """Take the outbound lock until the transaction ends (once per transaction)."""
        if self._locked:
            return
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                 {"key": OUTBOUND_LOCK})
        self._locked = True

    # -- the feed ----------------------------------------------------------------------------

    def add_message(self, row: Row) -> int | None:
        """The feed position of a new message; None when the partner has it already."""
        self.lock()
        stmt = self._dialect.insert(_m).values(**_utc_all(row)).on_conflict_do_nothing(
            index_elements=[_m.c.partner_id, _m.c.event_id]).returning(_m.c.position)
        return self.session.scalar(stmt)

    def feed(self, partner_id: str, after: int, limit: int) -> list[Row]:
        return [aware(r) for r in self.session.execute(
            sa.select(_m.c.position, _m.c.body).where(_m.c.partner_id == partner_id,
                                                      _m.c.position > after)
            .order_by(_m.c.position).limit(limit)).mappings()]

    # -- deliveries ------------------------------------------------------------------------

    def lane(self, endpoint_id: str, subject_key: str) -> list[InLine]:
        """The open deliveries of one subject for one endpoint."""
        return [InLine(r.delivery_id, r.sequence, DeliveryStatus(r.status))
                for r in self.session.execute(_LANE, {"endpoint": endpoint_id,
                                                      "subject": subject_key})]

    def add_delivery(self, row: Row) -> int:
        self.lock()
        stmt = self._dialect.insert(_d).values(**_utc_all(row)).on_conflict_do_nothing(
            index_elements=[_d.c.endpoint_id, _d.c.event_id]).returning(_d.c.delivery_id)
        return self.session.scalar(stmt)

    def update(self, delivery_ids: Iterable[int], **values: Any) -> None:
        ids = sorted(set(delivery_ids))
        if ids:
            self.session.execute(_d.update().where(_d.c.delivery_id.in_(ids))
                                 .values(**_utc_all(values)))

    def delivery(self, delivery_id: int, *, lock: bool = False) -> Row | None:
        query = sa.select(_d).where(_d.c.delivery_id == delivery_id)
        found = self.session.execute(query.with_for_update() if lock else query).first()
        return aware(found._mapping) if found else None

    def due(self, now: datetime, limit: int) -> list[Row]:
        """PENDING deliveries due now at active endpoints, oldest due first, locked (rows
        another dispatcher holds are skipped)."""
        query = _DUE.with_for_update(of=_d, skip_locked=True)
        ids = [r.delivery_id for r in self.session.execute(query, {"now": utc(now),
                                                                   "limit": limit})]
        if not ids:
            return []
        return [aware(r) for r in self.session.execute(
            sa.select(_d, _m.c.body).join(_m, _m.c.position == _d.c.position)
            .where(_d.c.delivery_id.in_(ids))
            .order_by(_d.c.next_attempt_at, _d.c.delivery_id)).mappings()]

    def expired_leases(self, now: datetime) -> list[int]:
        return list(self.session.scalars(
            sa.select(_d.c.delivery_id).where(_d.c.status == DeliveryStatus.SENDING.value,
                                              _d.c.lease_until < utc(now))
            .with_for_update(skip_locked=True)))

    def listing(self, endpoint_id: str, *, status: str | None, limit: int) -> list[Row]:
        query = sa.select(_d).where(_d.c.endpoint_id == endpoint_id)
        if status:
            query = query.where(_d.c.status == status)
        return [aware(r) for r in self.session.execute(
            query.order_by(_d.c.delivery_id.desc()).limit(limit)).mappings()]

    def to_replay(self, endpoint_id: str, *, event_id: str | None = None,
                  start: datetime | None = None, end: datetime | None = None,
                  failed_only: bool = False) -> list[Row]:
        """Settled deliveries of an endpoint: one event's, those of events that arrived in
        [start, end), or only the FAILED ones."""
        query = sa.select(_d).where(_d.c.endpoint_id == endpoint_id,
                                    _d.c.status.in_([DeliveryStatus.DELIVERED.value,
                                                     DeliveryStatus.FAILED.value]))
        if event_id is not None:
            query = query.where(_d.c.event_id == event_id)
        if start is not None:
            query = query.where(_d.c.created_at >= utc(start))
        if end is not None:
            query = query.where(_d.c.created_at < utc(end))
        if failed_only:
            query = query.where(_d.c.status == DeliveryStatus.FAILED.value)
        return [aware(r) for r in self.session.execute(
            query.order_by(_d.c.sequence, _d.c.delivery_id).with_for_update()).mappings()]

    def oldest_open(self) -> dict[str, datetime]:
        """Per endpoint, the arrival of its oldest delivery not yet settled."""
        return {endpoint: aware({"t": t})["t"] for endpoint, t in self.session.execute(
            sa.select(_d.c.endpoint_id, sa.func.min(_d.c.created_at))
            .where(_d.c.status.in_(_OPEN)).group_by(_d.c.endpoint_id))}

    # -- the attempt log and notices --------------------------------------------------------

    def log_attempt(self, row: Row) -> None:
        self.session.execute(_a.insert().values(**_utc_all(row)))

    def attempts(self, delivery_id: int) -> list[Row]:
        return [aware(r) for r in self.session.execute(
            sa.select(_a).where(_a.c.delivery_id == delivery_id)
            .order_by(_a.c.attempt_id)).mappings()]

    def add_notice(self, row: Row) -> None:
        self.session.execute(_n.insert().values(**_utc_all(row)))

    def notices(self, partner_id: str, limit: int = 100) -> list[Row]:
        return [aware(r) for r in self.session.execute(
            sa.select(_n).where(_n.c.partner_id == partner_id)
            .order_by(_n.c.notice_id.desc()).limit(limit)).mappings()]


def _utc_all(values: dict[str, Any]) -> dict[str, Any]:
    return {k: utc(v) for k, v in values.items()}


class PartnersUnitOfWork(UnitOfWork):
    """One partners transaction: the registry, what events said, and the outbound side."""

    def __init__(self, session: Session, events: Emits, *, sealer: Sealer) -> None:
        super().__init__(session, events)
        self.registry = Registry(session, sealer)
        self.facts = Facts(session)
        self.outbound = Outbound(session)
