"""Alembic environment of the crm database."""

from chassis.migration_env import run_migrations
from crm.models import metadata

run_migrations(metadata)
