"""A small consumer service for the fault tests: it records each booked appointment it sees.

Its handler can be told to fail: `FAILURES[appointment_id] = n` fails the next n attempts
(a transient fault); `PERMANENT` fails every attempt.
"""

from __future__ import annotations

import sqlalchemy as sa

from chassis.consumer import handle_event
from chassis.db import Database, define_backbone_tables
from chassis.service import PlatformService
from contracts import events

metadata = sa.MetaData()
entries = sa.Table(
    "entries", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # Deliberately not unique: a doubled effect must show up as two rows.
    sa.Column("appointment_id", sa.String(64), nullable=False),
)
define_backbone_tables(metadata)

FAILURES: dict[str, int] = {}
PERMANENT: set[str] = set()


class TransientFault(Exception):
    pass


class PermanentFault(Exception):
    pass


class LedgerService(PlatformService):
    name = "ledger"
    db = Database(metadata)

    @handle_event("booking", events.AppointmentBooked)
    def on_booked(self, event: dict) -> None:
        appointment_id = event["data"]["appointment_id"]
        # The effect is written before the fault, so a rollback is what keeps it from counting.
        self.db.execute(entries.insert().values(appointment_id=appointment_id))
        if appointment_id in PERMANENT:
            raise PermanentFault(f"appointment {appointment_id} can never be applied")
        if FAILURES.get(appointment_id, 0) > 0:
            FAILURES[appointment_id] -= 1
            raise TransientFault("database hiccup")
