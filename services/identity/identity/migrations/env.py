"""Alembic environment of the identity database."""

from chassis.migration_env import run_migrations
from identity.models import metadata

run_migrations(metadata)
