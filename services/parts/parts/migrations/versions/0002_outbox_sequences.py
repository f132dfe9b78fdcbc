"""outbox sequence counters (one statement per emit instead of a lock and a max)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 17:55:00
"""

from chassis.migration_env import create_outbox_sequences, drop_outbox_sequences

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_sequences()


def downgrade() -> None:
    drop_outbox_sequences()
