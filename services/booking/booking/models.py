"""Tables owned by booking alone."""

from __future__ import annotations

import sqlalchemy as sa

from chassis.db import define_backbone_tables

metadata = sa.MetaData()

appointments = sa.Table(
    "appointments", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("customer_id", sa.String(36), nullable=False),
    sa.Column("customer_name", sa.String(100), nullable=False),
    sa.Column("customer_phone", sa.String(20), nullable=False),
    sa.Column("plate", sa.String(16)),
    sa.Column("vin", sa.String(17)),
    sa.Column("model", sa.String(60)),
    sa.Column("service_type", sa.String(40), nullable=False),
    sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("slot_end", sa.DateTime(timezone=True), nullable=False),
    sa.Column("channel", sa.String(12), nullable=False),
    sa.Column("pickup_address", sa.String(200)),
    sa.Column("loaner_requested", sa.Boolean, nullable=False, default=False),
    # STAR appointment status: SCHEDULED → CONFIRMED → CHECKED_IN | CANCELLED | NO_SHOW
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_appointments_slot", "dealer_code", "slot_start"),
)

define_backbone_tables(metadata)
