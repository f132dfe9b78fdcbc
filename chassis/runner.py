"""Starting services: one per process in production, all in one process in embedded mode.

Call `green()` before anything opens a socket: nameko runs on eventlet, and psycopg2 must
yield to other green threads while it waits on PostgreSQL.
"""

from __future__ import annotations

import logging
import socket
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "aftersales.services"
_greened = False


def green() -> None:
    global _greened
    if _greened:
        return
    import eventlet

    eventlet.monkey_patch()
    from psycogreen.eventlet import patch_psycopg

    patch_psycopg()
    _greened = True


def free_port() -> int:
    """A TCP port nobody listens on right now (for tests and the demo)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_classes() -> dict[str, type]:
    """Every installed service, by name (declared under `aftersales.services` entry points)."""
    return {ep.name: ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)}


def service_class(name: str) -> type:
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        known = ", ".join(sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)))
        raise SystemExit(f"unknown service {name!r} (known: {known})")
    return found[0].load()


def migrations_dir(cls: type) -> Path:
    """`<package>/migrations` inside the service's package (installed with it)."""
    module_file = sys.modules[cls.__module__].__file__
    assert module_file is not None
    return Path(module_file).resolve().parent / "migrations"


def database_metadata(cls: type) -> Any:
    from chassis.db import Database

    found = [v for v in vars(cls).values() if isinstance(v, Database)]
    return found[0].metadata


def make_container(cls: type, settings: Any) -> Any:
    from nameko.containers import ServiceContainer

    return ServiceContainer(cls, settings.nameko_config())
