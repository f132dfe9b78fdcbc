"""Prometheus metrics, one prefix for the whole platform.

Every metric carries a `service` label (one process may host several services in embedded
mode). Labels stay low-cardinality: entrypoint names and event types, never ids.
"""

from __future__ import annotations

import functools
import time

from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.web.handlers import HttpRequestHandler
from prometheus_client import CONTENT_TYPE_LATEST as METRICS_CONTENT_TYPE  # noqa: F401
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from chassis import __version__
from chassis.error_statuses import http_status

PREFIX = "aftersales"
REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

ENTRYPOINT_REQUESTS = Counter(
    f"{PREFIX}_entrypoint_requests_total", "Calls of an entrypoint (HTTP, RPC, event).",
    ["service", "kind", "entrypoint"], registry=REGISTRY)
ENTRYPOINT_FAILURES = Counter(
    f"{PREFIX}_entrypoint_failures_total", "Calls of an entrypoint that failed.",
    ["service", "kind", "entrypoint"], registry=REGISTRY)
ENTRYPOINT_DURATION = Histogram(
    f"{PREFIX}_entrypoint_duration_seconds", "Time spent in an entrypoint.",
    ["service", "kind", "entrypoint"], buckets=_LATENCY_BUCKETS, registry=REGISTRY)
ENTRYPOINT_IN_PROGRESS = Gauge(
    f"{PREFIX}_entrypoint_in_progress", "Entrypoint calls running now.",
    ["service", "kind"], registry=REGISTRY)
EVENT_LAST_PROCESSED = Gauge(
    f"{PREFIX}_event_last_processed_timestamp_seconds",
    "When the last event was committed by this handler.",
    ["service", "entrypoint"], registry=REGISTRY)

OUTBOX_PENDING = Gauge(
    f"{PREFIX}_outbox_pending_rows", "Outbox rows written but not yet published.",
    ["service"], registry=REGISTRY)
OUTBOX_OLDEST_AGE = Gauge(
    f"{PREFIX}_outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox row.",
    ["service"], registry=REGISTRY)
RELAY_PUBLISHED = Counter(
    f"{PREFIX}_relay_published_total", "Outbox events published and confirmed by the broker.",
    ["service"], registry=REGISTRY)
RELAY_FAILURES = Counter(
    f"{PREFIX}_relay_failures_total", "Relay cycles that failed (broker or database down).",
    ["service"], registry=REGISTRY)

INBOX_DUPLICATES = Counter(
    f"{PREFIX}_inbox_duplicates_total", "Events received again and skipped (already applied).",
    ["service", "entrypoint"], registry=REGISTRY)
HANDLER_RETRIES = Counter(
    f"{PREFIX}_handler_retries_total", "Event handler attempts that failed and will be retried.",
    ["service", "entrypoint"], registry=REGISTRY)
DEAD_LETTERS = Counter(
    f"{PREFIX}_dead_letters_total", "Messages sent to the dead-letter queue, by reason.",
    ["service", "reason"], registry=REGISTRY)

DEAD_LETTER_QUEUE_MESSAGES = Gauge(
    f"{PREFIX}_dead_letter_queue_messages", "Messages waiting in the service's dead-letter queue "
    "(read from the broker at scrape time).", ["service"], registry=REGISTRY)
UPLINK_RUNNING = Gauge(
    f"{PREFIX}_uplink_running", "1 when every shovel from this dealer site to headquarters is "
    "running (read from the site broker at scrape time).", ["dealer_code"], registry=REGISTRY)
SITE_LAST_EVENT = Gauge(
    f"{PREFIX}_site_last_event_timestamp_seconds",
    "At headquarters: when the last event from a dealer site was applied.",
    ["service", "dealer_code"], registry=REGISTRY)

BUILD_INFO = Gauge(
    f"{PREFIX}_build_info", "Version of the running code (always 1).",
    ["service", "version", "dealer"], registry=REGISTRY)


def render() -> bytes:
    return generate_latest(REGISTRY)


def entrypoint_kind(entrypoint: object) -> str:
    return _kind_of(type(entrypoint))


@functools.cache
def _kind_of(cls: type) -> str:  # asked twice per request: answered once per class
    # An entrypoint class of the platform says its kind (chassis.consumer's EventEntrypoint
    # says "event"), so this module need not import the modules that count with it.
    declared = getattr(cls, "metrics_kind", None)
    if declared:
        return str(declared)
    if issubclass(cls, HttpRequestHandler):
        return "http"
    if issubclass(cls, Rpc):
        return "rpc"
    if issubclass(cls, EventHandler):
        return "event"
    return cls.__name__.lower()


class EntrypointMetrics(DependencyProvider):
    """Times every worker of the service it is declared on: rate, errors, duration.

    Event batches are counted message by message by the consumer itself, so they are
    skipped here to avoid counting a batch as one call.
    """

    def setup(self) -> None:
        settings = self.container.config["AFTERSALES"]
        self.service = settings.service
        BUILD_INFO.labels(self.service, __version__, settings.dealer_code).set(1)
        self._started: dict[object, float] = {}

    def worker_setup(self, worker_ctx) -> None:  # type: ignore[no-untyped-def]
        kind = entrypoint_kind(worker_ctx.entrypoint)
        if kind == "event":
            return
        self._started[worker_ctx] = time.perf_counter()
        ENTRYPOINT_IN_PROGRESS.labels(self.service, kind).inc()

    def worker_result(self, worker_ctx, result=None, exc_info=None) -> None:  # type: ignore[no-untyped-def]
        started = self._started.pop(worker_ctx, None)
        if started is None:
            return
        kind = entrypoint_kind(worker_ctx.entrypoint)
        name = worker_ctx.entrypoint.method_name
        ENTRYPOINT_IN_PROGRESS.labels(self.service, kind).dec()
        ENTRYPOINT_REQUESTS.labels(self.service, kind, name).inc()
        ENTRYPOINT_DURATION.labels(self.service, kind, name).observe(time.perf_counter() - started)
        # A refused request (4xx) is the caller's failure, not the service's.
        failed = (exc_info is not None and http_status(exc_info[1]) >= 500) \
            or _is_http_server_error(result)
        if failed:
            ENTRYPOINT_FAILURES.labels(self.service, kind, name).inc()


def _is_http_server_error(result: object) -> bool:
    status = getattr(result, "status_code", None)
    return isinstance(status, int) and status >= 500
