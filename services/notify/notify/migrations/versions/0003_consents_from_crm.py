"""consents per purpose and channel, kept in step with crm (replaces the contact's flags)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 18:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

CHANNELS = ("SMS", "WECHAT", "PHONE", "APP", "EMAIL")


def upgrade() -> None:
    op.create_table(
        'consents',
        sa.Column('customer_id', sa.String(length=64), nullable=False),
        sa.Column('purpose', sa.String(length=12), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('granted', sa.Boolean(), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('via', sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint('customer_id', 'purpose', 'channel'),
    )
    # What the contact flags said becomes marketing consent on every channel: a 退订 is a
    # withdrawal at its time, an opt-in a grant at the contact's last change.
    for channel in CHANNELS:
        op.execute(sa.text(
            "INSERT INTO consents (customer_id, purpose, channel, granted, changed_at, via) "
            "SELECT customer_id, 'MARKETING', :channel, "
            "CASE WHEN unsubscribed_at IS NULL THEN marketing_consent ELSE false END, "
            "COALESCE(unsubscribed_at, updated_at), "
            "CASE WHEN unsubscribed_at IS NULL THEN 'PREFERENCES' ELSE 'SMS_REPLY' END "
            "FROM contacts WHERE marketing_consent OR unsubscribed_at IS NOT NULL"
        ).bindparams(channel=channel))
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('marketing_consent')
        batch.drop_column('unsubscribed_at')


def downgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('marketing_consent', sa.Boolean(),
                                   server_default=sa.text('false'), nullable=False))
        batch.add_column(sa.Column('unsubscribed_at', sa.DateTime(timezone=True),
                                   nullable=True))
    op.execute(sa.text(
        "UPDATE contacts SET marketing_consent = EXISTS (SELECT 1 FROM consents c "
        "WHERE c.customer_id = contacts.customer_id AND c.purpose = 'MARKETING' "
        "AND c.channel = 'SMS' AND c.granted)"))
    op.drop_table('consents')
