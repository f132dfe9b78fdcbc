"""JSON log lines carrying service, dealer, event id and correlation id.

The ids live in a context variable set by each entrypoint, so a line written deep in the
domain code still says which repair order it was about. Phone numbers are masked on the way
out: a log file is not a place for personal data.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

# Never mutated in place (log_context sets a new dict), so an immutable default is safe.
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(
    "aftersales_log_context", default={})  # noqa: B039

# Mainland mobile numbers (11 digits starting with 1) and anything labelled as a phone.
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_personal(text: str) -> str:
    return _PHONE.sub(r"\1****\2", text)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (event_id, correlation_id …) to every log line written inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, static: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.static = static or {}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_personal(record.getMessage()),
            **self.static,
            **_context.get(),
        }
        for key in ("service", "dealer", "event_id", "correlation_id"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exc"] = mask_personal(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", **static: Any) -> None:
    """Send JSON lines to stderr; called once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(static))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kombu and nameko are chatty at INFO about reconnects we already report ourselves.
    for noisy in ("kombu", "amqp", "nameko", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
