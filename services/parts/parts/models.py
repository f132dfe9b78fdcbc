"""Tables owned by parts alone (one database per dealer site).

CHECK constraints repeat the stock rules as the last line of defence: whatever a bug or a
race might try, on hand and reserved never go negative and reserved never exceeds on hand.
"""

from __future__ import annotations

import sqlalchemy as sa

from chassis.audit import define_audit_log
from chassis.db import define_backbone_tables

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
QUANTITY = sa.Numeric(12, 3)   # up to 999,999,999.999 (litres of oil come with decimals)
MONEY = sa.Numeric(14, 2)      # CNY including VAT


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


# -- catalogue --------------------------------------------------------------------------------

parts = sa.Table(
    "parts", metadata,
    sa.Column("part_number", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("unit", sa.String(3), nullable=False),
    sa.Column("unit_price", MONEY, nullable=False),
    sa.Column("tracking", sa.String(6), nullable=False),  # BATCH | SERIAL
    _when("created_at"),
    _when("updated_at"),
    sa.CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    sa.CheckConstraint("tracking IN ('BATCH', 'SERIAL')", name="tracking_known"),
)

# Models a part fits, by model code (车型代码).
part_models = sa.Table(
    "part_models", metadata,
    sa.Column("part_number", sa.String(40), sa.ForeignKey("parts.part_number"),
              primary_key=True),
    sa.Column("model_code", sa.String(32), primary_key=True),
    sa.Index(None, "model_code"),
)

# VIN prefix (WMI + VDS) → model, kept by the parts clerk; a VIN's model is its longest prefix.
vin_models = sa.Table(
    "vin_models", metadata,
    sa.Column("vin_prefix", sa.String(11), primary_key=True),
    sa.Column("model_code", sa.String(32), nullable=False),
    sa.Column("model_name", sa.String(64)),
    sa.Column("updated_by", sa.String(64), nullable=False),
    _when("updated_at"),
)

# -- stock ------------------------------------------------------------------------------------

stock_levels = sa.Table(
    "stock_levels", metadata,
    sa.Column("part_number", sa.String(40), sa.ForeignKey("parts.part_number"),
              primary_key=True),
    sa.Column("on_hand", QUANTITY, nullable=False),
    sa.Column("reserved", QUANTITY, nullable=False),
    sa.Column("bin_location", sa.String(32)),
    sa.Column("reorder_point", QUANTITY, nullable=False),
    sa.Column("reorder_quantity", QUANTITY, nullable=False),
    _when("updated_at"),
    sa.CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
    sa.CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    sa.CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    sa.CheckConstraint("reorder_point >= 0 AND reorder_quantity >= 0",
                       name="reorder_policy_not_negative"),
)

# A batch received, or one serial-numbered unit; issues take from the oldest first (FIFO).
stock_lots = sa.Table(
    "stock_lots", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("part_number", sa.String(40), sa.ForeignKey("parts.part_number"),
              nullable=False),
    sa.Column("batch_number", sa.String(64)),
    sa.Column("serial_number", sa.String(64)),
    sa.Column("quantity_received", QUANTITY, nullable=False),
    sa.Column("quantity_remaining", QUANTITY, nullable=False),
    sa.Column("receipt_id", sa.String(64), nullable=False),
    _when("received_at"),
    sa.CheckConstraint("batch_number IS NOT NULL OR serial_number IS NOT NULL",
                       name="batch_or_serial"),
    sa.CheckConstraint("quantity_remaining >= 0 AND quantity_remaining <= quantity_received",
                       name="remaining_within_received"),
    sa.CheckConstraint("serial_number IS NULL OR quantity_received = 1",
                       name="one_unit_per_serial"),
    sa.Index("ix_stock_lots_fifo", "part_number", "received_at", "id"),
    sa.Index("ix_stock_lots_batch", "batch_number"),
    # A serial number is on the shelf at most once (it may come back after a transfer).
    sa.Index("uq_stock_lots_serial_on_hand", "part_number", "serial_number", unique=True,
             postgresql_where=sa.text("serial_number IS NOT NULL AND quantity_remaining > 0"),
             sqlite_where=sa.text("serial_number IS NOT NULL AND quantity_remaining > 0")),
)

receipts = sa.Table(
    "receipts", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("reference", sa.String(64)),  # delivery note or purchase order number
    sa.Column("transfer_id", sa.String(64)),
    sa.Column("from_dealer_code", sa.String(12)),
    sa.Column("received_by", sa.String(64), nullable=False),
    _when("received_at"),
)

transfers = sa.Table(
    "transfers", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("part_number", sa.String(40), sa.ForeignKey("parts.part_number"),
              nullable=False),
    sa.Column("quantity", QUANTITY, nullable=False),
    sa.Column("to_dealer_code", sa.String(12), nullable=False),
    sa.Column("note", sa.String(200)),
    sa.Column("transferred_by", sa.String(64), nullable=False),
    _when("transferred_at"),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
)

# Stocktake results: every count is kept, with who counted and why the figure changed.
stock_adjustments = sa.Table(
    "stock_adjustments", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("part_number", sa.String(40), sa.ForeignKey("parts.part_number"),
              nullable=False),
    sa.Column("previous_on_hand", QUANTITY, nullable=False),
    sa.Column("counted", QUANTITY, nullable=False),
    sa.Column("difference", QUANTITY, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("adjusted_by", sa.String(64), nullable=False),
    _when("adjusted_at"),
    sa.CheckConstraint("counted >= 0", name="counted_not_negative"),
    sa.CheckConstraint("length(reason) > 0", name="reason_given"),
    sa.Index(None, "part_number", "adjusted_at"),
)

# -- repair orders and their reservations -----------------------------------------------------

# What parts knows of a repair order: learnt from workorder's events.
repair_orders = sa.Table(
    "repair_orders", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("vin", sa.String(17), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # OPEN | CLOSED | CANCELLED
    _when("created_at"),
    _when("updated_at"),
)

reservations = sa.Table(
    "reservations", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("repair_order_id", sa.String(64), sa.ForeignKey("repair_orders.id"),
              nullable=False),
    sa.Column("quote_line_id", sa.String(64), nullable=False),
    # No foreign key: an approved line may name a part the catalogue does not have yet.
    sa.Column("part_number", sa.String(40), nullable=False),
    sa.Column("quantity_approved", QUANTITY, nullable=False),
    sa.Column("quantity_reserved", QUANTITY, nullable=False),
    sa.Column("quantity_issued", QUANTITY, nullable=False),
    sa.Column("quantity_returned", QUANTITY, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # ACTIVE | DECLINED | RELEASED
    sa.Column("decided_sequence", sa.Integer, nullable=False),
    sa.Column("from_stock", sa.Boolean, nullable=False),
    sa.Column("unit_price", MONEY),
    _when("created_at"),
    _when("updated_at"),
    sa.UniqueConstraint("repair_order_id", "quote_line_id"),
    sa.CheckConstraint("quantity_approved >= 0 AND quantity_reserved >= 0 "
                       "AND quantity_issued >= 0 AND quantity_returned >= 0",
                       name="quantities_not_negative"),
    sa.CheckConstraint("quantity_returned <= quantity_issued", name="returned_within_issued"),
    sa.CheckConstraint("quantity_reserved = 0 OR status = 'ACTIVE'",
                       name="only_active_lines_hold_stock"),
    sa.CheckConstraint("status IN ('ACTIVE', 'DECLINED', 'RELEASED')", name="status_known"),
    sa.Index(None, "part_number", "status"),
)

requisitions = sa.Table(
    "requisitions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("repair_order_id", sa.String(64), sa.ForeignKey("repair_orders.id"),
              nullable=False),
    sa.Column("quote_line_id", sa.String(64), nullable=False),
    sa.Column("part_number", sa.String(40), nullable=False),
    sa.Column("quantity", QUANTITY, nullable=False),
    sa.Column("requested_by", sa.String(64), nullable=False),
    _when("issued_at"),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
)

part_returns = sa.Table(
    "part_returns", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("repair_order_id", sa.String(64), sa.ForeignKey("repair_orders.id"),
              nullable=False),
    sa.Column("quote_line_id", sa.String(64), nullable=False),
    sa.Column("part_number", sa.String(40), nullable=False),
    sa.Column("quantity", QUANTITY, nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("note", sa.String(200)),
    sa.Column("returned_by", sa.String(64), nullable=False),
    _when("returned_at"),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
)

# -- the ledger ---------------------------------------------------------------------------------

# Every change of on hand or reserved, one row per lot touched: who, when, why, for which
# repair order and vehicle. Append-only (the migration adds triggers refusing UPDATE and
# DELETE); traceability and audits read it.
stock_movements = sa.Table(
    "stock_movements", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(12), nullable=False),
    sa.Column("part_number", sa.String(40), nullable=False),
    sa.Column("lot_id", _ID),
    sa.Column("batch_number", sa.String(64)),
    sa.Column("serial_number", sa.String(64)),
    sa.Column("on_hand_change", QUANTITY, nullable=False),
    sa.Column("reserved_change", QUANTITY, nullable=False),
    sa.Column("on_hand_after", QUANTITY, nullable=False),
    sa.Column("reserved_after", QUANTITY, nullable=False),
    sa.Column("repair_order_id", sa.String(64)),
    sa.Column("quote_line_id", sa.String(64)),
    sa.Column("vin", sa.String(17)),
    # The receipt, requisition, return, transfer, adjustment or reservation it belongs to.
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(200)),
    sa.Column("actor", sa.String(64), nullable=False),
    _when("moved_at"),
    sa.CheckConstraint("on_hand_after >= 0 AND reserved_after >= 0 "
                       "AND reserved_after <= on_hand_after", name="balances_valid"),
    sa.Index(None, "part_number", "id"),
    sa.Index(None, "repair_order_id"),
    sa.Index(None, "batch_number"),
    sa.Index(None, "serial_number"),
    sa.Index(None, "vin"),
)

define_backbone_tables(metadata)
# Privileged actions (chassis.audit), each written in the transaction of the action.
audit_log = define_audit_log(metadata)
