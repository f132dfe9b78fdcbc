"""Tables owned by booking alone."""

from __future__ import annotations

import sqlalchemy as sa

from chassis.db import define_backbone_tables

metadata = sa.MetaData()

STATUSES = ("SCHEDULED", "CONFIRMED", "CHECKED_IN", "CANCELLED", "NO_SHOW")
CHANNELS = ("APP", "WECHAT", "PHONE", "WEB", "WALK_IN")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


appointments = sa.Table(
    "appointments", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("customer_name", sa.String(100), nullable=False),
    sa.Column("customer_phone", sa.String(20), nullable=False),
    sa.Column("plate", sa.String(16)),
    sa.Column("vin", sa.String(17)),
    sa.Column("model", sa.String(60)),
    sa.Column("service_type", sa.String(40), nullable=False),
    # Stored in UTC; slot_end is when the service is expected to be done.
    sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("slot_end", sa.DateTime(timezone=True), nullable=False),
    sa.Column("channel", sa.String(12), nullable=False),
    sa.Column("pickup_address", sa.String(200)),
    sa.Column("loaner_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("customer_waiting", sa.Boolean, nullable=False, default=False,
              server_default=sa.false()),
    sa.Column("advisor_id", sa.String(64)),
    sa.Column("reminder_id", sa.String(64)),
    sa.Column("lead_id", sa.String(64)),
    # STAR appointment status: SCHEDULED → CONFIRMED → CHECKED_IN | CANCELLED | NO_SHOW
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("booked_by", sa.String(64)),
    sa.Column("confirmed_at", sa.DateTime(timezone=True)),
    sa.Column("confirmed_by", sa.String(10)),
    sa.Column("checked_in_at", sa.DateTime(timezone=True)),
    sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    sa.Column("cancelled_by", sa.String(10)),
    sa.Column("cancel_reason", sa.String(24)),
    sa.Column("cancel_note", sa.String(200)),
    sa.Column("no_show_at", sa.DateTime(timezone=True)),
    sa.Column("reschedule_count", sa.Integer, nullable=False, default=0,
              server_default=sa.text("0")),
    sa.CheckConstraint(_one_of("status", STATUSES), name="ck_appointments_status"),
    sa.CheckConstraint(_one_of("channel", CHANNELS), name="ck_appointments_channel"),
    sa.CheckConstraint("slot_end >= slot_start", name="ck_appointments_slot_order"),
    sa.CheckConstraint("reschedule_count >= 0", name="ck_appointments_reschedule_count"),
    sa.Index("ix_appointments_slot", "dealer_code", "slot_start"),
    sa.Index("ix_appointments_customer", "customer_id", "slot_start"),
)

# The dealer's calendar (opening hours, closed dates, slots, capacity, service types) as one
# JSON document; the row also serialises bookings against calendar changes (row lock).
calendars = sa.Table(
    "calendars", metadata,
    sa.Column("dealer_code", sa.String(12), primary_key=True),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("configured", sa.Boolean, nullable=False),  # false: the built-in default
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.String(64)),
)

# One row per slot that was ever booked: a booking locks the rows of the slots it needs, in
# ascending order, before counting what is already in them. That is what keeps two
# concurrent bookings from both taking the last place.
slot_locks = sa.Table(
    "slot_locks", metadata,
    sa.Column("dealer_code", sa.String(12), primary_key=True),
    sa.Column("slot_start", sa.DateTime(timezone=True), primary_key=True),
)

define_backbone_tables(metadata)
