"""Event backbone benchmark: events/s and producer→consumer latency on the local broker.

Three ways of moving one small event from a producer to a consumer that writes one row:

  (a) raw kombu: publish with a confirm per message, consume and ack (what the broker costs);
  (b) stock nameko: EventDispatcher → @event_handler, the handler inserts a row and commits;
  (c) the platform: business row + outbox row in one commit → relay (batched confirms) →
      @handle_event, effect row + inbox row in one commit, then ack.

Each is run twice: a burst of N events (throughput: first producer commit → last effect
commit) and a steady rate (latency: effect commit minus producer commit, both stamped with
time.time() in this process). Every run gets a fresh vhost (platform policies, quorum queues)
and fresh databases, dropped afterwards. The last line printed is one JSON object.

    .venv/bin/python bench/backbone.py [--events N] [--steady-seconds S] [--rate R] [--quick]
"""

# ruff: noqa: E402  -- eventlet must patch sockets before kombu, nameko or psycopg2 load.
from chassis.runner import green

green()

import argparse
import json
import logging
import math
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import eventlet
import kombu
import sqlalchemy as sa
from nameko.containers import ServiceContainer
from nameko.events import EventDispatcher, event_handler
from nameko.extensions import DependencyProvider, Entrypoint
from sqlalchemy.orm import Session

from chassis.broker_admin import BrokerAdmin
from chassis.config import Settings
from chassis.consumer import EventConsumer, handle_event
from chassis.db import (
    Database,
    define_backbone_tables,
    drop_database,
    ensure_database,
)
from chassis.outbox import Outbox
from chassis.service import PlatformService
from chassis.testing import AMQP, POSTGRES, make_settings
from contracts import events, new_event

log = logging.getLogger("bench")

CONTRACT = events.AppointmentCheckedIn  # small, flat payload: the backbone is what is measured
PRODUCER, CONSUMER = "booking", "workorder"  # the contract's producer; a site consumer
DEALER = "D001"
STALL_SECONDS = 30.0  # give up on a run when no effect has committed for this long

# -- tables ------------------------------------------------------------------------------------

