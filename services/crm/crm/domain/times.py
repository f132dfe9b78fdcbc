"""Times as crm keeps them: all in UTC, whatever the site's offset."""

from __future__ import annotations

from datetime import UTC, datetime


def timestamp(value: str) -> datetime:
    """An event's time, in UTC: SQLite (embedded mode) keeps no offset, so all stored times
    are UTC, and dates derived from them are UTC dates."""
    return datetime.fromisoformat(value).astimezone(UTC)


def aware(value: datetime) -> datetime:
    """A stored time as read back: SQLite returns it without its (UTC) offset."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
