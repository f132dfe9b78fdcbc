"""Reliable event consumption: idempotent, retried, dead-lettered, never blocked by one message.

`@handle_event("booking", events.AppointmentBooked)` binds a method to the producer's events
exchange, like nameko's `@event_handler`, with these differences:

* the method receives the validated CloudEvents envelope (a dict); a message that is not JSON
  or breaks its contract goes straight to the service's dead-letter queue;
* its database effect and the event id (the inbox) commit in one transaction, and the message
  is acknowledged only after that commit; a redelivered event is acknowledged and skipped;
* a failure is retried with backoff while the message stays unacknowledged (a crash hands it
  back to the broker); after the last attempt it is dead-lettered with reason and attempt count;
* messages are applied in batches, one transaction each, which is what lets a consumer keep
  up with thousands of events a second on PostgreSQL; a batch in which a handler fails is
  rolled back and applied again with a savepoint per message, so only the failing one waits;
* at headquarters, a dealer site's event is applied only if it came over that dealer's link
  (its AMQP `user_id` is the dealer's uplink user); any other is dead-lettered at once with
  `publisher_mismatch` (see `publisher_mismatch`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import eventlet
import kombu
import sqlalchemy as sa
from eventlet.semaphore import Semaphore
from nameko.extensions import Entrypoint, ProviderCollector, SharedExtension
from sqlalchemy.orm import Session

from chassis import broker_names as names
from chassis import faults, metrics
from chassis.broker import (
    ConfirmingPublisher,
    OutgoingMessage,
    authenticated_user,
    connect,
    dead_letter_queue,
    event_exchange,
)
from chassis.db import find_database
from chassis.logs import log_context
from contracts import ContractViolation, EventContract, validate_event, wire

log = logging.getLogger(__name__)

# Why a message was dead-lettered: a closed set, so it can be a metric label.
MALFORMED = "malformed"
CONTRACT_INVALID = "contract_invalid"
HANDLER_FAILED = "handler_failed"
PUBLISHER_MISMATCH = "publisher_mismatch"

APPLIED, DUPLICATE, FAILED = "applied", "duplicate", "failed"


def publisher_mismatch(envelope: dict[str, Any], user_id: str | None,
                       trusted: frozenset[str] = frozenset()) -> str | None:
    """Why headquarters may not take this event from its publisher; None when it may.

    A site's event (`source` `dealer/<code>/<service>`) must carry, as its AMQP `user_id`,
    the uplink user of the dealer it claims. The site's shovels set it, RabbitMQ refuses a
    `user_id` other than the one logged in, and a site's credentials are its uplink user's
    only, so a site cannot speak for another dealer, nor drop the `user_id` to hide which link
    it used (a site event without one is refused too). `trusted` is headquarters' own broker
    user: what headquarters itself publishes (replayed dead letters, tools, and development
    setups where the sites share headquarters' vhost) a site cannot claim to be.

    Headquarters' own events (`hq/<service>`) are not checked, except that no site's link
    may send one.
    """
    source = str(envelope.get("source", ""))
    kind, _, rest = source.partition("/")
    if kind != "dealer":
        site = names.uplink_dealer(user_id) if user_id else None
        if site is None:
            return None
        return f"source {source} is headquarters', but it came over dealer {site}'s link " \
               f"(user_id {user_id})"
    claimed = rest.partition("/")[0]
    dealercode = envelope.get("dealercode")
    if dealercode != claimed:
        return f"source {source} claims dealer {claimed}, dealercode {dealercode}"
    if user_id is not None and user_id in trusted:
        return None
    expected = names.uplink_user(claimed)
    if user_id == expected:
        return None
    return (f"claims dealer {claimed} (source {source}) but was published by "
            f"{'no user_id' if user_id is None else repr(user_id)}; "
            f"dealer {claimed}'s link publishes as {expected!r}")


@dataclass
class Delivery:
    message: kombu.Message
    envelope: dict[str, Any]
    attempt: int = 1
    outcome: str = ""
    error: str = ""

    @property
    def event_id(self) -> str:
        return self.envelope["id"]


@dataclass
class Batch:
    """What one worker applies in one transaction."""

    deliveries: list[Delivery]
    consumer_name: str
    session_attr: str
    service: str
    inbox: sa.Table
    entrypoint: str = field(default="")


def apply_batch(service_instance: object, handler: Callable[[Any, dict[str, Any]], None],
                batch: Batch) -> list[Delivery]:
    """Apply each new event with the handler, skip those already in the inbox, commit once.

    The batch is tried whole first; only when a handler raises is it rolled back and applied
    again with a savepoint per message, so the failing one is set aside and the others
    commit. Runs inside a nameko worker, so the handler sees the service's injected
    dependencies.
    """
    session: Session = getattr(service_instance, batch.session_attr)
    inbox = batch.inbox
    ids = [d.event_id for d in batch.deliveries]
    seen = set(session.scalars(
        sa.select(inbox.c.event_id)
        .where(inbox.c.consumer == batch.consumer_name, inbox.c.event_id.in_(ids))))
    new: list[Delivery] = []
    for delivery in batch.deliveries:
        if delivery.event_id in seen:
            delivery.outcome = DUPLICATE
        else:
            seen.add(delivery.event_id)  # the same event twice in one batch
            new.append(delivery)
    applied = _apply_whole(service_instance, handler, batch, new)
    if applied is None:
        session.rollback()  # the failed handler's own writes go too
        applied = _apply_each(service_instance, handler, batch, new, session) \
            if len(new) > 1 else []
    if applied:
        session.execute(inbox.insert(), [
            {"consumer": batch.consumer_name, "event_id": d.event_id,
             "event_type": d.envelope["type"], "source": d.envelope["source"],
             "received_at": datetime.now(UTC)} for d in applied])
    session.commit()
    faults.point("consumer.after_commit")
    return batch.deliveries


def _apply_whole(service_instance: object, handler: Callable[[Any, dict[str, Any]], None],
                 batch: Batch, deliveries: list[Delivery]) -> list[Delivery] | None:
    """Every delivery in the one transaction, no savepoints (two statements a message
    fewer); None when a handler raised and the batch must be applied one by one."""
    durations = []
    for delivery in deliveries:
        started = time.perf_counter()
        with _logged_as(delivery.envelope):
            try:
                handler(service_instance, delivery.envelope)
            except Exception as exc:
                if len(deliveries) == 1:  # nothing else to keep: no replay needed
                    _failed(batch, delivery, exc)
                    _observe(batch, time.perf_counter() - started)
                    return None
                log.info("handler %s failed in a batch of %d; applying them one by one",
                         batch.consumer_name, len(deliveries))
                return None
        durations.append(time.perf_counter() - started)
    for delivery, seconds in zip(deliveries, durations, strict=True):
        delivery.outcome = APPLIED
        _observe(batch, seconds)
    return deliveries


def _apply_each(service_instance: object, handler: Callable[[Any, dict[str, Any]], None],
                batch: Batch, deliveries: list[Delivery], session: Session) -> list[Delivery]:
    """Each delivery in its own savepoint: a failing handler undoes only its own effect."""
    applied = []
    for delivery in deliveries:
        started = time.perf_counter()
        with _logged_as(delivery.envelope):
            try:
                with session.begin_nested():
                    handler(service_instance, delivery.envelope)
            except Exception as exc:
                _failed(batch, delivery, exc)
                continue
            finally:
                _observe(batch, time.perf_counter() - started)
        delivery.outcome = APPLIED
        applied.append(delivery)
    return applied


def _logged_as(envelope: dict[str, Any]) -> Any:
    return log_context(event_id=envelope["id"], correlation_id=envelope.get("correlationid"),
                       dealer=envelope.get("dealercode"))


def _failed(batch: Batch, delivery: Delivery, exc: Exception) -> None:
    delivery.outcome, delivery.error = FAILED, f"{type(exc).__name__}: {exc}"
    log.warning("handler %s failed on attempt %d: %s", batch.consumer_name, delivery.attempt,
                delivery.error)


def _observe(batch: Batch, seconds: float) -> None:
    metrics.ENTRYPOINT_DURATION.labels(batch.service, "event", batch.entrypoint).observe(seconds)


class EventConsumer(SharedExtension, ProviderCollector):
    """One AMQP connection per service container, consuming every @handle_event queue."""

    def setup(self) -> None:
        settings = self.container.config["AFTERSALES"]
        self.settings = settings
        self.service = settings.service
        self.retry = settings.retry
        self.dead_letters = ConfirmingPublisher(settings.amqp_uri)
        # At headquarters every site event is checked against the link it came over. Not in
        # embedded mode: the in-memory broker authenticates no one, so a user_id there would
        # prove nothing (one process, one trust domain: development and the demo).
        self.checks_publisher = settings.at_headquarters and not settings.embedded
        # Headquarters' own user, unless it is (by a mistake in its settings) a site's link.
        own = authenticated_user(settings.amqp_uri)
        self.trusted_publishers: frozenset[str] = (
            frozenset({own}) if own is not None and names.uplink_dealer(own) is None
            else frozenset())
        self._ack_lock = Semaphore()
        self._dead_letter_lock = Semaphore()
        self._running = False
        self._connection: kombu.Connection | None = None
        self._ready = eventlet.event.Event()
        self._generation = 0  # bumped on reconnect: acks for an old connection are moot

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._run,
                                                           identifier="event_consumer")

    def stop(self) -> None:
        super().stop()  # waits until every entrypoint has unregistered
        self._running = False
        with eventlet.Timeout(5, False):
            self._thread.wait()  # leaves its drain loop within a fraction of a second
        self.dead_letters.close()

    def kill(self) -> None:
        self._running = False
        self.dead_letters.close()

    def wait_until_consuming(self, timeout: float = 10.0) -> None:
        with eventlet.Timeout(timeout):
            self._ready.wait()

    # -- consuming -----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.0
        while self._running:
            try:
                self._consume()
                backoff = 0.0
            except Exception as exc:
                if not self._running:
                    break
                backoff = min(max(backoff * 2, 0.5), 30.0)
                log.warning("event consumer for %s: %s; reconnecting in %.1fs",
                            self.service, exc, backoff)
                eventlet.sleep(backoff)

    def _consume(self) -> None:
        connection = connect(self.settings.amqp_uri, heartbeat=30)
        try:
            channel = connection.channel()
            channel.basic_qos(0, self.settings.prefetch_count, False)
            dead_letter_queue(self.service)(channel).declare()
            consumers = []
            for provider in self._providers:
                provider.queue(channel).declare()
                consumer = kombu.Consumer(channel, queues=[provider.queue], no_ack=False,
                                          on_message=functools.partial(self._received, provider))
                consumer.consume()
                consumers.append(consumer)
            self._generation += 1
            self._connection = connection
            if not self._ready.ready():
                self._ready.send(True)
            last_beat = time.monotonic()
            while self._running:
                try:
                    connection.drain_events(timeout=0.2)
                    # Gather what has already arrived before dispatching, so a burst becomes
                    # a few batches rather than one worker per message.
                    for _ in range(self.settings.consumer_batch_size):
                        connection.drain_events(timeout=0.0005)
                except TimeoutError:
                    pass
                self._dispatch_pending()
                if time.monotonic() - last_beat > 5:
                    connection.heartbeat_check()
                    last_beat = time.monotonic()
        finally:
            self._connection = None
            try:
                connection.release()
            except Exception:
                log.debug("error closing consumer connection", exc_info=True)

    def _received(self, provider: EventEntrypoint, message: kombu.Message) -> None:
        # The body itself, whatever the content type says: `application/cloudevents+json` as
        # published since contracts 1.1, and `application/json` from before (still in queues
        # and dead-letter queues after an upgrade) are the same JSON document.
        try:
            envelope = wire.decode(message.body)
        except ValueError as exc:
            self._dead_letter(provider, message, MALFORMED, str(exc), attempts=0)
            return
        try:
            envelope = validate_event(envelope)
        except ContractViolation as exc:
            self._dead_letter(provider, message, CONTRACT_INVALID, str(exc), attempts=0)
            return
        if envelope["type"] != provider.event_type:
            self._dead_letter(provider, message, CONTRACT_INVALID,
                              f"type: expected {provider.event_type}, got {envelope['type']}",
                              attempts=0)
            return
        if self.checks_publisher:
            refused = publisher_mismatch(envelope, (message.properties or {}).get("user_id"),
                                         self.trusted_publishers)
            if refused is not None:  # before any handler: it changes nothing
                self._dead_letter(provider, message, PUBLISHER_MISMATCH, refused, attempts=0)
                return
        provider.pending.append(Delivery(message, envelope))
        if len(provider.pending) >= self.settings.consumer_batch_size:
            provider.dispatch_pending()

    def _dispatch_pending(self) -> None:
        for provider in self._providers:
            provider.dispatch_pending()

    # -- settling ------------------------------------------------------------------------

    def settle(self, provider: EventEntrypoint, deliveries: list[Delivery],
               generation: int) -> None:
        """Called from the worker once its transaction is over: ack, retry or dead-letter."""
        for delivery in deliveries:
            if delivery.outcome in (APPLIED, DUPLICATE):
                if delivery.outcome == DUPLICATE:
                    metrics.INBOX_DUPLICATES.labels(self.service, provider.method_name).inc()
                else:
                    metrics.EVENT_LAST_PROCESSED.labels(self.service, provider.method_name) \
                        .set_to_current_time()
                    dealer = delivery.envelope.get("dealercode")
                    if self.settings.at_headquarters and dealer:  # "no events from site X"
                        metrics.SITE_LAST_EVENT.labels(self.service, dealer).set_to_current_time()
                metrics.ENTRYPOINT_REQUESTS.labels(self.service, "event",
                                                   provider.method_name).inc()
                self._ack(delivery.message, generation)
                continue
            metrics.ENTRYPOINT_FAILURES.labels(self.service, "event", provider.method_name).inc()
            if delivery.attempt >= self.retry.max_attempts:
                metrics.ENTRYPOINT_REQUESTS.labels(self.service, "event",
                                                   provider.method_name).inc()
                try:
                    self._dead_letter(provider, delivery.message, HANDLER_FAILED,
                                      delivery.error, attempts=delivery.attempt,
                                      generation=generation)
                except Exception as exc:
                    # Still unacknowledged: try the last attempt (and this) again later.
                    log.warning("could not dead-letter %s: %s", delivery.event_id, exc)
                    eventlet.spawn_after(self.retry.backoff_max_seconds, provider.redeliver,
                                         delivery, generation)
                continue
            metrics.HANDLER_RETRIES.labels(self.service, provider.method_name).inc()
            delay = self.retry.delay(delivery.attempt)
            delivery.attempt += 1
            delivery.outcome = delivery.error = ""
            eventlet.spawn_after(delay, provider.redeliver, delivery, generation)

    def _ack(self, message: kombu.Message, generation: int) -> None:
        if generation != self._generation or self._connection is None:
            return  # the channel it came on is gone; the broker will redeliver it
        with self._ack_lock:
            message.ack()

    def _dead_letter(self, provider: EventEntrypoint, message: kombu.Message, reason: str,
                     detail: str, attempts: int, generation: int | None = None) -> None:
        headers = {
            **(message.headers or {}),
            names.DEATH_REASON: reason,
            names.DEATH_DETAIL: detail[:2000],
            names.ATTEMPTS: attempts,
            names.ORIGINAL_EXCHANGE: provider.queue.exchange.name,
            names.ORIGINAL_ROUTING_KEY: message.delivery_info.get("routing_key", ""),
            names.ORIGINAL_QUEUE: provider.queue.name,
            names.DEAD_LETTERED_AT: datetime.now(UTC).isoformat(),
        }
        message_id = (message.properties or {}).get("message_id") or ""
        with self._dead_letter_lock:
            self.dead_letters.publish([OutgoingMessage(
                exchange=names.DEAD_LETTER_EXCHANGE, routing_key=self.service, body=message.body,
                message_id=message_id, headers=headers, exchange_type="direct",
                content_type=message.content_type or "application/octet-stream")])
        metrics.DEAD_LETTERS.labels(self.service, reason).inc()
        log.error("dead-lettered a message from %s (%s): %s", provider.queue.name, reason,
                  detail[:500])
        self._ack(message, self._generation if generation is None else generation)


class EventEntrypoint(Entrypoint):
    consumer = EventConsumer()
    metrics_kind = "event"  # chassis.metrics labels its calls (and leaves them to settle())
    # apply_batch commits the handlers' effects with their inbox rows; the framework's
    # per-call commit (chassis.db.Database.finish) stays out of it.
    commits_itself = True

    def __init__(self, source_service: str, contract: EventContract, **kwargs: Any) -> None:
        self.source_service = source_service
        self.contract = contract
        self.event_type = contract.type
        super().__init__(**kwargs)

    def setup(self) -> None:
        service = self.container.service_name
        self.consumer_name = f"{service}.{self.method_name}"
        queue_name = names.event_queue_name(self.source_service, self.event_type,
                                            self.consumer_name)
        self.queue = kombu.Queue(queue_name, exchange=event_exchange(self.source_service),
                                 routing_key=self.event_type, durable=True)
        self.database = find_database(self.container)
        self.pending: list[Delivery] = []
        self.consumer.register_provider(self)

    def stop(self) -> None:
        self.consumer.unregister_provider(self)

    def dispatch_pending(self) -> None:
        size = self.consumer.settings.consumer_batch_size
        while self.pending:
            deliveries, self.pending = self.pending[:size], self.pending[size:]
            self._spawn(deliveries, self.consumer._generation)

    def redeliver(self, delivery: Delivery, generation: int) -> None:
        if generation == self.consumer._generation:
            self._spawn([delivery], generation)

    def _spawn(self, deliveries: list[Delivery], generation: int) -> None:
        batch = Batch(deliveries=deliveries, consumer_name=self.consumer_name,
                      session_attr=self.database.attr_name, service=self.consumer.service,
                      inbox=self.database.metadata.tables["inbox"], entrypoint=self.method_name)

        def handle_result(worker_ctx, result, exc_info):  # type: ignore[no-untyped-def]
            if exc_info is not None:  # the transaction itself failed: retry every message
                error = f"{exc_info[0].__name__}: {exc_info[1]}"
                for delivery in deliveries:
                    if delivery.outcome != DUPLICATE:
                        delivery.outcome, delivery.error = FAILED, error
            self.consumer.settle(self, deliveries, generation)
            return result, exc_info

        self.container.spawn_worker(self, (batch,), {}, context_data={},
                                    handle_result=handle_result)


def handle_event(source_service: str, contract: EventContract) -> Callable[..., Any]:
    """Decorate `def on_x(self, event: dict) -> None` to apply `contract` events reliably."""

    def decorator(handler: Callable[[Any, dict[str, Any]], None]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def run_batch(self: Any, batch: Batch) -> list[Delivery]:
            return apply_batch(self, handler, batch)

        run_batch.handler = handler  # type: ignore[attr-defined]  # for unit tests
        return EventEntrypoint.decorator(source_service, contract)(run_batch)

    return decorator
