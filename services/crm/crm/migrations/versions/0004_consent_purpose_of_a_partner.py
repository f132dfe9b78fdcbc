"""consent purposes of a partner: `partner:<partner id>` (up to 72 characters)

An owner may allow headquarters to share their personal data with one partner (a franchise
shop at the partners service): purpose `partner:<partner id>` on the channel DATA. The
purpose column held SERVICE and MARKETING only; it now takes `partner:` and a 64-character id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09 10:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch: embedded mode's SQLite has no ALTER COLUMN (it copies the table there).
    with op.batch_alter_table('consents') as batch:
        batch.alter_column('purpose', existing_type=sa.String(length=12),
                           type_=sa.String(length=72), existing_nullable=False)


def downgrade() -> None:
    # The partner consents do not fit the old column (nor the old contract's purposes).
    op.execute("DELETE FROM consents WHERE purpose LIKE 'partner:%'")
    with op.batch_alter_table('consents') as batch:
        batch.alter_column('purpose', existing_type=sa.String(length=72),
                           type_=sa.String(length=12), existing_nullable=False)
