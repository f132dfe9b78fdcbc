"""Tables owned by partners alone."""

from __future__ import annotations

import sqlalchemy as sa

from chassis.db import define_backbone_tables

metadata = sa.MetaData()

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)

# One per franchise shop, linked to the client id identity gave its system (a `partner`
# token's subject). `entitlements` is {event_types, dealers, regions, all_vehicles}; the VINs
# it services are rows of partner_vins.
partners = sa.Table(
    "partners", metadata,
    sa.Column("partner_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False, unique=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("entitlements", sa.JSON, nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("updated_at", _TIME, nullable=False),
)

partner_vins = sa.Table(
    "partner_vins", metadata,
    sa.Column("partner_id", sa.String(64), sa.ForeignKey("partners.partner_id"),
              primary_key=True),
    sa.Column("vin", sa.String(17), primary_key=True),
)

# Partners' own copy of the dealers' regions (set by the operator, like BI's).
dealer_regions = sa.Table(
    "dealer_regions", metadata,
    sa.Column("dealer_code", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(40), nullable=False),
    sa.Column("updated_at", _TIME, nullable=False),
)

endpoints = sa.Table(
    "endpoints", metadata,
    sa.Column("endpoint_id", sa.String(36), primary_key=True),
    sa.Column("partner_id", sa.String(64), sa.ForeignKey("partners.partner_id"),
              nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("event_types", sa.JSON),  # None: every type the partner is entitled to
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("disabled_because", sa.String(10)),
    sa.Column("disabled_at", _TIME),
    # Since when every attempt has failed (None after a success): 5 days of it disables.
    sa.Column("failing_since", _TIME),
    sa.Column("rate_per_second", sa.Float, nullable=False),
    sa.Column("rate_burst", sa.Float, nullable=False),
    sa.Column("rate_tokens", sa.Float),
    sa.Column("rate_updated_at", _TIME),
    sa.Column("created_at", _TIME, nullable=False),
    sa.CheckConstraint("status IN ('ACTIVE', 'DISABLED')", name="ck_endpoints_status"),
    sa.Index("ix_endpoints_partner", "partner_id"),
)

# Standard Webhooks secrets; while a rotation overlaps, every live one signs. `secret` is
# sealed (a Fernet token under secret_encryption_key, `partners.store.endpoint_sealer`).
endpoint_secrets = sa.Table(
    "endpoint_secrets", metadata,
    sa.Column("secret_id", sa.String(36), primary_key=True),
    sa.Column("endpoint_id", sa.String(36), sa.ForeignKey("endpoints.endpoint_id"),
              nullable=False),
    sa.Column("secret", sa.String(400), nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("expires_at", _TIME),
    sa.Index("ix_endpoint_secrets_endpoint", "endpoint_id"),
)

# The feed: one row per (partner, event), the CloudEvent as that partner may see it (after
# redaction). `position` is the feed's cursor: given out under one lock, in commit order, so a
# reader that saw position N never later finds a smaller one.
messages = sa.Table(
    "messages", metadata,
    sa.Column("position", _ID, primary_key=True, autoincrement=True),
    sa.Column("partner_id", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("subject_key", sa.String(200), nullable=False),  # source + subject
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("event_time", _TIME, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # exactly the bytes sent (UTF-8 JSON)
    sa.Column("received_at", _TIME, nullable=False),  # arrival at headquarters
    sa.UniqueConstraint("partner_id", "event_id", name="uq_messages_partner_event"),
    sa.Index("ix_messages_feed", "partner_id", "position"),
)

STATUSES = ("WAITING", "PENDING", "SENDING", "DELIVERED", "FAILED")

# One per (endpoint, event), written with the event's inbox row.
deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("delivery_id", _ID, primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", sa.String(36), sa.ForeignKey("endpoints.endpoint_id"),
              nullable=False),
    sa.Column("partner_id", sa.String(64), nullable=False),
    sa.Column("position", _ID, sa.ForeignKey("messages.position"), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("subject_key", sa.String(200), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", _TIME, nullable=False),
    sa.Column("lease_until", _TIME),  # SENDING: when another dispatcher may take it back
    sa.Column("last_attempt_at", _TIME),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.String(500)),
    sa.Column("delivered_at", _TIME),
    sa.Column("created_at", _TIME, nullable=False),  # the event's arrival at headquarters
    sa.Column("settled_at", _TIME),
    sa.UniqueConstraint("endpoint_id", "event_id", name="uq_deliveries_endpoint_event"),
    sa.CheckConstraint("status IN ('WAITING', 'PENDING', 'SENDING', 'DELIVERED', 'FAILED')",
                       name="ck_deliveries_status"),
    sa.Index("ix_deliveries_due", "next_attempt_at",
             postgresql_where=sa.text("status = 'PENDING'"),
             sqlite_where=sa.text("status = 'PENDING'")),
    sa.Index("ix_deliveries_lane", "endpoint_id", "subject_key", "sequence"),
    sa.Index("ix_deliveries_endpoint_time", "endpoint_id", "created_at"),
)

# The delivery log: one row per attempt.
attempts = sa.Table(
    "delivery_attempts", metadata,
    sa.Column("attempt_id", _ID, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", _ID, sa.ForeignKey("deliveries.delivery_id"), nullable=False),
    sa.Column("endpoint_id", sa.String(36), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("started_at", _TIME, nullable=False),
    sa.Column("outcome", sa.String(10), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("response_excerpt", sa.Text),
    sa.Column("error", sa.String(500)),
    sa.Index("ix_delivery_attempts_delivery", "delivery_id"),
)

# What earlier events said about an appointment or repair order: its owner and car, for the
# events that do not name them.
subject_facts = sa.Table(
    "subject_facts", metadata,
    sa.Column("reference", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64)),
    sa.Column("vin", sa.String(17)),
)

# Owners' consent to share their personal data with one partner (crm's purpose partner:<id>).
consents = sa.Table(
    "consents", metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("partner_id", sa.String(64), primary_key=True),
    sa.Column("granted", sa.Boolean, nullable=False),
    sa.Column("changed_at", _TIME, nullable=False),
)

# What the partner was told (an endpoint disabled), for it to read with its own token.
notices = sa.Table(
    "notices", metadata,
    sa.Column("notice_id", _ID, primary_key=True, autoincrement=True),
    sa.Column("partner_id", sa.String(64), nullable=False),
    sa.Column("endpoint_id", sa.String(36)),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("text", sa.String(1000), nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Index("ix_notices_partner", "partner_id", "notice_id"),
)

define_backbone_tables(metadata)
