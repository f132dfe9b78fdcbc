"""partners' own settings, read once at start and checked there: a bad value stops the start
with one line naming it (`retry_schedule_seconds: ...`).

Every one optional; in the YAML under `services: partners:` or AFTERSALES_PARTNERS_<NAME>.

Its secret is its own stack's (`chassis.config.own_secret`): `secret_encryption_key` seals the
endpoints' signing secrets at rest (`secret_encryption_key_file` in a deployment; the
published stand-in only in `environment: development`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from chassis.config import ConfigError, bounds, own_secret, typed_settings
from partners.domain import DEFAULT_RETRY_SECONDS, RetrySchedule


@dataclass(frozen=True)
class PartnersSettings:
    # Development, the demo and tests only: http and private addresses (a local receiver).
    allow_private_endpoints: bool = False
    # The waits after failed attempts 1, 2, ...; one more attempt than there are waits.
    retry_schedule_seconds: list = field(default_factory=lambda: list(DEFAULT_RETRY_SECONDS))
    retry_jitter: float = field(default=0.1, metadata=bounds(0, 0.5))
    # A 2xx answer within this many seconds is a delivery; anything slower is a failure.
    attempt_timeout_seconds: float = field(default=15.0, metadata=bounds(0.1, 60))
    # An endpoint whose every attempt failed for this long is disabled (5 days).
    disable_after_hours: float = field(default=120.0, metadata=bounds(0.0001, 24 * 60))
    # Per endpoint unless it says otherwise: calls a second, and the burst allowed.
    rate_per_second: float = field(default=50.0, metadata=bounds(0.01, 10000))
    rate_burst: float = field(default=100.0, metadata=bounds(1, 100000))
    # How much of an answer's body the delivery log keeps.
    response_excerpt_bytes: int = field(default=4096, metadata=bounds(0, 65536))
    # Deliveries taken per dispatcher tick, and sent at once per process.
    dispatch_batch: int = field(default=200, metadata=bounds(1, 5000))
    concurrency: int = field(default=50, metadata=bounds(1, 1000))
    dispatch_loop: bool = True
    # After a rotation, the previous secret signs too for this long.
    secret_overlap_hours: float = field(default=24.0, metadata=bounds(0, 720))
    feed_limit_max: int = field(default=500, metadata=bounds(1, 5000))
    # Seals the endpoints' signing secrets at rest (own_secret: never in the YAML itself).
    secret_encryption_key: str = field(default="", repr=False)

    @classmethod
    def from_settings(cls, settings: Any) -> PartnersSettings:
        options = typed_settings(cls, settings.extra, secret_encryption_key="")
        try:
            delays = [float(d) for d in options.retry_schedule_seconds]
        except (TypeError, ValueError):
            raise ConfigError("retry_schedule_seconds: must be a list of seconds") from None
        if not 1 <= len(delays) <= 20 or any(d < 0 for d in delays):
            raise ConfigError("retry_schedule_seconds: 1 to 20 waits, none negative")
        return dataclasses.replace(
            options, retry_schedule_seconds=delays,
            secret_encryption_key=own_secret(settings, "secret_encryption_key"))

    @property
    def retry(self) -> RetrySchedule:
        return RetrySchedule(tuple(self.retry_schedule_seconds), self.retry_jitter)

    @property
    def disable_after(self) -> timedelta:
        return timedelta(hours=self.disable_after_hours)

    @property
    def secret_overlap(self) -> timedelta:
        return timedelta(hours=self.secret_overlap_hours)

    @property
    def lease(self) -> timedelta:
        """How long a SENDING delivery is held by its dispatcher before another may take it
        back (the dispatcher stopped before recording its answer)."""
        return timedelta(seconds=self.attempt_timeout_seconds + 30)
