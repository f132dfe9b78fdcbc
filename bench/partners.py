"""Partners' webhooks benchmark: deliveries/s to a local receiver, and the p99 from an event's
arrival at headquarters (partners' handler) to its delivery (the receiver has it), on the
local broker and database.

The partners service runs in this process with a fresh vhost and database; a partner is
entitled to AppointmentCheckedIn and has one endpoint, a plain-HTTP receiver on 127.0.0.1
(private endpoints allowed, as in development). Two runs:

  burst   N events published at once: deliveries/s = N / (last delivery - first arrival);
  steady  R events/s for S seconds: arrival → delivery latency, p50 and p99.

Baseline from the same run: the same bodies POSTed straight to the same receiver, with the
same concurrency and no platform in between (what the receiver and HTTP cost). The last line
printed is one JSON object: partner_deliveries_per_s, partner_p99_ms, baseline_posts_per_s...

    .venv/bin/python bench/partners.py [--events N] [--rate R] [--seconds S] [--quick]
"""

# ruff: noqa: E402  -- eventlet must patch sockets before kombu, nameko or psycopg2 load.
import sys
from pathlib import Path

# Run as a script, this file's folder comes first on the path, where its own name would hide
# the partners package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from chassis.runner import green

green()

import argparse
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import eventlet
import eventlet.wsgi
import requests
import sqlalchemy as sa
import urllib3

from chassis.auth import Role
from chassis.broker import ConfirmingPublisher, OutgoingMessage
from chassis.broker_admin import BrokerAdmin
from chassis.db import drop_database, migrate
from chassis.runner import make_container, migrations_dir
from chassis.testing import AMQP, POSTGRES, auth, make_settings
from contracts import events, new_event
from partners import models
from partners.service import PartnersService

CONTRACT = events.AppointmentCheckedIn


class Receiver:
    """Answers 204 at once and notes when each webhook-id arrived (time.time())."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.socket = eventlet.listen(("127.0.0.1", 0), backlog=1024)
        self.port = self.socket.getsockname()[1]
        self.server = eventlet.spawn(eventlet.wsgi.server, self.socket, self.app,
                                     log_output=False, max_size=2000)

    def app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.arrived.setdefault(environ.get("HTTP_WEBHOOK_ID", ""), time.time())
        start_response("204 No Content", [])
        return []

    def close(self) -> None:
        self.server.kill()
        self.socket.close()


def event(n: int) -> dict[str, Any]:
    appointment = f"A-BENCH-{uuid.uuid4().hex[:12]}"
    return new_event(CONTRACT, {"appointment_id": appointment, "customer_id": f"C-{n}",
                                "slot_start": "2026-03-18T09:00:00+08:00",
                                "checked_in_at": "2026-03-18T08:52:00+08:00"},
                     source="dealer/D001/booking", subject=appointment, dealer_code="D001",
                     correlation_id=appointment, sequence=1)


def publish(publisher: ConfirmingPublisher, envelopes: list[dict[str, Any]]) -> None:
    publisher.publish([OutgoingMessage(exchange="booking.events", routing_key=e["type"],
                                       body=json.dumps(e).encode(), message_id=e["id"])
                       for e in envelopes])


def arrivals(engine: sa.Engine, ids: list[str]) -> dict[str, float]:
    """When each event reached headquarters: its delivery row's creation (the handler's
    clock, the same as this process's)."""
    d = models.deliveries
    found: dict[str, float] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 1000):
            for event_id, created in conn.execute(
                    sa.select(d.c.event_id, d.c.created_at)
                    .where(d.c.event_id.in_(ids[start:start + 1000]))):
                found[event_id] = created.timestamp()
    return found


