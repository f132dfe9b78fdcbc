"""What every platform service inherits: metrics, health and readiness over HTTP."""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request, Response

from chassis import metrics
from chassis.broker import connect, dead_letter_queue_name
from chassis.broker_admin import BrokerAdmin, vhost_of
from chassis.config import Settings
from chassis.db import find_database, ping
from chassis.http import PUBLIC, http, json_response
from chassis.uplink import SHOVEL

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
                prefix = SHOVEL.format(dealer=settings.dealer_code, service="")
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


class PlatformService:
    """Base class of every service: `/health`, `/ready`, `/metrics`, entrypoint metrics."""

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
        from chassis.openapi import build_openapi

        return json_response(build_openapi(type(self)))
