"""Starting services: one per process in production, all in one process in embedded mode.

Call `green()` before anything opens a socket: nameko runs on eventlet, and psycopg2 must
yield to other green threads while it waits on PostgreSQL. That is why this module imports
nameko, eventlet and the database layer only inside the functions that need them: it is
imported (by conftest.py, the CLI, the demo) before `green()` has run.
"""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path
from typing import Any

from chassis.registry import (
    ENTRY_POINT_GROUP,
    EVERY,
    STACKS,
    find_service_class,
    service_classes,
    service_names,
)

log = logging.getLogger(__name__)

__all__ = ["ENTRY_POINT_GROUP", "database_metadata", "free_port", "green", "make_container",
           "migrations_dir", "service_class", "service_classes"]
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
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports nobody listens on right now: every socket stays bound until
    all are chosen, so no two of them are the same port."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def service_class(name: str) -> type:
    """The installed service `name`; an unknown name stops the command, listing the known."""
    cls = find_service_class(name)
    if cls is None:
        raise SystemExit(f"unknown service {name!r} (known: {', '.join(service_names())})")
    return cls


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
    """A nameko container for `cls`. The class's declared `stack` wins over the settings'
    (they were read for a name, the class is what runs), but for a class of EVERY stack, which
    the settings choose; settings on `memory://` register embedded mode's transport first."""
    from nameko.containers import ServiceContainer

    from chassis import embedded

    stack = getattr(cls, "stack", settings.stack)
    if stack == EVERY:  # runs in every stack: the settings say which this process is
        if settings.stack not in STACKS:
            raise ValueError(f"{settings.service}: its settings must say site or headquarters")
    elif stack != settings.stack:
        settings = settings.with_overrides(stack=stack)
    if settings.embedded:
        embedded.register()
    return ServiceContainer(cls, settings.nameko_config())
