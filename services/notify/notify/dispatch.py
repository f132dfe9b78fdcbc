"""The dispatcher's metrics: what each run did, per channel and outcome.

The dispatcher itself is a use case (`notify.use_cases.dispatch_due`) over the pure decision
`notify.domain.decide`; the timer and `POST /dispatch-runs` run it.
"""

from __future__ import annotations

from prometheus_client import Counter

from chassis.metrics import PREFIX, REGISTRY
from notify.use_cases import RunSummary

# Outcomes per channel: sent, failed, retrying, or suppressed:<reason>; held ones are not counted.
MESSAGES = Counter(f"{PREFIX}_notify_messages_total",
                   "Messages handled by the dispatcher, by channel and outcome",
                   ["channel", "outcome"], registry=REGISTRY)


def count(summary: RunSummary) -> RunSummary:
    """Add a run's outcomes to the metrics; the summary, for the caller to answer with."""
    for (channel, outcome), messages in summary.outcomes.items():
        MESSAGES.labels(channel, outcome).inc(messages)
    return summary
