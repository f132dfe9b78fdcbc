"""The link from each dealer site's broker to headquarters' broker: RabbitMQ shovels.

A site keeps trading when its WAN link is down. What it publishes collects in one durable
quorum queue per producing service on the site's own broker (`uplink.hq.<service>`, bound to
`<service>.events` with `#`), and a dynamic shovel moves it to the same exchange at
headquarters with `ack-mode: on-confirm`: a message leaves the site queue only after
headquarters' broker has confirmed it. A link that fails mid-transfer may deliver a message
twice; the consumers' inbox makes that harmless. No RPC crosses the link.

Each site publishes at headquarters as its own user (`uplink-<dealer>`), allowed to write to
the site services' event exchanges and nothing else, so one site's credentials can neither read
another site's events nor touch headquarters' queues.

The other way, headquarters sends each site only what it must act on (the `downlink_events`
headquarters services declare, e.g. crm's recall campaigns for reception): a queue per site at
headquarters (`downlink.<dealer>.<service>`) and a shovel into the site's exchange of the same
name, publishing as `downlink-hq`.

`deploy/local/uplinks.yaml` describes the links; `aftersales uplink setup|stop|status` applies
them. The site brokers and headquarters may be one RabbitMQ with several vhosts (development)
or separate brokers (production): the file names each side's AMQP URI and management API.
Which services run at a site, and what crosses downwards, is read from the installed services
(`chassis.registry`); the names of queues, shovels and users from `chassis.broker_names`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine

from chassis import registry
from chassis.broker_admin import EVENT_EXCHANGE, BrokerAdmin, vhost_of
from chassis.broker_names import (
    DOWNLINK_USER,
    consuming_service,
    dead_letters_of,
    downlink_queue,
    downlink_shovel,
    event_exchange_name,
    uplink_queue,
    uplink_shovel,
    uplink_user,
)
from chassis.config import DEALER_CODE, ConfigError

# Development only; production sets `uplink_password` per site (or AFTERSALES_UPLINK_PASSWORD_<D>).
DEFAULT_PASSWORD = "uplink-development-password"


@dataclass(frozen=True)
class Endpoint:
    amqp_uri: str
    admin_url: str

    @property
    def vhost(self) -> str:
        return vhost_of(self.amqp_uri)

    def admin(self) -> BrokerAdmin:
        return BrokerAdmin(self.admin_url)


@dataclass(frozen=True)
class SiteLink:
    dealer_code: str
    site: Endpoint
    services: tuple[str, ...]
    password: str = field(repr=False, default=DEFAULT_PASSWORD)

    @property
    def user(self) -> str:
        return uplink_user(self.dealer_code)

    def shovel_names(self) -> list[str]:
        return [uplink_shovel(self.dealer_code, s) for s in self.services]


@dataclass(frozen=True)
class Uplinks:
    headquarters: Endpoint
    sites: tuple[SiteLink, ...]
    # Per headquarters service, the event types it sends on to every site; by default what
    # the installed services declare (`downlink_events`).
    downlink: Mapping[str, tuple[str, ...]] = field(default_factory=registry.downlink_events)

    def site(self, dealer_code: str) -> SiteLink:
        for link in self.sites:
            if link.dealer_code == dealer_code:
                return link
        raise ConfigError(f"sites: no dealer site {dealer_code!r} in the uplinks file")

    def downlink_names(self, link: SiteLink) -> list[str]:
        return [downlink_shovel(link.dealer_code, s) for s in self.downlink]


def load_uplinks(path: str | Path, classes: Mapping[str, type] | None = None) -> Uplinks:
    """Read an uplinks file; a wrong entry stops with one line naming it. `classes` are the
    services by name (default: the installed ones), which say what runs at a site."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"uplinks file {path}: {exc}") from None
    classes = registry.service_classes() if classes is None else classes
    site_services = registry.services_on(registry.SITE, classes)
    hq = _endpoint(raw.get("headquarters"), "headquarters")
    sites = []
    for index, entry in enumerate(raw.get("sites") or []):
        where = f"sites[{index}]"
        code = str((entry or {}).get("dealer_code", ""))
        if not DEALER_CODE.match(code):
            raise ConfigError(f"{where}.dealer_code: {code!r} must be 2-12 upper-case letters "
                              "or digits")
        services = tuple(entry.get("services") or site_services)
        unknown = set(services) - set(site_services)
        if unknown:
            raise ConfigError(f"{where}.services: {sorted(unknown)} are not site services")
        password = str(entry.get("uplink_password") or DEFAULT_PASSWORD)
        sites.append(SiteLink(code, _endpoint(entry, where), services, password))
    if not sites:
        raise ConfigError("sites: the uplinks file names no dealer site")
    return Uplinks(hq, tuple(sites), registry.downlink_events(classes))


