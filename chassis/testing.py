"""pytest fixtures for services on the real PostgreSQL and RabbitMQ.

Each test gets its own vhost (with the platform's policies applied) and its own databases,
so tests cannot see each other's messages or rows, and nothing is left behind.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import eventlet
import pytest
import sqlalchemy as sa

from chassis.auth import CROSS_DEALER, Role, issue_token
from chassis.broker_admin import BrokerAdmin, vhost_of
from chassis.config import RetryPolicy, Settings
from chassis.consumer import EventConsumer
from chassis.db import drop_database, ensure_database, migrate
from chassis.registry import service_names, stack_of
from chassis.runner import free_port, make_container, migrations_dir

AUTH_SECRET = "test-secret-for-signing-tokens-0123456789"
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
    overrides.setdefault("auth_secret", AUTH_SECRET)
    overrides.setdefault("stack", stack_of(service))
    return Settings(service=service, dealer_code=overrides.pop("dealer_code", "D001"),
                    database_url=database_url, amqp_uri=amqp_uri, http_port=free_port(),
                    retry=retry, **overrides)


def auth(role: Role | str, dealer_code: str | None = "D001", subject: str = "staff-1",
         secret: str = AUTH_SECRET) -> dict[str, str]:
    """Headers of a signed-in caller; owners and headquarters roles carry no dealer code."""
    role = Role(role)
    dealer = None if role in CROSS_DEALER else dealer_code
    token = issue_token(secret, subject=subject, role=role, dealer_code=dealer)
    return {"Authorization": f"Bearer {token}"}


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
