"""Transactional outbox: an event is a row written in the same transaction as the change that
caused it, and a relay publishes pending rows to the service's events exchange.

Why: publishing after commit loses the event if the process dies in between; publishing
before commit announces a change that may roll back. Here the broker can be down for hours,
bookings are still taken, and every event goes out, in order, when it is back.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import eventlet
import sqlalchemy as sa
from eventlet.event import Event as GreenEvent
from nameko.extensions import DependencyProvider
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from chassis import metrics
from chassis.broker import ConfirmingPublisher, OutgoingMessage
from chassis.db import find_database
from contracts import EventContract, new_event, wire

log = logging.getLogger(__name__)

_PENDING_FLAG = "aftersales.outbox_pending"


def now() -> datetime:
    return datetime.now(UTC)


class EventEmitter:
    """What a worker sees as `self.outbox`: `emit()` writes into the worker's own transaction."""

    def __init__(self, session: Session, outbox: sa.Table, source: str, dealer_code: str) -> None:
        self.session = session
        self.outbox = outbox
        # define_backbone_tables() puts the counters beside the outbox in every metadata.
        self.sequences = outbox.metadata.tables["outbox_sequences"]
        self.source = source
        self.dealer_code = dealer_code

    def emit(self, contract: EventContract, data: dict[str, Any], *, subject: str,
             correlation_id: str, dealer_code: str | None = None) -> dict[str, Any]:
        """Validate the event against its contract and store it; it is published after commit.

        Raises contracts.ContractViolation (nothing is stored) when the event breaks its schema.
        """
        sequence = self._next_sequence(subject)
        envelope = new_event(contract, data, source=self.source, subject=subject,
                             dealer_code=dealer_code or self.dealer_code,
                             correlation_id=correlation_id, sequence=sequence)
        self.session.execute(_insert_statement(self.outbox), {
            "event_id": envelope["id"], "event_type": contract.type, "aggregate_id": subject,
            "sequence": sequence, "correlation_id": correlation_id,
            "exchange": contract.exchange, "routing_key": contract.type,
            "payload": json.dumps(envelope, ensure_ascii=False, separators=(",", ":")),
            "created_at": now()})
        self.session.info[_PENDING_FLAG] = True
        return envelope

    def _next_sequence(self, subject: str) -> int:
        # One statement takes the next number and locks the aggregate's counter row until
        # commit, so writers of one aggregate queue up here and each gets its own number (a
        # rollback gives the number back); unique (aggregate_id, sequence) on the outbox stays
        # as the last line of defence.
        return self.session.scalar(_next_sequence_statement(
            self.sequences, self.session.get_bind().dialect.name), {"aggregate": subject})


# Statements built once per table: building one per event cost more CPU than running it.
@functools.cache
def _insert_statement(outbox: sa.Table) -> Any:
    return outbox.insert()


@functools.cache
def _next_sequence_statement(sequences: sa.Table, dialect: str) -> Any:
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(sequences)
    insert = insert.values(aggregate_id=sa.bindparam("aggregate"), last_sequence=1)
    return insert.on_conflict_do_update(
        index_elements=[sequences.c.aggregate_id],
        set_={"last_sequence": sequences.c.last_sequence + 1},
    ).returning(sequences.c.last_sequence)


