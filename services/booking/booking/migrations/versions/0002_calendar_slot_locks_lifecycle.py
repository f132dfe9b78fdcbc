"""dealer calendar, slot locks, the appointment's lifecycle

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 14:54:15.290742
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

STATUSES = "status IN ('SCHEDULED', 'CONFIRMED', 'CHECKED_IN', 'CANCELLED', 'NO_SHOW')"
CHANNELS = "channel IN ('APP', 'WECHAT', 'PHONE', 'WEB', 'WALK_IN')"


def upgrade() -> None:
    op.create_table('calendars',
    sa.Column('dealer_code', sa.String(length=12), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('configured', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('dealer_code')
    )
    op.create_table('slot_locks',
    sa.Column('dealer_code', sa.String(length=12), nullable=False),
    sa.Column('slot_start', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('dealer_code', 'slot_start')
    )
    # Batch mode: SQLite (embedded mode) cannot alter a column or add a check in place.
    with op.batch_alter_table('appointments') as batch:
        batch.add_column(sa.Column('customer_waiting', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('advisor_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('reminder_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('lead_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('booked_by', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('confirmed_by', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('cancelled_by', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('cancel_reason', sa.String(length=24), nullable=True))
        batch.add_column(sa.Column('cancel_note', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('no_show_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('reschedule_count', sa.Integer(), server_default=sa.text('0'), nullable=False))
        # An owner's customer id is their token's subject: up to 64 characters.
        batch.alter_column('customer_id', existing_type=sa.VARCHAR(length=36),
                           type_=sa.String(length=64), existing_nullable=False)
        batch.create_check_constraint('ck_appointments_status', STATUSES)
        batch.create_check_constraint('ck_appointments_channel', CHANNELS)
        batch.create_check_constraint('ck_appointments_slot_order', 'slot_end >= slot_start')
        batch.create_check_constraint('ck_appointments_reschedule_count', 'reschedule_count >= 0')
        batch.create_index('ix_appointments_customer', ['customer_id', 'slot_start'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('appointments') as batch:
        batch.drop_index('ix_appointments_customer')
        batch.drop_constraint('ck_appointments_reschedule_count', type_='check')
        batch.drop_constraint('ck_appointments_slot_order', type_='check')
        batch.drop_constraint('ck_appointments_channel', type_='check')
        batch.drop_constraint('ck_appointments_status', type_='check')
        batch.alter_column('customer_id', existing_type=sa.String(length=64),
                           type_=sa.VARCHAR(length=36), existing_nullable=False)
        for column in ('reschedule_count', 'no_show_at', 'cancel_note', 'cancel_reason',
                       'cancelled_by', 'cancelled_at', 'checked_in_at', 'confirmed_by',
                       'confirmed_at', 'booked_by', 'lead_id', 'reminder_id', 'advisor_id',
                       'customer_waiting'):
            batch.drop_column(column)
    op.drop_table('slot_locks')
    op.drop_table('calendars')
