"""online payments of the invoice through a payment provider (WeChat Pay H5)

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-12 10:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('online_payments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('repair_order_id', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('out_trade_no', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('provider_url', sa.String(length=1024), nullable=False),
    sa.Column('page_issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transaction_id', sa.String(length=64), nullable=True),
    sa.Column('paid_at', sa.String(length=40), nullable=True),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failure_reason', sa.String(length=300), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'paid', 'failed')",
                       name='ck_online_payments_status'),
    sa.CheckConstraint('amount > 0', name='ck_online_payments_amount'),
    sa.ForeignKeyConstraint(['repair_order_id'], ['repair_orders.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('out_trade_no')
    )
    op.create_index('ix_online_payments_ro', 'online_payments', ['repair_order_id', 'status'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_online_payments_ro', table_name='online_payments')
    op.drop_table('online_payments')
