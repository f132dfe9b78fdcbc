"""partners listens to every event type a partner may be given, and to no other type except
owners' consent (which it keeps, never passes on)."""

from __future__ import annotations

from chassis.broker_admin import subscriptions
from contracts import events
from partners import use_cases
from partners.service import PartnersService

CONSENT = {events.ConsentChanged.type, events.ConsentExpressed.type}


def test_every_shared_type_has_a_handler_and_nothing_else_is_consumed_but_consent():
    consumed = {event_type for _, event_type, _ in subscriptions(PartnersService)}
    assert consumed - CONSENT == use_cases.SHARED_TYPES
