"""recall completion: a campaign's kind and labour operation, and the cars it is done on

A campaign now records its kind (RECALL, SERVICE_CAMPAIGN) and the labour operation whose
delivery on a repair order completes it for a car; `recall_completions` holds one row per
campaign and VIN, from the first delivery that did the work.

Revision ID: 0005
Revises: 0004
Create Date: 2027-02-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaigns') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('operation_code', sa.String(length=32), nullable=True))
    op.create_index('ix_campaigns_operation_code', 'campaigns', ['operation_code'],
                    unique=False)
    op.create_table('recall_completions',
    sa.Column('campaign_code', sa.String(length=40), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.Column('dealer_code', sa.String(length=12), nullable=False),
    sa.Column('repair_order_id', sa.String(length=64), nullable=False),
    sa.Column('operation_code', sa.String(length=32), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_code'], ['campaigns.code'], ),
    sa.PrimaryKeyConstraint('campaign_code', 'vin')
    )


def downgrade() -> None:
    op.drop_table('recall_completions')
    op.drop_index('ix_campaigns_operation_code', table_name='campaigns')
    with op.batch_alter_table('campaigns') as batch:
        batch.drop_column('operation_code')
        batch.drop_column('kind')
