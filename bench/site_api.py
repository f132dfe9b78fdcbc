"""Load on one dealer site's HTTP APIs: 50 concurrent clients booking (availability, then
book) and approving quotes, against booking, workorder and parts running as separate
processes on the local RabbitMQ and PostgreSQL, as a site runs them.

Prints requests/s and p50/p99 per path, the booking process's CPU per booking and, as its
last line, one JSON object: booking_rps, booking_p99_ms, booking_cpu_ms, overbooked (slots
over capacity afterwards), availability_p99_ms, approval_rps, approval_p99_ms,
approval_inconsistent (repair orders whose approval was not applied exactly once).

    .venv/bin/python bench/site_api.py [--clients 50] [--seconds 15] [--repair-orders 400]
                                       [--booking-processes 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from chassis.auth import DEALER_STAFF, Role, SigningKey, issue_token, jwks_of
from chassis.broker_admin import BrokerAdmin
from chassis.db import drop_database, migrate
from chassis.identity import HEADQUARTERS_SCOPE, SITE_SCOPE
from chassis.runner import free_port, migrations_dir, service_class
from contracts.vin import check_digit

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
DEALER = "D001"
# The bench is the site's issuer (staff) and headquarters' (owners), with keys of its own,
# trusted by the site's services it starts.
SITE_ISSUER, HQ_ISSUER = "https://id.bench-site.example", "https://id.bench-hq.example"
KEYS = {SITE_ISSUER: SigningKey.generate(), HQ_ISSUER: SigningKey.generate()}
TRUST = json.dumps([
    {"issuer": SITE_ISSUER, "scope": SITE_SCOPE, "dealer": DEALER,
     "jwks": json.dumps(jwks_of([KEYS[SITE_ISSUER]]))},
    {"issuer": HQ_ISSUER, "scope": HEADQUARTERS_SCOPE,
     "jwks": json.dumps(jwks_of([KEYS[HQ_ISSUER]]))},
])
SERVICES = ("booking", "workorder", "parts")


def vin_for(n: int) -> str:
    """A valid VIN per repair order (a car may have only one open repair order)."""
    body = f"LSVAU2180N2{n:06d}"
    return body[:8] + check_digit(body) + body[9:]


def token(role: Role, subject: str = "bench") -> dict[str, str]:
    staff = role in DEALER_STAFF
    issuer = SITE_ISSUER if staff else HQ_ISSUER
    return {"Authorization": "Bearer " + issue_token(
        KEYS[issuer], issuer=issuer, subject=subject, role=role,
        dealer_code=DEALER if staff else None, ttl_seconds=3600)}


ADVISOR, MANAGER, TECHNICIAN = (token(Role.ADVISOR, "SA-1"), token(Role.DEALER_MANAGER),
                                token(Role.TECHNICIAN, "T-1"))


class SiteProcesses:
    """booking, workorder and parts, each its own `aftersales run` process."""

    def __init__(self, booking_processes: int = 1) -> None:
        tag = uuid.uuid4().hex[:8]
        # Several booking processes share its port (SO_REUSEPORT, which eventlet sets): the
        # kernel spreads the clients' connections over them, as a load balancer would.
        self.instances = {s: booking_processes if s == "booking" else 1 for s in SERVICES}
        self.vhost = f"bench-site-{tag}"
        self.urls = {s: f"{POSTGRES}/bench_{s}_{tag}" for s in SERVICES}
        self.ports = {s: free_port() for s in SERVICES}
        self.processes: dict[str, list[subprocess.Popen]] = {s: [] for s in SERVICES}

    def start(self) -> None:
        BrokerAdmin().apply(self.vhost, list(SERVICES))
        for service in SERVICES:
            migrate(self.urls[service], migrations_dir(service_class(service)))
            env = {**os.environ, "AFTERSALES_DEALER_CODE": DEALER,
                   "AFTERSALES_AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}",
                   "AFTERSALES_DATABASE_URL": self.urls[service],
                   "AFTERSALES_HTTP_PORT": str(self.ports[service]),
                   "AFTERSALES_TRUST": TRUST, "AFTERSALES_ENVIRONMENT": "development",
                   "AFTERSALES_LOG_LEVEL": "ERROR",
                   "AFTERSALES_MAX_WORKERS": "60", "AFTERSALES_TIME_ZONE": "UTC",
                   "AFTERSALES_MEDIA_DIR": f"/tmp/{self.vhost}-media"}
            for _ in range(self.instances[service]):
                self.processes[service].append(subprocess.Popen(
                    [sys.executable, "-m", "chassis.cli", "run", service], env=env, cwd=ROOT,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for service in SERVICES:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(self.base(service) + "/ready", timeout=2).ok:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{service} did not become ready")
                time.sleep(0.2)

    def cpu_seconds(self, service: str) -> float:
        """CPU the service's processes have used so far (user + system), from /proc: unlike
        the rates, it hardly moves with what else the shared machine is doing."""
        total = 0
        for process in self.processes[service]:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def base(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def stop(self) -> None:
        everyone = [p for processes in self.processes.values() for p in processes]
        for process in everyone:
            process.terminate()
        for process in everyone:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        for url in self.urls.values():
            drop_database(url)
        BrokerAdmin().delete_vhost(self.vhost)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.statuses: dict[str, Counter] = {}

    def call(self, session: requests.Session, label: str, method: str, url: str,
             **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        response = session.request(method, url, timeout=30, **kwargs)
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.latencies.setdefault(label, []).append(elapsed)
            self.statuses.setdefault(label, Counter())[response.status_code] += 1
        return response

    def row(self, label: str, seconds: float) -> dict[str, Any]:
        values = self.latencies.get(label, [])
        return {"path": label, "requests": len(values), "rps": len(values) / seconds,
                "p50_ms": percentile(values, 0.50), "p99_ms": percentile(values, 0.99),
                "statuses": dict(self.statuses.get(label, {}))}


# -- booking -------------------------------------------------------------------------------


CAPACITY = 10
HORIZON_DAYS = 60


def set_up_calendar(site: SiteProcesses) -> None:
    body = {"time_zone": "UTC", "slot_minutes": 30, "bays": CAPACITY, "advisors": CAPACITY,
            "opening_hours": [{"weekday": d, "opens": "08:00", "closes": "20:00"}
                              for d in ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")],
            "closed_dates": [],
            "service_types": [{"code": "MAINTENANCE", "duration_minutes": 60},
                              {"code": "TYRES", "duration_minutes": 30}],
            "no_show_grace_minutes": 30, "booking_horizon_days": HORIZON_DAYS}
    response = requests.put(site.base("booking") + "/calendar", json=body, headers=MANAGER,
                            timeout=10)
    response.raise_for_status()


def booking_client(site: SiteProcesses, recorder: Recorder, deadline: float, seed: int
                   ) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    base = site.base("booking")
    first = date.today() + timedelta(days=1)
    while time.monotonic() < deadline:
        day = first + timedelta(days=rng.randrange(HORIZON_DAYS - 2))
        service_type = rng.choice(["MAINTENANCE", "TYRES"])
        found = recorder.call(session, "GET /availability", "GET", base + "/availability",
                              headers=ADVISOR, params={"service_type": service_type,
                                                       "from": day.isoformat(),
                                                       "to": day.isoformat()})
        starts = [s["start"] for d in found.json()["days"] for s in d["slots"] if s["bookable"]]
        if not starts:
            continue
        recorder.call(session, "POST /appointments", "POST", base + "/appointments",
                      headers=ADVISOR, json={
                          "customer": {"name": "王伟", "phone": f"138{rng.randrange(10**8):08d}"},
                          "vehicle": {"plate": f"京A{uuid.uuid4().hex[:5].upper()}"},
                          "service_type": service_type, "slot_start": rng.choice(starts),
                          "channel": rng.choice(["APP", "WECHAT", "PHONE", "WEB"])})


def overbooked_slots(site: SiteProcesses) -> int:
    """Slots where more appointments hold capacity than the calendar allows."""
    engine = sa.create_engine(site.urls["booking"])
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT slot_start, slot_end FROM appointments "
            "WHERE status IN ('SCHEDULED', 'CONFIRMED', 'CHECKED_IN')")).all()
    engine.dispose()
    held: Counter = Counter()
    for start, end in rows:
        cursor = start
        while cursor < end:
            held[cursor] += 1
            cursor += timedelta(minutes=30)
    return sum(1 for count in held.values() if count > CAPACITY)


# -- quote approval ------------------------------------------------------------------------


def awaiting_approval(site: SiteProcesses, count: int) -> list[tuple[str, str]]:
    """`count` repair orders, each inspected and quoted, waiting for their owner."""
    base = site.base("workorder")
    session = requests.Session()
    manager = token(Role.DEALER_MANAGER)
    session.post(base + "/technicians", headers=manager, timeout=10,
                 json={"id": "T-1", "name": "王师傅", "skills": ["BRAKES"]})

    def one(n: int) -> tuple[str, str]:
        customer = f"bench-customer-{n}"
        s = requests.Session()
        ro = s.post(base + "/repair-orders", headers=ADVISOR, timeout=30, json={
            "customer_id": customer, "vin": vin_for(n), "plate": f"京B{n:05d}",
            "mileage_km": 10000 + n, "fuel_level": 50,
            "concerns": [{"description": "保养 (service)"}], "belongings": [],
            "promised_at": (datetime.now(UTC) + timedelta(hours=6)).isoformat()})
        ro.raise_for_status()
        ro_id = ro.json()["id"]
        items = s.post(f"{base}/repair-orders/{ro_id}/inspection", headers=TECHNICIAN,
                       timeout=30).json()["items"]
        for item in items:
            s.put(f"{base}/repair-orders/{ro_id}/inspection/items/{item['code']}",
                  headers=TECHNICIAN, json={"status": "GREEN"}, timeout=30).raise_for_status()
        s.post(f"{base}/repair-orders/{ro_id}/inspection/submit", headers=TECHNICIAN,
               timeout=30).raise_for_status()
        s.post(f"{base}/repair-orders/{ro_id}/quote-lines", headers=ADVISOR, timeout=30, json={
            "lines": [{"kind": "LABOUR", "description": "更换机油 (oil change)",
                       "operation_code": "MNT-OIL-01", "flat_rate_hours": "0.5",
                       "pay_type": "CUSTOMER_PAY"},
                      {"kind": "LABOUR", "description": "四轮定位 (alignment)",
                       "operation_code": "ALIGN-4W", "flat_rate_hours": "1",
                       "pay_type": "CUSTOMER_PAY"}]}).raise_for_status()
        s.post(f"{base}/repair-orders/{ro_id}/quote/send", headers=ADVISOR,
               timeout=30).raise_for_status()
        return ro_id, customer

    with ThreadPoolExecutor(20) as pool:
        return list(pool.map(one, range(count)))


def approve_all(site: SiteProcesses, recorder: Recorder, orders: list[tuple[str, str]],
                clients: int) -> float:
    base = site.base("workorder")
    # A tenth of the repair orders get two approvals at once: exactly one may win.
    work = orders + orders[: len(orders) // 10]
    random.Random(3).shuffle(work)
    chunks = [work[i::clients] for i in range(clients)]

    def client(chunk: list[tuple[str, str]]) -> None:
        session = requests.Session()
        for ro_id, customer in chunk:
            recorder.call(session, "POST /quote/approval", "POST",
                          f"{base}/repair-orders/{ro_id}/quote/approval",
                          headers=token(Role.OWNER, customer), json={
                              "decisions": [{"line_id": "L1", "decision": "APPROVED"},
                                            {"line_id": "L2", "decision": "DECLINED"}],
                              "signature": {"name": "王伟"}})

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, chunks))
    return time.monotonic() - started


def approvals_inconsistent(site: SiteProcesses, orders: list[tuple[str, str]]) -> int:
    engine = sa.create_engine(site.urls["workorder"])
    with engine.connect() as conn:
        approved = Counter(row.aggregate_id for row in conn.execute(sa.text(
            "SELECT aggregate_id FROM outbox WHERE event_type = 'aftersales.QuoteApproved.v1'")))
        stages = dict(conn.execute(sa.text("SELECT id, stage FROM repair_orders")).all())
    engine.dispose()
    return sum(1 for ro_id, _ in orders
               if approved[ro_id] != 1 or stages.get(ro_id) != "WORK_IN_PROGRESS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--repair-orders", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="a smoke run in well under a minute")
    parser.add_argument("--booking-processes", type=int, default=1,
                        help="booking processes sharing its port (default 1)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.repair_orders = 3.0, 60

    site = SiteProcesses(args.booking_processes)
    print(f"site_api: booking ({args.booking_processes} process(es)), workorder, parts as "
          f"processes on vhost {site.vhost}; {args.clients} clients", flush=True)
    site.start()
    try:
        set_up_calendar(site)
        recorder = Recorder()
        deadline = time.monotonic() + args.seconds
        started = time.monotonic()
        cpu_before, clients_before = site.cpu_seconds("booking"), time.process_time()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(lambda n: booking_client(site, recorder, deadline, n),
                          range(args.clients)))
        booking_seconds = time.monotonic() - started
        booking_cpu = site.cpu_seconds("booking") - cpu_before
        clients_cpu = time.process_time() - clients_before
        overbooked = overbooked_slots(site)

        print(f"site_api: preparing {args.repair_orders} repair orders awaiting approval",
              flush=True)
        orders = awaiting_approval(site, args.repair_orders)
        approval_seconds = approve_all(site, recorder, orders, args.clients)
        inconsistent = approvals_inconsistent(site, orders)
    finally:
        site.stop()

    rows = [recorder.row("GET /availability", booking_seconds),
            recorder.row("POST /appointments", booking_seconds),
            recorder.row("POST /quote/approval", approval_seconds)]
    print(f"\n{'path':<24}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}  statuses")
    for row in rows:
        print(f"{row['path']:<24}{row['requests']:>10}{row['rps']:>10.1f}{row['p50_ms']:>10.1f}"
              f"{row['p99_ms']:>10.1f}  {row['statuses']}")
    booked = rows[1]["statuses"].get(201, 0)
    cpu_ms = 1000 * booking_cpu / max(rows[1]["requests"], 1)
    print(f"\nbooking process CPU per booking (its availability call included): {cpu_ms:.1f} ms"
          f" ({booking_cpu:.1f} s over {booking_seconds:.1f} s); the clients used "
          f"{clients_cpu:.1f} s")
    print(f"\nbookings accepted {booked}, refused as full "
          f"{rows[1]['statuses'].get(409, 0)}; slots over capacity afterwards: {overbooked}")
    print(f"approvals applied {rows[2]['statuses'].get(200, 0)}, refused as already decided "
          f"{rows[2]['statuses'].get(409, 0)}; repair orders not approved exactly once: "
          f"{inconsistent}")
    result = {
        "booking_rps": round(rows[1]["rps"], 1),
        "booking_p50_ms": round(rows[1]["p50_ms"], 1),
        "booking_p99_ms": round(rows[1]["p99_ms"], 1),
        "booking_cpu_ms": round(cpu_ms, 2),
        "bookings_accepted": booked,
        "overbooked": overbooked,
        "availability_rps": round(rows[0]["rps"], 1),
        "availability_p99_ms": round(rows[0]["p99_ms"], 1),
        "approval_rps": round(rows[2]["rps"], 1),
        "approval_p50_ms": round(rows[2]["p50_ms"], 1),
        "approval_p99_ms": round(rows[2]["p99_ms"], 1),
        "approval_inconsistent": inconsistent,
        "clients": args.clients,
        "booking_processes": args.booking_processes,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
