"""crm's own settings, read once at start and checked there: a missing key or a malformed
value stops the start with one line naming the setting.

The names are those headquarters' config files and environment already use (`crm_...`, or
AFTERSALES_CRM_CRM_...): the fields below without their prefix.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from chassis.config import bounds, own_secret, typed_settings
from crm.domain import leads, surveys
from crm.domain import reminders as rules
from crm.privacy import Vault, vault_from_settings


@dataclass(frozen=True)
class CrmSettings:
    # Encrypts the personal fields and keys their blind indexes (crm_encryption_key,
    # crm_blind_index_key, or their `_file`s; see crm.privacy).
    vault: Vault
    # Signs the survey links: headquarters' own secret (crm's `survey_link_secret`).
    survey_secret: str
    # Hours after delivery a follow-up survey is due.
    survey_delay_hours: int = field(default=surveys.DEFAULT_DELAY_HOURS,
                                    metadata=bounds(1, 720))
    # How far a car goes per day until its own visits tell (the reminder run's estimate).
    default_km_per_day: int = field(default=rules.DEFAULT_KM_PER_DAY, metadata=bounds(1, 2000))
    # Minutes within which a new online lead must be called.
    lead_sla_minutes: int = field(default=leads.DEFAULT_SLA_MINUTES, metadata=bounds(1, 10080))

    @classmethod
    def from_settings(cls, settings: Any) -> CrmSettings:
        extra = settings.extra
        # The numbers are checked before the keys, as they always were: with both wrong,
        # the line names the same setting as before. Then the vault's keys, then the survey
        # links' secret (keyword arguments are evaluated in order).
        numbers = typed_settings(cls, extra, prefix="crm_", vault=None, survey_secret="")
        return dataclasses.replace(numbers, vault=vault_from_settings(settings),
                                   survey_secret=own_secret(settings, "survey_link_secret"))


def crm_resources(settings: Any) -> dict[str, Any]:
    """What every crm unit of work of a process shares, built once at start: the key vault
    (already checked, with the rest, when the container was built)."""
    return {"vault": CrmSettings.from_settings(settings).vault}
