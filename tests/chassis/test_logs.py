"""Log lines are JSON with the ids that tie them to an event, and without phone numbers."""

from __future__ import annotations

import json
import logging

from chassis.logs import JsonFormatter, log_context, mask_personal


def test_a_log_line_carries_service_dealer_event_and_correlation_ids():
    formatter = JsonFormatter({"service": "workorder"})
    record = logging.LogRecord("workorder", logging.INFO, __file__, 1, "car received", (), None)
    with log_context(dealer="D001", event_id="e-1", correlation_id="RO-42"):
        line = json.loads(formatter.format(record))
    assert line["service"] == "workorder"
    assert line["dealer"] == "D001"
    assert line["event_id"] == "e-1"
    assert line["correlation_id"] == "RO-42"
    assert line["msg"] == "car received"


def test_mobile_numbers_are_masked():
    assert mask_personal("call 13812345678 now") == "call 138****5678 now"
    assert mask_personal("order 2024013812345678") == "order 2024013812345678"
