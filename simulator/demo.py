"""`make demo`: headquarters and dealer sites trading through a working day.

It starts headquarters (crm, notify, bi, identity, partners, portal) and N dealer sites
(booking, workorder, parts, identity, portal), each as its own `aftersales run` process with
its own vhost and databases, joined by the broker links (shovels) of `chassis.uplink`. A
traffic simulator then plays the sites' working days through the services' HTTP APIs,
headquarters follows up with surveys, and the demo prints a KPI summary with the URLs of the
dashboard, of one owner's inspection report page, and of the first site's workshop board with
an advisor's sign-in.

On the local RabbitMQ and PostgreSQL when both answer; otherwise embedded mode (kombu's
in-memory broker and SQLite files, every service in this process, the same code), and it
says so. `--once` exits after the summary; otherwise it serves until Ctrl-C, then stops every
process it started. `--partner-url URL` adds a demo partner whose webhooks go to URL (its
signing secret is printed; the summary waits until every delivery succeeded or was given up).
"""

from __future__ import annotations

from chassis.runner import green

green()

import argparse  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import eventlet  # noqa: E402
import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from chassis.auth import Role  # noqa: E402
from chassis.broker_admin import subscriptions  # noqa: E402
from chassis.config import load_settings, own_secret  # noqa: E402
from chassis.db import count_rows  # noqa: E402
from chassis.logs import configure_logging  # noqa: E402
from chassis.outbox import Outbox  # noqa: E402
from chassis.runner import service_class  # noqa: E402
from simulator import topology  # noqa: E402
from simulator.sign_in import SignedInPeople  # noqa: E402
from simulator.topology import IDENTITY, PARTNERS, PORTAL, Stack, Topology  # noqa: E402
from simulator.traffic import HeadquartersEndpoints, SiteEndpoints, run_days, seed_site  # noqa: E402

REGIONS = ["EAST", "NORTH", "SOUTH", "WEST", "CENTRAL"]
# The demo advisor the summary signs in to the workshop board with (the traffic's own).
BOARD_ADVISOR = "SA-01"
# What `--partner-url`'s demo partner is entitled to, of every dealer (no owner consented to
# it: the personal fields of each are removed).
PARTNER_EVENTS = ("InspectionUploaded", "QuoteApproved", "PartIssued", "VehicleDelivered",
                  "RecallCampaignPublished")
SUMMARY_KPIS = ["ro_count", "ros_delivered", "revenue", "quote_approval_rate",
                "appointment_show_rate", "parts_fill_rate", "qc_rework_rate",
                "on_time_delivery", "csi", "nps", "hours_per_ro"]


def real_components_reachable() -> str | None:
    """None when RabbitMQ (with its management API) and PostgreSQL answer, else the reason."""
    try:
        engine = sa.create_engine(f"{topology.POSTGRES}/postgres",
                                  connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL is not reachable ({type(exc).__name__})"
    try:
        requests.get(f"{topology.ADMIN_URL.replace('guest:guest@', '')}/api/overview",
                     auth=("guest", "guest"), timeout=3).raise_for_status()
    except Exception as exc:
        return f"RabbitMQ's management API is not reachable ({type(exc).__name__})"
    return None


def progress(done: int, total: int, label: str) -> None:
    width = 30
    filled = int(width * min(done, total) / max(total, 1))
    sys.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"{label[:48]:<48}")
    sys.stdout.flush()
    if done >= total:
        sys.stdout.write("\n")


def run(dealers: int = 2, days: int = 1, once: bool = False, force_embedded: bool = False,
        workdir: Path = Path("var/demo"), base_port: int = 8000, seed: int = 7,
        bookings_per_day: tuple[int, int] = (15, 25), prefix: str = "demo",
        partner_url: str | None = None) -> dict[str, Any]:
    reason = "embedded mode was asked for" if force_embedded else real_components_reachable()
    embedded = reason is not None
    workdir = workdir.resolve()
    if embedded:
        print(f"demo: {reason}: running in embedded mode (in-memory broker, SQLite under "
              f"{workdir})")
    else:
        print("demo: on the local RabbitMQ and PostgreSQL: headquarters and "
              f"{dealers} dealer sites as processes, linked by shovels")
    topo = topology.plan(dealers, workdir, base_port, embedded=embedded, prefix=prefix)
    topology.prepare(topo)
    try:
        topology.start(topo)
        print(f"demo: started {', '.join(s.name for s in topo.stacks)}; logs in {workdir}/logs")
        summary = _trade(topo, days, seed, bookings_per_day, embedded, partner_url)
        if not once:
            print("demo: serving; press Ctrl-C to stop")
            stopping = eventlet.event.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stopping.ready() or stopping.send(True))
            stopping.wait()
        return summary
    finally:
        topology.stop(topo)
        print("demo: stopped every service it started")


