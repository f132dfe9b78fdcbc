"""partners' tables: registry, feed, deliveries and their log, facts and consents

Revision ID: 0001
Revises:
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from chassis.migration_env import (
    create_backbone_tables,
    create_outbox_sequences,
    drop_backbone_tables,
    drop_outbox_sequences,
)

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_backbone_tables()
    create_outbox_sequences()
    op.create_table('consents',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', 'partner_id')
    )
    op.create_table('dealer_regions',
    sa.Column('dealer_code', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('dealer_code')
    )
    op.create_table('messages',
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=120), nullable=False),
    sa.Column('dealer_code', sa.String(length=12), nullable=False),
    sa.Column('subject_key', sa.String(length=200), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('position'),
    sa.UniqueConstraint('partner_id', 'event_id', name='uq_messages_partner_event')
    )
    op.create_index('ix_messages_feed', 'messages', ['partner_id', 'position'], unique=False)
    op.create_table('notices',
    sa.Column('notice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('endpoint_id', sa.String(length=36), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('text', sa.String(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('notice_id')
    )
    op.create_index('ix_notices_partner', 'notices', ['partner_id', 'notice_id'], unique=False)
    op.create_table('partners',
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('entitlements', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('partner_id'),
    sa.UniqueConstraint('client_id')
    )
    op.create_table('subject_facts',
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('vin', sa.String(length=17), nullable=True),
    sa.PrimaryKeyConstraint('reference')
    )
    op.create_table('endpoints',
    sa.Column('endpoint_id', sa.String(length=36), nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('event_types', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('disabled_because', sa.String(length=10), nullable=True),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rate_per_second', sa.Float(), nullable=False),
    sa.Column('rate_burst', sa.Float(), nullable=False),
    sa.Column('rate_tokens', sa.Float(), nullable=True),
    sa.Column('rate_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('ACTIVE', 'DISABLED')", name='ck_endpoints_status'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.partner_id'], ),
    sa.PrimaryKeyConstraint('endpoint_id')
    )
    op.create_index('ix_endpoints_partner', 'endpoints', ['partner_id'], unique=False)
    op.create_table('partner_vins',
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.partner_id'], ),
    sa.PrimaryKeyConstraint('partner_id', 'vin')
    )
    op.create_table('deliveries',
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('endpoint_id', sa.String(length=36), nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=120), nullable=False),
    sa.Column('subject_key', sa.String(length=200), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('WAITING', 'PENDING', 'SENDING', 'DELIVERED', 'FAILED')", name='ck_deliveries_status'),
    sa.ForeignKeyConstraint(['endpoint_id'], ['endpoints.endpoint_id'], ),
    sa.ForeignKeyConstraint(['position'], ['messages.position'], ),
    sa.PrimaryKeyConstraint('delivery_id'),
    sa.UniqueConstraint('endpoint_id', 'event_id', name='uq_deliveries_endpoint_event')
    )
    op.create_index('ix_deliveries_due', 'deliveries', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'PENDING'"), sqlite_where=sa.text("status = 'PENDING'"))
    op.create_index('ix_deliveries_endpoint_time', 'deliveries', ['endpoint_id', 'created_at'], unique=False)
    op.create_index('ix_deliveries_lane', 'deliveries', ['endpoint_id', 'subject_key', 'sequence'], unique=False)
    op.create_table('endpoint_secrets',
    sa.Column('secret_id', sa.String(length=36), nullable=False),
    sa.Column('endpoint_id', sa.String(length=36), nullable=False),
    sa.Column('secret', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['endpoints.endpoint_id'], ),
    sa.PrimaryKeyConstraint('secret_id')
    )
    op.create_index('ix_endpoint_secrets_endpoint', 'endpoint_secrets', ['endpoint_id'], unique=False)
    op.create_table('delivery_attempts',
    sa.Column('attempt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('endpoint_id', sa.String(length=36), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=False),
    sa.Column('response_excerpt', sa.Text(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.delivery_id'], ),
    sa.PrimaryKeyConstraint('attempt_id')
    )
    op.create_index('ix_delivery_attempts_delivery', 'delivery_attempts', ['delivery_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_delivery_attempts_delivery', table_name='delivery_attempts')
    op.drop_table('delivery_attempts')
    op.drop_index('ix_endpoint_secrets_endpoint', table_name='endpoint_secrets')
    op.drop_table('endpoint_secrets')
    op.drop_index('ix_deliveries_lane', table_name='deliveries')
    op.drop_index('ix_deliveries_endpoint_time', table_name='deliveries')
    op.drop_index('ix_deliveries_due', table_name='deliveries', postgresql_where=sa.text("status = 'PENDING'"), sqlite_where=sa.text("status = 'PENDING'"))
    op.drop_table('deliveries')
    op.drop_table('partner_vins')
    op.drop_index('ix_endpoints_partner', table_name='endpoints')
    op.drop_table('endpoints')
    op.drop_table('subject_facts')
    op.drop_table('partners')
    op.drop_index('ix_notices_partner', table_name='notices')
    op.drop_table('notices')
    op.drop_index('ix_messages_feed', table_name='messages')
    op.drop_table('messages')
    op.drop_table('dealer_regions')
    op.drop_table('consents')
    drop_outbox_sequences()
    drop_backbone_tables()
