"""Alembic environment of the notify database."""

from chassis.migration_env import run_migrations
from notify.models import metadata

run_migrations(metadata)
