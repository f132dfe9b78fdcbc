"""Alembic environment of the workorder database."""

from chassis.migration_env import run_migrations
from workorder.models import metadata

run_migrations(metadata)
