"""identity on the real PostgreSQL and RabbitMQ: at dealer site D001 (`site_identity`) and at
headquarters (`hq_identity`), each a running service with its own database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.identity.tests.integration.identity_stack import RunningIdentity, start_identity


@pytest.fixture
def site_identity(database, amqp_uri, services) -> Iterator[RunningIdentity]:
    running = start_identity(database, amqp_uri, services)
    yield running
    running.engine.dispose()


@pytest.fixture
def hq_identity(database, amqp_uri, services) -> Iterator[RunningIdentity]:
    running = start_identity(database, amqp_uri, services, at_headquarters=True)
    yield running
    running.engine.dispose()
