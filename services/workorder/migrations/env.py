"""Alembic environment of the workorder database."""

from workorder.models import metadata

from chassis.migration_env import run_migrations

run_migrations(metadata)