producer_metadata = sa.MetaData()
orders = sa.Table(
    "bench_orders", producer_metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("dealer_code", sa.String(12), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
define_backbone_tables(producer_metadata)

consumer_metadata = sa.MetaData()
effects = sa.Table(
    "bench_effects", consumer_metadata,
    sa.Column("event_key", sa.String(64), primary_key=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)
define_backbone_tables(consumer_metadata)


# -- timing ------------------------------------------------------------------------------------

@dataclass
class Clock:
    """Producer-commit and effect-commit times per event key, plus a wake-up for waiters."""

    sent: dict[str, float] = field(default_factory=dict)
    applied: dict[str, float] = field(default_factory=dict)

    def reset(self) -> None:
        self.sent.clear()
        self.applied.clear()

    def wait_applied(self, count: int) -> int:
        """Wait until `count` effects are in, or none has arrived for STALL_SECONDS."""
        last, last_change = -1, time.monotonic()
        while len(self.applied) < count:
            now = time.monotonic()
            if len(self.applied) != last:
                last, last_change = len(self.applied), now
            elif now - last_change > STALL_SECONDS:
                log.error("stalled at %d of %d effects", last, count)
                break
            eventlet.sleep(0.01)
        return len(self.applied)


class ClockProvider(DependencyProvider):
    """Injects the run's Clock; on a consumer, stamps effects when their transaction commits.

    A handler calls `self.clock.effect(self.db, key)`; the key is stamped in after_commit, so
    the time is that of the commit that made the effect durable, not of the insert.
    """

    def setup(self) -> None:
        self.clock: Clock = self.container.config["BENCH_CLOCK"]
        self.database = next((d for d in self.container.dependencies
                              if isinstance(d, Database)), None)

    def start(self) -> None:
        if self.database is not None:
            sa.event.listen(self.database.session_factory, "after_commit", self._stamp)

    def stop(self) -> None:
        if self.database is not None and sa.event.contains(
                self.database.session_factory, "after_commit", self._stamp):
            sa.event.remove(self.database.session_factory, "after_commit", self._stamp)

    kill = stop

    def _stamp(self, session: Session) -> None:
        keys = session.info.pop("bench_keys", None)
        if keys:
            now = time.time()
            for key in keys:
                self.clock.applied.setdefault(key, now)

    def get_dependency(self, worker_ctx) -> "ClockProvider":  # type: ignore[no-untyped-def]
        return self

    def effect(self, session: Session, key: str) -> None:
        session.info.setdefault("bench_keys", []).append(key)


class Trigger(Entrypoint):
    """Lets the benchmark start real workers (with all their dependencies) from a loop.

    spawn_worker blocks while the pool is full, which is the back-pressure a busy service
    puts on its callers.
    """

    def fire(self, *args: Any) -> None:
        self.container.spawn_worker(self, args, {})


trigger = Trigger.decorator


def find_trigger(container: ServiceContainer) -> Trigger:
    return next(e for e in container.entrypoints if isinstance(e, Trigger))


# -- payload -----------------------------------------------------------------------------------

def event_data(key: str) -> dict[str, Any]:
    return {"appointment_id": key, "customer_id": "CUS-000042",
            "slot_start": "2025-06-02T09:00:00+08:00",
            "checked_in_at": "2025-06-02T08:52:00+08:00", "advisor_id": "ADV-007"}


def envelope_for(key: str) -> dict[str, Any]:
    """A valid envelope for (a) and (b), which do not build or check contracts themselves."""
    return new_event(CONTRACT, event_data(key), source=f"dealer/{DEALER}/{PRODUCER}",
                     subject=key, dealer_code=DEALER, correlation_id=key, sequence=1)


# -- services ----------------------------------------------------------------------------------

class StockProducer:
    """(b) producer: a worker dispatches one event; nothing else (no database)."""

    name = PRODUCER
    dispatch = EventDispatcher()
    clock = ClockProvider()

    @trigger
    def send(self, key: str, envelope: dict[str, Any]) -> None:
        # Stamped before dispatch: in a real service the business commit would precede it.
        self.clock.clock.sent[key] = time.time()
        self.dispatch(CONTRACT.type, envelope)


class StockConsumer:
    """(b) consumer: stock @event_handler, one row and one commit per event, no inbox."""

    name = CONSUMER
    db = Database(consumer_metadata)
    clock = ClockProvider()

    @event_handler(PRODUCER, CONTRACT.type)
    def on_checked_in(self, envelope: dict[str, Any]) -> None:
        self.db.execute(effects.insert().values(event_key=envelope["subject"],
                                                event_id=envelope["id"],
                                                applied_at=datetime.now(UTC)))
        self.clock.effect(self.db, envelope["subject"])
        self.db.commit()


class PlatformProducer(PlatformService):
    """(c) producer: a business row and its event, one transaction, as booking does."""

    name = PRODUCER
    db = Database(producer_metadata)
    outbox = Outbox()
    clock = ClockProvider()

    @trigger
    def check_in(self, key: str) -> None:
        self.db.execute(orders.insert().values(id=key, dealer_code=DEALER,
                                               created_at=datetime.now(UTC)))
        self.outbox.emit(CONTRACT, event_data(key), subject=key, correlation_id=key)
        self.db.commit()
        self.clock.clock.sent[key] = time.time()


class PlatformConsumer(PlatformService):
    """(c) consumer: the effect row; the chassis adds the inbox row and commits the batch."""

    name = CONSUMER
    db = Database(consumer_metadata)
    clock = ClockProvider()

    @handle_event(PRODUCER, CONTRACT)
    def on_checked_in(self, event: dict[str, Any]) -> None:
        self.db.execute(effects.insert().values(event_key=event["subject"], event_id=event["id"],
                                                applied_at=datetime.now(UTC)))
        self.clock.effect(self.db, event["subject"])


# -- environment -------------------------------------------------------------------------------

@dataclass
class Env:
    vhost: str
    amqp_uri: str
    databases: dict[str, str]


@contextmanager
def environment(label: str, with_databases: bool = True) -> Iterator[Env]:
    """A fresh vhost with the platform's policies and fresh databases, removed afterwards."""
    admin = BrokerAdmin()
    run = uuid.uuid4().hex[:8]
    vhost = f"bench-{label}-{run}"
    admin.apply(vhost, [CONSUMER])
    databases: dict[str, str] = {}
    try:
        if with_databases:
            for role, metadata in (("producer", producer_metadata),
                                   ("consumer", consumer_metadata)):
                url = f"{POSTGRES}/bench_{label}_{role}_{run}"
                databases[role] = url
                ensure_database(url)
                engine = sa.create_engine(url)
                metadata.create_all(engine)
                engine.dispose()
        yield Env(vhost, f"{AMQP}/{vhost}", databases)
    finally:
        for url in databases.values():
            try:
                drop_database(url)
            except Exception as exc:  # keep cleaning up the rest
                log.warning("could not drop %s: %s", url, exc)
        try:
            admin.delete_vhost(vhost)
        except Exception as exc:
            log.warning("could not delete vhost %s: %s", vhost, exc)


@contextmanager
def running(cls: type, settings: Settings, clock: Clock) -> Iterator[ServiceContainer]:
    container = ServiceContainer(cls, {**settings.nameko_config(), "BENCH_CLOCK": clock})
    container.start()
    try:
        for extension in container.extensions:
            if isinstance(extension, EventConsumer):
                extension.wait_until_consuming()
        yield container
    finally:
        stopped = False
        with eventlet.Timeout(15, False):
            container.stop()
            stopped = True
        if not stopped:
            container.kill()


# -- driving -----------------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    mode: str  # "burst" or "steady"
    events: int
    applied: int
    seconds: float
    eps: float
    latencies_ms: list[float]
    offered_rate: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    def pct(self, p: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def keys(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i:07d}" for i in range(count)]


def pace(rate: float, items: list[Any], fire: Callable[[Any], None]) -> None:
    """Fire at an absolute schedule, so one slow call does not shift all the later ones."""
    start = time.monotonic()
    for i, item in enumerate(items):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            eventlet.sleep(delay)
        fire(item)


def measure(name: str, mode: str, clock: Clock, batch: list[str],
            fire: Callable[[str], None], rate: float) -> Result:
    """Send `batch` (all at once for a burst, at `rate` for steady) and time its effects."""
    clock.reset()
    if mode == "burst":
        for key in batch:
            fire(key)
    else:
        pace(rate, batch, fire)
    applied = clock.wait_applied(len(batch))
    sent = [clock.sent[k] for k in batch if k in clock.sent]
    done = [clock.applied[k] for k in batch if k in clock.applied]
    span = (max(done) - min(sent)) if sent and done else float("nan")
    latencies = [(clock.applied[k] - clock.sent[k]) * 1000 for k in batch
                 if k in clock.applied and k in clock.sent]
    result = Result(name, mode, len(batch), applied, span, applied / span if span else 0.0,
                    latencies, offered_rate=rate if mode == "steady" else 0.0)
    if sent:
        result.notes["producer_seconds"] = max(sent) - min(sent)
    return result


def warm_up(clock: Clock, fire: Callable[[str], None], count: int = 50) -> None:
    """Open connections, fill pools and SQLAlchemy's statement cache before timing anything."""
    batch = keys(f"warm-{uuid.uuid4().hex[:6]}", count)
    clock.reset()
    pace(200.0, batch, fire)
    clock.wait_applied(count)


# -- (a) raw kombu -----------------------------------------------------------------------------

RAW_QUEUE = f"evt-{PRODUCER}-raw--{CONSUMER}.raw"  # matches the vhost's consumer policy


def run_raw(mode: str, count: int, rate: float, prefetch: int) -> Result:
    with environment(f"a{mode[0]}", with_databases=False) as env:
        clock = Clock()
        exchange = kombu.Exchange(f"{PRODUCER}.raw", type="topic", durable=True)
        queue = kombu.Queue(RAW_QUEUE, exchange=exchange, routing_key=CONTRACT.type,
                            durable=True)
        stop = eventlet.event.Event()
        ready = eventlet.event.Event()

        def consume() -> None:
            with kombu.Connection(env.amqp_uri) as conn:
                channel = conn.channel()
                channel.basic_qos(0, prefetch, False)
                queue(channel).declare()

                def on_message(message: kombu.Message) -> None:
                    message.ack()  # received and settled: the raw "effect"
                    clock.applied.setdefault(message.properties["message_id"], time.time())

                with kombu.Consumer(channel, queues=[queue], on_message=on_message,
                                    no_ack=False):
                    ready.send(True)
                    while not stop.ready():
                        try:
                            conn.drain_events(timeout=0.2)
                        except TimeoutError:
                            pass

        consumer = eventlet.spawn(consume)
        ready.wait()
        conn = kombu.Connection(env.amqp_uri, transport_options={"confirm_publish": True})
        producer = conn.Producer()
        templates: dict[str, bytes] = {}

        def fire(key: str) -> None:
            body = templates.get(key) or json.dumps(envelope_for(key)).encode()
            clock.sent[key] = time.time()
            # confirm_publish: returns once the broker has confirmed this one message
            producer.publish(body, exchange=exchange, routing_key=CONTRACT.type,
                             delivery_mode=2, message_id=key, content_type="application/json",
                             content_encoding="utf-8", retry=False)

        try:
            warm_up(clock, fire)
            batch = keys(f"raw-{mode}", count)
            templates.update((k, json.dumps(envelope_for(k)).encode()) for k in batch)
            return measure("(a) raw kombu", mode, clock, batch, fire, rate)
        finally:
            conn.release()
            stop.send(True)
            consumer.wait()


# -- (b) stock nameko --------------------------------------------------------------------------

def run_stock(mode: str, count: int, rate: float, max_workers: int) -> Result:
    with environment(f"b{mode[0]}") as env:
        clock = Clock()
        consumer_settings = make_settings(CONSUMER, env.databases["consumer"], env.amqp_uri,
                                          max_workers=max_workers)
        producer_settings = make_settings(PRODUCER, env.databases["producer"], env.amqp_uri,
                                          max_workers=max_workers)
        with running(StockConsumer, consumer_settings, clock), \
                running(StockProducer, producer_settings, clock) as producer:
            eventlet.sleep(0.5)  # nameko's QueueConsumer starts consuming asynchronously
            send = find_trigger(producer)
            envelopes: dict[str, dict[str, Any]] = {}

            def fire(key: str) -> None:
                send.fire(key, envelopes.pop(key, None) or envelope_for(key))

            warm_up(clock, fire)
            batch = keys(f"stock-{mode}", count)
            envelopes.update((k, envelope_for(k)) for k in batch)
            return measure("(b) nameko stock", mode, clock, batch, fire, rate)


# -- (c) platform ------------------------------------------------------------------------------

def run_platform(mode: str, count: int, rate: float, tuning: dict[str, Any]) -> Result:
    with environment(f"c{mode[0]}") as env:
        clock = Clock()
        consumer_settings = make_settings(CONSUMER, env.databases["consumer"], env.amqp_uri,
                                          **tuning)
        producer_settings = make_settings(PRODUCER, env.databases["producer"], env.amqp_uri,
                                          **tuning)
        with running(PlatformConsumer, consumer_settings, clock), \
                running(PlatformProducer, producer_settings, clock) as producer:
            check_in = find_trigger(producer)
            warm_up(clock, check_in.fire)
            batch = keys(f"platform-{mode}", count)
            result = measure("(c) platform", mode, clock, batch, check_in.fire, rate)
        result.notes.update(stage_times(env, batch[0], clock))
        return result


def stage_times(env: Env, first_key: str, clock: Clock) -> dict[str, Any]:
    """Where the time went: when the relay had published everything (from outbox rows)."""
    engine = sa.create_engine(env.databases["producer"])
    try:
        with engine.connect() as conn:
            last_published = conn.scalar(sa.text(
                "SELECT max(published_at) FROM outbox WHERE aggregate_id LIKE 'platform-%'"))
    finally:
        engine.dispose()
    start = clock.sent.get(first_key)
    if last_published is None or start is None:
        return {}
    return {"relay_done_seconds": last_published.timestamp() - min(clock.sent.values())}


# -- report ------------------------------------------------------------------------------------

def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def print_table(results: list[Result]) -> None:
    header = (f"{'scenario':<20} {'mode':<12} {'events':>7} {'done':>7} {'seconds':>8} "
              f"{'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(header)
    print("-" * len(header))
    for r in results:
        mode = r.mode if r.mode == "burst" else f"{r.offered_rate:g}/s"
        print(f"{r.name:<20} {mode:<12} {r.events:>7} {r.applied:>7} {fmt(r.seconds, 2):>8} "
              f"{fmt(r.eps, 0):>9} {fmt(r.pct(0.5)):>8} {fmt(r.pct(0.99)):>8} "
              f"{fmt(max(r.latencies_ms) if r.latencies_ms else None):>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000, help="burst size (default 20000)")
    parser.add_argument("--steady-seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="steady events/s")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", default="a,b,c", help="scenarios to run, e.g. 'c' or 'b,c'")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.steady_seconds = min(args.events, 1000), min(args.steady_seconds, 2.0)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    only = set(args.only.split(","))
    steady_count = max(1, int(args.rate * args.steady_seconds))
    defaults = Settings(service=CONSUMER, dealer_code=DEALER, database_url="", amqp_uri="")
    tuning: dict[str, Any] = {}

    results: dict[tuple[str, str], Result] = {}
    for mode, count in (("burst", args.events), ("steady", steady_count)):
        if "a" in only:
            results["a", mode] = run_raw(mode, count, args.rate, defaults.prefetch_count)
        if "b" in only:
            results["b", mode] = run_stock(mode, count, args.rate, defaults.max_workers)
        if "c" in only:
            results["c", mode] = run_platform(mode, count, args.rate, tuning)

    platform = replace(defaults, **tuning)
    print("setup: one process, eventlet; RabbitMQ vhost per run (quorum queues, platform "
          "policies); PostgreSQL database per service per run")
    print("  (a) one publisher, confirm per message; consumer prefetch "
          f"{platform.prefetch_count}, ack per message; effect = ack")
    print(f"  (b) nameko EventDispatcher (confirm per message) from {defaults.max_workers} "
          "workers, no producer database; @event_handler inserts one row and commits")
    print(f"  (c) worker: business row + outbox row, one commit; relay batch "
          f"{platform.relay_batch_size}; @handle_event batch {platform.consumer_batch_size}, "
          f"prefetch {platform.prefetch_count}, max_workers {platform.max_workers}")
    print("  latency = effect commit - producer commit (time.time(), same process); "
          "throughput = first producer commit → last effect commit")
    print()
    print_table(list(results.values()))

    summary: dict[str, Any] = {"events": args.events, "rate": args.rate,
                               "steady_seconds": args.steady_seconds}
    names = {"a": "raw_kombu", "b": "nameko_stock", "c": "platform"}
    for (scenario, mode), r in results.items():
        prefix = names[scenario]
        if mode == "burst":
            summary[f"{prefix}_eps"] = round(r.eps, 1)
            summary[f"{prefix}_burst_applied"] = r.applied
        else:
            summary[f"{prefix}_p50_ms"] = round(r.pct(0.5) or float("nan"), 2)
            summary[f"{prefix}_p99_ms"] = round(r.pct(0.99) or float("nan"), 2)
            summary[f"{prefix}_steady_rate"] = round(r.eps, 1)
        for note, value in r.notes.items():
            summary[f"{prefix}_{mode}_{note}"] = round(value, 3)
    if "platform_eps" in summary and summary.get("nameko_stock_eps"):
        summary["platform_vs_stock"] = round(summary["platform_eps"] / summary["nameko_stock_eps"],
                                             2)
        summary["target_throughput_met"] = summary["platform_vs_stock"] >= 3.0
    if "platform_p99_ms" in summary:
        summary["target_p99_met"] = summary["platform_p99_ms"] < 20.0
    print()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