def _trade(topo: Topology, days: int, seed: int, bookings_per_day: tuple[int, int],
           embedded: bool, partner_url: str | None = None) -> dict[str, Any]:
    people = signed_in_people(topo)
    partner = _connect_partner(topo, people, partner_url) if partner_url else None
    sites = [SiteEndpoints(s.name, s.url("booking"), s.url("workorder"), s.url("parts"),
                           s.url(PORTAL)) for s in topo.sites]
    hq = HeadquartersEndpoints(*(topo.headquarters.url(s) for s in ("crm", "notify", "bi")))
    operator = people.headers(Role.OPERATOR, "ops-sim", None)
    for index, site in enumerate(sites):
        seed_site(site, people)
        requests.put(f"{hq.bi}/dealers/{site.dealer_code}", headers=operator, timeout=10,
                     json={"name": f"{site.dealer_code} 4S", "region": REGIONS[index % 5]}
                     ).raise_for_status()
    report = run_days(sites, hq, people, days, seed=seed, progress=progress,
                      bookings_per_day=bookings_per_day)
    _wait_for_headquarters(topo)
    delivered = _wait_for_partner(topo, partner) if partner else None
    first, last = date.fromisoformat(report.days[0]), date.fromisoformat(report.days[-1])
    analyst = people.headers(Role.OEM_ANALYST, "demo-analyst", None)
    # From the first booking (today) to a week after the last day: surveys come later.
    period = {"from": str(date.today() - timedelta(days=1)),
              "to": str(max(last, first) + timedelta(days=7))}
    kpis = requests.get(f"{hq.bi}/kpis", headers=analyst, params=period,
                        timeout=30).json()["kpis"]
    per_dealer = {site.dealer_code: requests.get(
        f"{hq.bi}/kpis", headers=analyst, params={**period, "dealer": site.dealer_code},
        timeout=30).json()["kpis"] for site in sites}
    token = analyst["Authorization"].removeprefix("Bearer ")
    traded = report.as_dict()
    summary = {
        "mode": "embedded" if embedded else "rabbitmq+postgresql",
        "dealers": len(sites), "days": report.days,
        "site": traded["total"],
        "headquarters": {"kpis": {k: kpis.get(k) for k in SUMMARY_KPIS},
                         "by_dealer": {code: {k: v.get(k) for k in SUMMARY_KPIS}
                                       for code, v in per_dealer.items()},
                         "events_applied": _count(topo.headquarters.databases["bi"],
                                                  "event_log")},
        "dashboard": f"{hq.bi}/dashboard?from={period['from']}&to={period['to']}"
                     f"#token={token}",
        "owner_repair_order_link": report.owner_link,
        "workshop_board": _board_sign_in(topo.sites[0], people),
        "seconds": traded["seconds"],
        **({"partner": delivered} if delivered is not None else {}),
    }
    _print_summary(summary, per_dealer)
    return summary


def _board_sign_in(site: Stack, people: SignedInPeople) -> dict[str, str]:
    """The first site's workshop board and the demo advisor who may open it (a demo account:
    its password is printed so that whoever runs the demo can sign in)."""
    return {"url": f"{site.url(PORTAL)}/board", "username": BOARD_ADVISOR,
            "password": people.password_of(site.name, BOARD_ADVISOR, Role.ADVISOR)}


