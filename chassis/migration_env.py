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


def create_backbone_tables() -> None:
    """The outbox and inbox every service database carries (version 1 of their shape), for a
    service's first migration; later changes to them get migrations of their own."""
    from alembic import op

    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=120), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=120), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=120), nullable=False),
        sa.Column("aggregate_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("exchange", sa.String(length=120), nullable=False),
        sa.Column("routing_key", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("aggregate_id", "sequence", name="uq_outbox_aggregate_sequence"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_outbox_pending", "outbox", ["id"], unique=False,
                    postgresql_where=sa.text("published_at IS NULL"),
                    sqlite_where=sa.text("published_at IS NULL"))


def drop_backbone_tables() -> None:
    from alembic import op

    op.drop_index("ix_outbox_pending", table_name="outbox",
                  postgresql_where=sa.text("published_at IS NULL"),
                  sqlite_where=sa.text("published_at IS NULL"))
    op.drop_table("outbox")
    op.drop_table("inbox")


def create_outbox_sequences() -> None:
    """Version 2 of the backbone: the per-aggregate sequence counters emit() takes numbers
    from, started at the highest number each aggregate already has in the outbox."""
    from alembic import op

    op.create_table(
        "outbox_sequences",
        sa.Column("aggregate_id", sa.String(length=64), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("aggregate_id"),
    )
    op.execute("INSERT INTO outbox_sequences (aggregate_id, last_sequence) "
               "SELECT aggregate_id, max(sequence) FROM outbox GROUP BY aggregate_id")


def drop_outbox_sequences() -> None:
    from alembic import op

    op.drop_table("outbox_sequences")
