"""Tables owned by workorder alone."""

from __future__ import annotations

import sqlalchemy as sa

from chassis.audit import define_audit_log
from chassis.db import define_backbone_tables

metadata = sa.MetaData()

MONEY = sa.Numeric(12, 2)
QUANTITY = sa.Numeric(10, 3)
HOURS = sa.Numeric(6, 2)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
RO_ID = sa.String(40)


def _one_of(column: str, values: tuple[str, ...] | list[str], name: str) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=name)


STAGES = ("VEHICLE_RECEIVED", "EVALUATION", "PROPOSAL_BUILD", "AWAITING_CUSTOMER_AUTHORIZATION",
          "WORK_IN_PROGRESS", "QUALITY_ASSURANCE", "INVOICE", "VEHICLE_DELIVERED", "CLOSED",
          "CANCELLED")
PAY_TYPES = ("CUSTOMER_PAY", "WARRANTY", "INTERNAL")
LINE_STATUSES = ("DRAFT", "PROPOSED", "APPROVED", "DECLINED")
JOB_STATUSES = ("PENDING", "ASSIGNED", "IN_PROGRESS", "DONE")
PAYMENT_METHODS = ("CASH", "CARD", "WECHAT_PAY", "ALIPAY", "TRANSFER")

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

# What this site knows of each vehicle it has served (the odometer rule reads it).
vehicles = sa.Table(
    "vehicles", metadata,
    sa.Column("vin", sa.String(17), primary_key=True),
    sa.Column("plate", sa.String(16), nullable=False),
    sa.Column("model", sa.String(64)),
    sa.Column("last_mileage_km", sa.Integer, nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
)

repair_orders = sa.Table(
    "repair_orders", metadata,
    sa.Column("id", RO_ID, primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    # One repair order per appointment: a second reception of the same booking is refused.
    sa.Column("appointment_id", sa.String(64), unique=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("vin", sa.String(17), nullable=False),
    sa.Column("plate", sa.String(16), nullable=False),
    sa.Column("model", sa.String(64)),
    sa.Column("mileage_km", sa.Integer, nullable=False),
    sa.Column("odometer_changed", sa.Boolean, nullable=False),
    sa.Column("fuel_level", sa.Integer, nullable=False),
    sa.Column("concerns", sa.JSON, nullable=False),
    sa.Column("belongings", sa.JSON, nullable=False),
    sa.Column("customer_waiting", sa.Boolean, nullable=False),
    sa.Column("advisor_id", sa.String(64), nullable=False),
    sa.Column("stage", sa.String(40), nullable=False),
    sa.Column("quote_round", sa.Integer, nullable=False),
    sa.Column("work_approved", sa.Boolean, nullable=False),
    sa.Column("rework_count", sa.Integer, nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("promised_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("delivery_mileage_km", sa.Integer),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("cancel_reason", sa.String(200)),
    _one_of("stage", STAGES, "ck_repair_orders_stage"),
    sa.CheckConstraint("mileage_km >= 0", name="ck_repair_orders_mileage"),
    sa.CheckConstraint("fuel_level BETWEEN 0 AND 100", name="ck_repair_orders_fuel_level"),
    sa.CheckConstraint("quote_round >= 1", name="ck_repair_orders_quote_round"),
    sa.Index("ix_repair_orders_vin", "vin"),
    sa.Index("ix_repair_orders_customer", "customer_id"),
    sa.Index("ix_repair_orders_stage", "stage"),
)

# Every change of stage, for cycle time per stage and the owner's progress view.
stage_history = sa.Table(
    "stage_history", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("repair_order_id", RO_ID, sa.ForeignKey("repair_orders.id"), nullable=False),
    sa.Column("from_stage", sa.String(40)),
    sa.Column("to_stage", sa.String(40), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_stage_history_ro", "repair_order_id", "id"),
)

checklist_templates = sa.Table(
    "checklist_templates", metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),
)

checklist_template_items = sa.Table(
    "checklist_template_items", metadata,
    sa.Column("template_code", sa.String(32), sa.ForeignKey("checklist_templates.code"),
              primary_key=True),
    sa.Column("item_code", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
)

inspections = sa.Table(
    "inspections", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("repair_order_id", RO_ID, sa.ForeignKey("repair_orders.id"), nullable=False,
              unique=True),
    sa.Column("template_code", sa.String(32), nullable=False),
    sa.Column("started_by", sa.String(64), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("submitted_by", sa.String(64)),
    sa.Column("submitted_at", sa.DateTime(timezone=True)),
)

inspection_items = sa.Table(
    "inspection_items", metadata,
    sa.Column("inspection_id", sa.String(64), sa.ForeignKey("inspections.id"), primary_key=True),
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(8)),
    sa.Column("notes", sa.String(500)),
    sa.Column("photos", sa.JSON, nullable=False),
    sa.Column("recorded_by", sa.String(64)),
    sa.Column("recorded_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("status IS NULL OR status IN ('GREEN', 'YELLOW', 'RED')",
                       name="ck_inspection_items_status"),
)

# Photo files live on disk under media_dir, named by content hash; this is their register.
photos = sa.Table(
    "photos", metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("content_type", sa.String(32), nullable=False),
    sa.Column("size_bytes", sa.Integer, nullable=False),
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("size_bytes > 0", name="ck_photos_size"),
)

repair_order_photos = sa.Table(
    "repair_order_photos", metadata,
    sa.Column("repair_order_id", RO_ID, sa.ForeignKey("repair_orders.id"), primary_key=True),
    sa.Column("sha256", sa.String(64), sa.ForeignKey("photos.sha256"), primary_key=True),
    sa.Column("uploaded_by", sa.String(64), nullable=False),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
)

# One row per quote round (1 = the first quote, 2 … = additional work).
quotes = sa.Table(
    "quotes", metadata,
    sa.Column("repair_order_id", RO_ID, sa.ForeignKey("repair_orders.id"), primary_key=True),
    sa.Column("round", sa.Integer, primary_key=True),
    sa.Column("quote_id", sa.String(64), nullable=False, unique=True),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("opened_by", sa.String(64), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("sent_by", sa.String(64)),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("approved_via", sa.String(12)),
    sa.Column("signed_by", sa.String(64)),
    sa.Column("signer_name", sa.String(100)),
    sa.Column("signature_sha256", sa.String(64)),
    sa.Column("signed_from", sa.String(64)),
    sa.Column("approved_total", MONEY),
    sa.Column("declined_total", MONEY),
)

quote_lines = sa.Table(
    "quote_lines", metadata,
    sa.Column("repair_order_id", RO_ID, sa.ForeignKey("repair_orders.id"), primary_key=True),
    sa.Column("line_id", sa.String(16), primary_key=True),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("operation_code", sa.String(32)),
    sa.Column("flat_rate_hours", HOURS),
    sa.Column("skill", sa.String(32)),
    sa.Column("part_number", sa.String(40)),
    sa.Column("quantity", QUANTITY),
    sa.Column("unit", sa.String(8)),
    sa.Column("available_at_quote", QUANTITY),
    sa.Column("unit_price", MONEY, nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("pay_type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("issued_quantity", QUANTITY, nullable=False, server_default="0"),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    _one_of("kind", ("LABOUR", "PART"), "ck_quote_lines_kind"),
    _one_of("pay_type", PAY_TYPES, "ck_quote_lines_pay_type"),
    _one_of("status", LINE_STATUSES, "ck_quote_lines_status"),
    sa.CheckConstraint("amount >= 0 AND unit_price >= 0", name="ck_quote_lines_amounts"),
    sa.CheckConstraint(
        "(kind = 'LABOUR' AND operation_code IS NOT NULL AND flat_rate_hours > 0)"
        " OR (kind = 'PART' AND part_number IS NOT NULL AND quantity > 0)",
        name="ck_quote_lines_kind_fields"),
)

technicians = sa.Table(
    "technicians", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("skills", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# A job per approved labour line, and nothing else: work cannot start on an unapproved line.
jobs = sa.Table(
    "jobs", metadata,
    sa.Column("repair_order_id", RO_ID, primary_key=True),
    sa.Column("line_id", sa.String(16), primary_key=True),
    sa.Column("technician_id", sa.String(64), sa.ForeignKey("technicians.id")),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("assigned_by", sa.String(64)),
    sa.Column("assigned_at", sa.DateTime(timezone=True)),
    sa.Column("assignment_overridden", sa.Boolean, nullable=False),
    sa.Column("rework_count", sa.Integer, nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.ForeignKeyConstraint(["repair_order_id", "line_id"],
                            ["quote_lines.repair_order_id", "quote_lines.line_id"],
                            name="fk_jobs_quote_line"),
    _one_of("status", JOB_STATUSES, "ck_jobs_status"),
    sa.Index("ix_jobs_technician", "technician_id", "status"),
)

clock_entries = sa.Table(
    "clock_entries", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("repair_order_id", RO_ID, nullable=False),
    sa.Column("line_id", sa.String(16), nullable=False),
    sa.Column("technician_id", sa.String(64), nullable=False),
    sa.Column("clocked_on_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("clocked_off_at", sa.DateTime(timezone=True)),
    sa.ForeignKeyConstraint(["repair_order_id", "line_id"],
                            ["jobs.repair_order_id", "jobs.line_id"], name="fk_clock_entries_job"),
    sa.CheckConstraint("clocked_off_at IS NULL OR clocked_off_at >= clocked_on_at",
                       name="ck_clock_entries_order"),
    # The last line of defence of "one open clock per technician" against two racing requests.
    sa.Index("uq_clock_entries_one_open_per_technician", "technician_id", unique=True,
             postgresql_where=sa.text("clocked_off_at IS NULL"),
             sqlite_where=sa.text("clocked_off_at IS NULL")),
    sa.Index("ix_clock_entries_job", "repair_order_id", "line_id"),
)

quality_checks = sa.Table(
    "quality_checks", metadata,
    sa.Column("check_id", sa.String(64), primary_key=True),
    sa.Column("repair_order_id", RO_ID, sa.ForeignKey("repair_orders.id"), nullable=False),
    sa.Column("stage", sa.String(10), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(500)),
    sa.Column("rework_count", sa.Integer, nullable=False),
    sa.Column("line_ids", sa.JSON, nullable=False),
    sa.Column("checked_by", sa.String(64), nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    _one_of("stage", ("SELF", "INSPECTOR"), "ck_quality_checks_stage"),
    sa.CheckConstraint("passed OR reason IS NOT NULL", name="ck_quality_checks_reason"),
    sa.Index("ix_quality_checks_ro", "repair_order_id"),
)

# Parts issued to the repair order (from parts' PartIssued events): traceability (零件溯源).
part_issues = sa.Table(
    "part_issues", metadata,
    sa.Column("issue_id", sa.String(64), primary_key=True),
    sa.Column("repair_order_id", RO_ID, sa.ForeignKey("repair_orders.id"), nullable=False),
    sa.Column("line_id", sa.String(16), nullable=False),
    sa.Column("part_number", sa.String(40), nullable=False),
    sa.Column("quantity", QUANTITY, nullable=False),
    sa.Column("unit", sa.String(8), nullable=False),
    sa.Column("batch_number", sa.String(64)),
    sa.Column("serial_numbers", sa.JSON),
    sa.Column("from_stock", sa.Boolean, nullable=False),
    sa.Column("issued_by", sa.String(64), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    # False flags an issue against a line the owner did not approve, for the parts manager.
    sa.Column("against_approved_line", sa.Boolean, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_part_issues_ro", "repair_order_id", "line_id"),
)

invoices = sa.Table(
    "invoices", metadata,
    sa.Column("repair_order_id", RO_ID, sa.ForeignKey("repair_orders.id"), primary_key=True),
    sa.Column("invoice_number", sa.String(64), nullable=False, unique=True),
    sa.Column("labour_total", MONEY, nullable=False),
    sa.Column("parts_total", MONEY, nullable=False),
    sa.Column("sundries_total", MONEY, nullable=False),
    sa.Column("discount_total", MONEY, nullable=False),
    sa.Column("coupon_code", sa.String(32)),
    sa.Column("tax_total", MONEY, nullable=False),
    sa.Column("grand_total", MONEY, nullable=False),
    sa.Column("customer_pay_total", MONEY, nullable=False),
    sa.Column("warranty_total", MONEY, nullable=False),
    sa.Column("internal_total", MONEY, nullable=False),
    sa.Column("labour_hours_sold", HOURS, nullable=False),
    sa.Column("sundries", sa.JSON, nullable=False),
    sa.Column("issued_by", sa.String(64), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    # The owner's signature on the invoice, required before hand-over.
    sa.Column("signed_by_name", sa.String(100)),
    sa.Column("signature_sha256", sa.String(64)),
    sa.Column("signed_at", sa.DateTime(timezone=True)),
    sa.Column("signed_from", sa.String(64)),
    sa.Column("signed_via", sa.String(12)),
    sa.CheckConstraint(
        "grand_total = labour_total + parts_total + sundries_total - discount_total",
        name="ck_invoices_grand_total"),
    sa.CheckConstraint(
        "customer_pay_total + warranty_total + internal_total = grand_total",
        name="ck_invoices_pay_type_split"),
    sa.CheckConstraint("discount_total >= 0 AND customer_pay_total >= 0",
                       name="ck_invoices_non_negative"),
)

payments = sa.Table(
    "payments", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("repair_order_id", RO_ID, sa.ForeignKey("invoices.repair_order_id"),
              nullable=False),
    sa.Column("method", sa.String(12), nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("reference", sa.String(64)),
    sa.Column("received_by", sa.String(64), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    _one_of("method", PAYMENT_METHODS, "ck_payments_method"),
    sa.CheckConstraint("amount > 0", name="ck_payments_amount"),
    sa.Index("ix_payments_ro", "repair_order_id"),
)

# Payments the owner makes online through a payment provider (WeChat Pay H5): pending until
# the provider's signed notification (or its answer to a query) says paid, which records the
# payment above, or says the order is over without the money.
ONLINE_PAYMENT_STATUSES = ("pending", "paid", "failed")
online_payments = sa.Table(
    "online_payments", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    # The repair order, not its invoice: an invoice reissued while a payment is pending
    # replaces the invoice row, and the payment stays to be settled or refused.
    sa.Column("repair_order_id", RO_ID, sa.ForeignKey("repair_orders.id"), nullable=False),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("out_trade_no", sa.String(32), nullable=False, unique=True),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("provider_url", sa.String(1024), nullable=False),
    sa.Column("page_issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True)),
    sa.Column("transaction_id", sa.String(64)),
    sa.Column("paid_at", sa.String(40)),  # the provider's success_time, as it wrote it
    sa.Column("settled_at", sa.DateTime(timezone=True)),
    sa.Column("failure_reason", sa.String(300)),
    _one_of("status", ONLINE_PAYMENT_STATUSES, "ck_online_payments_status"),
    sa.CheckConstraint("amount > 0", name="ck_online_payments_amount"),
    sa.Index("ix_online_payments_ro", "repair_order_id", "status"),
)

# Recall and service campaigns published by headquarters (crm's RecallCampaignPublished):
# reception shows the ones that cover the car in front of it.
recall_campaigns = sa.Table(
    "recall_campaigns", metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(20)),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("operation_code", sa.String(32)),
    sa.Column("model", sa.String(64)),
    sa.Column("year_from", sa.Integer),
    sa.Column("year_to", sa.Integer),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_recall_campaigns_model", "model"),
)

# Which parts of a campaign have arrived (a VIN list comes in chunks, in any order).
recall_campaign_parts = sa.Table(
    "recall_campaign_parts", metadata,
    sa.Column("campaign_code", sa.String(32), sa.ForeignKey("recall_campaigns.code"),
              primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("vins", sa.Integer, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

recall_campaign_vins = sa.Table(
    "recall_campaign_vins", metadata,
    sa.Column("campaign_code", sa.String(32), sa.ForeignKey("recall_campaigns.code"),
              primary_key=True),
    sa.Column("vin", sa.String(17), primary_key=True),
    sa.Index("ix_recall_campaign_vins_vin", "vin"),
)

# Campaigns headquarters says are done on a car (crm's RecallCompleted, at any dealer):
# reception no longer shows them open. No foreign key: a completion may arrive before the
# campaign's own event does.
recall_completions = sa.Table(
    "recall_completions", metadata,
    sa.Column("campaign_code", sa.String(32), primary_key=True),
    sa.Column("vin", sa.String(17), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("repair_order_id", sa.String(64), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_recall_completions_vin", "vin"),
)

define_backbone_tables(metadata)
# Privileged actions (chassis.audit), each written in the transaction of the action.
audit_log = define_audit_log(metadata)