def _endpoint(raw: Any, where: str) -> Endpoint:
    if not isinstance(raw, dict) or not raw.get("amqp_uri"):
        raise ConfigError(f"{where}.amqp_uri: missing")
    uri = str(raw["amqp_uri"])
    if not uri.startswith(("amqp://", "amqps://")):
        raise ConfigError(f"{where}.amqp_uri: {uri!r} is not an amqp:// URI")
    host = urlsplit(uri).hostname or "127.0.0.1"
    return Endpoint(uri, str(raw.get("admin_url") or f"http://guest:guest@{host}:15672"))


def with_credentials(uri: str, user: str, password: str) -> str:
    """`uri` with its user and password replaced (the shovel connects as the site's user)."""
    parts = urlsplit(uri)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _publisher(dest: Endpoint, user: str, password: str, exchanges: Iterable[str]) -> None:
    """The user a shovel publishes as on `dest`: it may write `exchanges` and nothing else."""
    admin = dest.admin()
    admin.call("PUT", f"/users/{_q(user)}", {"password": password, "tags": ""})
    writable = "|".join(re.escape(exchange) for exchange in sorted(exchanges))
    admin.call("PUT", f"/permissions/{_q(dest.vhost)}/{_q(user)}",
               {"configure": "^$", "write": f"^({writable})$", "read": "^$"})


def _pipe(name: str, source: Endpoint, queue: str, exchange: str, routing_keys: Iterable[str],
          dest: Endpoint, user: str, password: str) -> None:
    """A durable queue on `source` holding what `exchange` routes with `routing_keys`, and a
    shovel that moves it to the same exchange on `dest`, publishing there as `user` (see
    `_publisher`). The shovel is defined on the source broker."""
    src, dst = source.admin(), dest.admin()
    for admin, endpoint in ((src, source), (dst, dest)):
        admin.call("PUT", f"/exchanges/{_q(endpoint.vhost)}/{_q(exchange)}", EVENT_EXCHANGE)
    src.call("PUT", f"/queues/{_q(source.vhost)}/{_q(queue)}",
             {"durable": True, "auto_delete": False, "arguments": {"x-queue-type": "quorum"}})
    for key in routing_keys:
        src.call("POST", f"/bindings/{_q(source.vhost)}/e/{_q(exchange)}/q/{_q(queue)}",
                 {"routing_key": key})
    src.call("PUT", f"/parameters/shovel/{_q(source.vhost)}/{_q(name)}", {"value": {
        "src-protocol": "amqp091", "src-uri": source.amqp_uri, "src-queue": queue,
        "dest-protocol": "amqp091", "dest-uri": with_credentials(dest.amqp_uri, user, password),
        "dest-exchange": exchange,
        # A message leaves the source queue only once the other broker has confirmed it.
        "ack-mode": "on-confirm", "src-prefetch-count": 500,
        "reconnect-delay": 5, "dest-add-forward-headers": False}})


