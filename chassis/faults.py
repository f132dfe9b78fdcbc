"""Named points where the fault tests make a process die at the worst moment.

Inactive unless AFTERSALES_FAULT names the point: `AFTERSALES_FAULT=consumer.after_commit`
makes the consumer SIGKILL itself after committing an effect and before acknowledging it.
"""

from __future__ import annotations

import os
import signal


def point(name: str) -> None:
    if os.environ.get("AFTERSALES_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
