"""BI's own settings, read once at start (the service) or by the rebuild command, and checked
there: a bad value stops with one line naming the setting.

The name is the one the config files already use (`comeback_days`, or
AFTERSALES_BI_COMEBACK_DAYS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bi.domain import COMEBACK_WINDOW_DAYS
from chassis.config import bounds, typed_settings


@dataclass(frozen=True)
class BiSettings:
    # Days within which a car's next visit for the same concern is a comeback.
    comeback_days: int = field(default=COMEBACK_WINDOW_DAYS, metadata=bounds(1, 3650))

    @classmethod
    def from_settings(cls, settings: Any) -> BiSettings:
        return typed_settings(cls, settings.extra)
