"""Notify's own tables: a small contact book, what it knows of appointments and repair
orders (to word and address messages), the delivery log and the channels' rate buckets."""

from __future__ import annotations

import sqlalchemy as sa

from chassis.db import define_backbone_tables

metadata = sa.MetaData()

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# One row per customer; name and phone sealed (Fernet), phone also as a keyed hash.
contacts = sa.Table(
    "contacts", metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("name_sealed", sa.Text),
    sa.Column("phone_sealed", sa.Text),
    sa.Column("phone_hash", sa.String(64), index=True),
    # booked_at of the booking the name and phone came from: the latest booking wins,
    # whatever order bookings arrive in.
    sa.Column("learned_at", sa.DateTime(timezone=True)),
    sa.Column("email", sa.String(254)),
    sa.Column("wechat_openid", sa.String(64)),
    sa.Column("language", sa.String(8), nullable=False, server_default="zh-CN"),
    sa.Column("time_zone", sa.String(64)),
    sa.Column("channels", sa.String(64)),  # preferred channels, comma-separated; NULL = default
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# What the customer allows, per purpose and channel (crm's channel names): crm owns consent
# and sends each change (ConsentChanged); a 退订 here is applied at once and sent to crm.
consents = sa.Table(
    "consents", metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("purpose", sa.String(12), primary_key=True),
    sa.Column("channel", sa.String(10), primary_key=True),
    sa.Column("granted", sa.Boolean, nullable=False),
    # When the customer made the change: an older change never overwrites a newer one.
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("via", sa.String(20), nullable=False),
)

appointments = sa.Table(
    "appointments", metadata,
    sa.Column("appointment_id", sa.String(64), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("plate", sa.String(16)),
    sa.Column("slot_start", sa.DateTime(timezone=True)),
    sa.Column("slot_start_sequence", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    sa.Column("last_sequence", sa.Integer, nullable=False),
)

repair_orders = sa.Table(
    "repair_orders", metadata,
    sa.Column("repair_order_id", sa.String(64), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("customer_id", sa.String(64)),
    sa.Column("plate", sa.String(16)),
    sa.Column("promised_at", sa.DateTime(timezone=True)),
    sa.Column("promised_at_sequence", sa.Integer, nullable=False, server_default="0"),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("last_sequence", sa.Integer, nullable=False),
)

# The delivery log: one row per message per channel, from QUEUED to SENT, FAILED or SUPPRESSED.
deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(36), nullable=False, unique=True),
    # One message per event per customer per channel: a redelivered event sends nothing twice.
    sa.Column("dedupe_key", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("customer_id", sa.String(64)),       # NULL until the repair order is known
    sa.Column("repair_order_id", sa.String(64)),
    sa.Column("appointment_id", sa.String(64)),
    sa.Column("reference", sa.String(128), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON: link, amount, reason, times
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500)),
    sa.Column("provider_id", sa.String(128)),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("dedupe_key", name="uq_deliveries_dedupe_key"),
    sa.CheckConstraint("status IN ('QUEUED', 'SENT', 'FAILED', 'SUPPRESSED')",
                       name="ck_deliveries_status"),
    sa.CheckConstraint("status <> 'SUPPRESSED' OR reason IS NOT NULL",
                       name="ck_deliveries_suppressed_reason"),
    sa.CheckConstraint("attempts >= 0", name="ck_deliveries_attempts"),
    sa.Index("ix_deliveries_due", "status", "due_at"),
    sa.Index("ix_deliveries_customer", "customer_id", "created_at"),
)

rate_buckets = sa.Table(
    "rate_buckets", metadata,
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("tokens >= 0", name="ck_rate_buckets_tokens"),
)

define_backbone_tables(metadata)
