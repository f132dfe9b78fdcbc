"""What every platform service inherits: metrics, health and readiness over HTTP."""

from __future__ import annotations

import logging
import time
from typing import ClassVar
from urllib.parse import quote

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request, Response

from chassis import metrics
from chassis.broker import connect
from chassis.broker_admin import BrokerAdmin, vhost_of
from chassis.broker_names import dead_letter_queue_name, uplink_shovel
from chassis.config import Settings
from chassis.db import find_database, ping
from chassis.http import PUBLIC, http, json_response
from chassis.openapi import build_openapi
from chassis.registry import EVERY, HEADQUARTERS, SITE

# SITE, HEADQUARTERS and EVERY are defined in chassis.registry and offered here too, next to
# the class that declares them.
__all__ = ["EVERY", "HEADQUARTERS", "SITE", "BrokerGauges", "CurrentSettings", "OwnSettings",
           "PlatformService", "Readiness"]

log = logging.getLogger(__name__)


class Readiness(DependencyProvider):
    """Checks the service's database and broker (used by `/ready`)."""

    def setup(self) -> None:
        self.settings = self.container.config["AFTERSALES"]
        self.database = find_database(self.container)

    def check(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            ping(self.database.engine)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"down: {type(exc).__name__}"
        try:
            with connect(self.settings.amqp_uri, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"down: {type(exc).__name__}"
        return checks

    def get_dependency(self, worker_ctx) -> Readiness:  # type: ignore[no-untyped-def]
        return self


class BrokerGauges(DependencyProvider):
    """What only the broker knows, read when Prometheus scrapes (at most every 10 s): the
    dead letters waiting for this service and, at a dealer site, whether the shovels to
    headquarters run. Embedded mode has no management API and is skipped."""

    interval = 10.0

    def setup(self) -> None:
        self.settings = self.container.config["AFTERSALES"]
        self._due = 0.0

    def refresh(self) -> None:
        settings = self.settings
        if settings.embedded or time.monotonic() < self._due:
            return
        self._due = time.monotonic() + self.interval
        vhost = vhost_of(settings.amqp_uri)
        try:
            admin = BrokerAdmin(timeout=2.0)
            queue = admin.queue(vhost, dead_letter_queue_name(settings.service)) or {}
            metrics.DEAD_LETTER_QUEUE_MESSAGES.labels(settings.service).set(
                queue.get("messages") or 0)
            if not settings.at_headquarters:
                prefix = uplink_shovel(settings.dealer_code, "")
                mine = [s for s in admin.call("GET", f"/shovels/{quote(vhost, safe='')}") or []
                        if str(s.get("name", "")).startswith(prefix)]
                running = bool(mine) and all(s.get("state") == "running" for s in mine)
                metrics.UPLINK_RUNNING.labels(settings.dealer_code).set(int(running))
        except Exception as exc:  # the scrape still answers with what the process knows
            log.warning("broker gauges not read: %s", exc)

    def get_dependency(self, worker_ctx) -> BrokerGauges:  # type: ignore[no-untyped-def]
        return self


class CurrentSettings(DependencyProvider):
    """The service's validated settings (dealer code, URLs, retry policy)."""

    def get_dependency(self, worker_ctx) -> Settings:  # type: ignore[no-untyped-def]
        return self.container.config["AFTERSALES"]


class OwnSettings(DependencyProvider):
    """`options = OwnSettings(CrmSettings)`: the service's own typed settings, a dataclass
    with `from_settings(settings)` (usually `chassis.config.typed_settings`). Built while the
    container is built, in the caller's thread, so a bad value stops the start with the one
    line of its ConfigError (from `setup`, in a green thread, eventlet prints a traceback)."""

    def __init__(self, kind: type) -> None:
        self.kind = kind

    def bind(self, container, attr_name):  # type: ignore[no-untyped-def]
        instance = super().bind(container, attr_name)
        instance.value = self.kind.from_settings(container.config["AFTERSALES"])
        return instance

    def get_dependency(self, worker_ctx):  # type: ignore[no-untyped-def]
        return self.value


class PlatformService:
    """Base class of every service: `/health`, `/ready`, `/metrics`, entrypoint metrics.

    What a service declares about itself, for the chassis to discover (the chassis names no
    service; `chassis.registry` reads these through the `aftersales.services` entry points):
    `stack` (SITE, HEADQUARTERS, or EVERY for one that runs in each stack, for that stack
    alone, its settings saying which); `downlink_events`, the event types headquarters
    sends on to every dealer site; `operator_commands`, `aftersales ops <name>` commands as
    "module:function" taking the command's remaining arguments and returning an exit code.
    """

    stack: ClassVar[str] = SITE
    downlink_events: ClassVar[tuple[str, ...]] = ()
    operator_commands: ClassVar[dict[str, str]] = {}

    settings = CurrentSettings()
    entrypoint_metrics = metrics.EntrypointMetrics()
    readiness = Readiness()
    broker_gauges = BrokerGauges()

    @http("GET", "/health", roles=PUBLIC, summary="The process is alive")
    def health(self, request: Request) -> Response:
        return json_response({"status": "alive", "service": self.name})  # type: ignore[attr-defined]

    @http("GET", "/ready", roles=PUBLIC, summary="Database and broker are reachable")
    def ready(self, request: Request) -> Response:
        checks = self.readiness.check()
        ok = all(value == "ok" for value in checks.values())
        return json_response({"status": "ready" if ok else "not ready", **checks},
                             status=200 if ok else 503)

    @http("GET", "/metrics", roles=PUBLIC, summary="Prometheus metrics")
    def metrics(self, request: Request) -> Response:
        self.broker_gauges.refresh()
        return Response(metrics.render(), content_type=metrics.METRICS_CONTENT_TYPE)

    @http("GET", "/openapi.json", roles=PUBLIC, summary="This API's OpenAPI document")
    def openapi(self, request: Request) -> Response:
        return json_response(build_openapi(type(self)))
