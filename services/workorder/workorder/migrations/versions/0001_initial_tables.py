"""initial tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 14:29:42.324596
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
    op.create_table('expected_arrivals',
    sa.Column('appointment_id', sa.String(length=36), nullable=False),
    sa.Column('dealer_code', sa.String(length=12), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=True),
    sa.Column('vin', sa.String(length=17), nullable=True),
    sa.Column('model', sa.String(length=60), nullable=True),
    sa.Column('service_type', sa.String(length=40), nullable=False),
    sa.Column('expected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('loaner_requested', sa.Boolean(), nullable=False),
    sa.Column('pickup_requested', sa.Boolean(), nullable=False),
    sa.Column('last_sequence', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('appointment_id')
    )
    op.create_index('ix_expected_arrivals_day', 'expected_arrivals', ['dealer_code', 'expected_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_expected_arrivals_day', table_name='expected_arrivals')
    op.drop_table('expected_arrivals')
    drop_backbone_tables()
