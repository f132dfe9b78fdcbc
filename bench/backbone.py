"""Event backbone benchmark: events/s and producer→consumer latency on the local broker.

Three ways of moving one small event from a producer to a consumer that writes one row:

  (a) raw kombu: publish with a confirm per message, consume and ack (what the broker costs);
  (b) stock nameko: EventDispatcher → @event_handler, the handler inserts a row and commits;
  (c) the platform: business row + outbox row in one commit → relay (batched confirms) →
      @handle_event, effect row + inbox row in one commit, then ack.

Each is run as a burst of N events (throughput: first producer commit → last effect commit)
and at a steady rate (latency: effect commit minus producer commit, both stamped with
time.time() in this process). The platform is also run at a quarter of that rate, to tell
the pipeline's own latency from queueing behind a saturated CPU. Every run gets a fresh
vhost (platform policies, so quorum queues) and fresh databases, removed afterwards.
The last line printed is one JSON object.

    .venv/bin/python bench/backbone.py [--events N] [--steady-seconds S] [--rate R] [--quick]
"""

# ruff: noqa: E402  -- eventlet must patch sockets before kombu, nameko or psycopg2 load.
from chassis.runner import green

green()

import argparse
import dataclasses
import json
import logging
import math
import os
import pwd
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import resources
from typing import Any

import eventlet
import kombu
import requests
import sqlalchemy as sa
from nameko.containers import ServiceContainer
from nameko.events import EventDispatcher, event_handler
from nameko.extensions import DependencyProvider, Entrypoint
from sqlalchemy.orm import Session

from chassis.broker_admin import BrokerAdmin
from chassis.config import Settings
from chassis.consumer import EventConsumer, handle_event
from chassis.db import Database, define_backbone_tables, drop_database, ensure_database
from chassis.outbox import Outbox
from chassis.service import PlatformService
from chassis.testing import AMQP, POSTGRES, make_settings
from contracts import events, new_event

log = logging.getLogger("bench")

CONTRACT = events.AppointmentCheckedIn  # small, flat payload: the backbone is what is measured
PRODUCER, CONSUMER = "booking", "workorder"  # the contract's producer; a site consumer
DEALER = "D001"
STALL_SECONDS = 30.0  # give up on a run when no effect has committed for this long
BROKER_WAIT_SECONDS = 120.0  # the broker is shared: it may be restarting when a run begins

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
    """Producer-commit and effect-commit times per event key."""

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
    """Injects itself; on a consumer, stamps effects when their transaction commits.

    A handler calls `self.clock.effect(self.db, key)`; the key is stamped in after_commit, so
    the time is that of the commit that made the effect durable, not that of the insert.
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

    def get_dependency(self, worker_ctx: Any) -> "ClockProvider":
        return self

    def effect(self, session: Session, key: str) -> None:
        session.info.setdefault("bench_keys", []).append(key)

    def sent(self, key: str) -> None:
        self.clock.sent[key] = time.time()


class Trigger(Entrypoint):
    """Lets the benchmark start real workers (with all their dependencies) from a loop.

    spawn_worker blocks while the pool is full, the back-pressure a busy service puts on
    its callers.
    """

    def fire(self, *args: Any) -> None:
        self.container.spawn_worker(self, args, {})


trigger = Trigger.decorator


def find_trigger(container: ServiceContainer) -> Trigger:
    return next(e for e in container.entrypoints if isinstance(e, Trigger))


# -- payload -----------------------------------------------------------------------------------

# The contract's own published example; only the appointment id varies between events.
EXAMPLE_DATA: dict[str, Any] = json.loads(
    (resources.files("contracts") / CONTRACT.example_file).read_text(encoding="utf-8"))["data"]


def event_data(key: str) -> dict[str, Any]:
    return {**EXAMPLE_DATA, CONTRACT.subject_field: key}


def envelope_for(key: str) -> dict[str, Any]:
    """A valid envelope for (a) and (b), which neither build nor check contracts."""
    return new_event(CONTRACT, event_data(key), source=f"dealer/{DEALER}/{PRODUCER}",
                     subject=key, dealer_code=DEALER, correlation_id=key, sequence=1)


# -- services ----------------------------------------------------------------------------------

class StockProducer:
    """(b) producer: a worker dispatches one prepared event; no database."""

    name = PRODUCER
    dispatch = EventDispatcher()
    clock = ClockProvider()

    @trigger
    def send(self, key: str, envelope: dict[str, Any]) -> None:
        # Stamped before dispatch: in a real service the business commit would precede it.
        self.clock.sent(key)
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
    """(c) producer: a business row and its event in one transaction, as booking does."""

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
        self.clock.sent(key)


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


def apply_vhost(admin: BrokerAdmin, vhost: str) -> None:
    """Create the run's vhost, waiting for the broker if it is down or restarting."""
    deadline = time.monotonic() + BROKER_WAIT_SECONDS
    while True:
        try:
            admin.apply(vhost, [CONSUMER])
            with kombu.Connection(f"{AMQP}/{vhost}", connect_timeout=5) as conn:
                conn.ensure_connection(max_retries=1)
            return
        except (requests.RequestException, RuntimeError, OSError,
                kombu.exceptions.OperationalError) as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("broker not ready (%s); waiting", exc)
            eventlet.sleep(2)


