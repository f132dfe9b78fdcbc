"""Tables owned by crm alone: the customer 360 projected from every site's events, and the
reminders, surveys, complaints and campaigns crm itself keeps.

Personal fields are stored only encrypted (`*_enc`, Fernet) with blind indexes (`*_index`,
HMAC-SHA256) for search; see crm.privacy.
"""

from __future__ import annotations

import sqlalchemy as sa

from chassis.db import define_backbone_tables

metadata = sa.MetaData()

MONEY = sa.Numeric(14, 2)
TS = sa.DateTime(timezone=True)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


customers = sa.Table(
    "customers", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name_enc", sa.Text),
    sa.Column("name_index", sa.String(64), index=True),
    sa.Column("phone_enc", sa.Text),
    sa.Column("phone_index", sa.String(64), unique=True),
    sa.Column("id_number_enc", sa.Text),
    sa.Column("id_number_index", sa.String(64), index=True),
    # Name and phone come from the newest booking; older bookings arriving late do not win.
    sa.Column("contact_as_of", TS),
    sa.Column("first_seen_at", TS, nullable=False),
)

# The customer ids the sites use, mapped to crm's customer (several sites, one person).
customer_aliases = sa.Table(
    "customer_aliases", metadata,
    sa.Column("alias", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), nullable=False,
              index=True),
)

vehicles = sa.Table(
    "vehicles", metadata,
    sa.Column("vin", sa.String(17), primary_key=True),
    sa.Column("plate", sa.String(16), index=True),
    sa.Column("model", sa.String(64)),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), index=True),
    # The newest event that named plate / owner decides them, whatever the arrival order.
    sa.Column("described_as_of", TS),
    sa.Column("owner_as_of", TS),
    sa.Column("first_seen_on", sa.Date, nullable=False),
    sa.Column("insurance_expires_on", sa.Date),
    sa.Column("inspection_due_on", sa.Date),
)

visits = sa.Table(
    "visits", metadata,
    sa.Column("dealer_code", sa.String(12), primary_key=True),
    sa.Column("repair_order_id", sa.String(64), primary_key=True),
    sa.Column("vin", sa.String(17), nullable=False, index=True),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), index=True),
    sa.Column("opened_at", TS),
    sa.Column("delivered_at", TS),
    sa.Column("mileage_in_km", sa.Integer),
    sa.Column("mileage_out_km", sa.Integer),
    sa.Column("grand_total", MONEY),
    sa.Column("labour_total", MONEY),
    sa.Column("parts_total", MONEY),
    sa.Column("currency", sa.String(3)),
    sa.CheckConstraint("mileage_in_km IS NULL OR mileage_in_km >= 0", name="ck_visit_mileage"),
)

declined_lines = sa.Table(
    "declined_lines", metadata,
    sa.Column("dealer_code", sa.String(12), primary_key=True),
    sa.Column("repair_order_id", sa.String(64), primary_key=True),
    sa.Column("line_id", sa.String(64), primary_key=True),
    sa.Column("quote_id", sa.String(64), nullable=False),
    sa.Column("vin", sa.String(17), nullable=False, index=True),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), index=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("operation_code", sa.String(40)),
    sa.Column("part_number", sa.String(40)),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("declined_at", TS, nullable=False),
)

APPOINTMENT_STATUSES = ("SCHEDULED", "CONFIRMED", "CHECKED_IN", "CANCELLED", "NO_SHOW")

appointments = sa.Table(
    "appointments", metadata,
    sa.Column("dealer_code", sa.String(12), primary_key=True),
    sa.Column("appointment_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), index=True),
    sa.Column("vin", sa.String(17), index=True),
    sa.Column("service_type", sa.String(20)),
    sa.Column("channel", sa.String(10)),
    sa.Column("slot_start", TS),
    sa.Column("booked_at", TS),
    sa.Column("reminder_id", sa.String(64)),
    sa.Column("lead_id", sa.String(64), index=True),
    sa.Column("status", sa.String(12), nullable=False),
    # Status changes apply only when newer than the last one applied (out-of-order arrival).
    sa.Column("status_sequence", sa.Integer, nullable=False),
    sa.CheckConstraint(_one_of("status", APPOINTMENT_STATUSES), name="ck_appointment_status"),
)

consents = sa.Table(
    "consents", metadata,
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), primary_key=True),
    # SERVICE, MARKETING (messages) or partner:<partner id> (sharing data, channel DATA).
    sa.Column("purpose", sa.String(72), primary_key=True),
    sa.Column("channel", sa.String(10), primary_key=True),
    sa.Column("granted", sa.Boolean, nullable=False),
    sa.Column("recorded_at", TS, nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
)

