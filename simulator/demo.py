"""`make demo`: dealer sites taking bookings, workshops learning of them through the backbone.

On the local RabbitMQ and PostgreSQL when both answer; otherwise embedded mode (kombu's
in-memory broker and SQLite files, the same services and the same outbox and inbox code),
and it says so.
"""

from __future__ import annotations

from chassis.runner import green

green()

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import eventlet  # noqa: E402
import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from chassis.auth import Role, issue_token  # noqa: E402
from chassis.config import Settings  # noqa: E402
from chassis.db import count_rows, drop_database, migrate  # noqa: E402
from chassis.logs import configure_logging  # noqa: E402
from chassis.runner import free_port, make_container, migrations_dir, service_class  # noqa: E402

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
AMQP = "amqp://guest:guest@127.0.0.1:5672"
SITE_SERVICES = ("booking", "workorder", "parts")
DEMO_SECRET = "demo-only-secret-for-signing-tokens-0123456789"
NAMES = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强", "周杰", "吴芳"]
PLATE_PREFIX = ["京A", "沪B", "粤B", "浙A", "苏E", "川A"]
CHANNELS = ["APP", "WECHAT", "PHONE", "WEB", "WALK_IN"]
SERVICE_TYPES = ["MAINTENANCE", "MAINTENANCE", "REPAIR", "TYRES", "RECALL"]


@dataclass
class Site:
    dealer_code: str
    settings: dict[str, Settings]