def delete_vhost(admin: BrokerAdmin, vhost: str) -> None:
    """Remove the run's vhost; a broker that is restarting gets the same grace as at setup."""
    deadline = time.monotonic() + BROKER_WAIT_SECONDS
    while True:
        try:
            admin.delete_vhost(vhost)
            return
        except (requests.RequestException, RuntimeError) as exc:
            if time.monotonic() > deadline:
                log.warning("could not delete vhost %s: %s", vhost, exc)
                return
            eventlet.sleep(2)


@contextmanager
def environment(label: str, with_databases: bool = True) -> Iterator[Env]:
    """A fresh vhost with the platform's policies and fresh databases, removed afterwards."""
    admin = BrokerAdmin()
    run = uuid.uuid4().hex[:8]
    vhost = f"bench-{label}-{run}"
    apply_vhost(admin, vhost)
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
        delete_vhost(admin, vhost)


@contextmanager
def running(cls: type, settings: Settings, clock: Clock) -> Iterator[ServiceContainer]:
    container = ServiceContainer(cls, {**settings.nameko_config(), "BENCH_CLOCK": clock})
    container.start()  # nameko's own consumers are consuming when this returns
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


def host_cpu() -> tuple[float, float]:
    """(busy, total) CPU time of the whole machine, all cores, from /proc/stat (Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [float(v) for v in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return float("nan"), float("nan")
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def service_uids() -> set[int]:
    """Owners of the broker and database processes, whose work is part of the benchmark."""
    uids = set()
    for user in ("rabbitmq", "postgres"):
        try:
            uids.add(pwd.getpwnam(user).pw_uid)
        except KeyError:
            pass
    return uids


SERVICE_UIDS = service_uids()


def neighbour_cpu() -> dict[int, float]:
    """CPU seconds so far of every other process but the broker's and the database's.

    The host is shared: this is what tells a slow run from a run that had to share the
    machine. Processes that exit during a run are missed, so it is a lower bound.
    """
    seconds: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        entries = [e for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return seconds
    for entry in entries:
        pid = int(entry.name)
        try:
            if pid == os.getpid() or entry.stat().st_uid in SERVICE_UIDS:
                continue
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        except (OSError, ValueError, IndexError):
            continue
    return seconds


class WarningCounter(logging.Handler):
    """Counts warnings (relay retries, reconnects) so a disturbed run is visible as such."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


WARNINGS = WarningCounter()