campaigns = sa.Table(
    "campaigns", metadata,
    sa.Column("code", sa.String(40), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("model", sa.String(64)),
    sa.Column("year_from", sa.Integer),
    sa.Column("year_to", sa.Integer),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    # RECALL or SERVICE_CAMPAIGN, and the labour operation whose delivery completes it.
    sa.Column("kind", sa.String(20)),
    sa.Column("operation_code", sa.String(32), index=True),
)

campaign_vins = sa.Table(
    "campaign_vins", metadata,
    sa.Column("campaign_code", sa.String(40), sa.ForeignKey("campaigns.code"), primary_key=True),
    sa.Column("vin", sa.String(17), primary_key=True),
)

# A campaign done on a car: its labour operation on a repair order delivered at a dealer.
# One row per campaign and VIN, whichever dealer did it first.
recall_completions = sa.Table(
    "recall_completions", metadata,
    sa.Column("campaign_code", sa.String(40), sa.ForeignKey("campaigns.code"), primary_key=True),
    sa.Column("vin", sa.String(17), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("repair_order_id", sa.String(64), nullable=False),
    sa.Column("operation_code", sa.String(32), nullable=False),
    sa.Column("delivered_at", TS, nullable=False),
    sa.Column("completed_at", TS, nullable=False),
)

# The maker's service schedule per model; models not listed follow the default schedule.
maintenance_schedules = sa.Table(
    "maintenance_schedules", metadata,
    sa.Column("model", sa.String(64), primary_key=True),
    sa.Column("first_km", sa.Integer, nullable=False),
    sa.Column("first_months", sa.Integer, nullable=False),
    sa.Column("interval_km", sa.Integer, nullable=False),
    sa.Column("interval_months", sa.Integer, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.CheckConstraint("first_km > 0 AND first_months > 0 AND interval_km > 0 "
                       "AND interval_months > 0", name="ck_schedule_positive"),
)

REMINDER_STATUSES = ("RAISED", "BOOKED")

reminders = sa.Table(
    "reminders", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("reason", sa.String(20), nullable=False),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), nullable=False,
              index=True),
    sa.Column("vin", sa.String(17), nullable=False),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("due_mileage_km", sa.Integer),
    sa.Column("campaign_code", sa.String(40)),
    sa.Column("source_repair_order_id", sa.String(64)),
    sa.Column("raised_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(10), nullable=False, server_default="RAISED"),
    sa.CheckConstraint(_one_of("status", REMINDER_STATUSES), name="ck_reminder_status"),
    sa.Index("ix_reminders_dealer_due", "dealer_code", "due_on"),
)

surveys = sa.Table(
    "surveys", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("repair_order_id", sa.String(64), nullable=False),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), index=True),
    sa.Column("vin", sa.String(17)),
    sa.Column("delivered_at", TS, nullable=False),
    sa.Column("due_at", TS, nullable=False),
    sa.Column("requested_at", TS),
    sa.Column("answered_at", TS),
    sa.Column("score", sa.Integer),
    sa.Column("comment", sa.String(1000)),
    sa.Column("channel", sa.String(10)),
    sa.CheckConstraint("score IS NULL OR (score >= 0 AND score <= 10)", name="ck_survey_score"),
    sa.Index("ix_surveys_due", "due_at", postgresql_where=sa.text("requested_at IS NULL"),
             sqlite_where=sa.text("requested_at IS NULL")),
)

COMPLAINT_STATUSES = ("OPEN", "CLOSED")

complaints = sa.Table(
    "complaints", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("survey_id", sa.String(64), sa.ForeignKey("surveys.id"), nullable=False,
              unique=True),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), index=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("repair_order_id", sa.String(64), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("comment", sa.String(1000)),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("opened_at", TS, nullable=False),
    sa.Column("closed_at", TS),
    sa.Column("resolution", sa.String(1000)),
    sa.CheckConstraint(_one_of("status", COMPLAINT_STATUSES), name="ck_complaint_status"),
)

LEAD_STATUSES = ("NEW", "CONTACTED", "BOOKED", "ARRIVED", "LOST")

leads = sa.Table(
    "leads", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("name_enc", sa.Text, nullable=False),
    sa.Column("phone_enc", sa.Text, nullable=False),
    sa.Column("phone_index", sa.String(64), nullable=False, index=True),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), index=True),
    sa.Column("interest", sa.String(200)),
    sa.Column("assigned_to", sa.String(64)),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("first_contact_due_at", TS, nullable=False),
    sa.Column("first_contacted_at", TS),
    sa.Column("appointment_id", sa.String(64)),
    sa.CheckConstraint(_one_of("status", LEAD_STATUSES), name="ck_lead_status"),
    sa.Index("ix_leads_dealer_received", "dealer_code", "received_at"),
)

lead_contacts = sa.Table(
    "lead_contacts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("lead_id", sa.String(64), sa.ForeignKey("leads.id"), nullable=False, index=True),
    sa.Column("agent", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("note", sa.String(500)),
    sa.Column("contacted_at", TS, nullable=False),
)

define_backbone_tables(metadata)
