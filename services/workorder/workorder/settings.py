"""Workorder's own settings, read once at start and checked there (a bad one stops the start
with one line naming it).

The names are the ones sites already use in their config files and environment
(`labour_rate`, or AFTERSALES_WORKORDER_LABOUR_RATE), without a prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from chassis.config import ConfigError, bounds, typed_settings
from workorder.domain.grants import QUOTE_TTL_HOURS, QUOTE_TTL_SECONDS
from workorder.domain.inspection import MAX_PHOTO_BYTES, REPORT_TTL_SECONDS

DEFAULT_LABOUR_RATE = "300.00"


@dataclass(frozen=True)
class WorkorderSettings:
    # The site's labour rate per flat-rate hour (CNY, VAT included) for labour lines that
    # name none.
    labour_rate: str = DEFAULT_LABOUR_RATE
    # The owner portal's https base URL: events name the owner's report page under it, and
    # the quote page with its signed link (`/quote-links/<grant>`).
    owner_portal_url: str = ""
    max_photo_bytes: int = field(default=MAX_PHOTO_BYTES, metadata=bounds(1, None))
    # How long an inspection report link opens the report.
    report_link_ttl_hours: float = field(default=REPORT_TTL_SECONDS / 3600,
                                         metadata=bounds(0.01, None))
    # How long a quote link decides its round (it is refused sooner once the round is decided).
    quote_link_ttl_hours: float = field(default=QUOTE_TTL_SECONDS / 3600,
                                        metadata=bounds(*QUOTE_TTL_HOURS))

    @classmethod
    def from_settings(cls, settings: Any) -> WorkorderSettings:
        extra = dict(settings.extra)
        if extra.get("owner_portal_url") is None:
            extra.pop("owner_portal_url", None)  # `owner_portal_url:` left empty in YAML
        options = typed_settings(cls, extra)
        try:
            rate = Decimal(str(options.labour_rate))
        except InvalidOperation:
            rate = None
        if rate is None or not rate.is_finite() or rate <= 0:
            raise ConfigError(f"labour_rate: {options.labour_rate!r} is not a positive amount")
        return options

    @property
    def default_labour_rate(self) -> Decimal:
        return Decimal(self.labour_rate)

    @property
    def report_link_ttl_seconds(self) -> int:
        return int(float(self.report_link_ttl_hours) * 3600)

    @property
    def quote_link_ttl_seconds(self) -> int:
        return int(float(self.quote_link_ttl_hours) * 3600)
