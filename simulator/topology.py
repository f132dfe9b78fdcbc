"""The demo's topology: headquarters and N dealer sites, each with its own vhost and databases,
joined by the broker links of `chassis.uplink` — started as plain `aftersales run` processes.

The configuration files it writes under the work directory are the ones in `deploy/local/`
with the demo's vhosts, databases and ports, so the demo runs exactly what an operator runs.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chassis.broker_admin import BrokerAdmin
from chassis.config import load_settings
from chassis.db import drop_database, migrate
from chassis.runner import free_ports, migrations_dir, service_class
from chassis.uplink import Endpoint, SiteLink, Uplinks
from chassis.uplink import setup as setup_uplinks
from tests.support.wechatpay_provider import LocalWechatPay, Merchant

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / "deploy" / "local"
AMQP = "amqp://guest:guest@127.0.0.1:5672"
ADMIN_URL = "http://guest:guest@127.0.0.1:15672"
POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
SITE_SERVICES = ("booking", "workorder", "parts")  # what a site publishes over its link
HQ_SERVICES = ("crm", "notify", "bi")
IDENTITY = "identity"  # every stack has its own, the issuer of its people's tokens
PARTNERS = "partners"  # headquarters: franchise shops' webhooks and feed (after identity's port)
PORTAL = "portal"  # every stack: the pages people open (the last port of each stack)
# The demo's partner hears of a failure within minutes, not the day production retries last,
# so `--partner-url` can wait for every delivery to succeed or be given up on.
DEMO_RETRY_SECONDS = [1, 2, 4, 8, 15, 30, 60]


@dataclass
class LocalPayments:
    """A site's stand-in for WeChat Pay (`tests.support.wechatpay_provider`, the real API v3
    protocol): the merchant's and the platform's keys are made when the topology is planned,
    since workorder's settings name them; the provider serves in the demo's (or the test's)
    own process from `start` to `stop`, so the owner's browser can pay on its page."""

    port: int
    merchant: Merchant
    platform_key: rsa.RSAPrivateKey = field(repr=False)
    platform_serial: str
    provider: LocalWechatPay | None = field(default=None, repr=False)

    @classmethod
    def generate(cls, port: int) -> LocalPayments:
        return cls(port, Merchant.generate(),
                   rsa.generate_private_key(public_exponent=65537, key_size=2048),
                   f"PUB_KEY_ID_{secrets.token_hex(12).upper()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workorder_settings(self, notify_url: str) -> dict[str, str]:
        """What workorder needs to take payments here as the merchant (a development site's
        YAML may hold the stand-in keys themselves)."""
        platform_pem = self.platform_key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        m = self.merchant
        return {"wechatpay_base_url": self.url, "wechatpay_mchid": m.mchid,
                "wechatpay_appid": m.appid, "wechatpay_merchant_serial": m.serial,
                "wechatpay_platform_serial": self.platform_serial,
                "wechatpay_merchant_private_key": m.private_pem,
                "wechatpay_platform_public_key": platform_pem,
                "wechatpay_apiv3_key": m.apiv3_key, "payment_notify_url": notify_url}

    def start(self) -> None:
        if self.provider is None:
            self.provider = LocalWechatPay.for_merchant(
                self.merchant, port=self.port, platform_key=self.platform_key,
                platform_serial=self.platform_serial).start()

    def stop(self) -> None:
        if self.provider is not None:
            self.provider.stop()
            self.provider = None


@dataclass
class Stack:
    """One process's worth of services: a dealer site's, or headquarters'."""

    name: str                       # "D001" or "HQ"
    vhost: str
    config_file: Path
    services: tuple[str, ...]
    ports: dict[str, int]
    databases: dict[str, str]
    process: subprocess.Popen | None = field(default=None, repr=False)
    containers: list[Any] = field(default_factory=list, repr=False)  # embedded mode
    payments: LocalPayments | None = None  # a site's local WeChat Pay

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


@dataclass
class Topology:
    workdir: Path
    headquarters: Stack
    sites: list[Stack]
    embedded: bool = False
    bridges: list[Any] = field(default_factory=list, repr=False)

    @property
    def stacks(self) -> list[Stack]:
        return [self.headquarters, *self.sites]

    def uplinks(self) -> Uplinks:
        hq = Endpoint(f"{AMQP}/{self.headquarters.vhost}", ADMIN_URL)
        return Uplinks(hq, tuple(SiteLink(site.name, Endpoint(f"{AMQP}/{site.vhost}", ADMIN_URL),
                                          SITE_SERVICES) for site in self.sites))

    def broker(self, stack: Stack) -> str:
        return f"memory:///{stack.vhost}" if self.embedded else f"{AMQP}/{stack.vhost}"

    def identities(self) -> dict[str, str]:
        """Each stack's identity service: "HQ" and the dealer codes → its URL."""
        return {stack.name: stack.url(IDENTITY) for stack in self.stacks}

    def sms_sink(self) -> Path:
        return self.workdir / "notify-outbox.jsonl"


def plan(dealers: int, workdir: Path, base_port: int = 8000, embedded: bool = False,
         prefix: str = "demo") -> Topology:
    """Vhosts `demo-hq` and `demo-site-D00N`, databases `demo_*` (`prefix` in place of
    "demo"), ports from `base_port` (headquarters +1..6, site N +100·N+1..5 and +100·N+9 for
    its local WeChat Pay; 0 takes free ports). Embedded: the same vhosts on the in-memory
    broker and SQLite files in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)

    spare = free_ports(8 + 8 * dealers) if not base_port else []  # distinct within the plan

    def port(offset: int) -> int:
        return base_port + offset if base_port else spare.pop()

    hq_services = (*HQ_SERVICES, IDENTITY, PARTNERS, PORTAL)
    site_services = (*SITE_SERVICES, IDENTITY, PORTAL)
    hq_ports = {s: port(i + 1) for i, s in enumerate(hq_services)}
    hq_issuer = f"http://127.0.0.1:{hq_ports[IDENTITY]}"
    site_ports = [{s: port(100 * n + i + 1) for i, s in enumerate(site_services)}
                  for n in range(1, dealers + 1)]
    # notify's owner links open each site's own portal.
    owner_pages = {f"D{n:03d}": f"http://127.0.0.1:{ports[PORTAL]}"
                   for n, ports in enumerate(site_ports, start=1)}
    hq = _stack("HQ", f"{prefix}-hq", hq_services, LOCAL / "hq.yaml", workdir, hq_ports,
                embedded, prefix, hq_issuer, owner_pages)
    sites = [_stack(f"D{n:03d}", f"{prefix}-site-D{n:03d}", site_services,
                    LOCAL / "site-D001.yaml", workdir, ports, embedded, prefix, hq_issuer,
                    owner_pages, LocalPayments.generate(port(100 * n + 9)))
             for n, ports in enumerate(site_ports, start=1)]
    return Topology(workdir, hq, sites, embedded)


def _stack(name: str, vhost: str, services: tuple[str, ...], template: Path, workdir: Path,
           ports: dict[str, int], embedded: bool, prefix: str, hq_issuer: str,
           owner_pages: dict[str, str], payments: LocalPayments | None = None) -> Stack:
    config = yaml.safe_load(template.read_text(encoding="utf-8"))
    config["dealer_code"] = name
    # Each stack trusts its own identity and (a site) headquarters', at the demo's ports.
    own_issuer = f"http://127.0.0.1:{ports[IDENTITY]}"
    config["trust"] = [_trusted(hq_issuer, "headquarters")]
    if name != "HQ":
        config["trust"].insert(0, _trusted(own_issuer, "site", dealer=name))
    config["amqp_uri"] = f"memory:///{vhost}" if embedded else f"{AMQP}/{vhost}"
    config["media_dir"] = str(workdir / "media" / name.lower())
    databases = {}
    for service in services:
        section = config["services"][service]
        databases[service] = (f"sqlite:///{workdir / f'{name.lower()}_{service}.sqlite'}"
                              if embedded else f"{POSTGRES}/{prefix}_{name.lower()}_{service}")
        section.update(database_url=databases[service], http_port=ports[service])
        if service == IDENTITY:
            section["issuer"] = own_issuer
            # Every owner of the demo asks for their code from this one machine's address.
            section["owner_codes_per_address_per_hour"] = 10000
            if name == "HQ":  # the dashboard link the demo prints works for an hour
                section["access_token_seconds"] = 3600
        if service == "notify":
            section["public_url"] = f"http://127.0.0.1:{ports['notify']}"
            section["portal_url"] = f"http://127.0.0.1:{ports['portal']}"
            sink = str(workdir / "notify-outbox.jsonl")
            section["channels"] = {channel: {"adapter": "file", "path": sink}
                                   for channel in ("sms", "email", "wechat", "push")}
        if service == PORTAL:
            section.update(_portal_urls(name, ports, hq_issuer))
            if payments is not None:  # the one other origin the owner's browser is sent to
                section["payment_url"] = payments.url
        if service == "workorder":
            section["owner_portal_url"] = f"http://127.0.0.1:{ports[PORTAL]}"
            if payments is not None:  # the owner pays the invoice online, the provider notifies
                section.update(payments.workorder_settings(
                    f"http://127.0.0.1:{ports['workorder']}/payment-notifications/wechatpay"))
        if service == "notify":
            section["owner_pages"] = owner_pages
        if service == PARTNERS:  # a receiver on this machine: private endpoints allowed
            section.update(allow_private_endpoints=True,
                           retry_schedule_seconds=DEMO_RETRY_SECONDS)
    path = workdir / f"{name.lower()}.yaml"  # e.g. var/demo/d001.yaml
    path.write_text("# Written by the demo from deploy/local; regenerated on every run.\n"
                    + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return Stack(name, vhost, path, services, ports, databases, payments=payments)


def _portal_urls(name: str, ports: dict[str, int], hq_issuer: str) -> dict[str, str]:
    """Where the portal of a stack finds that stack's services (and owners sign in)."""
    local = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    urls = {"public_url": local[PORTAL], "identity_url": local[IDENTITY],
            "owner_identity_url": hq_issuer}
    wanted = ("crm", "notify") if name == "HQ" else ("booking", "workorder")
    urls.update({f"{service}_url": local[service] for service in wanted})
    return urls


def _trusted(issuer: str, scope: str, dealer: str | None = None) -> dict[str, str]:
    return {"issuer": issuer, "scope": scope, **({"dealer": dealer} if dealer else {}),
            "jwks_url": f"{issuer}/.well-known/jwks.json"}


def prepare(topology: Topology) -> None:
    """A demo starts from an empty day: fresh vhosts and databases, the links defined."""
    for stack in topology.stacks:
        for service, url in stack.databases.items():
            drop_database(url)
            migrate(url, migrations_dir(service_class(service)))
    if topology.embedded:
        return
    admin = BrokerAdmin(ADMIN_URL)
    for stack in topology.stacks:
        admin.delete_vhost(stack.vhost)
        admin.apply(stack.vhost, list(stack.services))
    # Headquarters' queues exist before the first site event crosses the link.
    for service in topology.headquarters.services:
        admin.declare_event_queues(topology.headquarters.vhost, service_class(service))
    setup_uplinks(topology.uplinks())


def start(topology: Topology, timeout: float = 240.0) -> None:
    """Start each stack as an `aftersales run` process and wait until every service is ready
    (embedded mode: every service in this process, the links bridged in memory)."""
    for site in topology.sites:
        if site.payments is not None:
            site.payments.start()
    if topology.embedded:
        _start_embedded(topology)
        return
    logs = topology.workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for stack in topology.stacks:
        log = (logs / f"{stack.name.lower()}.log").open("ab")
        stack.process = subprocess.Popen(
            [sys.executable, "-m", "chassis.cli", "--config", str(stack.config_file), "run",
             *stack.services], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "AFTERSALES_LOG_LEVEL": "WARNING"},
            start_new_session=True)  # Ctrl-C in the terminal reaches the demo, which stops them
    deadline = time.monotonic() + timeout
    for stack in topology.stacks:
        for service in stack.services:
            while not _ready(stack.url(service)):
                if stack.process and stack.process.poll() is not None:
                    raise RuntimeError(f"{stack.name} stopped at start; its log ends:\n"
                                       f"{_tail(logs / f'{stack.name.lower()}.log')}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{stack.name} {service} not ready after {timeout:.0f}s; "
                                       f"its log ends:\n"
                                       f"{_tail(logs / f'{stack.name.lower()}.log')}")
                time.sleep(0.3)


def _tail(log: Path, lines: int = 40) -> str:
    """The end of a stack's log, for an error that says why it did not start."""
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _start_embedded(topology: Topology) -> None:
    from chassis import embedded
    from chassis.runner import make_container

    embedded.register()  # memory:///<vhost> is one broker per vhost from here on

    def start_stack(stack: Stack) -> None:
        for service in stack.services:
            container = make_container(service_class(service),
                                       load_settings(service, stack.config_file))
            container.start()
            stack.containers.append(container)

    # Headquarters' queues, then the links, exist before a site publishes anything.
    start_stack(topology.headquarters)
    hq = topology.broker(topology.headquarters)
    for site in topology.sites:
        bridge = embedded.MemoryUplink(topology.broker(site), hq, SITE_SERVICES)
        bridge.start()
        topology.bridges.append(bridge)
        start_stack(site)
    for stack in topology.stacks:
        for service in stack.services:
            while not _ready(stack.url(service)):
                time.sleep(0.1)


def stop(topology: Topology) -> None:
    """Stop every process this topology started (SIGTERM, then SIGKILL after 15 s)."""
    for bridge in topology.bridges:
        bridge.stop()
    for site in topology.sites:
        if site.payments is not None:
            site.payments.stop()
    for stack in topology.stacks:
        for container in stack.containers:
            container.stop()
    running = [s.process for s in topology.stacks if s.process and s.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def describe(topology: Topology) -> dict[str, Any]:
    return {stack.name: {service: stack.url(service) for service in stack.services}
            for stack in topology.stacks}


def remove(topology: Topology) -> None:
    """Drop the topology's databases and vhosts (tests clean up after themselves)."""
    for stack in topology.stacks:
        for url in stack.databases.values():
            drop_database(url)
        if not topology.embedded:
            BrokerAdmin(ADMIN_URL).delete_vhost(stack.vhost)
