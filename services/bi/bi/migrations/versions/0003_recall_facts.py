"""recall facts: campaigns, and per campaign and car whether and where it was done

Completion rates are read from these at query time (no rollup). `aftersales bi rebuild`
fills them from the event log once BI consumes crm's recall events.

Revision ID: 0003
Revises: 0002
Create Date: 2027-02-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recall_campaign_facts',
    sa.Column('campaign_code', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('campaign_code')
    )
    op.create_table('recall_car_facts',
    sa.Column('campaign_code', sa.String(length=32), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.Column('dealer_code', sa.String(length=12), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('campaign_code', 'vin')
    )
    op.create_index('ix_recall_car_facts_vin', 'recall_car_facts', ['vin'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_recall_car_facts_vin', table_name='recall_car_facts')
    op.drop_table('recall_car_facts')
    op.drop_table('recall_campaign_facts')
