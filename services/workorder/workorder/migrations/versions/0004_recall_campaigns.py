"""recall and service campaigns from headquarters, for reception

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 19:20:00
"""

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recall_campaigns',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('operation_code', sa.String(length=32), nullable=True),
    sa.Column('model', sa.String(length=64), nullable=True),
    sa.Column('year_from', sa.Integer(), nullable=True),
    sa.Column('year_to', sa.Integer(), nullable=True),
    sa.Column('parts', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_index('ix_recall_campaigns_model', 'recall_campaigns', ['model'], unique=False)
    op.create_table('recall_campaign_parts',
    sa.Column('campaign_code', sa.String(length=32), nullable=False),
    sa.Column('part', sa.Integer(), nullable=False),
    sa.Column('vins', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_code'], ['recall_campaigns.code'], ),
    sa.PrimaryKeyConstraint('campaign_code', 'part')
    )
    op.create_table('recall_campaign_vins',
    sa.Column('campaign_code', sa.String(length=32), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.ForeignKeyConstraint(['campaign_code'], ['recall_campaigns.code'], ),
    sa.PrimaryKeyConstraint('campaign_code', 'vin')
    )
    op.create_index('ix_recall_campaign_vins_vin', 'recall_campaign_vins', ['vin'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_recall_campaign_vins_vin', table_name='recall_campaign_vins')
    op.drop_table('recall_campaign_vins')
    op.drop_table('recall_campaign_parts')
    op.drop_index('ix_recall_campaigns_model', table_name='recall_campaigns')
    op.drop_table('recall_campaigns')
