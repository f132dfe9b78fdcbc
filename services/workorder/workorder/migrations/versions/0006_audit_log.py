"""audit log of privileged actions (chassis.audit): quotes approved on the owner's behalf,
discounts on quote lines and invoices

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 10:00:00
"""

from chassis.migration_env import create_audit_log, drop_audit_log

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log()


def downgrade() -> None:
    drop_audit_log()