def _wait_for_headquarters(topo: Topology, timeout: float = 120.0) -> None:
    """Until BI has applied every event the sites and crm published that BI subscribes to."""
    wanted = {event_type for _, event_type, _ in subscriptions(service_class("bi"))}
    producers = [url for stack in topo.stacks for service, url in stack.databases.items()
                 if service != "bi" and _publishes(service)]
    deadline = time.monotonic() + timeout
    while True:
        published = sum(_count(url, "outbox", wanted) for url in producers)
        at_hq = _count(topo.headquarters.databases["bi"], "event_log", wanted)
        progress(min(at_hq, published), published, "events reaching headquarters")
        if at_hq >= published:
            return
        if time.monotonic() > deadline:
            print(f"\ndemo: headquarters has {at_hq} of {published} site events after "
                  f"{timeout:.0f}s; the summary shows what arrived")
            return
        eventlet.sleep(0.5)


def _publishes(service: str) -> bool:
    """Whether the service has an outbox (the portal, which publishes nothing, has none)."""
    return any(isinstance(value, Outbox) for value in vars(service_class(service)).values())


def _connect_partner(topo: Topology, people: SignedInPeople, url: str) -> dict[str, str]:
    """A demo partner: a client at headquarters' identity, entitled at partners to
    PARTNER_EVENTS of every dealer, with `url` as its webhook endpoint (private addresses
    are allowed in the demo's settings). Prints the endpoint's signing secret."""
    operator = people.headers(Role.OPERATOR, "ops-sim", None)
    hq = topo.headquarters
    client = requests.post(f"{hq.url(IDENTITY)}/partners", headers=operator, timeout=10,
                           json={"name": "Demo partner"})
    client.raise_for_status()
    partner = requests.post(f"{hq.url(PARTNERS)}/partners", headers=operator, timeout=10, json={
        "partner_id": "demo-partner", "name": "Demo partner",
        "client_id": client.json()["client_id"],
        "entitlements": {"event_types": list(PARTNER_EVENTS)}})
    partner.raise_for_status()
    endpoint = requests.post(f"{hq.url(PARTNERS)}/partners/demo-partner/endpoints",
                             headers=operator, timeout=10, json={"url": url})
    if endpoint.status_code != 201:
        raise SystemExit(f"demo: --partner-url {url}: {endpoint.json().get('message')}")
    print(f"Partner signing secret: {endpoint.json()['secret']}")
    return {"partner_id": "demo-partner", "endpoint_id": endpoint.json()["endpoint_id"],
            "url": url}


def _wait_for_partner(topo: Topology, partner: dict[str, str],
                      timeout: float = 900.0) -> dict[str, Any]:
    """Until partners has taken every PARTNER_EVENTS event the sites and crm published, and
    every delivery to the demo partner was delivered or given up on (the demo's retries last
    about two minutes)."""
    from contracts import contract_for

    wanted = {contract_for(name).type for name in PARTNER_EVENTS}
    partners_db = topo.headquarters.databases[PARTNERS]
    producers = [url for stack in topo.stacks for service, url in stack.databases.items()
                 if service not in (PARTNERS, "bi") and _publishes(service)]
    deadline = time.monotonic() + timeout
    where = f"endpoint_id = '{partner['endpoint_id']}'"
    while True:
        published = sum(_count(url, "outbox", wanted) for url in producers)
        taken = _count(partners_db, "inbox", wanted)
        settled = count_rows(partners_db, "deliveries",
                             f"{where} AND status IN ('DELIVERED', 'FAILED')")
        made = count_rows(partners_db, "deliveries", where)
        progress(min(settled, made), max(made, 1) if taken >= published else made + 1,
                 f"deliveries to {partner['url']}")
        if taken >= published and settled >= made:
            break
        if time.monotonic() > deadline:
            print(f"\ndemo: {made - settled} deliveries to the partner still open after "
                  f"{timeout:.0f}s")
            break
        eventlet.sleep(0.5)
    return {"url": partner["url"], "endpoint_id": partner["endpoint_id"],
            "delivered": count_rows(partners_db, "deliveries", f"{where} AND status = 'DELIVERED'"),
            "failed": count_rows(partners_db, "deliveries", f"{where} AND status = 'FAILED'")}


