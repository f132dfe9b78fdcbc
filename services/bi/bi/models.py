"""Tables owned by BI alone: the event log, facts per aggregate, rollups per dealer and day.

Facts are keyed by the aggregate (appointment, repair order, quote line, ...) so a duplicate
or late event updates one row. Dashboards read the rollups only: one row per dealer and day
(`daily_rollups`), whatever the number of facts behind it, and one per dealer and month
(`monthly_rollups`, the sum of its days) so that a year across all dealers reads twelve rows
per dealer rather than 365. A dealer's region is not copied into facts or
rollups: it is joined from `dealers` (a few thousand rows) at query time, so moving a dealer
to another region never rewrites history.
"""

from __future__ import annotations

import sqlalchemy as sa

from bi.domain import DECIMAL_MEASURES, ROLLUP_MEASURES
from chassis.db import define_backbone_tables

metadata = sa.MetaData()

MONEY = sa.Numeric(14, 2)
HOURS = sa.Numeric(10, 2)

dealers = sa.Table(
    "dealers", metadata,
    sa.Column("dealer_code", sa.String(12), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("region", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_dealers_region", "region"),
)

# One row: BI's writers take it first, so projections are applied one transaction at a time
# (no insert races on facts, no deadlocks between rollup rows, vehicle-wide recounts see
# every visit).
projection_lock = sa.Table(
    "projection_lock", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.CheckConstraint("id = 1", name="ck_projection_lock_single_row"),
)

# Append-only: every event BI accepted (the inbox already dropped duplicates), for replay.
event_log = sa.Table(
    "event_log", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("source", sa.String(120), nullable=False),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("envelope", sa.JSON, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)

appointment_facts = sa.Table(
    "appointment_facts", metadata,
    sa.Column("appointment_id", sa.String(64), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("day", sa.Date, nullable=False),  # the appointment's (latest) slot day
    sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("slot_sequence", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_sequence", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(12)),
    sa.Column("service_type", sa.String(20)),
    sa.Column("reminder_id", sa.String(64)),
    sa.Column("lead_id", sa.String(64)),
    sa.Column("booked_at", sa.DateTime(timezone=True)),
    sa.Column("checked_in_at", sa.DateTime(timezone=True)),
    sa.Index("ix_appointment_facts_dealer_day", "dealer_code", "day"),
    sa.Index("ix_appointment_facts_reminder", "reminder_id"),
)

repair_order_facts = sa.Table(
    "repair_order_facts", metadata,
    sa.Column("repair_order_id", sa.String(64), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("vin", sa.String(17)),
    sa.Column("appointment_id", sa.String(64)),
    sa.Column("concerns", sa.JSON),  # concern keys (codes, else normalised text)
    sa.Column("opened_at", sa.DateTime(timezone=True)),
    sa.Column("opened_day", sa.Date),
    sa.Column("promised_at", sa.DateTime(timezone=True)),
    sa.Column("inspected_at", sa.DateTime(timezone=True)),
    sa.Column("approved_at", sa.DateTime(timezone=True)),
    sa.Column("work_done_at", sa.DateTime(timezone=True)),
    sa.Column("qc_passed_at", sa.DateTime(timezone=True)),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("delivered_day", sa.Date),
    sa.Column("delivered_sequence", sa.Integer),
    sa.Column("labour_total", MONEY),
    sa.Column("parts_total", MONEY),
    sa.Column("grand_total", MONEY),
    sa.Column("customer_pay", MONEY),
    sa.Column("warranty", MONEY),
    sa.Column("internal", MONEY),
    sa.Column("labour_hours_sold", HOURS),
    sa.Column("clocked_hours", HOURS),
    sa.Column("comeback", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_repair_order_facts_opened", "dealer_code", "opened_day"),
    sa.Index("ix_repair_order_facts_delivered", "dealer_code", "delivered_day"),
    sa.Index("ix_repair_order_facts_vin", "vin"),
    sa.Index("ix_repair_order_facts_appointment", "appointment_id"),
)

quote_line_facts = sa.Table(
    "quote_line_facts", metadata,
    sa.Column("repair_order_id", sa.String(64), primary_key=True),
    sa.Column("line_id", sa.String(64), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("vin", sa.String(17), nullable=False),
    sa.Column("day", sa.Date, nullable=False),  # day the customer decided
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decision_sequence", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("work_key", sa.String(80), nullable=False),  # operation code or part number
    sa.Column("pay_type", sa.String(16), nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("approved", sa.Boolean, nullable=False),
    sa.Column("recaptured", sa.Boolean, nullable=False, default=False),
    sa.CheckConstraint("amount >= 0", name="ck_quote_line_facts_amount"),
    sa.Index("ix_quote_line_facts_dealer_day", "dealer_code", "day"),
    sa.Index("ix_quote_line_facts_vin", "vin"),
)

part_issue_facts = sa.Table(
    "part_issue_facts", metadata,
    sa.Column("issue_id", sa.String(64), primary_key=True),
    sa.Column("repair_order_id", sa.String(64), nullable=False),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("from_stock", sa.Boolean, nullable=False),
    sa.Index("ix_part_issue_facts_dealer_day", "dealer_code", "day"),
)

quality_check_facts = sa.Table(
    "quality_check_facts", metadata,
    sa.Column("check_id", sa.String(64), primary_key=True),
    sa.Column("repair_order_id", sa.String(64), nullable=False),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("stage", sa.String(10), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Index("ix_quality_check_facts_dealer_day", "dealer_code", "day"),
)

survey_facts = sa.Table(
    "survey_facts", metadata,
    sa.Column("survey_id", sa.String(64), primary_key=True),
    sa.Column("repair_order_id", sa.String(64), nullable=False),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.CheckConstraint("score BETWEEN 0 AND 10", name="ck_survey_facts_score"),
    sa.Index("ix_survey_facts_dealer_day", "dealer_code", "day"),
)

reminder_facts = sa.Table(
    "reminder_facts", metadata,
    sa.Column("reminder_id", sa.String(64), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("day", sa.Date, nullable=False),  # day raised
    sa.Column("reason", sa.String(24), nullable=False),
    sa.Index("ix_reminder_facts_dealer_day", "dealer_code", "day"),
)

# Recall campaigns (crm's RecallCampaignPublished) and, per campaign and car, whether and
# where it was done (RecallCompleted). Completion rates are read from these at query time:
# a campaign's cars are not dealer-days, so they have no rollup.
recall_campaign_facts = sa.Table(
    "recall_campaign_facts", metadata,
    sa.Column("campaign_code", sa.String(32), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20)),
    sa.Column("starts_on", sa.Date, nullable=False),
)

recall_car_facts = sa.Table(
    "recall_car_facts", metadata,
    sa.Column("campaign_code", sa.String(32), primary_key=True),
    sa.Column("vin", sa.String(17), primary_key=True),
    sa.Column("dealer_code", sa.String(12)),  # the dealer that did it; None while open
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.Index("ix_recall_car_facts_vin", "vin"),
)


def _measure(name: str) -> sa.Column:
    kind = MONEY if name in DECIMAL_MEASURES else sa.BigInteger
    return sa.Column(name, kind, nullable=False, default=0, server_default=sa.text("0"))


daily_rollups = sa.Table(
    "daily_rollups", metadata,
    sa.Column("dealer_code", sa.String(12), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    *(_measure(name) for name in ROLLUP_MEASURES),
    sa.Index("ix_daily_rollups_day", "day", "dealer_code"),
)

monthly_rollups = sa.Table(
    "monthly_rollups", metadata,
    sa.Column("dealer_code", sa.String(12), primary_key=True),
    sa.Column("month", sa.Date, primary_key=True),  # the first day of the month
    *(_measure(name) for name in ROLLUP_MEASURES),
    sa.Index("ix_monthly_rollups_month", "month", "dealer_code"),
)

FACT_TABLES = (appointment_facts, repair_order_facts, quote_line_facts, part_issue_facts,
               quality_check_facts, survey_facts, reminder_facts, recall_campaign_facts,
               recall_car_facts)

define_backbone_tables(metadata)