def setup(uplinks: Uplinks, dealer_code: str | None = None) -> list[str]:
    """Declare both ends and start the shovels (all sites, or one), both directions. Safe to
    run again."""
    hq = uplinks.headquarters
    started = []
    for link in uplinks.sites:
        if dealer_code and link.dealer_code != dealer_code:
            continue
        _publisher(hq, link.user, link.password, map(event_exchange_name, link.services))
        _publisher(link.site, DOWNLINK_USER, link.password,
                   map(event_exchange_name, uplinks.downlink))
        for service in link.services:
            name = uplink_shovel(link.dealer_code, service)
            _pipe(name, link.site, uplink_queue(service), event_exchange_name(service),
                  ["#"], hq, link.user, link.password)
            started.append(name)
        for service, event_types in uplinks.downlink.items():
            name = downlink_shovel(link.dealer_code, service)
            _pipe(name, hq, downlink_queue(link.dealer_code, service),
                  event_exchange_name(service), event_types, link.site, DOWNLINK_USER,
                  link.password)
            started.append(name)
    return started


def stop(uplinks: Uplinks, dealer_code: str) -> list[str]:
    """Remove one site's shovels, both directions (the WAN link is cut): events wait at the
    site for headquarters, and at headquarters for the site."""
    link = uplinks.site(dealer_code)
    for endpoint, names in ((link.site, link.shovel_names()),
                            (uplinks.headquarters, uplinks.downlink_names(link))):
        for name in names:
            endpoint.admin().call("DELETE", f"/parameters/shovel/{_q(endpoint.vhost)}/{_q(name)}",
                                  missing_ok=True)
    return link.shovel_names() + uplinks.downlink_names(link)


def status(uplinks: Uplinks) -> list[dict[str, Any]]:
    """Per site: each shovel's state (both directions) and the events waiting to cross."""
    hq = uplinks.headquarters
    rows = []
    for link in uplinks.sites:
        shovels = {}
        for endpoint, names in ((link.site, link.shovel_names()),
                                (hq, uplinks.downlink_names(link))):
            states = {s.get("name"): s.get("state", "unknown")
                      for s in endpoint.admin().call("GET", f"/shovels/{_q(endpoint.vhost)}")
                      or []}
            shovels.update({name: states.get(name, "absent") for name in names})
        rows.append({
            "dealer_code": link.dealer_code,
            "running": all(state == "running" for state in shovels.values()),
            "shovels": shovels,
            "waiting_at_site": _depth(link.site, [uplink_queue(s) for s in link.services]),
            "waiting_for_site": _depth(hq, [downlink_queue(link.dealer_code, s)
                                            for s in uplinks.downlink])})
    return rows


def _depth(endpoint: Endpoint, queues: list[str]) -> int:
    admin = endpoint.admin()
    return sum(int((admin.queue(endpoint.vhost, q) or {}).get("messages") or 0) for q in queues)


def _q(name: str) -> str:
    return quote(name, safe="")


def events_from_sites(engine: Engine) -> list[tuple[str, datetime, int]]:
    """At headquarters: per dealer site, when its last event was applied and how many were.

    Read from a headquarters service's inbox, whose `source` is `dealer/<code>/<service>`.
    """
    inbox = sa.table("inbox", sa.column("source"), sa.column("received_at"))
    dealer = sa.func.split_part(inbox.c.source, "/", 2)  # PostgreSQL: operations run on it
    query = (sa.select(dealer.label("dealer"), sa.func.max(inbox.c.received_at),
                       sa.func.count())
             .where(inbox.c.source.like("dealer/%")).group_by(dealer).order_by(dealer))
    with engine.connect() as conn:
        return [(row[0], row[1], row[2]) for row in conn.execute(query)]


def headquarters_backlog(uplinks: Uplinks) -> dict[str, dict[str, int]]:
    """Per headquarters service: events waiting in its queues, and its dead letters."""
    admin = uplinks.headquarters.admin()
    found: dict[str, dict[str, int]] = {}
    for queue in admin.call("GET", f"/queues/{_q(uplinks.headquarters.vhost)}"
                                   "?columns=name,messages") or []:
        name, waiting = str(queue.get("name", "")), int(queue.get("messages") or 0)
        if (service := consuming_service(name)) is not None:
            found.setdefault(service, {"waiting": 0, "dead_letters": 0})["waiting"] += waiting
        elif (service := dead_letters_of(name)) is not None:
            found.setdefault(service, {"waiting": 0, "dead_letters": 0})["dead_letters"] = waiting
    return found
