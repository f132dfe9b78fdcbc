"""Alembic environment of the booking database."""

from booking.models import metadata
from chassis.migration_env import run_migrations

run_migrations(metadata)