class OutboxRelay:
    """Publishes pending outbox rows in id order with publisher confirms, then marks them sent.

    One relay at a time works a database (a PostgreSQL advisory lock), which keeps events in
    order per aggregate even with several instances of a service. A commit that wrote events
    wakes the relay at once; polling only covers rows written by other processes.
    """

    def __init__(self, service: str, engine: Engine, outbox: sa.Table, amqp_uri: str, *,
                 batch_size: int = 500, poll_seconds: float = 1.0,
                 max_backoff_seconds: float = 30.0) -> None:
        self.service = service
        self.engine = engine
        self.outbox = outbox
        self.publisher = ConfirmingPublisher(amqp_uri)
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._wakeup = GreenEvent()
        self._running = False
        self._lock_key = zlib.crc32(f"outbox:{service}".encode())
        self._postgres = engine.dialect.name == "postgresql"

    def wake(self) -> None:
        if not self._wakeup.ready():
            self._wakeup.send(True)

    def run(self) -> None:
        """The relay's loop; returns when stop() is called."""
        self._running = True
        try:
            self._loop()
        finally:
            self.publisher.close()

    def _loop(self) -> None:
        backoff = 0.0
        gauges_due = 0.0
        while self._running:
            try:
                published = self.publish_pending()
                backoff = 0.0
                if published >= self.batch_size:
                    continue  # a full batch: more are waiting, keep draining
                # Gauges cost a query: at most once a second, not once per event.
                if time.monotonic() >= gauges_due:
                    self.update_gauges()
                    gauges_due = time.monotonic() + 1.0
                # A commit during the publish has already woken us, so this returns at once.
                self._sleep(self.poll_seconds)
            except Exception as exc:
                metrics.RELAY_FAILURES.labels(self.service).inc()
                backoff = min(max(backoff * 2, 0.5), self.max_backoff_seconds)
                log.warning("outbox relay: %s; retrying in %.1fs", exc, backoff)
                self._safe_update_gauges()
                self._sleep(backoff)

    def stop(self) -> None:
        self._running = False
        self.wake()

    def _sleep(self, seconds: float) -> None:
        self._wakeup.wait(timeout=seconds)
        self._wakeup = GreenEvent()

    def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were published."""
        pending = self.outbox.c.published_at.is_(None)
        with self.engine.begin() as conn:
            if self._postgres and not conn.scalar(
                    sa.select(sa.func.pg_try_advisory_xact_lock(self._lock_key))):
                return 0  # another instance's relay holds the database
            rows = conn.execute(
                sa.select(self.outbox.c.id, self.outbox.c.event_id, self.outbox.c.exchange,
                          self.outbox.c.routing_key, self.outbox.c.payload,
                          self.outbox.c.correlation_id)
                .where(pending).order_by(self.outbox.c.id).limit(self.batch_size)).all()
            if not rows:
                return 0
            # Structured-mode CloudEvents: the content type tells a CloudEvents binding (the
            # SDKs' AMQP and RabbitMQ ones) that the body is the whole event, attributes and all.
            self.publisher.publish(
                OutgoingMessage(exchange=row.exchange, routing_key=row.routing_key,
                                body=row.payload.encode(wire.CONTENT_ENCODING),
                                message_id=row.event_id, content_type=wire.CONTENT_TYPE,
                                headers={"nameko.correlation_id": row.correlation_id})
                for row in rows)
            # If we die here the rows are published again on restart: consumers' inboxes
            # make that harmless, where losing them would not be.
            conn.execute(self.outbox.update()
                         .where(self.outbox.c.id.in_([row.id for row in rows]))
                         .values(published_at=now()))
        metrics.RELAY_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    def status(self) -> tuple[int, float]:
        """(pending rows, age in seconds of the oldest pending row)."""
        with self.engine.connect() as conn:
            count, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(self.outbox.c.created_at))
                .where(self.outbox.c.published_at.is_(None))).one()
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)  # SQLite returns naive datetimes
        return count, (now() - oldest).total_seconds() if oldest else 0.0

    def update_gauges(self) -> None:
        count, age = self.status()
        metrics.OUTBOX_PENDING.labels(self.service).set(count)
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(age)

    def _safe_update_gauges(self) -> None:
        try:
            self.update_gauges()
        except Exception:  # the database may be what is down
            log.debug("outbox gauges unavailable", exc_info=True)

    def drain(self, timeout: float = 10.0) -> None:
        """Publish until nothing is pending (used by commands and tests)."""
        deadline = time.monotonic() + timeout
        while self.publish_pending() or self.status()[0]:
            if time.monotonic() > deadline:
                raise TimeoutError("outbox still has pending rows")
            eventlet.sleep(0.05)


class Outbox(DependencyProvider):
    """Declare `outbox = Outbox()` on a service: workers get an EventEmitter, and the
    container runs the relay for as long as it runs."""

    def setup(self) -> None:
        self.settings = self.container.config["AFTERSALES"]
        self.database = find_database(self.container)

    def start(self) -> None:
        table = self.database.metadata.tables["outbox"]
        self.relay = OutboxRelay(self.settings.service, self.database.engine, table,
                                 self.settings.amqp_uri,
                                 batch_size=self.settings.relay_batch_size,
                                 poll_seconds=self.settings.relay_poll_seconds)
        sa.event.listen(self.database.session_factory, "after_commit", self._after_commit)
        self._thread = self.container.spawn_managed_thread(self.relay.run,
                                                           identifier="outbox_relay")

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_PENDING_FLAG, False):
            self.relay.wake()

    def stop(self) -> None:
        sa.event.remove(self.database.session_factory, "after_commit", self._after_commit)
        self.relay.stop()
        with eventlet.Timeout(5, False):
            self._thread.wait()  # a batch in flight finishes and is marked sent

    def kill(self) -> None:
        self.relay.stop()

    def get_dependency(self, worker_ctx) -> EventEmitter:  # type: ignore[no-untyped-def]
        return EventEmitter(self.database.session_for(worker_ctx),
                            self.database.metadata.tables["outbox"],
                            self.settings.source, self.settings.dealer_code)

