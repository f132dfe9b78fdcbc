"""pytest fixtures for services on the real PostgreSQL and RabbitMQ.

Each test gets its own vhost (with the platform's policies applied) and its own databases,
so tests cannot see each other's messages or rows, and nothing is left behind.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import eventlet
import pytest
import sqlalchemy as sa

from chassis.auth import CROSS_DEALER, Role, SigningKey, issue_token, jwks_of
from chassis.broker_admin import BrokerAdmin, vhost_of
from chassis.config import RetryPolicy, Settings
from chassis.consumer import EventConsumer
from chassis.db import drop_database, ensure_database, migrate
from chassis.identity import HEADQUARTERS_SCOPE, SITE_SCOPE, TrustedIssuer
from chassis.registry import HEADQUARTERS, service_names, stack_of
from chassis.runner import free_port, make_container, migrations_dir

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
AMQP = "amqp://guest:guest@127.0.0.1:5672"


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05,
             message: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; fail the test with `message` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        eventlet.sleep(interval)


@pytest.fixture(scope="session")
def broker_admin() -> BrokerAdmin:
    return BrokerAdmin()


@pytest.fixture
def vhost(broker_admin: BrokerAdmin) -> Iterator[str]:
    """A fresh vhost with the platform's policies for every installed service (a test's own
    stand-in consumer gets its policy when `services` starts it)."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    broker_admin.apply(name, service_names())
    yield name
    broker_admin.delete_vhost(name)


@pytest.fixture
def amqp_uri(vhost: str) -> str:
    return f"{AMQP}/{vhost}"


@pytest.fixture
def database() -> Iterator[Callable[..., str]]:
    """`database(name, migrations=Path | None, metadata=MetaData | None)` → a fresh URL."""
    created: list[str] = []

    def make(name: str, migrations: Any = None, metadata: sa.MetaData | None = None) -> str:
        url = f"{POSTGRES}/t_{name}_{uuid.uuid4().hex[:10]}"
        created.append(url)
        if migrations is not None:
            migrate(url, migrations)
        else:
            ensure_database(url)
            if metadata is not None:
                engine = sa.create_engine(url)
                metadata.create_all(engine)
                engine.dispose()
        return url

    yield make
    for url in created:
        drop_database(url)


def make_settings(service: str, database_url: str, amqp_uri: str, **overrides: Any) -> Settings:
    retry = overrides.pop("retry", RetryPolicy(max_attempts=3, backoff_initial_seconds=0.05,
                                               backoff_max_seconds=0.2))
    overrides.setdefault("relay_poll_seconds", 0.2)
    overrides.setdefault("stack", stack_of(service))
    dealer_code = overrides.pop("dealer_code", "D001")
    overrides.setdefault("trust", test_trust(overrides["stack"], dealer_code))
    overrides.setdefault("environment", "development")
    return Settings(service=service, dealer_code=dealer_code,
                    database_url=database_url, amqp_uri=amqp_uri, http_port=free_port(),
                    retry=retry, **overrides)


# -- test issuers: headquarters' and one per dealer site, with keys made for this run ---------

HQ_ISSUER = "https://id.hq.test"
_KEYS: dict[str, SigningKey] = {}


def site_issuer(dealer_code: str) -> str:
    return f"https://id.{dealer_code.lower()}.test"


def test_key(issuer: str) -> SigningKey:
    """The signing key of a test issuer (made on first use, the same for the whole run)."""
    if issuer not in _KEYS:
        _KEYS[issuer] = SigningKey.generate()
    return _KEYS[issuer]


def test_trust(stack: str, dealer_code: str) -> tuple[TrustedIssuer, ...]:
    """What a deployment trusts: headquarters its own issuer; a site its own and headquarters'."""
    hq = TrustedIssuer(HQ_ISSUER, HEADQUARTERS_SCOPE,
                       jwks=json.dumps(jwks_of([test_key(HQ_ISSUER)])))
    if stack == HEADQUARTERS:
        return (hq,)
    site = site_issuer(dealer_code)
    own = TrustedIssuer(site, SITE_SCOPE, dealer_code,
                        jwks=json.dumps(jwks_of([test_key(site)])))
    return own, hq


# Helpers, not tests: pytest would collect a `test_*` function imported into a test module.
test_key.__test__ = test_trust.__test__ = False  # type: ignore[attr-defined]


def trust_setting(stack: str, dealer_code: str) -> list[dict[str, str]]:
    """The same trust as a config file's `trust:` (or AFTERSALES_TRUST, as JSON) says it."""
    return [{"issuer": t.issuer, "scope": t.scope, "jwks": str(t.jwks),
             **({"dealer": t.dealer_code} if t.dealer_code else {})}
            for t in test_trust(stack, dealer_code)]


def token(role: Role | str, dealer_code: str | None = "D001", subject: str = "staff-1",
          issuer: str = HQ_ISSUER, ttl_seconds: int = 86400) -> str:
    """A token from a test issuer; headquarters' by default, which may grant every role.
    A day long: modules make theirs when collected, long before a late test runs."""
    role = Role(role)
    dealer = None if role in CROSS_DEALER else dealer_code
    return issue_token(test_key(issuer), issuer=issuer, subject=subject, role=role,
                       dealer_code=dealer, ttl_seconds=ttl_seconds)


def auth(role: Role | str, dealer_code: str | None = "D001", subject: str = "staff-1",
         issuer: str = HQ_ISSUER) -> dict[str, str]:
    """Headers of a signed-in caller; owners and headquarters roles carry no dealer code."""
    return {"Authorization": f"Bearer {token(role, dealer_code, subject, issuer)}"}


@pytest.fixture
def services(broker_admin: BrokerAdmin) -> Iterator[Callable[[type, Settings], Any]]:
    """`services(ServiceClass, settings)` starts a container; all are stopped after the test.

    A consumer that is no installed service (a test's stand-in, e.g. a ledger) gets the
    platform's broker policy for its name first, as `aftersales broker setup` would give it.
    """
    running: list[Any] = []
    installed = set(service_names())

    def start(cls: type, settings: Settings) -> Any:
        vhost = vhost_of(settings.amqp_uri)
        # Only on a vhost the test made: starting a service never creates one.
        if settings.service not in installed and not settings.embedded \
                and broker_admin.vhost(vhost) is not None:
            broker_admin.apply(vhost, [settings.service])
        container = make_container(cls, settings)
        container.start()
        running.append(container)
        for extension in container.extensions:
            if isinstance(extension, EventConsumer):
                extension.wait_until_consuming()
        return container

    yield start
    for container in reversed(running):
        stopped = False
        with eventlet.Timeout(10, False):
            container.stop()
            stopped = True
        if not stopped:
            container.kill()


def service_database(database: Callable[..., str], cls: type) -> str:
    """A fresh database for a platform service, migrated with its own Alembic tree."""
    return database(cls.name, migrations=migrations_dir(cls))  # type: ignore[attr-defined]


def rows(database_url: str, sql: str, **params: Any) -> list[Any]:
    """The rows a query returns, read through a short-lived engine (for assertions)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()
