"""Alembic environment of the portal database."""

from chassis.migration_env import run_migrations
from portal.models import metadata

run_migrations(metadata)
