"""Alembic environment of the bi database."""

from bi.models import metadata
from chassis.migration_env import run_migrations

run_migrations(metadata)
