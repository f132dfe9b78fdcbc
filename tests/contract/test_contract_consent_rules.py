"""The published consent rules crm and notify both apply: which purpose a reminder has, and
which of two consent changes wins whatever order they arrive in."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from contracts.payloads import (
    CONSENT_PURPOSES,
    REMINDER_PURPOSE,
    REMINDER_REASONS,
    consent_supersedes,
)

T0 = datetime(2025, 3, 20, 2, 5, 11, tzinfo=UTC)


def test_every_reminder_reason_has_a_purpose_and_only_a_recall_is_a_service_message():
    assert set(REMINDER_PURPOSE) == set(REMINDER_REASONS)
    assert set(REMINDER_PURPOSE.values()) <= set(CONSENT_PURPOSES)
    assert [r for r, p in REMINDER_PURPOSE.items() if p == "SERVICE"] == ["RECALL"]


def test_a_later_change_wins_and_an_earlier_one_changes_nothing():
    assert consent_supersedes(None, True, T0)
    assert consent_supersedes((True, T0), False, T0 + timedelta(seconds=1))
    assert consent_supersedes((False, T0), True, T0 + timedelta(seconds=1))
    assert not consent_supersedes((False, T0 + timedelta(seconds=1)), True, T0)
    assert not consent_supersedes((True, T0 + timedelta(seconds=1)), False, T0)


def test_at_the_same_instant_a_withdrawal_wins_and_a_repeat_changes_nothing():
    assert consent_supersedes((True, T0), False, T0)
    assert not consent_supersedes((False, T0), True, T0)
    assert not consent_supersedes((True, T0), True, T0)
    assert not consent_supersedes((False, T0), False, T0)


def test_any_arrival_order_of_the_same_changes_ends_in_the_same_state():
    changes = [(True, T0), (False, T0 + timedelta(minutes=5)), (True, T0 + timedelta(minutes=5)),
               (True, T0 - timedelta(days=1)), (False, T0)]
    finals = set()
    for order in itertools.permutations(changes + changes[:2]):
        stored = None
        for granted, at in order:
            if consent_supersedes(stored, granted, at):
                stored = (granted, at)
        finals.add(stored)
    assert finals == {(False, T0 + timedelta(minutes=5))}
