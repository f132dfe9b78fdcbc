"""What every platform service inherits: metrics, health and readiness over HTTP."""

from __future__ import annotations

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request, Response

from chassis import metrics
from chassis.broker import connect
from chassis.config import Settings
from chassis.db import find_database, ping
from chassis.http import PUBLIC, http, json_response


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


class CurrentSettings(DependencyProvider):
    """The service's validated settings (dealer code, URLs, retry policy)."""

    def get_dependency(self, worker_ctx) -> Settings:  # type: ignore[no-untyped-def]
        return self.container.config["AFTERSALES"]


class PlatformService:
    """Base class of every service: `/health`, `/ready`, `/metrics`, entrypoint metrics."""

    settings = CurrentSettings()
    entrypoint_metrics = metrics.EntrypointMetrics()
    readiness = Readiness()

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
        return Response(metrics.render(), content_type=metrics.METRICS_CONTENT_TYPE)

    @http("GET", "/openapi.json", roles=PUBLIC, summary="This API's OpenAPI document")
    def openapi(self, request: Request) -> Response:
        from chassis.openapi import build_openapi

        return json_response(build_openapi(type(self)))
