"""One database per service: engines, the per-worker session dependency, the backbone tables
(outbox and inbox) every service carries, and creating and migrating the database."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from nameko.extensions import DependencyProvider
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

log = logging.getLogger(__name__)

# Set on a worker's session once the framework has committed or rolled it back.
_FINISHED = "aftersales.transaction_finished"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def define_backbone_tables(metadata: sa.MetaData) -> None:
    """Add the outbox (with its sequence counters) and inbox tables to a service's metadata
    (each service owns its copy)."""
    sa.Table(
        "outbox", metadata,
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("exchange", sa.String(120), nullable=False),
        sa.Column("routing_key", sa.String(120), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        # Two writers racing on one aggregate cannot both take the same sequence number.
        sa.UniqueConstraint("aggregate_id", "sequence", name="uq_outbox_aggregate_sequence"),
        sa.Index("ix_outbox_pending", "id",
                 postgresql_where=sa.text("published_at IS NULL"),
                 sqlite_where=sa.text("published_at IS NULL")),
    )
    # The last sequence number given out per aggregate: emit() takes the next one in a single
    # statement, and the row lock it takes keeps writers of one aggregate in line until commit.
    sa.Table(
        "outbox_sequences", metadata,
        sa.Column("aggregate_id", sa.String(64), primary_key=True),
        sa.Column("last_sequence", sa.Integer, nullable=False),
    )
    sa.Table(
        "inbox", metadata,
        sa.Column("consumer", sa.String(120), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine fit for green threads.

    SQLite (embedded mode) gets a pool of one connection: a file database has one writer, and
    waiting for the pool yields to other green threads where waiting on SQLite's lock would
    block them all.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=0,
                                  pool_timeout=60, connect_args={"check_same_thread": False},
                                  **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def ensure_database(url: str) -> bool:
    """Create the service's database if it does not exist. Returns True when it created it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return False
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                 {"name": parsed.database})
            if exists:
                return False
            conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
            log.info("created database %s", parsed.database)
            return True
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).unlink(missing_ok=True)
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def migrate(url: str, migrations_dir: Path, revision: str = "head", *,
            settings: Any = None) -> None:
    """Create the database if needed and bring it to `revision` with the service's Alembic tree.

    `settings` (the service's, when known) reach the migrations as
    `op.get_context().config.attributes["settings"]`, for data migrations that need one of the
    stack's secrets (partners' 0002 seals the endpoints' secrets with its own)."""
    from alembic import command
    from alembic.config import Config

    ensure_database(url)
    config = Config()
    config.attributes["settings"] = settings
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


def count_rows(url: str, table: str, where: str = "") -> int:
    """Rows of a table (for the demo's summary and the tests), optionally filtered."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            clause = f" WHERE {where}" if where else ""
            return conn.scalar(sa.text(f"SELECT count(*) FROM {table}{clause}"))
    finally:
        engine.dispose()


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


class Database(DependencyProvider):
    """Hands each worker its own SQLAlchemy session on the service's database, and owns the
    worker's transaction: the framework commits it when the entrypoint succeeded and rolls it
    back when it raised (see `chassis.unit_of_work`). Service code never commits. Event
    handlers' entrypoints commit themselves, with the inbox record (`commits_itself`).
    """

    def __init__(self, metadata: sa.MetaData) -> None:
        self.metadata = metadata
        self.sessions: dict[object, Session] = {}

    def setup(self) -> None:
        settings = self.container.config["AFTERSALES"]
        self.engine = create_engine(settings.database_url)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)

    def stop(self) -> None:
        self.engine.dispose()

    def kill(self) -> None:
        self.engine.dispose()

    def get_dependency(self, worker_ctx) -> Session:  # type: ignore[no-untyped-def]
        return self.session_for(worker_ctx)

    def session_for(self, worker_ctx) -> Session:  # type: ignore[no-untyped-def]
        """The worker's session; other dependencies (the outbox) share it, whichever of them
        nameko happens to inject first."""
        session = self.sessions.get(worker_ctx)
        if session is None:
            session = self.sessions[worker_ctx] = self.session_factory()
        return session

    def finish(self, worker_ctx, exc_info):  # type: ignore[no-untyped-def]
        """Commit the worker's transaction if its entrypoint succeeded, else roll it back;
        once per worker. Returns the exc_info to answer with: the commit's own error if the
        commit failed (nothing was stored)."""
        session = self.sessions.get(worker_ctx)
        if session is None or session.info.get(_FINISHED):
            return exc_info
        session.info[_FINISHED] = True
        if exc_info is not None:
            session.rollback()
            return exc_info
        try:
            session.commit()
        except Exception:
            session.rollback()
            return sys.exc_info()
        return None

    def worker_result(self, worker_ctx, result=None, exc_info=None):  # type: ignore[no-untyped-def]
        # Entrypoints that answer (HTTP, RPC) have finished already; timers finish here.
        if not getattr(worker_ctx.entrypoint, "commits_itself", False):
            outcome = self.finish(worker_ctx, exc_info)
            if outcome is not None and exc_info is None:
                log.error("%s: commit failed", worker_ctx.entrypoint.method_name,
                          exc_info=outcome)

    def worker_teardown(self, worker_ctx) -> None:  # type: ignore[no-untyped-def]
        session = self.sessions.pop(worker_ctx, None)
        if session is not None:
            session.close()


def finish_transaction(container, worker_ctx, exc_info):  # type: ignore[no-untyped-def]
    """Commit or roll back the worker's transaction now, for entrypoints that answer (HTTP,
    RPC): the answer must not leave before the commit. Returns the exc_info to answer with."""
    found = [d for d in container.dependencies if isinstance(d, Database)]
    return found[0].finish(worker_ctx, exc_info) if found else exc_info


def find_database(container) -> Database:  # type: ignore[no-untyped-def]
    """The service's Database dependency; every platform service declares exactly one."""
    found = [d for d in container.dependencies if isinstance(d, Database)]
    if len(found) != 1:
        raise TypeError(f"{container.service_name} must declare exactly one Database dependency")
    return found[0]