# -- measuring ---------------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    mode: str  # "burst" or "steady"
    events: int
    applied: int = 0
    seconds: float = float("nan")
    eps: float = float("nan")
    latencies_ms: list[float] = field(default_factory=list)
    offered_rate: float = 0.0
    cpu_seconds: float = float("nan")  # this process, during the measured part only
    host_percent: float = float("nan")  # the whole machine (all cores; broker, database, …)
    other_percent: float = float("nan")  # processes that are not part of the benchmark
    warnings: int = 0
    error: str = ""
    notes: dict[str, float] = field(default_factory=dict)

    def pct(self, p: float) -> float | None:
        """Nearest-rank percentile of the latencies, in ms."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    @property
    def cpu_ms_per_event(self) -> float:
        return self.cpu_seconds / self.events * 1000 if self.events else float("nan")

    @property
    def cpu_percent(self) -> float:
        """Share of one core this process used: near 100 means Python was the bottleneck."""
        return self.cpu_seconds / self.seconds * 100 if self.seconds > 0 else float("nan")


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


def measure(result: Result, clock: Clock, batch: list[str], fire: Callable[[str], None]) -> None:
    """Send `batch` (all at once for a burst, paced for steady) and time its effects."""
    clock.reset()
    warnings, cpu, (busy, total) = WARNINGS.count, time.process_time(), host_cpu()
    others, started = neighbour_cpu(), time.monotonic()
    if result.mode == "burst":
        for key in batch:
            fire(key)
    else:
        pace(result.offered_rate, batch, fire)
    result.applied = clock.wait_applied(len(batch))
    result.cpu_seconds = time.process_time() - cpu
    busy_end, total_end = host_cpu()
    if total_end > total:
        result.host_percent = (busy_end - busy) / (total_end - total) * 100
    others_end, elapsed = neighbour_cpu(), time.monotonic() - started
    result.other_percent = (sum(t - others.get(pid, 0.0) for pid, t in others_end.items())
                            / (elapsed * (os.cpu_count() or 1)) * 100)
    result.warnings = WARNINGS.count - warnings
    sent = [clock.sent[k] for k in batch if k in clock.sent]
    done = [clock.applied[k] for k in batch if k in clock.applied]
    if sent and done:
        result.seconds = max(done) - min(sent)
        result.eps = result.applied / result.seconds
        result.notes["producer_done_s"] = max(sent) - min(sent)
    result.latencies_ms = [(clock.applied[k] - clock.sent[k]) * 1000 for k in batch
                           if k in clock.applied and k in clock.sent]


def warm_up(clock: Clock, fire: Callable[[str], None], count: int = 50) -> None:
    """Open connections, fill pools and SQLAlchemy's statement cache before timing anything."""
    batch = keys(f"warm-{uuid.uuid4().hex[:6]}", count)
    clock.reset()
    pace(200.0, batch, fire)
    if clock.wait_applied(count) < count:
        raise RuntimeError("warm-up events did not arrive")


# -- (a) raw kombu -----------------------------------------------------------------------------

RAW_QUEUE = f"evt-{PRODUCER}-raw--{CONSUMER}.raw"  # matches the vhost's consumer policy


def run_raw(result: Result, prefetch: int) -> None:
    with environment(f"a{result.mode[0]}", with_databases=False) as env:
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
        bodies: dict[str, bytes] = {}

        def fire(key: str) -> None:
            body = bodies.pop(key, None) or json.dumps(envelope_for(key)).encode()
            clock.sent[key] = time.time()
            # confirm_publish: returns once the broker has confirmed this one message
            producer.publish(body, exchange=exchange, routing_key=CONTRACT.type,
                             delivery_mode=2, message_id=key, content_type="application/json",
                             content_encoding="utf-8", retry=False)

        try:
            warm_up(clock, fire)
            batch = keys(f"raw-{result.mode}", result.events)
            bodies.update((k, json.dumps(envelope_for(k)).encode()) for k in batch)
            measure(result, clock, batch, fire)
        finally:
            conn.release()
            stop.send(True)
            consumer.wait()


