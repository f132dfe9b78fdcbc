"""initial tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 14:29:40.257190
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
    op.create_table('appointments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('dealer_code', sa.String(length=12), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('customer_name', sa.String(length=100), nullable=False),
    sa.Column('customer_phone', sa.String(length=20), nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=True),
    sa.Column('vin', sa.String(length=17), nullable=True),
    sa.Column('model', sa.String(length=60), nullable=True),
    sa.Column('service_type', sa.String(length=40), nullable=False),
    sa.Column('slot_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('slot_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('pickup_address', sa.String(length=200), nullable=True),
    sa.Column('loaner_requested', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('booked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_appointments_slot', 'appointments', ['dealer_code', 'slot_start'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_appointments_slot', table_name='appointments')
    op.drop_table('appointments')
    drop_backbone_tables()