def wait_delivered(receiver: Receiver, ids: list[str], timeout: float = 300) -> bool:
    deadline = time.monotonic() + timeout
    wanted = set(ids)
    while time.monotonic() < deadline:
        if wanted <= receiver.arrived.keys():
            return True
        eventlet.sleep(0.05)
    return False


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def baseline(receiver: Receiver, count: int, concurrency: int) -> float:
    """POSTs/s of the same bodies straight to the receiver: no broker, database or signing."""
    pool = urllib3.HTTPConnectionPool("127.0.0.1", receiver.port, maxsize=concurrency)
    body = json.dumps(event(0)).encode()
    green_pool = eventlet.GreenPool(concurrency)

    def post(n: int) -> None:
        pool.urlopen("POST", "/baseline", body=body,
                     headers={"webhook-id": f"baseline-{n}",
                              "Content-Type": "application/cloudevents+json"})

    started = time.perf_counter()
    for n in range(count):
        green_pool.spawn_n(post, n)
    green_pool.waitall()
    return count / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="burst size (default 3000)")
    parser.add_argument("--rate", type=float, default=100.0, help="steady events/s")
    parser.add_argument("--seconds", type=float, default=15.0, help="steady run length")
    parser.add_argument("--quick", action="store_true", help="500 events, 5 s steady")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.seconds = 500, 5.0
    logging.basicConfig(level=logging.WARNING)

    admin = BrokerAdmin()
    vhost = f"bench-partners-{uuid.uuid4().hex[:8]}"
    admin.apply(vhost, ["partners"])
    database = f"{POSTGRES}/bench_partners_{uuid.uuid4().hex[:8]}"
    migrate(database, migrations_dir(PartnersService))
    settings = make_settings("partners", database, f"{AMQP}/{vhost}", dealer_code="HQ",
                             extra={"allow_private_endpoints": True, "concurrency": 100,
                                    "dispatch_batch": 1000, "rate_per_second": 10000,
                                    "rate_burst": 100000})
    receiver = Receiver()
    container = make_container(PartnersService, settings)
    container.start()
    engine = sa.create_engine(database)
    publisher = ConfirmingPublisher(settings.amqp_uri)
    try:
        base = f"http://127.0.0.1:{settings.http_port}"
        for _ in range(100):
            try:
                requests.get(f"{base}/health", timeout=1)
                break
            except requests.RequestException:
                eventlet.sleep(0.1)
        operator = auth(Role.OPERATOR, subject="bench")
        requests.post(f"{base}/partners", headers=operator, timeout=10, json={
            "partner_id": "bench", "name": "Bench partner", "client_id": "ptn_bench",
            "entitlements": {"event_types": [CONTRACT.name]}}).raise_for_status()
        requests.post(f"{base}/partners/bench/endpoints", headers=operator, timeout=10, json={
            "url": f"http://127.0.0.1:{receiver.port}/hooks"}).raise_for_status()

        # Warm-up: connections, statement caches.
        warm = [event(n) for n in range(50)]
        publish(publisher, warm)
        wait_delivered(receiver, [e["id"] for e in warm])

        burst = [event(n) for n in range(args.events)]
        ids = [e["id"] for e in burst]
        publish(publisher, burst)
        complete = wait_delivered(receiver, ids)
        arrived = arrivals(engine, ids)
        first = min(arrived.values()) if arrived else time.time()
        last = max(receiver.arrived.get(i, first) for i in ids)
        delivered = sum(1 for i in ids if i in receiver.arrived)
        per_second = delivered / max(last - first, 1e-6)

        steady_ids: list[str] = []
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < args.seconds:
            due = int((time.monotonic() - started) * args.rate) - sent
            if due > 0:
                batch = [event(sent + n) for n in range(due)]
                publish(publisher, batch)
                steady_ids += [e["id"] for e in batch]
                sent += due
            eventlet.sleep(0.01)
        steady_complete = wait_delivered(receiver, steady_ids)
        steady_arrived = arrivals(engine, steady_ids)
        lags = [(receiver.arrived[i] - steady_arrived[i]) * 1000 for i in steady_ids
                if i in receiver.arrived and i in steady_arrived]
        posts = baseline(receiver, args.events, settings_concurrency(settings))
    finally:
        publisher.close()
        container.stop()
        receiver.close()
        engine.dispose()
        drop_database(database)
        admin.delete_vhost(vhost)

    p50, p99 = quantile(lags, 0.5), quantile(lags, 0.99)
    print(f"partners: burst of {args.events} events: {delivered} delivered, "
          f"{per_second:,.0f} deliveries/s (baseline, straight POSTs: {posts:,.0f}/s)")
    print(f"partners: steady {args.rate:g} events/s for {args.seconds:g} s: {len(lags)} "
          f"delivered, arrival at headquarters → delivery p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(json.dumps({
        "partner_events": args.events, "partner_deliveries_per_s": round(per_second, 1),
        "baseline_posts_per_s": round(posts, 1),
        "partner_vs_baseline": round(per_second / posts, 3) if posts else None,
        "partner_steady_rate": args.rate, "partner_steady_events": len(steady_ids),
        "partner_p50_ms": None if p50 is None else round(p50, 1),
        "partner_p99_ms": None if p99 is None else round(p99, 1),
        "partner_burst_complete": complete, "partner_steady_complete": steady_complete,
        "at": datetime.now(UTC).isoformat(timespec="seconds")}))
    return 0


def settings_concurrency(settings: Any) -> int:
    return int(settings.extra.get("concurrency", 50))


if __name__ == "__main__":
    raise SystemExit(main())