# -- (b) stock nameko --------------------------------------------------------------------------

def run_stock(result: Result, max_workers: int) -> None:
    with environment(f"b{result.mode[0]}") as env:
        clock = Clock()
        consumer_settings = make_settings(CONSUMER, env.databases["consumer"], env.amqp_uri,
                                          max_workers=max_workers)
        producer_settings = make_settings(PRODUCER, env.databases["producer"], env.amqp_uri,
                                          max_workers=max_workers)
        with running(StockConsumer, consumer_settings, clock), \
                running(StockProducer, producer_settings, clock) as producer:
            send = find_trigger(producer)
            envelopes: dict[str, dict[str, Any]] = {}

            def fire(key: str) -> None:
                send.fire(key, envelopes.pop(key, None) or envelope_for(key))

            warm_up(clock, fire)
            batch = keys(f"stock-{result.mode}", result.events)
            envelopes.update((k, envelope_for(k)) for k in batch)  # built outside the timing
            measure(result, clock, batch, fire)


# -- (c) platform ------------------------------------------------------------------------------

def run_platform(result: Result, tuning: dict[str, Any]) -> None:
    with environment(f"c{result.mode[0]}") as env:
        clock = Clock()
        consumer_settings = make_settings(CONSUMER, env.databases["consumer"], env.amqp_uri,
                                          **tuning)
        producer_settings = make_settings(PRODUCER, env.databases["producer"], env.amqp_uri,
                                          **tuning)
        with running(PlatformConsumer, consumer_settings, clock), \
                running(PlatformProducer, producer_settings, clock) as producer:
            check_in = find_trigger(producer)
            warm_up(clock, check_in.fire)
            batch = keys(f"platform-{result.mode}", result.events)
            measure(result, clock, batch, check_in.fire)
        relay_done = last_published(env.databases["producer"], "platform-%")
        if relay_done is not None and clock.sent:
            result.notes["relay_done_s"] = relay_done - min(clock.sent.values())


def last_published(url: str, pattern: str) -> float | None:
    """When the relay had every measured event confirmed (the outbox's published_at)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            value = conn.scalar(sa.select(sa.func.max(sa.column("published_at")))
                                .select_from(sa.table("outbox"))
                                .where(sa.column("aggregate_id").like(pattern)))
    finally:
        engine.dispose()
    return value.timestamp() if value is not None else None


# -- report ------------------------------------------------------------------------------------

def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def print_table(results: list[Result]) -> None:
    header = (f"{'scenario':<18} {'mode':<7} {'events':>6} {'done':>6} {'seconds':>7} "
              f"{'events/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'cpu ms/ev':>9} "
              f"{'cpu %':>5} {'host %':>6} {'other %':>7} {'warn':>4}")
    print(header)
    print("-" * len(header))
    for r in results:
        mode = r.mode if r.mode == "burst" else f"{r.offered_rate:g}/s"
        longest = max(r.latencies_ms) if r.latencies_ms else None
        print(f"{r.name:<18} {mode:<7} {r.events:>6} {r.applied:>6} {fmt(r.seconds, 2):>7} "
              f"{fmt(r.eps, 0):>8} {fmt(r.pct(0.5)):>7} {fmt(r.pct(0.99)):>7} "
              f"{fmt(longest):>7} {fmt(r.cpu_ms_per_event, 2):>9} {fmt(r.cpu_percent, 0):>5} "
              f"{fmt(r.host_percent, 0):>6} {fmt(r.other_percent, 0):>7} {r.warnings:>4}"
              + (f"  FAILED: {r.error}" if r.error else ""))


def load_average() -> str:
    """The 1-minute load: the machine is shared, and a busy neighbour shows up here."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def rounded(value: float | None, digits: int = 2) -> float | None:
    """JSON has no NaN: a missing measurement is null."""
    return None if value is None or math.isnan(value) else round(value, digits)


