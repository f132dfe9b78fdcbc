"""A running crm on the real PostgreSQL and RabbitMQ (fixture `crm`), and a publisher of site
events (fixture `sites`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chassis.testing import make_settings, service_database
from crm.service import CrmService
from services.crm.tests.integration.crm_hq import CRM_EXTRA, Crm, Publisher


@pytest.fixture
def crm(database, amqp_uri, services) -> Iterator[Crm]:
    settings = make_settings("crm", service_database(database, CrmService), amqp_uri,
                             dealer_code="HQ", extra=dict(CRM_EXTRA))
    services(CrmService, settings)
    running = Crm(f"http://127.0.0.1:{settings.http_port}", settings.database_url)
    yield running
    running.engine.dispose()


@pytest.fixture
def sites(amqp_uri) -> Iterator[Publisher]:
    publisher = Publisher(amqp_uri)
    yield publisher
    publisher.close()