def _count(url: str, table: str, event_types: set[str] | None = None) -> int:
    """Rows of `table`, of the given event types only when named (contract type names)."""
    if event_types is None:
        return count_rows(url, table)
    named = ", ".join(f"'{event_type}'" for event_type in sorted(event_types))
    return count_rows(url, table, f"event_type IN ({named})")


def signed_in_people(topo: Topology) -> SignedInPeople:
    """The demo's people, signed in at their stacks' identity services; the first account of
    each stack made at its console, as an operator makes it (`aftersales ops create-user`)."""
    by_name = {stack.name: stack for stack in topo.stacks}

    def console(stack: str, staff_id: str, role: Role, password: str) -> None:
        _create_first_user(by_name[stack], staff_id, role, password)

    crm = load_settings("crm", topo.headquarters.config_file)
    return SignedInPeople(topo.identities(), console, topo.sms_sink(),
                          own_secret(crm, "survey_link_secret"))


def _create_first_user(stack: Stack, staff_id: str, role: Role, password: str) -> None:
    from identity.commands import create_user

    argv = ["--config", str(stack.config_file), "--username", staff_id, "--staff-id", staff_id,
            "--role", role.value]
    if create_user(argv, read_password=lambda: password) != 0:
        raise RuntimeError(f"could not create {staff_id} at {stack.name}'s {IDENTITY}")


def _print_summary(summary: dict[str, Any], per_dealer: dict[str, dict[str, Any]]) -> None:
    site = summary["site"]
    print(f"\n== {summary['dealers']} dealer sites, {len(summary['days'])} working day(s) "
          f"({summary['days'][0]} …), {summary['mode']} ==")
    print(f"bookings {site['bookings']}, no-shows {site.get('no_shows')}, repair orders "
          f"{site.get('repair_orders_opened')}, deliveries {site.get('deliveries')}, "
          f"QC failures {site.get('qc_failures')}, parts shortages {site.get('parts_shortages')}, "
          f"surveys answered {site.get('surveys_answered')} (low {site.get('low_scores')})")
    names = ["KPI (headquarters' BI)", "all", *per_dealer]
    print(" | ".join(f"{n:>24}" if i == 0 else f"{n:>10}" for i, n in enumerate(names)))
    for kpi in SUMMARY_KPIS:
        values = [summary["headquarters"]["kpis"].get(kpi),
                  *(per_dealer[d].get(kpi) for d in per_dealer)]
        print(" | ".join([f"{kpi:>24}", *(f"{'—' if v is None else v!s:>10}" for v in values)]))
    print(f"\nHeadquarters dashboard: {summary['dashboard']}")
    print(f"An owner's inspection report: {summary['owner_repair_order_link']}")
    board = summary["workshop_board"]
    print(f"Workshop board: {board['url']} (sign in as {board['username']}, password "
          f"{board['password']})")
    if "partner" in summary:
        partner = summary["partner"]
        print(f"Partner webhooks to {partner['url']}: {partner['delivered']} delivered, "
              f"{partner['failed']} failed")
    print(json.dumps(summary, ensure_ascii=False, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dealers", type=int, default=2, help="dealer sites (default 2)")
    parser.add_argument("--days", type=int, default=1, help="working days (default 1)")
    parser.add_argument("--once", action="store_true", help="exit after the summary")
    parser.add_argument("--embedded", action="store_true", help="force embedded mode")
    parser.add_argument("--workdir", type=Path, default=Path("var/demo"))
    parser.add_argument("--base-port", type=int, default=8000,
                        help="headquarters on +1..5, site N on +100·N+1..4; 0 = free ports")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--partner-url", help="a webhook receiver: a demo partner entitled "
                        "to " + ", ".join(PARTNER_EVENTS) + " of every dealer gets them there "
                        "(signed; its secret is printed), and the summary waits for them")
    args = parser.parse_args(argv)
    if not 1 <= args.dealers <= 50 or not 1 <= args.days <= 30:
        parser.error("--dealers must be 1-50 and --days 1-30")
    configure_logging("WARNING")
    run(args.dealers, args.days, args.once, args.embedded, args.workdir, args.base_port,
        args.seed, partner_url=args.partner_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
