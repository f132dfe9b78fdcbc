"""partners at headquarters on the real PostgreSQL and RabbitMQ (fixture `hq`) with a local
plain-HTTP receiver (fixture `receiver`) that verifies every delivery with `standardwebhooks`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.partners.tests.integration.partners_hq import Hq, start_partners
from services.partners.tests.integration.receiver import Receiver


@pytest.fixture
def hq(database, amqp_uri, services) -> Iterator[Hq]:
    found = start_partners(database, amqp_uri, services)
    yield found
    found.events.close()
    found.engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as found:
        yield found
