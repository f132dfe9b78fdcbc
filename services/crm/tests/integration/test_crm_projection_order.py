"""Site events arrive duplicated and out of order: the projection ends the same whatever the
order. The handlers run here directly on the real PostgreSQL, one event per transaction, in
two different orders and each event twice, and the resulting tables are compared."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from chassis.db import migrate
from chassis.runner import migrations_dir
from chassis.testing import make_settings, service_database
from contracts import events
from crm import models as m
from crm.privacy import vault_from_settings
from crm.service import CrmService
from crm.settings import CrmSettings
from crm.store import CrmUnitOfWork
from services.crm.tests.integration.crm_hq import (
    CRM_EXTRA,
    booked,
    cancelled,
    delivered,
    opened,
    quote_approved,
)

HANDLERS: dict[str, Callable[..., None]] = {
    events.AppointmentBooked.type: CrmService.on_appointment_booked.handler,
    events.AppointmentCancelled.type: CrmService.on_appointment_cancelled.handler,
    events.RepairOrderOpened.type: CrmService.on_repair_order_opened.handler,
    events.VehicleDelivered.type: CrmService.on_vehicle_delivered.handler,
    events.QuoteApproved.type: CrmService.on_quote_approved.handler,
}
PROJECTION = (m.customers, m.vehicles, m.visits, m.declined_lines, m.appointments, m.surveys)


def history() -> list[dict[str, Any]]:
    """Two dealers, one person (two site ids, one phone), a walk-in visit before the phone
    was known, a cancelled booking, a newer plate."""
    return [
        opened("D002", "RO-D002-1", "site2-cust", mileage=40_100,
               opened_at="2025-06-03T09:00:00+08:00", plate="京A54321"),
        booked("D001", "APT-1", "site1-cust", booked_at="2025-03-15T20:12:45+08:00"),
        cancelled("D001", "APT-1", "site1-cust"),
        booked("D002", "APT-2", "site2-cust", booked_at="2025-06-01T10:00:00+08:00",
               name="王磊"),
        quote_approved("D002", "RO-D002-1", "site2-cust"),
        delivered("D002", "RO-D002-1", "site2-cust", mileage=40_102,
                  delivered_at="2025-06-03T17:00:00+08:00"),
        opened("D001", "RO-D001-1", "site1-cust"),
        delivered("D001", "RO-D001-1", "site1-cust"),
    ]


def apply(url: str, envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    engine = sa.create_engine(url)
    crm = CrmService.__new__(CrmService)  # the handlers' `self`, without a container
    settings = make_settings("crm", url, "memory://", dealer_code="HQ", extra=CRM_EXTRA)
    crm.options = CrmSettings(vault=vault_from_settings(settings), survey_delay_hours=24,
                              default_km_per_day=40, survey_secret="x" * 32)
    try:
        for envelope in envelopes:
            with Session(engine) as session:
                # These events emit nothing: no outbox is needed behind the unit of work.
                crm.uow = CrmUnitOfWork(session, None, vault=crm.options.vault)
                HANDLERS[envelope["type"]](crm, envelope)
                session.commit()
        return snapshot(engine)
    finally:
        engine.dispose()


def snapshot(engine: sa.Engine) -> dict[str, Any]:
    """The projection's rows, with crm's customer ids replaced by their site ids: which of a
    person's site ids became crm's id may depend on the order, the person may not."""
    with engine.connect() as conn:
        aliases: dict[str, list[str]] = {}
        for alias, customer_id in conn.execute(sa.select(m.customer_aliases)):
            aliases.setdefault(customer_id, []).append(alias)
        label = {cid: "+".join(sorted(names)) for cid, names in aliases.items()}
        tables = {}
        for table in PROJECTION:
            rows = []
            for row in conn.execute(sa.select(table)).mappings():
                row = dict(row)
                for key in ("id", "customer_id"):
                    if key in row and row[key] in label and (key != "id" or
                                                             table is m.customers):
                        row[key] = label[row[key]]
                # Ciphertexts differ each time (random IVs); their blind indexes do not.
                rows.append({k: v for k, v in row.items() if not k.endswith("_enc")})
            tables[table.name] = sorted(rows, key=repr)
        return tables


@pytest.mark.parametrize("seed", [1, 2])
def test_any_order_and_duplicates_give_the_same_projection(database, seed: int) -> None:
    events_in_order = history()
    shuffled = list(reversed(events_in_order))
    random.Random(seed).shuffle(shuffled)
    in_order = apply(service_database(database, CrmService), events_in_order)
    # Each event twice: the inbox normally skips a redelivery; the projection must not care.
    out_of_order = apply(service_database(database, CrmService), shuffled + shuffled[::-1])

    assert out_of_order == in_order
    [customer] = in_order["customers"]
    assert customer["id"] == "site1-cust+site2-cust"
    [vehicle] = in_order["vehicles"]
    assert vehicle["plate"] == "京A54321"
    statuses = {a["appointment_id"]: a["status"] for a in in_order["appointments"]}
    assert statuses == {"APT-1": "CANCELLED", "APT-2": "SCHEDULED"}
    assert len(in_order["visits"]) == 2 and len(in_order["surveys"]) == 2
    assert len(in_order["declined_lines"]) == 1


def test_embedded_mode_on_sqlite_projects_the_same(database, tmp_path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'crm.db'}"
    migrate(sqlite_url, migrations_dir(CrmService))
    on_sqlite = apply(sqlite_url, history())
    on_postgres = apply(service_database(database, CrmService), history())
    assert normalised(on_sqlite) == normalised(on_postgres)


def normalised(tables: dict[str, Any]) -> dict[str, Any]:
    """SQLite gives times back without their (UTC) offset: compare instants, not spellings."""
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.replace(tzinfo=value.tzinfo or UTC).astimezone(UTC)
        return value

    return {name: sorted(repr({k: plain(v) for k, v in row.items()}) for row in rows)
            for name, rows in tables.items()}
