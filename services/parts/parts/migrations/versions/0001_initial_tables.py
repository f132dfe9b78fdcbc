"""initial tables: catalogue, VIN models, stock, lots, reservations, movements ledger

The movements ledger is append-only: triggers refuse UPDATE and DELETE on both PostgreSQL
and SQLite (embedded mode).

Revision ID: 0001
Revises:
Create Date: 2026-11-22 14:55:55.304674
"""

import sqlalchemy as sa
from alembic import op

from chassis.migration_env import create_backbone_tables, drop_backbone_tables

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_backbone_tables()
    op.create_table('parts',
    sa.Column('part_number', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('unit', sa.String(length=3), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('tracking', sa.String(length=6), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("tracking IN ('BATCH', 'SERIAL')", name=op.f('ck_parts_tracking_known')),
    sa.CheckConstraint('unit_price >= 0', name=op.f('ck_parts_unit_price_not_negative')),
    sa.PrimaryKeyConstraint('part_number', name=op.f('pk_parts'))
    )
    op.create_table('receipts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('transfer_id', sa.String(length=64), nullable=True),
    sa.Column('from_dealer_code', sa.String(length=12), nullable=True),
    sa.Column('received_by', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts'))
    )
    op.create_table('repair_orders',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_orders'))
    )
    op.create_table('stock_movements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('part_number', sa.String(length=40), nullable=False),
    sa.Column('lot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('batch_number', sa.String(length=64), nullable=True),
    sa.Column('serial_number', sa.String(length=64), nullable=True),
    sa.Column('on_hand_change', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('reserved_change', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('on_hand_after', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('reserved_after', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('repair_order_id', sa.String(length=64), nullable=True),
    sa.Column('quote_line_id', sa.String(length=64), nullable=True),
    sa.Column('vin', sa.String(length=17), nullable=True),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('moved_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('on_hand_after >= 0 AND reserved_after >= 0 AND reserved_after <= on_hand_after', name=op.f('ck_stock_movements_balances_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_movements'))
    )
    op.create_index(op.f('ix_stock_movements_batch_number'), 'stock_movements', ['batch_number'], unique=False)
    op.create_index(op.f('ix_stock_movements_part_number_id'), 'stock_movements', ['part_number', 'id'], unique=False)
    op.create_index(op.f('ix_stock_movements_repair_order_id'), 'stock_movements', ['repair_order_id'], unique=False)
    op.create_index(op.f('ix_stock_movements_serial_number'), 'stock_movements', ['serial_number'], unique=False)
    op.create_index(op.f('ix_stock_movements_vin'), 'stock_movements', ['vin'], unique=False)
    _ledger_append_only()
    op.create_table('vin_models',
    sa.Column('vin_prefix', sa.String(length=11), nullable=False),
    sa.Column('model_code', sa.String(length=32), nullable=False),
    sa.Column('model_name', sa.String(length=64), nullable=True),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('vin_prefix', name=op.f('pk_vin_models'))
    )
    op.create_table('part_models',
    sa.Column('part_number', sa.String(length=40), nullable=False),
    sa.Column('model_code', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['part_number'], ['parts.part_number'], name=op.f('fk_part_models_part_number_parts')),
    sa.PrimaryKeyConstraint('part_number', 'model_code', name=op.f('pk_part_models'))
    )
    op.create_index(op.f('ix_part_models_model_code'), 'part_models', ['model_code'], unique=False)
    op.create_table('part_returns',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('repair_order_id', sa.String(length=64), nullable=False),
    sa.Column('quote_line_id', sa.String(length=64), nullable=False),
    sa.Column('part_number', sa.String(length=40), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('returned_by', sa.String(length=64), nullable=False),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_part_returns_quantity_positive')),
    sa.ForeignKeyConstraint(['repair_order_id'], ['repair_orders.id'], name=op.f('fk_part_returns_repair_order_id_repair_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_part_returns'))
    )
    op.create_table('requisitions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('repair_order_id', sa.String(length=64), nullable=False),
    sa.Column('quote_line_id', sa.String(length=64), nullable=False),
    sa.Column('part_number', sa.String(length=40), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_requisitions_quantity_positive')),
    sa.ForeignKeyConstraint(['repair_order_id'], ['repair_orders.id'], name=op.f('fk_requisitions_repair_order_id_repair_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requisitions'))
    )
    op.create_table('reservations',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('repair_order_id', sa.String(length=64), nullable=False),
    sa.Column('quote_line_id', sa.String(length=64), nullable=False),
    sa.Column('part_number', sa.String(length=40), nullable=False),
    sa.Column('quantity_approved', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('quantity_reserved', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('quantity_issued', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('quantity_returned', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('decided_sequence', sa.Integer(), nullable=False),
    sa.Column('from_stock', sa.Boolean(), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("quantity_reserved = 0 OR status = 'ACTIVE'", name=op.f('ck_reservations_only_active_lines_hold_stock')),
    sa.CheckConstraint("status IN ('ACTIVE', 'DECLINED', 'RELEASED')", name=op.f('ck_reservations_status_known')),
    sa.CheckConstraint('quantity_approved >= 0 AND quantity_reserved >= 0 AND quantity_issued >= 0 AND quantity_returned >= 0', name=op.f('ck_reservations_quantities_not_negative')),
    sa.CheckConstraint('quantity_returned <= quantity_issued', name=op.f('ck_reservations_returned_within_issued')),
    sa.ForeignKeyConstraint(['repair_order_id'], ['repair_orders.id'], name=op.f('fk_reservations_repair_order_id_repair_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations')),
    sa.UniqueConstraint('repair_order_id', 'quote_line_id', name=op.f('uq_reservations_repair_order_id_quote_line_id'))
    )
    op.create_index(op.f('ix_reservations_part_number_status'), 'reservations', ['part_number', 'status'], unique=False)
    op.create_table('stock_adjustments',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('part_number', sa.String(length=40), nullable=False),
    sa.Column('previous_on_hand', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('counted', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('difference', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('adjusted_by', sa.String(length=64), nullable=False),
    sa.Column('adjusted_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('counted >= 0', name=op.f('ck_stock_adjustments_counted_not_negative')),
    sa.CheckConstraint('length(reason) > 0', name=op.f('ck_stock_adjustments_reason_given')),
    sa.ForeignKeyConstraint(['part_number'], ['parts.part_number'], name=op.f('fk_stock_adjustments_part_number_parts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_adjustments'))
    )
    op.create_index(op.f('ix_stock_adjustments_part_number_adjusted_at'), 'stock_adjustments', ['part_number', 'adjusted_at'], unique=False)
    op.create_table('stock_levels',
    sa.Column('part_number', sa.String(length=40), nullable=False),
    sa.Column('on_hand', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('reserved', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('bin_location', sa.String(length=32), nullable=True),
    sa.Column('reorder_point', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('reorder_quantity', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('on_hand >= 0', name=op.f('ck_stock_levels_on_hand_not_negative')),
    sa.CheckConstraint('reorder_point >= 0 AND reorder_quantity >= 0', name=op.f('ck_stock_levels_reorder_policy_not_negative')),
    sa.CheckConstraint('reserved <= on_hand', name=op.f('ck_stock_levels_reserved_within_on_hand')),
    sa.CheckConstraint('reserved >= 0', name=op.f('ck_stock_levels_reserved_not_negative')),
    sa.ForeignKeyConstraint(['part_number'], ['parts.part_number'], name=op.f('fk_stock_levels_part_number_parts')),
    sa.PrimaryKeyConstraint('part_number', name=op.f('pk_stock_levels'))
    )
    op.create_table('stock_lots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('part_number', sa.String(length=40), nullable=False),
    sa.Column('batch_number', sa.String(length=64), nullable=True),
    sa.Column('serial_number', sa.String(length=64), nullable=True),
    sa.Column('quantity_received', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('quantity_remaining', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('receipt_id', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('batch_number IS NOT NULL OR serial_number IS NOT NULL', name=op.f('ck_stock_lots_batch_or_serial')),
    sa.CheckConstraint('quantity_remaining >= 0 AND quantity_remaining <= quantity_received', name=op.f('ck_stock_lots_remaining_within_received')),
    sa.CheckConstraint('serial_number IS NULL OR quantity_received = 1', name=op.f('ck_stock_lots_one_unit_per_serial')),
    sa.ForeignKeyConstraint(['part_number'], ['parts.part_number'], name=op.f('fk_stock_lots_part_number_parts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_lots'))
    )
    op.create_index('ix_stock_lots_batch', 'stock_lots', ['batch_number'], unique=False)
    op.create_index('ix_stock_lots_fifo', 'stock_lots', ['part_number', 'received_at', 'id'], unique=False)
    op.create_index('uq_stock_lots_serial_on_hand', 'stock_lots', ['part_number', 'serial_number'], unique=True, postgresql_where=sa.text('serial_number IS NOT NULL AND quantity_remaining > 0'), sqlite_where=sa.text('serial_number IS NOT NULL AND quantity_remaining > 0'))
    op.create_table('transfers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('part_number', sa.String(length=40), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('to_dealer_code', sa.String(length=12), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('transferred_by', sa.String(length=64), nullable=False),
    sa.Column('transferred_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_transfers_quantity_positive')),
    sa.ForeignKeyConstraint(['part_number'], ['parts.part_number'], name=op.f('fk_transfers_part_number_parts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers'))
    )


def downgrade() -> None:
    op.drop_table('transfers')
    op.drop_index('uq_stock_lots_serial_on_hand', table_name='stock_lots', postgresql_where=sa.text('serial_number IS NOT NULL AND quantity_remaining > 0'), sqlite_where=sa.text('serial_number IS NOT NULL AND quantity_remaining > 0'))
    op.drop_index('ix_stock_lots_fifo', table_name='stock_lots')
    op.drop_index('ix_stock_lots_batch', table_name='stock_lots')
    op.drop_table('stock_lots')
    op.drop_table('stock_levels')
    op.drop_index(op.f('ix_stock_adjustments_part_number_adjusted_at'), table_name='stock_adjustments')
    op.drop_table('stock_adjustments')
    op.drop_index(op.f('ix_reservations_part_number_status'), table_name='reservations')
    op.drop_table('reservations')
    op.drop_table('requisitions')
    op.drop_table('part_returns')
    op.drop_index(op.f('ix_part_models_model_code'), table_name='part_models')
    op.drop_table('part_models')
    op.drop_table('vin_models')
    op.drop_index(op.f('ix_stock_movements_vin'), table_name='stock_movements')
    op.drop_index(op.f('ix_stock_movements_serial_number'), table_name='stock_movements')
    op.drop_index(op.f('ix_stock_movements_repair_order_id'), table_name='stock_movements')
    op.drop_index(op.f('ix_stock_movements_part_number_id'), table_name='stock_movements')
    op.drop_index(op.f('ix_stock_movements_batch_number'), table_name='stock_movements')
    _drop_ledger_guard()
    op.drop_table('stock_movements')
    op.drop_table('repair_orders')
    op.drop_table('receipts')
    op.drop_table('parts')
    drop_backbone_tables()


def _ledger_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION stock_movements_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'stock_movements is append-only: % refused', TG_OP;
            END $$""")
        op.execute("""
            CREATE TRIGGER stock_movements_append_only
            BEFORE UPDATE OR DELETE ON stock_movements
            FOR EACH ROW EXECUTE FUNCTION stock_movements_append_only()""")
        op.execute("""
            CREATE TRIGGER stock_movements_no_truncate
            BEFORE TRUNCATE ON stock_movements
            FOR EACH STATEMENT EXECUTE FUNCTION stock_movements_append_only()""")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER stock_movements_no_{action.lower()}
                BEFORE {action} ON stock_movements
                BEGIN SELECT RAISE(ABORT, 'stock_movements is append-only'); END""")


def _drop_ledger_guard() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS stock_movements_no_truncate ON stock_movements")
        op.execute("DROP TRIGGER IF EXISTS stock_movements_append_only ON stock_movements")
        op.execute("DROP FUNCTION IF EXISTS stock_movements_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS stock_movements_no_update")
        op.execute("DROP TRIGGER IF EXISTS stock_movements_no_delete")
