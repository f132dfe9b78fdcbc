"""partners' metrics: deliveries by outcome, failed attempts by reason, the lag from an
event's arrival at headquarters to its delivery, and per endpoint the age of the oldest event
not delivered yet (what the alert in deploy/prometheus watches)."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

from chassis.metrics import PREFIX, REGISTRY
from partners.use_cases import DispatchRun

# delivered, retrying (an attempt failed, another is due), exhausted (the last one failed),
# gone (410: the endpoint is disabled)
DELIVERIES = Counter(f"{PREFIX}_partner_deliveries_total",
                     "Webhook delivery attempts settled, by partner, endpoint and outcome",
                     ["partner", "endpoint", "outcome"], registry=REGISTRY)
FAILURES = Counter(f"{PREFIX}_partner_delivery_failures_total",
                   "Failed webhook attempts by reason (http_4xx, http_5xx, http_3xx, timeout, "
                   "refused, connection)", ["partner", "endpoint", "reason"], registry=REGISTRY)
LAG = Histogram(f"{PREFIX}_partner_delivery_lag_seconds",
                "From an event's arrival at headquarters to its delivery to the endpoint",
                ["partner", "endpoint"], registry=REGISTRY,
                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000))
OLDEST_UNDELIVERED = Gauge(f"{PREFIX}_partner_oldest_undelivered_age_seconds",
                           "Per active endpoint, how long its oldest undelivered event has "
                           "waited since it reached headquarters (0: nothing waits)",
                           ["partner", "endpoint"], registry=REGISTRY)
DISABLED = Counter(f"{PREFIX}_partner_endpoints_disabled_total",
                   "Endpoints disabled (410 Gone, failing too long, by an operator)",
                   ["partner"], registry=REGISTRY)


def count(run: DispatchRun) -> DispatchRun:
    for (partner, endpoint, outcome), n in run.outcomes.items():
        DELIVERIES.labels(partner, endpoint, outcome).inc(n)
    for (partner, endpoint, reason), n in run.failures.items():
        FAILURES.labels(partner, endpoint, reason).inc(n)
    for partner, endpoint, seconds in run.lags:
        LAG.labels(partner, endpoint).observe(seconds)
    for partner, _ in run.disabled:
        DISABLED.labels(partner).inc()
    return run


_SHOWN: set[tuple[str, str]] = set()


def show_backlog(oldest: dict[tuple[str, str], datetime], now: datetime) -> None:
    """Set the oldest-undelivered gauge; endpoints with nothing waiting read 0."""
    for key in _SHOWN - set(oldest):
        OLDEST_UNDELIVERED.labels(*key).set(0)
    for key, arrived in oldest.items():
        OLDEST_UNDELIVERED.labels(*key).set(max(0.0, (now - arrived).total_seconds()))
    _SHOWN.update(oldest)
