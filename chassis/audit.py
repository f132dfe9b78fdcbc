"""The audit trail: who did a privileged thing, as whom, on what, from where — kept in the
acting service's own database and written in the transaction of the action itself.

Why in the same transaction: an audit row written apart from its action (a log line, another
connection) can survive an action that rolled back, or be lost for one that committed. Here
`uow.audit(...)` inserts the row through the unit of work's session, so the action and its
audit row commit together or not at all, like the outbox's events.

Which actions are privileged is each service's business (staff approving a quote on the
owner's behalf, a discount, a stock adjustment …); the shape of the row is the same for every
service, so `aftersales audit list <service>` reads any of them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from chassis.identity import Identity

AUDIT_LOG = "audit_log"
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# JSONB on PostgreSQL so an operator can query inside `detail` (detail->>'reason').
_DETAIL = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

MAX_ACTION, MAX_SUBJECT = 60, 120


def define_audit_log(metadata: sa.MetaData) -> sa.Table:
    """Add the audit log to a service's metadata (its migrations create it with
    `chassis.migration_env.create_audit_log()`)."""
    return sa.Table(
        AUDIT_LOG, metadata,
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.String(40), nullable=False),
        sa.Column("action", sa.String(MAX_ACTION), nullable=False),
        # The caller as their token proved it: enough to find the person and who vouched.
        sa.Column("actor_subject", sa.String(300), nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("actor_dealer_code", sa.String(12)),
        sa.Column("actor_issuer", sa.String(300)),
        sa.Column("subject", sa.String(MAX_SUBJECT), nullable=False),  # e.g. the repair order
        sa.Column("detail", _DETAIL, nullable=False),
        sa.Column("client_address", sa.String(64)),
        sa.Index("ix_audit_log_at", "at"),
        sa.Index("ix_audit_log_action_at", "action", "at"),
        sa.Index("ix_audit_log_subject", "subject"),
    )


class Audits(Protocol):
    """Where a unit of work's audit rows go: the database (`AuditTrail`) or a list
    (`FakeAuditTrail`)."""

    def record(self, action: str, *, actor: Identity, subject: str,
               detail: Mapping[str, Any]) -> None: ...


def audit_entry(*, service: str, action: str, actor: Identity, subject: str,
                detail: Mapping[str, Any], client_address: str | None,
                at: datetime) -> dict[str, Any]:
    """The row as stored: `detail` as plain JSON (amounts and quantities as their exact
    decimal text, times in ISO 8601), so the fake keeps what the database would."""
    action, subject = str(action), str(subject)
    # A programming error, not the caller's: refuse it loudly rather than truncate the trail.
    if not action or len(action) > MAX_ACTION:
        raise ValueError(f"an audited action is 1-{MAX_ACTION} characters: {action!r}")
    if not subject or len(subject) > MAX_SUBJECT:
        raise ValueError(f"an audit subject is 1-{MAX_SUBJECT} characters: {subject!r}")
    return {"at": at, "service": service, "action": action,
            "actor_subject": actor.subject, "actor_role": str(actor.role),
            "actor_dealer_code": actor.dealer_code, "actor_issuer": actor.issuer,
            "subject": subject, "detail": plain_detail(detail),
            "client_address": client_address}


def plain_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """`detail` as the JSON column gives it back; refuses what has no exact JSON form."""
    return json.loads(json.dumps(dict(detail), ensure_ascii=False, default=_plain))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # "68.00", never the float 68.0
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not kept in an audit detail")


def _now() -> datetime:
    return datetime.now(UTC)


class AuditTrail:
    """Audit rows inserted through the worker's session: committed or rolled back with it."""

    def __init__(self, session: Session, table: sa.Table, *, service: str,
                 client_address: str | None = None) -> None:
        self.session = session
        self.table = table
        self.service = service
        self.client_address = client_address

    def record(self, action: str, *, actor: Identity, subject: str,
               detail: Mapping[str, Any]) -> None:
        self.session.execute(_insert_statement(self.table), audit_entry(
            service=self.service, action=action, actor=actor, subject=subject, detail=detail,
            client_address=self.client_address, at=_now()))


@functools.cache
def _insert_statement(table: sa.Table) -> Any:
    return table.insert()


class FakeAuditTrail:
    """The audit rows a fake unit of work keeps, in order, as the database would store them."""

    def __init__(self, service: str = "test") -> None:
        self.service = service
        self.entries: list[dict[str, Any]] = []

    def record(self, action: str, *, actor: Identity, subject: str,
               detail: Mapping[str, Any]) -> None:
        self.entries.append(audit_entry(service=self.service, action=action, actor=actor,
                                        subject=subject, detail=detail, client_address=None,
                                        at=_now()))

    def actions(self) -> list[str]:
        return [entry["action"] for entry in self.entries]


class NoAuditLog:
    """A unit of work whose service keeps no audit log refuses to audit, rather than let a
    privileged action go unrecorded."""

    def record(self, action: str, **_: Any) -> None:
        raise TypeError(f"{action}: the service's database has no audit_log table (add "
                        "chassis.audit.define_audit_log to its models and "
                        "create_audit_log() to its migrations)")


# -- reading it back (`aftersales audit list`) -------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    service: str
    action: str
    actor_subject: str
    actor_role: str
    actor_dealer_code: str | None
    actor_issuer: str | None
    subject: str
    detail: dict[str, Any]
    client_address: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "service": self.service,
                "action": self.action,
                "actor": {"subject": self.actor_subject, "role": self.actor_role,
                          "dealer_code": self.actor_dealer_code, "issuer": self.actor_issuer},
                "subject": self.subject, "detail": self.detail,
                "client_address": self.client_address}

    def line(self) -> str:
        """One line for a terminal: when, what, on what, who (as whom), from where, detail."""
        who = ", ".join(x for x in (self.actor_role, self.actor_dealer_code, self.actor_issuer)
                        if x)
        where = f" from {self.client_address}" if self.client_address else ""
        detail = json.dumps(self.detail, ensure_ascii=False, separators=(",", ":"),
                            sort_keys=True)
        return (f"{self.at.isoformat()}  {self.action}  {self.subject}  "
                f"by {self.actor_subject} ({who}){where}  {detail}")


def read_audit_log(engine: Engine, *, since: datetime | None = None,
                   action: str | None = None, limit: int = 100) -> list[AuditRow]:
    """The latest audit rows first, from `since` on, of one `action` when given."""
    table = define_audit_log(sa.MetaData())
    query = sa.select(table).order_by(table.c.at.desc(), table.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(table.c.at >= since)
    if action:
        query = query.where(table.c.action == action)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    found = []
    for row in rows:
        values = dict(row)
        if values["at"].tzinfo is None:  # SQLite returns naive datetimes
            values["at"] = values["at"].replace(tzinfo=UTC)
        found.append(AuditRow(**values))
    return found


def keeps_audit_log(metadata: sa.MetaData) -> bool:
    """Whether a service's tables include the chassis' audit log (not one of its own shape)."""
    table = metadata.tables.get(AUDIT_LOG)
    wanted = {c.name for c in define_audit_log(sa.MetaData()).columns}
    return table is not None and wanted <= {c.name for c in table.columns}
