"""recall campaigns done on a car, from headquarters (RecallCompleted)

Revision ID: 0008
Revises: 0007
Create Date: 2027-02-02 10:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recall_completions',
    sa.Column('campaign_code', sa.String(length=32), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.Column('dealer_code', sa.String(length=12), nullable=False),
    sa.Column('repair_order_id', sa.String(length=64), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('campaign_code', 'vin')
    )
    op.create_index('ix_recall_completions_vin', 'recall_completions', ['vin'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_recall_completions_vin', table_name='recall_completions')
    op.drop_table('recall_completions')
