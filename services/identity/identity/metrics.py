"""identity's metrics: every sign-in and token request answered, by method and outcome.

Methods: password, refresh, owner_code, client_credentials, oidc. Outcomes: success, or the
reason of the refusal (invalid_credentials, locked, rate_limited, invalid_code, reused, …).
"""

from __future__ import annotations

from prometheus_client import Counter

from chassis.metrics import PREFIX, REGISTRY
from identity.use_cases import Granted, Refused

SIGN_INS = Counter(f"{PREFIX}_identity_sign_ins_total",
                   "Sign-ins and token requests answered, by method and outcome",
                   ["method", "outcome"], registry=REGISTRY)
OWNER_CODES = Counter(f"{PREFIX}_identity_owner_codes_total",
                      "One-time codes asked for by owners, by outcome (sent, rate_limited)",
                      ["outcome"], registry=REGISTRY)


def counted(method: str, result: Granted | Refused) -> Granted | Refused:
    SIGN_INS.labels(method, "success" if isinstance(result, Granted)
                    else result.reason.value).inc()
    return result
