"""audit log of privileged actions (chassis.audit): stocktake adjustments, returns to the
shelf and reservations released by hand

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 10:00:00
"""

from chassis.migration_env import create_audit_log, drop_audit_log

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log()


def downgrade() -> None:
    drop_audit_log()
