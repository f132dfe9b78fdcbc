"""Workorder on the real PostgreSQL and RabbitMQ, with a stand-in parts service or without."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chassis.testing import make_settings, service_database
from services.workorder.tests.integration.site_client import OWNER_PORTAL, PartsStandIn, Site
from workorder.service import WorkorderService


def _start(database: Any, amqp_uri: str, services: Any, tmp_path: Path, *, parts: bool,
           **extra: Any) -> Site:
    if parts:
        services(PartsStandIn, make_settings("parts", "postgresql://unused", amqp_uri))
    settings = make_settings("workorder", service_database(database, WorkorderService),
                             amqp_uri, media_dir=str(tmp_path / "media"), extra=extra)
    services(WorkorderService, settings)
    return Site(settings)


@pytest.fixture
def site(database, amqp_uri, services, tmp_path) -> Site:
    """Workorder with a parts service answering on the site's broker."""
    return _start(database, amqp_uri, services, tmp_path, parts=True)


@pytest.fixture
def site_with_portal(database, amqp_uri, services, tmp_path) -> Site:
    """Workorder and parts at a site with an owner portal, so its quotes carry the link."""
    return _start(database, amqp_uri, services, tmp_path, parts=True,
                  owner_portal_url=OWNER_PORTAL)


@pytest.fixture
def site_without_parts(database, amqp_uri, services, tmp_path) -> Site:
    """Workorder alone: nothing answers parts' RPC on this vhost."""
    return _start(database, amqp_uri, services, tmp_path, parts=False)
