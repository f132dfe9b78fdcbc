"""Tables owned by workorder alone."""

from __future__ import annotations

import sqlalchemy as sa

from chassis.db import define_backbone_tables

metadata = sa.MetaData()

# Cars the site expects, learnt from booking's events: reception starts from these.
expected_arrivals = sa.Table(
    "expected_arrivals", metadata,
    sa.Column("appointment_id", sa.String(36), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("customer_id", sa.String(36), nullable=False),
    sa.Column("plate", sa.String(16)),
    sa.Column("vin", sa.String(17)),
    sa.Column("model", sa.String(60)),
    sa.Column("service_type", sa.String(40), nullable=False),
    sa.Column("expected_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("loaner_requested", sa.Boolean, nullable=False),
    sa.Column("pickup_requested", sa.Boolean, nullable=False),
    sa.Column("last_sequence", sa.Integer, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_expected_arrivals_day", "dealer_code", "expected_at"),
)

define_backbone_tables(metadata)
