"""Alembic environment of the partners database."""

from chassis.migration_env import run_migrations
from partners.models import metadata

run_migrations(metadata)