def summarise(results: list[tuple[str, Result]], args: argparse.Namespace,
              platform: Settings) -> dict[str, Any]:
    """The JSON line: burst → `<label>_eps`, steady → `<label>_p50_ms`, `<label>_p99_ms` …"""
    summary: dict[str, Any] = {"events": args.events, "rate": args.rate,
                               "steady_seconds": args.steady_seconds}
    complete: dict[str, bool] = {}
    for label, r in results:
        complete[f"{label}_{r.mode}"] = r.applied == r.events
        if r.mode == "burst":
            summary[f"{label}_eps"] = rounded(r.eps, 1)
            summary[f"{label}_burst_cpu_ms_per_event"] = rounded(r.cpu_ms_per_event)
            summary[f"{label}_burst_host_percent"] = rounded(r.host_percent, 0)
            summary[f"{label}_burst_other_percent"] = rounded(r.other_percent, 0)
        else:
            summary[f"{label}_p50_ms"] = rounded(r.pct(0.5))
            summary[f"{label}_p99_ms"] = rounded(r.pct(0.99))
            summary[f"{label}_steady_rate"] = rounded(r.eps, 1)
            summary[f"{label}_steady_cpu_percent"] = rounded(r.cpu_percent, 0)
            summary[f"{label}_steady_host_percent"] = rounded(r.host_percent, 0)
            summary[f"{label}_steady_other_percent"] = rounded(r.other_percent, 0)
        for note, value in r.notes.items():
            summary[f"{label}_{r.mode}_{note}"] = rounded(value, 3)
        if r.applied < r.events:
            summary[f"{label}_{r.mode}_missing"] = r.events - r.applied
        if r.warnings:
            summary[f"{label}_{r.mode}_warnings"] = r.warnings
    if summary.get("platform_eps") and summary.get("nameko_stock_eps"):
        summary["platform_vs_stock"] = round(summary["platform_eps"]
                                             / summary["nameko_stock_eps"], 2)
        summary["target_throughput_met"] = summary["platform_vs_stock"] >= 3.0
    if summary.get("platform_p99_ms") is not None:
        summary["target_p99_met"] = (summary["platform_p99_ms"] < 20.0
                                     and complete.get("platform_steady", False))
    summary["platform_settings"] = {
        name: getattr(platform, name) for name in
        ("max_workers", "prefetch_count", "consumer_batch_size", "relay_batch_size",
         "relay_poll_seconds")}
    return summary


