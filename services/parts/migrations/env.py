"""Alembic environment of the parts database."""

from parts.models import metadata
from chassis.migration_env import run_migrations

run_migrations(metadata)