def real_components_reachable() -> str | None:
    """None when RabbitMQ (with its management API) and PostgreSQL answer, else the reason."""
    try:
        engine = sa.create_engine(f"{POSTGRES}/postgres", connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL is not reachable ({type(exc).__name__})"
    try:
        from chassis.broker import connect

        with connect(f"{AMQP}/", connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
        requests.get("http://127.0.0.1:15672/api/overview", auth=("guest", "guest"),
                     timeout=3).raise_for_status()
    except Exception as exc:
        return f"RabbitMQ is not reachable ({type(exc).__name__})"
    return None


def plan_sites(dealers: int, embedded: bool, workdir: Path, base_port: int) -> list[Site]:
    """Settings of every service of every site; base_port 0 picks free ports."""
    sites = []
    for index in range(dealers):
        code = f"D{index + 1:03d}"
        amqp = f"memory:///site-{code}" if embedded else f"{AMQP}/site-{code}"
        settings = {}
        for offset, service in enumerate(SITE_SERVICES):
            if embedded:
                url = f"sqlite:///{workdir / f'{code.lower()}_{service}.sqlite'}"
            else:
                url = f"{POSTGRES}/demo_{code.lower()}_{service}"
            settings[service] = Settings(service=service, dealer_code=code, database_url=url,
                                         amqp_uri=amqp, auth_secret=DEMO_SECRET,
                                         http_port=(base_port + index * 10 + offset
                                                    if base_port else free_port()),
                                         relay_poll_seconds=0.5)
        sites.append(Site(code, settings))
    return sites


def prepare(sites: list[Site], embedded: bool) -> None:
    for site in sites:
        if not embedded:
            from chassis.broker_admin import BrokerAdmin

            BrokerAdmin().apply(f"site-{site.dealer_code}", list(SITE_SERVICES))
        for service, settings in site.settings.items():
            drop_database(settings.database_url)  # a demo starts from an empty day
            migrate(settings.database_url, migrations_dir(service_class(service)))


def free_slot(base: str, headers: dict[str, str], service_type: str, rng: random.Random,
              first_day: datetime) -> str | None:
    """A bookable start for the service type within the next week, as the site sees it."""
    query = {"service_type": service_type, "from": first_day.date().isoformat(),
             "to": (first_day + timedelta(days=6)).date().isoformat()}
    days = requests.get(f"{base}/availability", params=query, headers=headers,
                        timeout=10).json()["days"]
    starts = [slot["start"] for day in days for slot in day["slots"] if slot["bookable"]]
    return rng.choice(starts) if starts else None


def booking_request(rng: random.Random, slot_start: str, service_type: str) -> dict[str, Any]:
    return {
        "customer": {"name": rng.choice(NAMES),
                     "phone": f"1{rng.randint(3, 9)}{rng.randint(0, 999999999):09d}"},
        "vehicle": {"plate": f"{rng.choice(PLATE_PREFIX)}{rng.randint(10000, 99999)}"},
        "service_type": service_type,
        "slot_start": slot_start,
        "channel": rng.choice(CHANNELS),
        "loaner_requested": rng.random() < 0.2,
    }


def _advisor(dealer_code: str) -> dict[str, str]:
    token = issue_token(DEMO_SECRET, subject=f"advisor-{dealer_code}", role=Role.ADVISOR,
                        dealer_code=dealer_code)
    return {"Authorization": f"Bearer {token}"}


def progress(done: int, total: int, label: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stdout.write(f"\r{label:<22} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stdout.flush()
    if done >= total:
        sys.stdout.write("\n")


def run(dealers: int = 2, bookings: int = 40, once: bool = False, force_embedded: bool = False,
        workdir: Path = Path("var/demo"), base_port: int = 8100, seed: int = 7) -> dict[str, Any]:
    reason = "embedded mode was asked for" if force_embedded else real_components_reachable()
    embedded = reason is not None
    if embedded:
        print(f"demo: {reason}: running in embedded mode (in-memory broker, SQLite under "
              f"{workdir})")
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        print("demo: running on the local RabbitMQ and PostgreSQL")
    sites = plan_sites(dealers, embedded, workdir.resolve(), base_port)
    prepare(sites, embedded)
    containers = []
    for site in sites:
        for service, settings in site.settings.items():
            container = make_container(service_class(service), settings)
            container.start()
            containers.append(container)
    try:
        return _trade(sites, bookings, once, seed, embedded)
    finally:
        for container in containers:
            container.stop()


def _trade(sites: list[Site], bookings: int, once: bool, seed: int,
           embedded: bool) -> dict[str, Any]:
    rng = random.Random(seed)
    tomorrow = datetime.now(UTC).astimezone() + timedelta(days=1)
    total = bookings * len(sites)
    started = time.monotonic()
    accepted = 0
    for n in range(total):
        site = sites[n % len(sites)]
        booking = site.settings["booking"]
        base = f"http://{booking.http_host}:{booking.http_port}"
        advisor = _advisor(site.dealer_code)
        service_type = rng.choice(SERVICE_TYPES)
        slot_start = free_slot(base, advisor, service_type, rng, tomorrow)
        if slot_start is None:
            raise SystemExit(f"demo: {site.dealer_code} has no free slot left this week")
        response = requests.post(f"{base}/appointments", timeout=10, headers=advisor,
                                 json=booking_request(rng, slot_start, service_type))
        if response.status_code != 201:
            raise SystemExit(f"demo: booking refused: {response.status_code} {response.text}")
        accepted += 1
        progress(accepted, total, "bookings taken")

    def arrivals() -> int:
        return sum(count_rows(s.settings["workorder"].database_url, "expected_arrivals")
                   for s in sites)

    deadline = time.monotonic() + 60
    while (seen := arrivals()) < total and time.monotonic() < deadline:
        progress(seen, total, "arrivals at workshops")
        eventlet.sleep(0.2)
    progress(arrivals(), total, "arrivals at workshops")
    summary = {
        "mode": "embedded" if embedded else "rabbitmq+postgresql",
        "dealers": len(sites),
        "bookings_accepted": accepted,
        "appointments_stored": sum(count_rows(s.settings["booking"].database_url, "appointments")
                                   for s in sites),
        "events_published": sum(
            count_rows(s.settings["booking"].database_url, "outbox",
                       "published_at IS NOT NULL") for s in sites),
        "expected_arrivals_recorded": arrivals(),
        "seconds": round(time.monotonic() - started, 2),
    }
    print(json.dumps(summary, ensure_ascii=False))
    for site in sites:
        b, w = site.settings["booking"], site.settings["workorder"]
        print(f"  {site.dealer_code}: booking http://{b.http_host}:{b.http_port}/metrics   "
              f"workorder http://{w.http_host}:{w.http_port}/expected-arrivals")
    if not once:
        print("demo: serving; press Ctrl-C to stop")
        stopping = eventlet.event.Event()
        signal.signal(signal.SIGINT, lambda *_: stopping.ready() or stopping.send(True))
        signal.signal(signal.SIGTERM, lambda *_: stopping.ready() or stopping.send(True))
        stopping.wait()
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--dealers", type=int, default=2)
    parser.add_argument("--bookings", type=int, default=40, help="bookings per dealer")
    parser.add_argument("--once", action="store_true", help="exit after the summary")
    parser.add_argument("--embedded", action="store_true", help="force embedded mode")
    parser.add_argument("--workdir", type=Path, default=Path("var/demo"))
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    summary = run(args.dealers, args.bookings, args.once, args.embedded, args.workdir)
    ok = summary["expected_arrivals_recorded"] == summary["bookings_accepted"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