def parse_tuning(pairs: list[str]) -> dict[str, Any]:
    """`--tune consumer_batch_size=500` → Settings overrides for (c), typed like the field."""
    types = {f.name: f.type for f in dataclasses.fields(Settings)}
    tuning: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if types.get(name) not in ("int", "float", int, float):
            raise SystemExit(f"--tune {pair}: not a numeric Settings field")
        tuning[name] = float(value) if types[name] in ("float", float) else int(value)
    return tuning


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # 10,000: the platform moves 100-200 events/s on this class of machine, and the whole
    # default run has to stay well under ten minutes on a busy shared host.
    parser.add_argument("--events", type=int, default=10000, help="burst size (default 10000)")
    parser.add_argument("--steady-seconds", type=float, default=10.0,
                        help="length of each steady-rate run (default 10)")
    parser.add_argument("--rate", type=float, default=200.0,
                        help="steady rate in events/s (default 200)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", default="a,b,c", help="scenarios to run, e.g. 'c' or 'b,c'")
    parser.add_argument("--tune", action="append", default=[], metavar="FIELD=VALUE",
                        help="Settings override for (c), e.g. consumer_batch_size=500")
    parser.add_argument("--no-low-rate", action="store_true",
                        help="skip (c) at a quarter of --rate")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.steady_seconds = min(args.events, 500), min(args.steady_seconds, 1.5)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().addHandler(WARNINGS)
    # `timeout` and CI stop with SIGTERM: exit through the finally blocks that drop the
    # run's databases and vhost instead of leaving them behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    only = set(args.only.split(","))
    tuning = parse_tuning(args.tune)
    # make_settings' defaults (relay_poll_seconds=0.2 among them) plus the overrides.
    platform = make_settings(CONSUMER, "postgresql://", AMQP, **tuning)
    steady = max(1, int(args.rate * args.steady_seconds))
    low_rate = args.rate / 4

    plan: list[tuple[str, Result, Callable[[Result], None]]] = []
    if "a" in only:
        run = partial(run_raw, prefetch=platform.prefetch_count)
        plan += [("raw_kombu", Result("(a) raw kombu", "burst", args.events), run),
                 ("raw_kombu", Result("(a) raw kombu", "steady", steady, offered_rate=args.rate),
                  run)]
    if "b" in only:
        run = partial(run_stock, max_workers=platform.max_workers)
        plan += [("nameko_stock", Result("(b) nameko stock", "burst", args.events), run),
                 ("nameko_stock", Result("(b) nameko stock", "steady", steady,
                                         offered_rate=args.rate), run)]
    if "c" in only:
        run = partial(run_platform, tuning=tuning)
        plan += [("platform", Result("(c) platform", "burst", args.events), run),
                 ("platform", Result("(c) platform", "steady", steady, offered_rate=args.rate),
                  run)]
        if not args.no_low_rate:
            count = max(1, int(low_rate * args.steady_seconds))
            plan.append(("platform_low_rate",
                         Result("(c) platform", "steady", count, offered_rate=low_rate), run))

    load_before = load_average()
    for _, result, run in plan:
        try:
            run(result)
        except Exception as exc:  # one broken run should not hide the others' numbers
            log.exception("%s %s failed", result.name, result.mode)
            result.error = f"{type(exc).__name__}: {exc}"[:120]

    print("setup: one Python process (eventlet), so producer, relay and consumer share one "
          "core; a fresh vhost (quorum queues, platform policies) and fresh PostgreSQL "
          "databases per run")
    print(f"  (a) one kombu publisher, confirm per message; consumer prefetch "
          f"{platform.prefetch_count}, ack per message; effect = ack")
    print(f"  (b) EventDispatcher from {platform.max_workers} workers (nameko confirms each "
          "publish), no producer database; @event_handler (prefetch = max_workers) inserts "
          "one row and commits; no inbox")
    print(f"  (c) worker: business row + outbox row, one commit; relay batch "
          f"{platform.relay_batch_size}, poll {platform.relay_poll_seconds:g}s; @handle_event "
          f"batch {platform.consumer_batch_size}, prefetch {platform.prefetch_count}, "
          f"max_workers {platform.max_workers}" + (f"; tuned: {tuning}" if tuning else ""))
    print("  latency = effect commit - producer commit (time.time(), this process); "
          "events/s = events / (last effect commit - first producer commit); cpu = this "
          "process during the run (100 = one core);")
    print(f"  host = all {os.cpu_count()} cores busy (this process, broker, database, anything "
          "else); other = processes outside the benchmark (a busy neighbour skews the numbers);")
    print("  warn = warnings logged during the run (broker or database trouble)")
    print(f"  load average before / after: {load_before} / {load_average()}")
    print()
    print_table([result for _, result, _ in plan])
    burst = next((r for label, r, _ in plan if label == "platform" and r.mode == "burst"), None)
    if burst is not None and burst.notes:
        print(f"\n(c) burst stages, seconds after the first commit: last producer commit "
              f"{fmt(burst.notes.get('producer_done_s'), 2)}, relay confirmed all "
              f"{fmt(burst.notes.get('relay_done_s'), 2)}, last effect committed "
              f"{fmt(burst.seconds, 2)}")
    print()
    print(json.dumps(summarise([(label, result) for label, result, _ in plan], args, platform)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
