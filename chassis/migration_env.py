"""The body of every service's Alembic `env.py`: one migration tree per service database."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context


def run_migrations(metadata: sa.MetaData) -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        # SQLite cannot ALTER most things in place: batch mode rebuilds the table instead.
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
