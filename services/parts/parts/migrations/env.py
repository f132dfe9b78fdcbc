"""Alembic environment of the parts database."""

from chassis.migration_env import run_migrations
from parts.models import metadata

run_migrations(metadata)
